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
 * Skip the rest of a test when the corpus is absent.  Check has no native
 * skip, so the test prints a SKIP line that `make check` logs keep; the
 * suites count skipped cases and print them at the end.
 */
#define SKIP_WITHOUT_CORPUS()                                                      \
	do {                                                                       \
		if (!test_corpus_dir()) {                                          \
			fprintf(stderr, "SKIP: %s: shared corpus not found\n", __func__); \
			return;                                                    \
		}                                                                  \
	} while (0)

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

/* Run one suite; honours CK_RUN_CASE/CK_RUN_SUITE.  Exit status for automake. */
static inline int test_run_suite(Suite *s)
{
	SRunner *sr = srunner_create(s);
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
