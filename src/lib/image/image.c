// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The in-memory image: segments ordered by (alt, address) that neither overlap
 * nor touch within one alt.  Every format reads into it and writes from it.
 * Adding right after the previous bytes is the fast path (text parsers feed
 * millions of 16-byte records); anything else is a merge.
 */
#include "config.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <zlib.h>

#include "image.h"
#include "macro.h"

#define ADDR_SPACE (UINT64_C(1) << 32)

static const char *const format_names[] = {
	[DFU_FORMAT_AUTO] = "auto",   [DFU_FORMAT_BIN] = "bin",	  [DFU_FORMAT_DFU] = "dfu",
	[DFU_FORMAT_DFUSE] = "dfuse", [DFU_FORMAT_IHEX] = "ihex", [DFU_FORMAT_SREC] = "srec",
	[DFU_FORMAT_ELF] = "elf",
};

const char *dfu_format_name(enum dfu_format f)
{
	if ((size_t)f < ARRAY_SIZE(format_names))
		return format_names[f];
	return "unknown";
}

int dfu_format_from_name(const char *name, enum dfu_format *out)
{
	static const struct {
		const char *name;
		enum dfu_format f;
	} aliases[] = {
		{ "hex", DFU_FORMAT_IHEX },    { "ihex", DFU_FORMAT_IHEX },
		{ "s19", DFU_FORMAT_SREC },    { "s28", DFU_FORMAT_SREC },
		{ "s37", DFU_FORMAT_SREC },    { "mot", DFU_FORMAT_SREC },
		{ "srec", DFU_FORMAT_SREC },   { "bin", DFU_FORMAT_BIN },
		{ "raw", DFU_FORMAT_BIN },     { "dfu", DFU_FORMAT_DFU },
		{ "dfuse", DFU_FORMAT_DFUSE }, { "elf", DFU_FORMAT_ELF },
		{ "auto", DFU_FORMAT_AUTO },   { "ihx", DFU_FORMAT_IHEX },
	};

	for (size_t i = 0; i < ARRAY_SIZE(aliases); i++) {
		if (strcmp(name, aliases[i].name) == 0) {
			*out = aliases[i].f;
			return 0;
		}
	}
	return DFU_E_INVAL;
}

uint64_t dfu_limits_max_bytes(const struct dfu_limits *l)
{
	return (l && l->max_bytes) ? l->max_bytes : DFU_DEFAULT_MAX_BYTES;
}

uint64_t dfu_limits_max_span(const struct dfu_limits *l)
{
	return (l && l->max_span) ? l->max_span : ADDR_SPACE;
}

uint32_t dfu_crc32(uint32_t crc, const uint8_t *buf, size_t len)
{
	/* zlib's crc32() takes a uInt length: feed huge buffers in pieces. */
	while (len > 0) {
		uInt n = len > (1u << 30) ? (1u << 30) : (uInt)len;

		crc = (uint32_t)crc32(crc, buf, n);
		buf += n;
		len -= n;
	}
	return crc;
}

/* An image as dfu_image_new() allocates it: the public part and the
 * bookkeeping of dfu_image_add(), which callers have no use for. */
struct image {
	struct dfu_image pub;
	size_t seg_cap;	      /* allocated entries of pub.segments */
	uint64_t total_bytes; /* data bytes over all segments */
	size_t last_seg;      /* segment of the last add: appending after it is O(1) */
};

static struct image *priv(struct dfu_image *img)
{
	return (struct image *)img; /* pub is the first member */
}

static const struct image *cpriv(const struct dfu_image *img)
{
	return (const struct image *)img;
}

int dfu_image_new(enum dfu_format format, struct dfu_image **out)
{
	struct image *im = calloc(1, sizeof(*im));

	if (!im)
		return DFU_E_NOMEM;
	im->pub.format = format;
	*out = &im->pub;
	return 0;
}

void dfu_image_free(struct dfu_image *img)
{
	if (!img)
		return;
	for (size_t i = 0; i < img->n_segments; i++)
		free(img->segments[i].data);
	free(img->segments);
	for (size_t i = 0; i < img->n_targets; i++)
		free(img->targets[i].elements);
	free(img->targets);
	for (size_t i = 0; i < img->n_warnings; i++)
		free(img->warnings[i]);
	free(img->warnings);
	free(img->text.srec_header);
	free(img);
}

/* Warnings kept; a file of a million blank lines must not keep a million. */
#define WARNINGS_MAX 100

int dfu_image_warn(struct dfu_image *img, const char *fmt, ...)
{
	char **w;
	char *msg;
	va_list ap;
	int n;

	if (img->n_warnings > WARNINGS_MAX)
		return 0;
	if (img->n_warnings == WARNINGS_MAX) {
		msg = strdup("more warnings, not shown");
		n = msg ? 0 : -1;
	} else {
		va_start(ap, fmt);
		n = vasprintf(&msg, fmt, ap);
		va_end(ap);
	}
	if (n < 0)
		return DFU_E_NOMEM;
	w = realloc(img->warnings, (img->n_warnings + 1) * sizeof(*w));
	if (!w) {
		free(msg);
		return DFU_E_NOMEM;
	}
	img->warnings = w;
	img->warnings[img->n_warnings++] = msg;
	return 0;
}

int dfu_image_rebase(struct dfu_image *img, uint32_t base, struct dfu_error *e)
{
	uint32_t low;

	if (img->address_from_file)
		return dfu_error_set(e, DFU_E_INVAL, "image.has_addresses", NULL,
				     "the %s image carries its own addresses",
				     dfu_format_name(img->format));
	if (img->n_segments == 0)
		return 0;
	low = img->segments[0].address;
	for (size_t i = 0; i < img->n_segments; i++) {
		uint64_t end =
		    (uint64_t)base + (img->segments[i].address - low) + img->segments[i].length;

		if (end > ADDR_SPACE)
			return dfu_error_set(
			    e, DFU_E_RANGE, "image.address_overflow", NULL,
			    "%llu bytes at 0x%08x run past the end of the 32-bit address space",
			    (unsigned long long)dfu_image_data_bytes(img), base);
	}
	for (size_t i = 0; i < img->n_segments; i++)
		img->segments[i].address = base + (img->segments[i].address - low);
	return 0;
}

uint64_t dfu_image_data_bytes(const struct dfu_image *img)
{
	return cpriv(img)->total_bytes;
}

static inline uint64_t seg_end(const struct dfu_segment *s)
{
	return (uint64_t)s->address + s->length;
}

/* First index whose (alt, end) >= (alt, address): the first segment of @alt
 * that ends at or after @address, i.e. that may overlap or touch it. */
static size_t lower_bound(const struct dfu_image *img, int alt, uint64_t address)
{
	size_t lo = 0, hi = img->n_segments;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct dfu_segment *s = &img->segments[mid];

		if (s->alt < alt || (s->alt == alt && seg_end(s) < address))
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* The span of the segments of @alt, or of all with @alt ALL_ALTS. */
#define ALL_ALTS INT_MIN
static bool span_of(const struct dfu_image *img, int alt, uint32_t *low, uint64_t *high_excl)
{
	bool found = false;
	uint32_t lo = 0;
	uint64_t hi = 0;

	for (size_t i = 0; i < img->n_segments; i++) {
		const struct dfu_segment *s = &img->segments[i];

		if (alt != ALL_ALTS && s->alt != alt)
			continue;
		if (!found || s->address < lo)
			lo = s->address;
		if (!found || seg_end(s) > hi)
			hi = seg_end(s);
		found = true;
	}
	if (found) {
		if (low)
			*low = lo;
		if (high_excl)
			*high_excl = hi;
	}
	return found;
}

bool dfu_image_span(const struct dfu_image *img, uint32_t *low, uint64_t *high_excl)
{
	return span_of(img, ALL_ALTS, low, high_excl);
}

bool dfu_image_alt_span(const struct dfu_image *img, int alt, uint32_t *low, uint64_t *high_excl)
{
	return span_of(img, alt, low, high_excl);
}

const struct dfu_segment *dfu_image_find(const struct dfu_image *img, int alt, uint32_t address)
{
	size_t i = lower_bound(img, alt, (uint64_t)address + 1);

	if (i < img->n_segments && img->segments[i].alt == alt &&
	    img->segments[i].address <= address && seg_end(&img->segments[i]) > address)
		return &img->segments[i];
	return NULL;
}

size_t dfu_image_read(const struct dfu_image *img, int alt, uint32_t address, uint8_t *buf,
		      size_t len, uint8_t fill)
{
	uint64_t end = (uint64_t)address + len;
	size_t present = 0;

	memset(buf, fill, len);
	for (size_t i = lower_bound(img, alt, (uint64_t)address + 1); i < img->n_segments; i++) {
		const struct dfu_segment *s = &img->segments[i];
		uint64_t a, b;

		if (s->alt != alt || s->address >= end)
			break;
		a = MAX((uint64_t)s->address, (uint64_t)address);
		b = MIN(seg_end(s), end);
		if (a >= b)
			continue;
		memcpy(buf + (a - address), s->data + (a - s->address), (size_t)(b - a));
		present += (size_t)(b - a);
	}
	return present;
}

/* Grow a segment's buffer to hold at least @need bytes (doubling). */
static int seg_reserve(struct dfu_segment *s, size_t need)
{
	size_t cap;
	uint8_t *d;

	if (need <= s->cap)
		return 0;
	cap = s->cap ? s->cap : 256;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	d = realloc(s->data, cap);
	if (!d)
		return DFU_E_NOMEM;
	s->data = d;
	s->cap = cap;
	return 0;
}

static int check_span(struct dfu_image *img, int alt, const struct dfu_limits *limits,
		      struct dfu_error *e)
{
	uint64_t max = dfu_limits_max_span(limits);
	size_t first = lower_bound(img, alt, 0), last = first;
	uint64_t span;

	if (max >= ADDR_SPACE)
		return 0;
	while (last + 1 < img->n_segments && img->segments[last + 1].alt == alt)
		last++;
	span = seg_end(&img->segments[last]) - img->segments[first].address;
	if (span > max)
		return dfu_error_set(
		    e, DFU_E_RANGE, "image.span", NULL,
		    "image spans %llu bytes (0x%08x..0x%08llx), more than the limit of %llu",
		    (unsigned long long)span, img->segments[first].address,
		    (unsigned long long)seg_end(&img->segments[last]) - 1, (unsigned long long)max);
	return 0;
}

/* The address space and the max_bytes limit: may @len more bytes at @address come in? */
static int check_add(const struct dfu_image *img, uint32_t address, size_t len,
		     const struct dfu_limits *limits, struct dfu_error *e)
{
	uint64_t end = (uint64_t)address + len;

	if (end > ADDR_SPACE)
		return dfu_error_set(
		    e, DFU_E_RANGE, "image.address_overflow", NULL,
		    "%zu bytes at 0x%08x run past the end of the 32-bit address space", len,
		    address);
	if (cpriv(img)->total_bytes + len > dfu_limits_max_bytes(limits))
		return dfu_error_set(e, DFU_E_RANGE, "image.too_large", NULL,
				     "image holds more than %llu bytes of data (the limit)",
				     (unsigned long long)dfu_limits_max_bytes(limits));
	return 0;
}

/*
 * The fast path: right after the segment we appended to last time, and not
 * reaching the next one.  Returns 1 when the bytes were appended, 0 when the
 * general path must add them, a negative dfu_err on failure.
 */
static int try_append(struct dfu_image *img, int alt, uint32_t address, const uint8_t *data,
		      size_t len, struct dfu_error *e)
{
	uint64_t end = (uint64_t)address + len;
	size_t i = priv(img)->last_seg;
	struct dfu_segment *s;
	int r;

	if (i >= img->n_segments)
		return 0;
	s = &img->segments[i];
	if (s->alt != alt || seg_end(s) != address ||
	    !(i + 1 == img->n_segments || img->segments[i + 1].alt != alt ||
	      img->segments[i + 1].address > end))
		return 0;
	r = seg_reserve(s, s->length + len);
	if (r < 0)
		return dfu_error_set(e, r, "image.nomem", NULL, "out of memory");
	memcpy(s->data + s->length, data, len);
	s->length += len;
	priv(img)->total_bytes += len;
	return 1;
}

/* Where segments [i, j) overlap the new bytes, they must agree. */
static int check_overlaps(const struct dfu_image *img, size_t i, size_t j, uint32_t address,
			  const uint8_t *data, size_t len, uint32_t *conflict_at,
			  struct dfu_error *e)
{
	uint64_t end = (uint64_t)address + len;

	for (size_t k = i; k < j; k++) {
		const struct dfu_segment *s = &img->segments[k];
		uint64_t a = MAX((uint64_t)s->address, (uint64_t)address);
		uint64_t b = MIN(seg_end(s), end);

		for (uint64_t x = a; x < b; x++) {
			if (s->data[x - s->address] != data[x - address]) {
				if (conflict_at)
					*conflict_at = (uint32_t)x;
				return dfu_error_set(
				    e, DFU_E_CONFLICT, "image.overlap", NULL,
				    "data at 0x%08llx given twice with different values",
				    (unsigned long long)x);
			}
		}
	}
	return 0;
}

/* A new segment at index @i. */
static int insert_segment(struct dfu_image *img, size_t i, int alt, uint32_t address,
			  const uint8_t *data, size_t len, struct dfu_error *e)
{
	struct dfu_segment ns = { .address = address, .alt = alt };
	int r;

	if (img->n_segments == priv(img)->seg_cap) {
		size_t cap = priv(img)->seg_cap ? priv(img)->seg_cap * 2 : 8;
		struct dfu_segment *v = realloc(img->segments, cap * sizeof(*v));

		if (!v)
			return dfu_error_set(e, DFU_E_NOMEM, "image.nomem", NULL, "out of memory");
		img->segments = v;
		priv(img)->seg_cap = cap;
	}
	r = seg_reserve(&ns, len);
	if (r < 0)
		return dfu_error_set(e, r, "image.nomem", NULL, "out of memory");
	memcpy(ns.data, data, len);
	ns.length = len;
	memmove(&img->segments[i + 1], &img->segments[i],
		(img->n_segments - i) * sizeof(*img->segments));
	img->segments[i] = ns;
	img->n_segments++;
	priv(img)->total_bytes += len;
	priv(img)->last_seg = i;
	return 0;
}

/* Merge segments [i, j) and the new bytes into segment @i. */
static int merge_segments(struct dfu_image *img, size_t i, size_t j, uint32_t address,
			  const uint8_t *data, size_t len, struct dfu_error *e)
{
	struct dfu_segment *first = &img->segments[i];
	uint64_t end = (uint64_t)address + len;
	uint64_t lo = MIN((uint64_t)first->address, (uint64_t)address);
	uint64_t hi = MAX(seg_end(&img->segments[j - 1]), end);
	uint64_t before = 0;
	size_t shift = (size_t)(first->address - lo);
	int r;

	for (size_t k = i; k < j; k++)
		before += img->segments[k].length;
	r = seg_reserve(first, (size_t)(hi - lo));
	if (r < 0)
		return dfu_error_set(e, r, "image.nomem", NULL, "out of memory");
	if (shift)
		memmove(first->data + shift, first->data, first->length);
	first->address = (uint32_t)lo;
	first->length += shift;
	/* Copy the later segments into place, then the new bytes over all
	 * (overlaps are identical, so the order does not matter). */
	for (size_t k = i + 1; k < j; k++) {
		struct dfu_segment *s = &img->segments[k];

		memcpy(first->data + (s->address - lo), s->data, s->length);
		free(s->data);
	}
	memcpy(first->data + (address - lo), data, len);
	first->length = (size_t)(hi - lo);
	memmove(&img->segments[i + 1], &img->segments[j],
		(img->n_segments - j) * sizeof(*img->segments));
	img->n_segments -= j - i - 1;
	priv(img)->total_bytes = priv(img)->total_bytes - before + first->length;
	priv(img)->last_seg = i;
	return 0;
}

int dfu_image_add(struct dfu_image *img, int alt, uint32_t address, const uint8_t *data, size_t len,
		  const struct dfu_limits *limits, uint32_t *conflict_at, struct dfu_error *e)
{
	uint64_t end = (uint64_t)address + len;
	size_t i, j;
	int r;

	if (len == 0)
		return 0;
	r = check_add(img, address, len, limits, e);
	if (r < 0)
		return r;
	r = try_append(img, alt, address, data, len, e);
	if (r < 0)
		return r;
	if (r > 0)
		return check_span(img, alt, limits, e);

	/* Segments [i, j) overlap or touch [address, end). */
	i = lower_bound(img, alt, address);
	j = i;
	while (j < img->n_segments && img->segments[j].alt == alt &&
	       img->segments[j].address <= end)
		j++;
	r = check_overlaps(img, i, j, address, data, len, conflict_at, e);
	if (r < 0)
		return r;
	if (i == j)
		r = insert_segment(img, i, alt, address, data, len, e);
	else
		r = merge_segments(img, i, j, address, data, len, e);
	if (r < 0)
		return r;
	return check_span(img, alt, limits, e);
}

/* --- line index ---------------------------------------------------------- */

int dfu_line_index_add(struct dfu_line_index *ix, uint32_t address, size_t len, unsigned long line)
{
	struct dfu_line_run *run = ix->n ? &ix->runs[ix->n - 1] : NULL;

	if (len == 0)
		return 0;
	/* Same run: next line, right after the previous record, and the previous
	 * record was a full one. */
	if (run && line == run->last_line + 1 && run->end == address &&
	    (run->end - run->address) % run->rec_len == 0 && len <= run->rec_len) {
		run->end += len;
		run->last_line = line;
		return 0;
	}
	if (ix->n == ix->cap) {
		size_t cap = ix->cap ? ix->cap * 2 : 16;
		struct dfu_line_run *v = realloc(ix->runs, cap * sizeof(*v));

		if (!v)
			return DFU_E_NOMEM;
		ix->runs = v;
		ix->cap = cap;
	}
	ix->runs[ix->n++] = (struct dfu_line_run){
		.address = address,
		.rec_len = (uint32_t)len,
		.end = (uint64_t)address + len,
		.first_line = line,
		.last_line = line,
	};
	return 0;
}

unsigned long dfu_line_index_find(const struct dfu_line_index *ix, uint32_t address,
				  unsigned long before_line)
{
	/* Newest first: the most recent earlier line is the one to name. */
	for (size_t k = ix->n; k-- > 0;) {
		const struct dfu_line_run *run = &ix->runs[k];
		unsigned long line;

		if (address < run->address || address >= run->end || run->first_line >= before_line)
			continue;
		line = run->first_line + (address - run->address) / run->rec_len;
		if (line < before_line)
			return line;
	}
	return 0;
}

void dfu_line_index_release(struct dfu_line_index *ix)
{
	free(ix->runs);
	memset(ix, 0, sizeof(*ix));
}
