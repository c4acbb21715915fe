// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * libFuzzer harness for the DfuSe layout parser: the string comes from a
 * device's iInterface descriptor, so any bytes are fair.  Besides crashes it
 * checks the parser's promises: segments inside 2^32, lookups consistent.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "image.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x)                                                                                   \
	do {                                                                                       \
		if (!(x))                                                                          \
			abort();                                                                   \
	} while (0)

/* Look up a few addresses around segment @i and check what comes back. */
static void probe_segment(const struct dfuse_layout *l, size_t i)
{
	const struct dfuse_layout_segment *s = &l->segments[i];
	const uint64_t probes[] = { s->start, s->start + s->size - 1, s->end - 1, s->end,
				    (uint64_t)s->start - 1 };

	for (size_t k = 0; k < sizeof(probes) / sizeof(probes[0]); k++) {
		struct dfuse_sector sec;
		uint32_t a = (uint32_t)probes[k];

		if (probes[k] >= (UINT64_C(1) << 32))
			continue;
		if (dfuse_layout_find_sector(l, a, &sec) == 0) {
			CHECK(sec.segment < l->n_segments);
			CHECK(a >= sec.start && (uint64_t)a < (uint64_t)sec.start + sec.size);
			CHECK(sec.size == l->segments[sec.segment].size);
		} else {
			CHECK(probes[k] == s->end || probes[k] == (uint64_t)s->start - 1);
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dfuse_layout *l = NULL;
	struct dfu_error e = { 0 };
	int r;

	r = dfuse_layout_parse((const char *)data, size, &l, &e);
	if (r < 0) {
		CHECK(l == NULL);
		CHECK(e.err == r);
		CHECK(e.code[0] != '\0');
		return 0;
	}
	CHECK(l != NULL && l->n_segments > 0);
	for (size_t i = 0; i < l->n_segments; i++) {
		const struct dfuse_layout_segment *s = &l->segments[i];

		CHECK(s->size > 0 && s->count > 0);
		CHECK(s->end == (uint64_t)s->start + (uint64_t)s->count * s->size);
		CHECK(s->end <= (UINT64_C(1) << 32));
		CHECK(s->attr >= 1 && s->attr <= 7);
		probe_segment(l, i);
	}

	/* A bounded range from the first segment: big enough to cross
	 * segments, small enough that 1-byte sectors stay cheap. */
	{
		struct dfuse_sector *v = NULL;
		size_t n = 0;
		uint32_t a = l->segments[0].start;
		uint64_t len = size > 0 ? (uint64_t)data[size - 1] * 256 : 1;

		dfu_error_clear(&e);
		r = dfuse_layout_sectors(l, a, len, &v, &n, &e);
		if (r == 0) {
			for (size_t i = 1; i < n; i++)
				CHECK(v[i].start == v[i - 1].start + v[i - 1].size);
			CHECK(len == 0 || n > 0);
		} else {
			CHECK(r == DFU_E_NOTFOUND && v == NULL && n == 0);
		}
		free(v);
	}
	dfuse_layout_free(l);
	return 0;
}
