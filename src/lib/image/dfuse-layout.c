// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * DfuSe memory-layout strings (UM0424 4.3.2): "@Name/0xADDR/NN*SSSKg,...".
 * Parses the alt setting's interface string into segments of equal sectors and
 * answers "which sector holds this address".  Knows nothing of USB: the caller
 * hands over the string.
 */
#include "config.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "image.h"
#include "macro.h"
#include "util.h"

#define ADDR_SPACE (UINT64_C(1) << 32)
/* Numbers are clamped here while reading digits; anything above 2^32 is
 * refused later, so the exact value past that does not matter. */
#define NUM_CLAMP (UINT64_C(1) << 40)
/* Bad text quoted in messages and warnings is cut to this many characters. */
#define QUOTE_MAX 32

struct parser {
	const char *s;
	size_t n; /* up to len or the first NUL */
	size_t pos;
	struct dfuse_layout *l;
	size_t cap;
	size_t *region_off; /* per segment: offset of its region's address */
	struct dfu_error *e;
};

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/*
 * Quote @len bytes of @s into @buf as 'text', escaping what is not printable
 * (the string comes from a device and may hold anything) and cutting long
 * text with "...".
 */
static void quote(char *buf, size_t size, const char *s, size_t len)
{
	size_t o = 0;

	assert(size >= QUOTE_MAX * 4 + 8);
	buf[o++] = '\'';
	for (size_t i = 0; i < len && i < QUOTE_MAX; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c >= 0x20 && c < 0x7f && c != '\'' && c != '\\')
			buf[o++] = (char)c;
		else
			o += (size_t)snprintf(buf + o, size - o, "\\x%02x", c);
	}
	if (len > QUOTE_MAX) {
		memcpy(buf + o, "...", 3);
		o += 3;
	}
	buf[o++] = '\'';
	buf[o] = '\0';
}

/* Quote the token at @off (up to the next separator), or say the string ended. */
static void quote_token(const struct parser *p, size_t off, char *buf, size_t size)
{
	size_t end = off;

	if (off >= p->n) {
		snprintf(buf, size, "the end of the string");
		return;
	}
	while (end < p->n && p->s[end] != ',' && p->s[end] != '/')
		end++;
	if (end == off)
		end = off + 1; /* the separator itself is the bad text */
	quote(buf, size, p->s + off, end - off);
}

static int fail(struct parser *p, int err, const char *code, size_t off, const char *fmt, ...)
    _printf_format_(5, 6);

static int fail(struct parser *p, int err, const char *code, size_t off, const char *fmt, ...)
{
	char where[DFU_WHERE_LEN];
	va_list ap;

	/* A character index into a short string: plain decimal reads best. */
	snprintf(where, sizeof(where), "offset %zu", off);
	va_start(ap, fmt);
	dfu_error_setv(p->e, err, code, where, fmt, ap);
	va_end(ap);
	return err;
}

/* A format error at @off: "expected @what, found <the text there>". */
static int expected(struct parser *p, const char *code, size_t off, const char *what)
{
	char tok[QUOTE_MAX * 4 + 8];

	quote_token(p, off, tok, sizeof(tok));
	return fail(p, DFU_E_FORMAT, code, off, "expected %s, found %s", what, tok);
}

static int layout_warn(struct dfuse_layout *l, const char *fmt, ...) _printf_format_(2, 3);

static int layout_warn(struct dfuse_layout *l, const char *fmt, ...)
{
	char **w;
	char *msg;
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vasprintf(&msg, fmt, ap);
	va_end(ap);
	if (r < 0)
		return DFU_E_NOMEM;
	w = realloc(l->warnings, (l->n_warnings + 1) * sizeof(*w));
	if (!w) {
		free(msg);
		return DFU_E_NOMEM;
	}
	l->warnings = w;
	l->warnings[l->n_warnings++] = msg;
	return 0;
}

static void skip_space(struct parser *p)
{
	while (p->pos < p->n && is_space(p->s[p->pos]))
		p->pos++;
}

/* Decimal digits at pos; a leading 0 is still decimal ("016" is sixteen, as
 * every ST ROM writes it).  Returns false when there is no digit. */
static bool read_decimal(struct parser *p, uint64_t *out)
{
	uint64_t v = 0;
	size_t start = p->pos;

	while (p->pos < p->n && is_digit(p->s[p->pos])) {
		v = v * 10 + (uint64_t)(p->s[p->pos] - '0');
		if (v > NUM_CLAMP)
			v = NUM_CLAMP;
		p->pos++;
	}
	*out = v;
	return p->pos > start;
}

static int add_segment(struct parser *p, const struct dfuse_layout_segment *seg, size_t region_off)
{
	struct dfuse_layout *l = p->l;

	if (l->n_segments == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 8;
		struct dfuse_layout_segment *s = realloc(l->segments, cap * sizeof(*s));
		size_t *o;

		if (!s)
			return DFU_E_NOMEM;
		l->segments = s;
		o = realloc(p->region_off, cap * sizeof(*o));
		if (!o)
			return DFU_E_NOMEM;
		p->region_off = o;
		p->cap = cap;
	}
	l->segments[l->n_segments] = *seg;
	p->region_off[l->n_segments] = region_off;
	l->n_segments++;
	return 0;
}

/* "NN*SSS" at pos: the sector count and size; *@num_off: where the size starts. */
static int parse_sectors(struct parser *p, uint64_t *count, uint64_t *size, size_t *num_off)
{

	if (!read_decimal(p, count)) {
		return expected(p, "dfuse_layout.bad_count", p->pos, "a decimal sector count");
	}
	if (p->pos >= p->n || p->s[p->pos] != '*') {
		return expected(p, "dfuse_layout.expected_star", p->pos,
				"'*' after the sector count");
	}
	p->pos++;
	*num_off = p->pos;
	if (!read_decimal(p, size)) {
		return expected(p, "dfuse_layout.bad_size", p->pos, "a decimal sector size");
	}
	return 0;
}

/* The multiplier after the sector size, for the segment that starts at @seg_off. */
static int parse_multiplier(struct parser *p, size_t seg_off, uint64_t *mult)
{
	char c = p->pos < p->n ? p->s[p->pos] : '\0';
	char tok[QUOTE_MAX * 4 + 8];
	int r;

	switch (c) {
	case 'B':
	case ' ': /* ST's option-byte and OTP strings: "01*016 e" */
		*mult = 1;
		p->pos++;
		return 0;
	case 'K':
		*mult = 1024;
		p->pos++;
		return 0;
	case 'M':
		*mult = 1024 * 1024;
		p->pos++;
		return 0;
	default:
		break;
	}
	if (c >= 'a' && c <= 'g') {
		/* "01*016e": fwupd's absent-sector-size quirk; dfu-util
		 * takes the letter as the type too. */
		quote(tok, sizeof(tok), p->s + seg_off, p->pos + 1 - seg_off);
		r = layout_warn(p->l, "no multiplier in %s at offset %zu, assuming bytes", tok,
				p->pos);
		if (r < 0)
			return r;
		*mult = 1;
		return 0;
	}
	r = expected(p, "dfuse_layout.bad_multiplier", p->pos,
		     "a multiplier B, K, M or a space after the sector size");
	dfu_error_hint(p->e, "the sector size is followed by B (bytes), K (KiB), "
			     "M (MiB) or a space (bytes), then a type letter a..g");
	return r;
}

/* The memory type letter a..g into *@type. */
static int parse_type(struct parser *p, char *type)
{
	char c = p->pos < p->n ? p->s[p->pos] : '\0';
	int r;

	if (c < 'a' || c > 'g') {
		r = expected(p, "dfuse_layout.bad_type", p->pos, "a memory type letter a..g");
		dfu_error_hint(p->e, "the type letter is 'a' + bits - 1 with bit 0 readable, "
				     "bit 1 erasable, bit 2 writable (g = all three)");
		return r;
	}
	p->pos++;
	*type = c;
	return 0;
}

/* One "NN*SSS<mult><type>" at pos, starting at *cursor (advanced past it). */
static int parse_segment(struct parser *p, uint64_t *cursor, size_t region_off)
{
	struct dfuse_layout_segment seg = { 0 };
	uint64_t count = 0, size = 0, mult = 0, total;
	size_t seg_off, num_off = 0;
	char tok[QUOTE_MAX * 4 + 8];
	char c = 0;
	int r;

	skip_space(p);
	seg_off = p->pos;
	r = parse_sectors(p, &count, &size, &num_off);
	if (r < 0)
		return r;
	r = parse_multiplier(p, seg_off, &mult);
	if (r < 0)
		return r;
	r = parse_type(p, &c);
	if (r < 0)
		return r;

	quote(tok, sizeof(tok), p->s + seg_off, p->pos - seg_off);
	if (count == 0 || size == 0)
		return fail(p, DFU_E_FORMAT, "dfuse_layout.empty_segment", seg_off,
			    "segment %s has no bytes (zero %s)", tok,
			    count == 0 ? "sector count" : "sector size");
	if (count >= ADDR_SPACE || size * mult >= ADDR_SPACE)
		return fail(p, DFU_E_RANGE, "dfuse_layout.overflow",
			    count >= ADDR_SPACE ? seg_off : num_off,
			    "segment %s does not fit in the 32-bit address space", tok);
	total = count * size * mult; /* < 2^64: both factors < 2^32 */
	if (total > ADDR_SPACE - *cursor)
		return fail(p, DFU_E_RANGE, "dfuse_layout.overflow", seg_off,
			    "segment %s at 0x%08llx ends past the 32-bit address space", tok,
			    (unsigned long long)*cursor);

	seg.start = (uint32_t)*cursor;
	seg.count = (uint32_t)count;
	seg.size = (uint32_t)(size * mult);
	seg.end = *cursor + total;
	seg.type = c;
	seg.attr = (uint8_t)(c - 'a' + 1);
	*cursor = seg.end;
	return add_segment(p, &seg, region_off);
}

/* "0xADDR/" at pos, then its segments.  Returns 1 when another region follows. */
static int parse_region(struct parser *p)
{
	size_t addr_off = p->pos, digits;
	uint64_t addr = 0;
	char tok[QUOTE_MAX * 4 + 8];
	int r;

	if (p->n - p->pos < 2 || p->s[p->pos] != '0' || (p->s[p->pos + 1] | 0x20) != 'x') {
		return expected(p, "dfuse_layout.bad_address", addr_off,
				"a region address like 0x08000000");
	}
	p->pos += 2;
	for (digits = 0; p->pos < p->n && hexval((unsigned char)p->s[p->pos]) >= 0; digits++) {
		addr = addr * 16 + (uint64_t)hexval((unsigned char)p->s[p->pos]);
		if (addr > NUM_CLAMP)
			addr = NUM_CLAMP;
		p->pos++;
	}
	if (digits == 0) {
		return expected(p, "dfuse_layout.bad_address", addr_off,
				"hexadecimal digits in the region address");
	}
	if (addr >= ADDR_SPACE) {
		quote_token(p, addr_off, tok, sizeof(tok));
		return fail(p, DFU_E_RANGE, "dfuse_layout.overflow", addr_off,
			    "region address %s is above 0xffffffff", tok);
	}
	if (p->pos >= p->n || p->s[p->pos] != '/') {
		return expected(p, "dfuse_layout.expected_slash", p->pos,
				"'/' after the region address");
	}
	p->pos++;

	for (;;) {
		size_t sep;

		r = parse_segment(p, &addr, addr_off);
		if (r < 0)
			return r;
		sep = p->pos;
		/* dfu-util reads segments with sscanf("%d"), which skips blanks:
		 * allow them around separators. */
		skip_space(p);
		if (p->pos >= p->n)
			return 0;
		if (p->s[p->pos] == ',') {
			p->pos++;
			continue;
		}
		if (p->s[p->pos] == '/') {
			size_t slash = p->pos;

			p->pos++;
			skip_space(p);
			if (p->pos < p->n)
				return 1;
			/* A dangling '/' after a complete layout: trailing text. */
			p->pos = slash;
			return 0;
		}
		if (p->pos > sep)
			return 0; /* blank, then something else: trailing text */
		return expected(p, "dfuse_layout.expected_comma", p->pos,
				"',' or '/' after the segment type");
	}
}

struct span {
	uint32_t start;
	uint64_t end;
	size_t index;
};

static int span_cmp(const void *a, const void *b)
{
	const struct span *x = a, *y = b;

	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	return x->index < y->index ? -1 : x->index > y->index;
}

/* Segments within a region follow each other; only regions can overlap. */
static int check_overlap(struct parser *p)
{
	const struct dfuse_layout *l = p->l;
	_cleanup_free_ struct span *v = NULL;

	if (l->n_segments < 2)
		return 0;
	v = malloc(l->n_segments * sizeof(*v));
	if (!v)
		return DFU_E_NOMEM;
	for (size_t i = 0; i < l->n_segments; i++)
		v[i] = (struct span){ l->segments[i].start, l->segments[i].end, i };
	qsort(v, l->n_segments, sizeof(*v), span_cmp);
	for (size_t i = 1; i < l->n_segments; i++) {
		const struct span *a = &v[i - 1], *b = &v[i];
		size_t later = MAX(a->index, b->index);

		if (a->end > b->start) {
			const struct span *other = later == a->index ? b : a;

			return fail(
			    p, DFU_E_FORMAT, "dfuse_layout.overlap", p->region_off[later],
			    "memory 0x%08x-0x%08llx overlaps 0x%08x-0x%08llx of an earlier region",
			    l->segments[later].start,
			    (unsigned long long)l->segments[later].end - 1, other->start,
			    (unsigned long long)other->end - 1);
		}
	}
	return 0;
}

static int parse_name(struct parser *p, size_t slash)
{
	size_t a = 1, b = slash;
	char tok[QUOTE_MAX * 4 + 8];
	size_t len;

	/* ST pads the name: "Internal Flash  ". */
	while (a < b && is_space(p->s[a]))
		a++;
	while (b > a && is_space(p->s[b - 1]))
		b--;
	len = b - a;
	if (len >= sizeof(p->l->name)) {
		quote(tok, sizeof(tok), p->s + a, len);
		len = sizeof(p->l->name) - 1;
		if (layout_warn(p->l, "name %s cut to %zu characters", tok, len) < 0)
			return DFU_E_NOMEM;
	}
	memcpy(p->l->name, p->s + a, len);
	p->l->name[len] = '\0';
	return 0;
}

int dfuse_layout_parse(const char *str, size_t len, struct dfuse_layout **out, struct dfu_error *e)
{
	struct parser p = { .s = str, .e = e };
	const char *slash;
	char tok[QUOTE_MAX * 4 + 8];
	int r;

	assert(out);
	*out = NULL;
	p.n = str ? strnlen(str, len) : 0;
	if (p.n == 0 || str[0] != '@') {
		quote(tok, sizeof(tok), str ? str : "", p.n);
		r = fail(&p, DFU_E_FORMAT, "dfuse_layout.not_dfuse", 0,
			 "interface string %s is not a DfuSe memory layout (no leading '@')", tok);
		dfu_error_hint(e, "DfuSe alt settings are named \"@Name/0xADDRESS/NN*SSSKg,...\"; "
				  "any other interface string is a plain name, not a layout");
		return r;
	}
	p.l = calloc(1, sizeof(*p.l));
	if (!p.l)
		return DFU_E_NOMEM;

	slash = memchr(str, '/', p.n);
	r = parse_name(&p, slash ? (size_t)(slash - str) : p.n);
	if (r < 0)
		goto out;
	if (slash) {
		p.pos = (size_t)(slash - str) + 1;
		skip_space(&p);
	}
	if (!slash || p.pos >= p.n) {
		quote(tok, sizeof(tok), p.l->name, strlen(p.l->name));
		r = fail(&p, DFU_E_FORMAT, "dfuse_layout.no_region", p.n,
			 "layout %s has no /0xADDRESS/ region", tok);
		goto out;
	}

	do {
		r = parse_region(&p);
		if (r < 0)
			goto out;
	} while (r > 0);

	/* BTT Octopus Pro F429 boards append text after a valid layout. */
	if (p.pos < p.n) {
		size_t end = p.n;

		while (end > p.pos && is_space(str[end - 1]))
			end--;
		quote(tok, sizeof(tok), str + p.pos, end - p.pos);
		r = layout_warn(p.l, "ignored trailing text %s at offset %zu", tok, p.pos);
		if (r < 0)
			goto out;
	}

	r = check_overlap(&p);
	if (r < 0)
		goto out;
	*out = TAKE_PTR(p.l);
	r = 0;
out:
	if (r == DFU_E_NOMEM)
		dfu_error_set(e, r, "dfuse_layout.nomem", NULL, "out of memory parsing a layout");
	free(p.region_off);
	dfuse_layout_free(p.l);
	return r;
}

void dfuse_layout_free(struct dfuse_layout *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->n_warnings; i++)
		free(l->warnings[i]);
	free(l->warnings);
	free(l->segments);
	free(l);
}

/* Layouts hold a handful of segments: a linear scan is all it takes, and it
 * works whatever the order of the regions in the string. */
int dfuse_layout_find_segment(const struct dfuse_layout *l, uint32_t address, size_t *index)
{
	assert(l);
	for (size_t i = 0; i < l->n_segments; i++) {
		const struct dfuse_layout_segment *s = &l->segments[i];

		if (address >= s->start && address < s->end) {
			if (index)
				*index = i;
			return 0;
		}
	}
	return DFU_E_NOTFOUND;
}

static struct dfuse_sector sector_at(const struct dfuse_layout *l, size_t i, uint32_t address)
{
	const struct dfuse_layout_segment *s = &l->segments[i];

	/* No power-of-two assumption (dfu-util's addr & ~(size-1) has one):
	 * a 3*24K segment has sectors at start, start+24K, start+48K. */
	return (struct dfuse_sector){
		.start = s->start + ((address - s->start) / s->size) * s->size,
		.size = s->size,
		.attr = s->attr,
		.segment = i,
	};
}

int dfuse_layout_find_sector(const struct dfuse_layout *l, uint32_t address,
			     struct dfuse_sector *out)
{
	size_t i;
	int r = dfuse_layout_find_segment(l, address, &i);

	if (r < 0)
		return r;
	*out = sector_at(l, i, address);
	return 0;
}

/* Walk [address, end) segment by segment; count sectors, or store them when
 * @v is non-NULL. */
static int walk_sectors(const struct dfuse_layout *l, uint32_t address, uint64_t end,
			struct dfuse_sector *v, uint64_t *n, struct dfu_error *e)
{
	uint64_t cur = address;

	*n = 0;
	while (cur < end) {
		const struct dfuse_layout_segment *s;
		uint64_t stop, first, last;
		size_t i;

		if (cur >= ADDR_SPACE)
			return dfu_error_set(e, DFU_E_NOTFOUND, "dfuse_layout.outside", NULL,
					     "address 0x%09llx is past the 32-bit address space",
					     (unsigned long long)cur);
		if (dfuse_layout_find_segment(l, (uint32_t)cur, &i) < 0)
			return dfu_error_set(
			    e, DFU_E_NOTFOUND, "dfuse_layout.outside", NULL,
			    "address 0x%08llx is outside every segment of the layout",
			    (unsigned long long)cur);
		s = &l->segments[i];
		stop = MIN(end, s->end);
		first = (cur - s->start) / s->size;
		last = (stop - 1 - s->start) / s->size;
		if (v) {
			for (uint64_t k = first; k <= last; k++)
				v[*n + (k - first)] =
				    sector_at(l, i, (uint32_t)(s->start + k * s->size));
		}
		*n += last - first + 1;
		cur = stop;
	}
	return 0;
}

int dfuse_layout_sectors(const struct dfuse_layout *l, uint32_t address, uint64_t len,
			 struct dfuse_sector **out, size_t *n, struct dfu_error *e)
{
	_cleanup_free_ struct dfuse_sector *v = NULL;
	uint64_t count, end;
	int r;

	assert(l && out && n);
	*out = NULL;
	*n = 0;
	if (len == 0)
		return 0;
	/* First count, so that a range leaving the map fails before allocating. */
	/* Past 2^32 nothing is covered: clamping keeps address + len from wrapping. */
	end = len > ADDR_SPACE ? ADDR_SPACE + 1 : (uint64_t)address + len;
	r = walk_sectors(l, address, end, NULL, &count, e);
	if (r < 0)
		return r;
	if (count > SIZE_MAX / sizeof(*v) || !(v = malloc((size_t)count * sizeof(*v))))
		return dfu_error_set(e, DFU_E_NOMEM, "dfuse_layout.nomem", NULL,
				     "out of memory listing %llu sectors",
				     (unsigned long long)count);
	r = walk_sectors(l, address, end, v, &count, e);
	if (r < 0)
		return r;
	*out = TAKE_PTR(v);
	*n = (size_t)count;
	return 0;
}
