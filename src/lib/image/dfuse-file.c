// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * DfuSe container files (ST UM0391): prefix, targets, elements.  The parser
 * sees the file without its DFU suffix; the writer appends one.  Every size
 * in the file is checked against the bytes actually present.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "image.h"
#include "macro.h"
#include "util.h"

/* UM0391 §2: DFU prefix = szSignature[5] "DfuSe", bVersion, DFUImageSize
 * (LE32, whole file without suffix), bTargets. */
#define PREFIX_LEN 11
/* UM0391 §3: target prefix = szSignature[6] "Target", bAlternateSetting,
 * bTargetNamed (LE32), szTargetName[255], dwTargetSize, dwNbElements. */
#define TARGET_PREFIX_LEN 274
#define TARGET_NAME_LEN 255
#define TP_ALT 6
#define TP_NAMED 7
#define TP_NAME 11
#define TP_SIZE 266
#define TP_NELEM 270
/* UM0391 §4: element = dwElementAddress, dwElementSize, data. */
#define ELEMENT_HEADER_LEN 8

#define DEFAULT_TARGET_NAME "ST..."

/* Quote up to @n bytes for a message, escaping what is not printable. */
static void quote_bytes(char *out, size_t out_len, const uint8_t *p, size_t n)
{
	size_t o = 0;

	for (size_t i = 0; i < n && o + 5 < out_len; i++) {
		if (p[i] >= 0x20 && p[i] < 0x7f && p[i] != '\'' && p[i] != '\\')
			out[o++] = (char)p[i];
		else
			o += (size_t)snprintf(out + o, out_len - o, "\\x%02x", p[i]);
	}
	out[o] = '\0';
}

/* Element @k of target @t (both indexes into img->targets) containing @addr. */
static bool find_element(const struct dfu_image *img, int alt, uint32_t addr, size_t *t_out,
			 size_t *k_out)
{
	for (size_t t = 0; t < img->n_targets; t++) {
		const struct dfuse_target *tg = &img->targets[t];

		if (tg->alt != alt)
			continue;
		for (size_t k = 0; k < tg->n_elements; k++) {
			const struct dfuse_element *el = &tg->elements[k];

			if (addr >= el->address &&
			    (uint64_t)addr < (uint64_t)el->address + el->size) {
				*t_out = t;
				*k_out = k;
				return true;
			}
		}
	}
	return false;
}

/* Target @ti's prefix at *@pos into @tg; its element count in *@n_elem. */
static int parse_target_prefix(const uint8_t *buf, size_t len, size_t pos, unsigned ti,
			       struct dfuse_target *tg, uint32_t *n_elem, struct dfu_error *e)
{
	const uint8_t *tp = buf + pos;
	char where[DFU_WHERE_LEN];

	if (len - pos < TARGET_PREFIX_LEN) {
		dfu_where_offset(where, pos);
		return dfu_error_set(e, DFU_E_FORMAT, "dfuse.truncated", where,
				     "target %u prefix needs %d bytes, only %zu left", ti,
				     TARGET_PREFIX_LEN, len - pos);
	}
	if (memcmp(tp, "Target", 6) != 0) {
		char q[32];

		quote_bytes(q, sizeof(q), tp, 6);
		dfu_where_offset(where, pos);
		return dfu_error_set(e, DFU_E_FORMAT, "dfuse.bad_target_signature", where,
				     "target %u signature '%s', expected 'Target'", ti, q);
	}
	tg->alt = tp[TP_ALT];
	tg->named_raw = le32_get(tp + TP_NAMED);
	tg->named = tg->named_raw != 0;
	/* szTargetName is NUL-padded; a name using all 255 bytes has no NUL. */
	memcpy(tg->name, tp + TP_NAME, TARGET_NAME_LEN);
	tg->name[TARGET_NAME_LEN] = '\0';
	tg->target_size = le32_get(tp + TP_SIZE);
	*n_elem = le32_get(tp + TP_NELEM);
	return 0;
}

/* Element @k of target @ti gives @conflict (alt tg->alt) twice with different bytes. */
static int overlap_error(const struct dfu_image *img, const struct dfuse_target *tg, unsigned ti,
			 uint32_t k, uint32_t conflict, const char *where, struct dfu_error *e)
{
	size_t ot = 0, ok = 0;

	/* The caller counts this element only after the lookup, so that the
	 * one found is an earlier element. */
	if (find_element(img, tg->alt, conflict, &ot, &ok))
		return dfu_error_set(e, DFU_E_CONFLICT, "dfuse.overlap", where,
				     "target %u element %u and target %zu element %zu both hold "
				     "0x%08x (alt %u) with different bytes",
				     ti, k, ot, ok, conflict, tg->alt);
	return dfu_error_set(
	    e, DFU_E_CONFLICT, "dfuse.overlap", where,
	    "target %u element %u gives 0x%08x (alt %u) twice with different bytes", ti, k,
	    conflict, tg->alt);
}

/* Element @k of target @ti at @p: header checks, then its bytes into the image. */
static int parse_element(const uint8_t *buf, size_t len, size_t p, unsigned ti, uint32_t k,
			 struct dfu_image *img, struct dfuse_target *tg,
			 const struct dfu_limits *limits, struct dfu_error *e)
{
	struct dfuse_element *el = &tg->elements[k];
	struct dfu_error sub = { 0 };
	char where[DFU_WHERE_LEN];
	uint32_t conflict = 0;
	int r;

	dfu_where_offset(where, p);
	if (len - p < ELEMENT_HEADER_LEN)
		return dfu_error_set(e, DFU_E_FORMAT, "dfuse.truncated", where,
				     "target %u element %u header runs past end", ti, k);
	el->address = le32_get(buf + p);
	el->size = le32_get(buf + p + 4);
	if (el->size > len - p - ELEMENT_HEADER_LEN)
		return dfu_error_set(e, DFU_E_FORMAT, "dfuse.truncated", where,
				     "target %u element %u (%u bytes) runs past end", ti, k,
				     el->size);
	if ((uint64_t)el->address + el->size > (UINT64_C(1) << 32))
		return dfu_error_set(
		    e, DFU_E_RANGE, "dfuse.address_overflow", where,
		    "target %u element %u: %u bytes at 0x%08x run past the 32-bit address space",
		    ti, k, el->size, el->address);
	el->crc32 = dfu_crc32(0, buf + p + ELEMENT_HEADER_LEN, el->size);

	r = dfu_image_add(img, tg->alt, el->address, buf + p + ELEMENT_HEADER_LEN, el->size, limits,
			  &conflict, &sub);
	if (r == DFU_E_CONFLICT)
		return overlap_error(img, tg, ti, k, conflict, where, e);
	if (r < 0)
		return dfu_error_set(e, r, sub.code, where, "target %u element %u: %s", ti, k,
				     sub.message);
	return 0;
}

static int parse_target(const uint8_t *buf, size_t len, size_t *pos, unsigned ti,
			struct dfu_image *img, const struct dfu_limits *limits, struct dfu_error *e)
{
	struct dfuse_target *tg = &img->targets[ti];
	size_t start = *pos, p;
	uint64_t elements_bytes = 0;
	uint32_t n_elem = 0;
	char where[DFU_WHERE_LEN];
	int r;

	r = parse_target_prefix(buf, len, *pos, ti, tg, &n_elem, e);
	if (r < 0)
		return r;
	p = *pos + TARGET_PREFIX_LEN;

	/* Every element needs at least its header: refuse absurd counts before
	 * allocating for them. */
	if (n_elem > (len - p) / ELEMENT_HEADER_LEN) {
		dfu_where_offset(where, start + TP_NELEM);
		return dfu_error_set(
		    e, DFU_E_FORMAT, "dfuse.truncated", where,
		    "target %u claims %u elements, the %zu bytes left hold at most %zu", ti, n_elem,
		    len - p, (len - p) / ELEMENT_HEADER_LEN);
	}
	if (n_elem > 0) {
		tg->elements = calloc(n_elem, sizeof(*tg->elements));
		if (!tg->elements)
			return dfu_error_set(e, DFU_E_NOMEM, "dfuse.nomem", NULL, "out of memory");
	}

	for (uint32_t k = 0; k < n_elem; k++) {
		r = parse_element(buf, len, p, ti, k, img, tg, limits, e);
		if (r < 0)
			return r;
		tg->n_elements = k + 1;
		elements_bytes += ELEMENT_HEADER_LEN + (uint64_t)tg->elements[k].size;
		p += ELEMENT_HEADER_LEN + tg->elements[k].size;
	}

	/* dwTargetSize covers the elements (headers and data), not the prefix. */
	if (elements_bytes != tg->target_size) {
		dfu_where_offset(where, start + TP_SIZE);
		return dfu_error_set(
		    e, DFU_E_FORMAT, "dfuse.target_size_mismatch", where,
		    "target %u dwTargetSize is %u but its %u elements take %llu bytes", ti,
		    tg->target_size, n_elem, (unsigned long long)elements_bytes);
	}
	*pos = p;
	return 0;
}

int dfuse_file_parse(const uint8_t *buf, size_t len, struct dfu_image *img,
		     const struct dfu_limits *limits, struct dfu_error *e)
{
	char where[DFU_WHERE_LEN];
	uint32_t image_size;
	unsigned n_targets;
	size_t pos;
	int r;

	if (len < PREFIX_LEN) {
		dfu_where_offset(where, 0);
		return dfu_error_set(e, DFU_E_FORMAT, "dfuse.truncated", where,
				     "file of %zu bytes is shorter than the %d-byte DfuSe prefix",
				     len, PREFIX_LEN);
	}
	if (memcmp(buf, "DfuSe", 5) != 0) {
		char q[32];

		quote_bytes(q, sizeof(q), buf, 5);
		dfu_where_offset(where, 0);
		return dfu_error_set(e, DFU_E_FORMAT, "dfuse.bad_signature", where,
				     "signature '%s', expected 'DfuSe'", q);
	}
	if (buf[5] != 1) {
		dfu_where_offset(where, 5);
		return dfu_error_set(e, DFU_E_UNSUPPORTED, "dfuse.bad_version", where,
				     "bVersion %u, only version 1 (UM0391) is known", buf[5]);
	}
	/* UM0391 counts the file without its suffix (ST's tools, openmv, fwupd);
	 * dfu-util's dfuse-pack counts the 16-byte suffix as well.  Both occur in
	 * the wild; any other value is a damaged file. */
	image_size = le32_get(buf + 6);
	if (image_size != len && (uint64_t)image_size != (uint64_t)len + DFU_SUFFIX_LEN) {
		dfu_where_offset(where, 6);
		dfu_error_set(e, DFU_E_FORMAT, "dfuse.image_size_mismatch", where,
			      "DFUImageSize is %u but the file has %zu bytes without its suffix "
			      "(%llu with a %d-byte suffix)",
			      image_size, len, (unsigned long long)len + DFU_SUFFIX_LEN,
			      DFU_SUFFIX_LEN);
		dfu_error_hint(e, "the file is truncated or has bytes appended");
		return DFU_E_FORMAT;
	}
	img->dfuse_size_counts_suffix = image_size != len;
	n_targets = buf[10];

	img->dfuse_version = buf[5];
	img->dfuse_image_size = image_size;
	img->address_from_file = true;
	if (n_targets > 0) {
		img->targets = calloc(n_targets, sizeof(*img->targets));
		if (!img->targets)
			return dfu_error_set(e, DFU_E_NOMEM, "dfuse.nomem", NULL, "out of memory");
	}

	pos = PREFIX_LEN;
	for (unsigned t = 0; t < n_targets; t++) {
		/* Count the target before parsing it, so that its elements are
		 * freed with the image on failure. */
		img->n_targets = t + 1;
		r = parse_target(buf, len, &pos, t, img, limits, e);
		if (r < 0)
			return r;
	}
	if (pos != len) {
		dfu_where_offset(where, pos);
		return dfu_error_set(e, DFU_E_FORMAT, "dfuse.trailing_data", where,
				     "%zu bytes after the last of %u targets", len - pos,
				     n_targets);
	}
	return 0;
}

/* --- writing ------------------------------------------------------------- */

/* One output target: an alt, its name, and the segments it carries. */
struct out_target {
	int alt;
	bool named;
	uint32_t named_raw;
	const char *name;
	size_t *segs; /* indexes into img->segments */
	size_t n_segs;
	bool keep_empty;
};

static void out_targets_free(struct out_target *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i].segs);
	free(v);
}

static int segment_alt(const struct dfu_segment *s, const struct dfu_write_opts *opts)
{
	return s->alt == DFU_ALT_NONE ? opts->alt : s->alt;
}

/*
 * The target a segment goes to: the first parsed target of its alt with an
 * element overlapping it (so that a file with several targets per alt, as
 * fwupd's firmware.dfuse, keeps its names), else the first target of the alt.
 */
static size_t pick_target(const struct out_target *v, size_t n, size_t n_parsed,
			  const struct dfu_image *img, const struct dfu_segment *s, int alt)
{
	size_t first = n;

	for (size_t i = 0; i < n; i++) {
		if (v[i].alt != alt)
			continue;
		if (first == n)
			first = i;
		if (i >= n_parsed)
			continue;
		for (size_t k = 0; k < img->targets[i].n_elements; k++) {
			const struct dfuse_element *el = &img->targets[i].elements[k];

			if ((uint64_t)el->address < (uint64_t)s->address + s->length &&
			    (uint64_t)s->address < (uint64_t)el->address + el->size)
				return i;
		}
	}
	return first;
}

static int add_seg(struct out_target *t, size_t seg)
{
	size_t *v = realloc(t->segs, (t->n_segs + 1) * sizeof(*v));

	if (!v)
		return DFU_E_NOMEM;
	v[t->n_segs++] = seg;
	t->segs = v;
	return 0;
}

/* One out_target per parsed target, in file order; returns how many. */
static size_t add_parsed_targets(const struct dfu_image *img, struct out_target *v)
{
	size_t n = 0;

	for (size_t i = 0; i < img->n_targets; i++) {
		const struct dfuse_target *tg = &img->targets[i];

		v[n++] = (struct out_target){ .alt = tg->alt,
					      .named = tg->named,
					      .named_raw = tg->named_raw,
					      .name = tg->name,
					      .keep_empty = tg->n_elements == 0 };
	}
	return n;
}

/* Give every segment a target, appending one for an alt that has none (*@n grows). */
static int assign_segments(const struct dfu_image *img, const struct dfu_write_opts *opts,
			   struct out_target *v, size_t *n, struct dfu_error *e)
{
	for (size_t i = 0; i < img->n_segments; i++) {
		const struct dfu_segment *s = &img->segments[i];
		int alt = segment_alt(s, opts);
		size_t t;

		if (alt < 0 || alt > 255)
			return dfu_error_set(
			    e, DFU_E_RANGE, "dfuse.bad_alt", NULL,
			    "alt setting %d cannot be stored in a DfuSe file (0..255)", alt);
		if (s->length > UINT32_MAX - ELEMENT_HEADER_LEN)
			return dfu_error_set(
			    e, DFU_E_RANGE, "dfuse.too_large", NULL,
			    "segment at 0x%08x of %zu bytes does not fit a DfuSe element",
			    s->address, s->length);
		t = pick_target(v, *n, img->n_targets, img, s, alt);
		if (t == *n) {
			const char *name =
			    opts->target_name ? opts->target_name : DEFAULT_TARGET_NAME;

			v[(*n)++] = (struct out_target){
				.alt = alt, .named = true, .named_raw = 1, .name = name
			};
		}
		if (add_seg(&v[t], i) < 0)
			return dfu_error_set(e, DFU_E_NOMEM, "dfuse.nomem", NULL, "out of memory");
	}
	return 0;
}

/* Drop targets that lost all their elements (image edited since); returns how many stay. */
static size_t drop_empty_targets(struct out_target *v, size_t n)
{
	size_t m = 0;

	for (size_t i = 0; i < n; i++) {
		if (v[i].n_segs > 0 || v[i].keep_empty)
			v[m++] = v[i];
		else
			free(v[i].segs);
	}
	return m;
}

/* dwTargetSize: the elements, headers and data. */
static uint64_t target_size(const struct dfu_image *img, const struct out_target *t)
{
	uint64_t size = 0;

	for (size_t k = 0; k < t->n_segs; k++)
		size += ELEMENT_HEADER_LEN + img->segments[t->segs[k]].length;
	return size;
}

/* The DFU prefix of a file of @image_size bytes (without suffix) holding @n targets. */
static int append_prefix(struct dfu_buf *out, uint64_t image_size, size_t n)
{
	uint8_t hdr[PREFIX_LEN];

	memcpy(hdr, "DfuSe", 5);
	hdr[5] = 1;
	le32_put(hdr + 6, (uint32_t)image_size);
	hdr[10] = (uint8_t)n;
	return dfu_buf_append(out, hdr, PREFIX_LEN);
}

/* A target prefix, then each element: header and data. */
static int append_target(struct dfu_buf *out, const struct dfu_image *img,
			 const struct out_target *t)
{
	uint8_t hdr[TARGET_PREFIX_LEN] = { 0 };
	int r;

	memcpy(hdr, "Target", 6);
	hdr[TP_ALT] = (uint8_t)t->alt;
	le32_put(hdr + TP_NAMED, t->named ? (t->named_raw ? t->named_raw : 1) : 0);
	/* A parsed target keeps its name bytes even when bTargetNamed
	 * is 0, so that parse, write and parse give the same targets. */
	if (t->name)
		memcpy(hdr + TP_NAME, t->name, strnlen(t->name, TARGET_NAME_LEN));
	le32_put(hdr + TP_SIZE, (uint32_t)target_size(img, t));
	le32_put(hdr + TP_NELEM, (uint32_t)t->n_segs);
	r = dfu_buf_append(out, hdr, TARGET_PREFIX_LEN);
	for (size_t k = 0; k < t->n_segs && r >= 0; k++) {
		const struct dfu_segment *s = &img->segments[t->segs[k]];
		uint8_t eh[ELEMENT_HEADER_LEN];

		le32_put(eh, s->address);
		le32_put(eh + 4, (uint32_t)s->length);
		r = dfu_buf_append(out, eh, sizeof(eh));
		if (r >= 0)
			r = dfu_buf_append(out, s->data, s->length);
	}
	return r;
}

/* Prefix and targets; the size checks come first, so nothing is appended on a range error. */
static int append_body(struct dfu_buf *out, const struct dfu_image *img, const struct out_target *v,
		       size_t n, struct dfu_error *e)
{
	uint64_t image_size = PREFIX_LEN;
	int r;

	if (n > 255)
		return dfu_error_set(e, DFU_E_RANGE, "dfuse.too_many_targets", NULL,
				     "%zu targets, a DfuSe file holds at most 255", n);
	for (size_t i = 0; i < n; i++)
		image_size += TARGET_PREFIX_LEN + target_size(img, &v[i]);
	if (image_size > UINT32_MAX)
		return dfu_error_set(e, DFU_E_RANGE, "dfuse.too_large", NULL,
				     "DfuSe image of %llu bytes exceeds the 32-bit DFUImageSize",
				     (unsigned long long)image_size);
	r = append_prefix(out, image_size, n);
	for (size_t i = 0; i < n && r >= 0; i++)
		r = append_target(out, img, &v[i]);
	if (r < 0)
		return dfu_error_set(e, DFU_E_NOMEM, "dfuse.nomem", NULL, "out of memory");
	return 0;
}

int dfuse_file_write(const struct dfu_image *img, const struct dfu_write_opts *opts,
		     struct dfu_buf *out, struct dfu_error *e)
{
	struct out_target *v = NULL;
	size_t n, start = out->len;
	uint8_t sfx[DFU_SUFFIX_LEN];
	int r;

	/* Parsed targets first, in file order; more targets for alts that have
	 * none are appended as segments need them. */
	v = calloc(img->n_targets + img->n_segments + 1, sizeof(*v));
	if (!v)
		return dfu_error_set(e, DFU_E_NOMEM, "dfuse.nomem", NULL, "out of memory");
	n = add_parsed_targets(img, v);
	r = assign_segments(img, opts, v, &n, e);
	if (r < 0)
		goto out;
	n = drop_empty_targets(v, n);
	r = append_body(out, img, v, n, e);
	if (r < 0)
		goto out;

	dfu_suffix_build(out->data + start, out->len - start, opts->bcd_device, opts->pid,
			 opts->vid, opts->bcd_dfu ? opts->bcd_dfu : 0x011a, sfx);
	r = dfu_buf_append(out, sfx, sizeof(sfx));
	if (r < 0)
		r = dfu_error_set(e, DFU_E_NOMEM, "dfuse.nomem", NULL, "out of memory");
out:
	out_targets_free(v, n);
	return r < 0 ? r : 0;
}
