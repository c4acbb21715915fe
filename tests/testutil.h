/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Shared helpers for the Check suites: corpus location and file loading. */
#pragma once

#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* The shared corpus directory, or NULL when it is absent (release tarball). */
static inline const char *test_corpus_dir(void)
{
	const char *d = getenv("DFUFLASH_CORPUS");
	struct stat st;

	if (!d || stat(d, &st) != 0 || !S_ISDIR(st.st_mode))
		return NULL;
	return d;
}

/* Read a whole file; caller frees.  NULL when it cannot be read. */
static inline uint8_t *test_load(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL;
	long n;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0) {
		buf = malloc((size_t)n + 1);
		if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
			free(buf);
			buf = NULL;
		}
		if (buf)
			*len = (size_t)n;
	}
	fclose(f);
	return buf;
}

/* Load "<corpus>/<name>"; NULL when the corpus is absent. */
static inline uint8_t *test_corpus_load(const char *name, size_t *len)
{
	const char *d = test_corpus_dir();
	char path[4096];

	if (!d)
		return NULL;
	snprintf(path, sizeof(path), "%s/%s", d, name);
	return test_load(path, len);
}

/*
 * Corpus cases.  Check cannot skip a single test, and automake keeps one
 * result per program, so a corpus case must never run without the corpus:
 * it would return early and be counted as a pass.  The cases that read the
 * corpus therefore go into a test case of their own named "corpus", made
 * here, and `make check` runs them as a test of their own:
 *   - the suites run with DFUFLASH_CORPUS_CASES=skip: the corpus case is not
 *     made, and the suite's result is that of its other cases;
 *   - tests/cli/corpus-cases.sh runs each suite with CK_RUN_CASE=corpus: with
 *     the corpus absent the case is not made, no case runs, test_run_suite()
 *     exits 77 and automake reports SKIP.
 * Run by hand (variable unset), a suite runs all of its cases.  Inside a
 * corpus case the corpus is present, so a file that cannot be read fails.
 */
static inline TCase *test_corpus_tcase(Suite *s, SFun setup, SFun teardown, double timeout)
{
	const char *mode = getenv("DFUFLASH_CORPUS_CASES");
	TCase *t;

	if (mode && strcmp(mode, "skip") == 0) {
		printf("corpus cases left out: tests/cli/corpus-cases.sh runs them\n");
		return NULL;
	}
	if (!test_corpus_dir()) {
		printf("SKIP: corpus cases not run: shared corpus not found (DFUFLASH_CORPUS=%s)\n",
		       getenv("DFUFLASH_CORPUS") ? getenv("DFUFLASH_CORPUS") : "unset");
		return NULL;
	}
	t = tcase_create("corpus");
	if (setup || teardown)
		tcase_add_checked_fixture(t, setup, teardown);
	tcase_set_timeout(t, timeout);
	suite_add_tcase(s, t);
	return t;
}

/* Deterministic pseudo-random bytes from @seed (a fixed LCG: reproducible). */
static inline void test_pattern(uint8_t *buf, size_t len, uint32_t seed)
{
	for (size_t i = 0; i < len; i++) {
		seed = seed * 1103515245u + 12345u;
		buf[i] = (uint8_t)(seed >> 16);
	}
}

/* A test case of @s with a per-test fixture and a timeout in seconds. */
static inline TCase *test_tcase(Suite *s, const char *name, SFun setup, SFun teardown,
				double timeout)
{
	TCase *t = tcase_create(name);

	tcase_add_checked_fixture(t, setup, teardown);
	tcase_set_timeout(t, timeout);
	suite_add_tcase(s, t);
	return t;
}

/*
 * Run one suite; honours CK_RUN_CASE/CK_RUN_SUITE.  Exit status for automake:
 * 1 when a case failed, 77 (SKIP) when no case ran (the corpus cases were left
 * out and there are no others, or CK_RUN_CASE chose none): a run that tested
 * nothing is not a pass.
 */
static inline int test_run_suite(Suite *s)
{
	SRunner *sr = srunner_create(s);
	int failed, ran;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	ran = srunner_ntests_run(sr);
	srunner_free(sr);
	if (failed)
		return EXIT_FAILURE;
	if (ran == 0) {
		printf("SKIP: no test case ran\n");
		return 77;
	}
	return EXIT_SUCCESS;
}
