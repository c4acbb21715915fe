// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The shared image corpus against its expected results
 * (<corpus>/expected.json, conventions in <corpus>/MANIFEST.md): every file
 * is parsed as the CLI would and compared field by field.  One loop test per
 * file; each reports all of its mismatches on stderr and fails once with the
 * first.  A second case feeds every file through the streaming reader in
 * small chunks and demands the whole-buffer result.
 *
 * Without the corpus (release tarball) the program exits 77: automake SKIP.
 */
#include "config.h"

#include <inttypes.h>

#include "dfuflash.h"
#include "json-mini.h"
#include "testutil.h"

/* expected.json and its "files" object; loaded by main() before forking. */
static struct json_node *expected;
static const struct json_node *files;

/* The mismatches of one file. */
struct report {
	const char *name;
	unsigned n;
	char first[512];
};

static void mismatch(struct report *r, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void mismatch(struct report *r, const char *field, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "corpus: %s: %s: %s\n", r->name, field, msg);
	if (r->n++ == 0)
		snprintf(r->first, sizeof(r->first), "%.96s: %.400s", field, msg);
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && strcmp(s + n - m, suffix) == 0;
}

static bool code_listed(const struct json_node *list, const char *code)
{
	for (size_t i = 0; i < json_len(list); i++) {
		const char *c = json_str(json_at(list, i));

		if (c && strcmp(c, code) == 0)
			return true;
	}
	return false;
}

/* Integer @key of @obj, or a mismatch blaming expected.json. */
static bool want_int(struct report *r, const struct json_node *obj, const char *key, int64_t *out)
{
	if (json_int(json_obj_get(obj, key), out))
		return true;
	mismatch(r, key, "expected.json has no integer \"%s\" here", key);
	return false;
}

/* "8 lower-case hex digits" (crc32, dwCRC) of @obj, or a mismatch. */
static bool want_hex32(struct report *r, const struct json_node *obj, const char *key,
		       uint32_t *out)
{
	const char *s = json_str(json_obj_get(obj, key));
	char *end;
	unsigned long v;

	if (s && strlen(s) == 8) {
		v = strtoul(s, &end, 16);
		if (*end == '\0') {
			*out = (uint32_t)v;
			return true;
		}
	}
	mismatch(r, key, "expected.json has no 8-hex-digit \"%s\" here", key);
	return false;
}

static void check_int(struct report *r, const char *prefix, const struct json_node *obj,
		      const char *key, uint64_t got)
{
	char field[96];
	int64_t want;

	snprintf(field, sizeof(field), "%s.%s", prefix, key);
	if (!json_int(json_obj_get(obj, key), &want)) {
		mismatch(r, field, "expected.json has no integer here");
		return;
	}
	if ((uint64_t)want != got)
		mismatch(r, field,
			 "expected %" PRId64 " (0x%" PRIx64 "), got %" PRIu64 " (0x%" PRIx64 ")",
			 want, (uint64_t)want, got, got);
}

static void check_bool(struct report *r, const char *prefix, const struct json_node *obj,
		       const char *key, bool got)
{
	const struct json_node *v = json_obj_get(obj, key);
	char field[96];
	int64_t i;
	bool want;

	snprintf(field, sizeof(field), "%s.%s", prefix, key);
	if (json_int(v, &i)) /* "named" is the raw bTargetNamed byte */
		want = i != 0;
	else if (!json_bool(v, &want)) {
		mismatch(r, field, "expected.json has no boolean here");
		return;
	}
	if (want != got)
		mismatch(r, field, "expected %s, got %s", want ? "true" : "false",
			 got ? "true" : "false");
}

/* --- segments ------------------------------------------------------------ */

struct seg {
	int alt; /* DFU_ALT_NONE when the file has none */
	uint32_t address;
	uint64_t length;
	uint32_t crc;
};

static int seg_cmp(const void *a, const void *b)
{
	const struct seg *x = a, *y = b;

	if (x->alt != y->alt)
		return x->alt < y->alt ? -1 : 1;
	if (x->address != y->address)
		return x->address < y->address ? -1 : 1;
	if (x->length != y->length)
		return x->length < y->length ? -1 : 1;
	return 0;
}

static void seg_list(char *out, size_t size, const struct seg *v, size_t n)
{
	size_t used = 0;

	out[0] = '\0';
	for (size_t i = 0; i < n && used < size; i++) {
		char alt[16] = "";
		int k;

		if (v[i].alt != DFU_ALT_NONE)
			snprintf(alt, sizeof(alt), "alt%d ", v[i].alt);
		k = snprintf(out + used, size - used,
			     "%s%s0x%08" PRIx32 "+%" PRIu64 " crc %08" PRIx32, i ? "; " : "", alt,
			     v[i].address, v[i].length, v[i].crc);

		if (k < 0)
			break;
		used += (size_t)k;
	}
}

static void check_segments(struct report *r, const struct json_node *want_segs,
			   const struct dfu_image *img)
{
	size_t nw = json_len(want_segs), ng = img->n_segments;
	struct seg *w = calloc(nw + 1, sizeof(*w)), *g = calloc(ng + 1, sizeof(*g));
	char lw[1024], lg[1024];

	ck_assert_ptr_nonnull(w);
	ck_assert_ptr_nonnull(g);
	for (size_t i = 0; i < nw; i++) {
		const struct json_node *s = json_at(want_segs, i);
		const struct json_node *alt = json_obj_get(s, "alt");
		int64_t v;

		w[i].alt = DFU_ALT_NONE;
		if (alt && json_int(alt, &v))
			w[i].alt = (int)v;
		if (want_int(r, s, "address", &v))
			w[i].address = (uint32_t)v;
		if (want_int(r, s, "length", &v))
			w[i].length = (uint64_t)v;
		want_hex32(r, s, "crc32", &w[i].crc);
	}
	for (size_t i = 0; i < ng; i++) {
		const struct dfu_segment *s = &img->segments[i];

		g[i] = (struct seg){ .alt = s->alt,
				     .address = s->address,
				     .length = s->length,
				     .crc = dfu_crc32(0, s->data, s->length) };
	}
	qsort(w, nw, sizeof(*w), seg_cmp);
	qsort(g, ng, sizeof(*g), seg_cmp);
	seg_list(lw, sizeof(lw), w, nw);
	seg_list(lg, sizeof(lg), g, ng);
	if (nw != ng) {
		mismatch(r, "segments", "expected %zu [%s], got %zu [%s]", nw, lw, ng, lg);
	} else {
		for (size_t i = 0; i < nw; i++) {
			if (seg_cmp(&w[i], &g[i]) != 0 || w[i].crc != g[i].crc) {
				mismatch(r, "segments", "expected [%s], got [%s]", lw, lg);
				break;
			}
		}
	}
	free(w);
	free(g);
}

/* --- metadata ------------------------------------------------------------ */

static void check_start(struct report *r, const struct json_node *want, const struct dfu_image *img)
{
	const struct dfu_start *s = &img->start;
	const char *type = json_str(json_obj_get(want, "type"));
	enum dfu_start_kind kind;

	if (!want || json_is_null(want)) {
		if (s->kind != DFU_START_NONE)
			mismatch(r, "start_address", "expected none, got kind %d at 0x%08" PRIx32,
				 (int)s->kind, s->linear);
		return;
	}
	if (!type) {
		mismatch(r, "start_address.type", "expected.json has no type");
		return;
	}
	if (strcmp(type, "ihex03_cs_ip") == 0)
		kind = DFU_START_IHEX_CS_IP;
	else if (strcmp(type, "ihex05_eip") == 0)
		kind = DFU_START_IHEX_LINEAR;
	else if (strcmp(type, "S7") == 0 || strcmp(type, "S8") == 0 || strcmp(type, "S9") == 0)
		kind = DFU_START_SREC;
	else if (strcmp(type, "elf_e_entry") == 0)
		kind = DFU_START_ELF_ENTRY;
	else {
		mismatch(r, "start_address.type", "unknown expected type \"%s\"", type);
		return;
	}
	if (s->kind != kind) {
		mismatch(r, "start_address.type", "expected %s (kind %d), got kind %d", type,
			 (int)kind, (int)s->kind);
		return;
	}
	check_int(r, "start_address", want, "linear", s->linear);
	if (kind == DFU_START_IHEX_CS_IP) {
		check_int(r, "start_address", want, "cs", s->cs);
		check_int(r, "start_address", want, "ip", s->ip);
	}
	if (kind == DFU_START_SREC && s->srec_type != (uint8_t)(type[1] - '0'))
		mismatch(r, "start_address.type", "expected %s, got S%u", type, s->srec_type);
}

static void check_suffix(struct report *r, const struct json_node *want,
			 const struct dfu_image *img)
{
	const struct dfu_suffix *s = &img->suffix;
	uint32_t crc;

	if (!want || json_is_null(want)) {
		if (s->present)
			mismatch(r, "dfu_suffix", "expected none, got one (bcdDFU 0x%04x)",
				 s->bcd_dfu);
		return;
	}
	if (!s->present) {
		mismatch(r, "dfu_suffix", "expected a suffix, got none");
		return;
	}
	check_int(r, "dfu_suffix", want, "bLength", s->length);
	check_int(r, "dfu_suffix", want, "bcdDFU", s->bcd_dfu);
	check_int(r, "dfu_suffix", want, "bcdDevice", s->bcd_device);
	check_int(r, "dfu_suffix", want, "idProduct", s->id_product);
	check_int(r, "dfu_suffix", want, "idVendor", s->id_vendor);
	if (want_hex32(r, want, "dwCRC", &crc) && crc != s->crc)
		mismatch(r, "dfu_suffix.dwCRC", "expected %08" PRIx32 ", got %08" PRIx32, crc,
			 s->crc);
}

static void check_dfuse(struct report *r, const struct json_node *want, const struct dfu_image *img)
{
	const struct json_node *targets = json_obj_get(want, "targets");
	char prefix[96];

	if (!want || json_is_null(want))
		return;
	check_int(r, "dfuse", want, "bVersion", img->dfuse_version);
	check_int(r, "dfuse", want, "image_size", img->dfuse_image_size);
	check_int(r, "dfuse", want, "targets_count", img->n_targets);
	if (json_len(targets) != img->n_targets) {
		mismatch(r, "dfuse.targets", "expected %zu targets, got %zu", json_len(targets),
			 img->n_targets);
		return;
	}
	for (size_t t = 0; t < img->n_targets; t++) {
		const struct json_node *wt = json_at(targets, t);
		const struct json_node *elems = json_obj_get(wt, "elements");
		const struct dfuse_target *gt = &img->targets[t];
		const char *name = json_str(json_obj_get(wt, "name"));

		snprintf(prefix, sizeof(prefix), "dfuse.targets[%zu]", t);
		check_int(r, prefix, wt, "alt", gt->alt);
		check_bool(r, prefix, wt, "named", gt->named);
		if (!name || strcmp(name, gt->name) != 0)
			mismatch(r, "dfuse.target.name", "target %zu: expected \"%s\", got \"%s\"",
				 t, name ? name : "(none)", gt->name);
		check_int(r, prefix, wt, "target_size", gt->target_size);
		if (json_len(elems) != gt->n_elements) {
			mismatch(r, "dfuse.target.elements",
				 "target %zu: expected %zu elements, got %zu", t, json_len(elems),
				 gt->n_elements);
			continue;
		}
		for (size_t i = 0; i < gt->n_elements; i++) {
			const struct json_node *we = json_at(elems, i);
			const struct dfuse_element *ge = &gt->elements[i];
			uint32_t crc;

			snprintf(prefix, sizeof(prefix), "dfuse.targets[%zu].elements[%zu]", t, i);
			check_int(r, prefix, we, "address", ge->address);
			check_int(r, prefix, we, "length", ge->size);
			if (want_hex32(r, we, "crc32", &crc) && crc != ge->crc32)
				mismatch(r, prefix, "crc32: expected %08" PRIx32 ", got %08" PRIx32,
					 crc, ge->crc32);
		}
	}
}

static void check_vector_table(struct report *r, const struct json_node *want,
			       const struct dfu_image *img)
{
	struct dfu_vector_table vt;
	int ret;

	if (!want || json_is_null(want))
		return;
	ret = dfu_image_vector_table(img, false, 0, NULL, 0, &vt);
	if (ret < 0) {
		mismatch(r, "vector_table", "dfu_image_vector_table() returned %d", ret);
		return;
	}
	check_int(r, "vector_table", want, "address", vt.address);
	check_int(r, "vector_table", want, "initial_sp", vt.initial_sp);
	check_int(r, "vector_table", want, "reset_vector", vt.reset_vector);
	check_bool(r, "vector_table", want, "reset_thumb_bit", vt.thumb);
	check_bool(r, "vector_table", want, "reset_in_image", vt.reset_in_image);
}

/* --- one corpus file ------------------------------------------------------ */

/* Options as the CLI would pass them for file @name. */
static struct dfu_parse_opts corpus_opts(const char *name, const struct json_node *entry)
{
	struct dfu_parse_opts o = { .format = DFU_FORMAT_AUTO };
	const char *format = json_str(json_obj_get(entry, "format"));
	const struct json_node *seg0 = json_at(json_obj_get(entry, "segments"), 0);
	int64_t base;

	o.expect_suffix = ends_with(name, ".dfu") || ends_with(name, ".dfuse");
	/* Raw formats carry no address: the user gives it (--address). */
	if (format && (strcmp(format, "bin") == 0 || strcmp(format, "dfu") == 0) &&
	    json_int(json_obj_get(seg0, "address"), &base)) {
		o.have_base = true;
		o.base = (uint32_t)base;
	}
	return o;
}

static void check_valid(struct report *r, const struct json_node *entry, int ret,
			const struct dfu_image *img, const struct dfu_error *e)
{
	const char *format = json_str(json_obj_get(entry, "format"));
	const struct json_node *warnings = json_obj_get(entry, "warnings");

	if (ret < 0) {
		if (code_listed(json_obj_get(entry, "acceptable_errors"), e->code))
			fprintf(stderr, "corpus: %s: note: rejected with acceptable %s\n", r->name,
				e->code);
		else
			mismatch(r, "parse", "expected success, got %s (%s) at \"%s\": %s", e->code,
				 dfu_strerror(ret), e->where, e->message);
		return;
	}
	if (!format || strcmp(format, dfu_format_name(img->format)) != 0)
		mismatch(r, "format", "expected %s, got %s", format ? format : "(none)",
			 dfu_format_name(img->format));
	if (img->address_from_file !=
	    (img->format != DFU_FORMAT_BIN && img->format != DFU_FORMAT_DFU))
		mismatch(r, "address_from_file", "got %s for format %s",
			 img->address_from_file ? "true" : "false", dfu_format_name(img->format));
	check_segments(r, json_obj_get(entry, "segments"), img);
	check_start(r, json_obj_get(entry, "start_address"), img);
	check_suffix(r, json_obj_get(entry, "dfu_suffix"), img);
	check_dfuse(r, json_obj_get(entry, "dfuse"), img);
	check_vector_table(r, json_obj_get(entry, "vector_table"), img);
	if (json_len(warnings) > 0 && img->n_warnings == 0)
		mismatch(r, "warnings", "expected %zu (first: \"%s\"), got none",
			 json_len(warnings), json_str(json_at(warnings, 0)));
}

static void check_invalid(struct report *r, const struct json_node *entry, int ret,
			  const struct dfu_image *img, const struct dfu_error *e)
{
	const struct json_node *error = json_obj_get(entry, "error");
	const char *code = json_str(json_obj_get(error, "code"));
	const char *where = json_str(json_obj_get(error, "where"));
	bool lenient_ok = false;

	json_bool(json_obj_get(entry, "lenient_ok"), &lenient_ok);
	if (!code) {
		mismatch(r, "error.code", "expected.json has no error code");
		return;
	}
	if (ret == 0) {
		if (!lenient_ok)
			mismatch(r, "parse",
				 "expected rejection with %s, but the file was accepted", code);
		else if (img->n_warnings == 0)
			mismatch(r, "warnings",
				 "accepted leniently (instead of %s) without a warning", code);
		return;
	}
	if (strcmp(e->code, code) != 0 &&
	    !code_listed(json_obj_get(entry, "acceptable_errors"), e->code))
		mismatch(r, "error.code", "expected %s, got %s at \"%s\": %s", code, e->code,
			 e->where, e->message);
	if (e->err != ret)
		mismatch(r, "error.err", "returned %d but e.err is %d", ret, e->err);
	if (e->message[0] == '\0')
		mismatch(r, "error.message", "empty");
	if (where && e->where[0] == '\0')
		mismatch(r, "error.where", "expected \"%s\", got none", where);
	else if (where && strncmp(where, "line ", 5) == 0 && strcmp(where, e->where) != 0)
		mismatch(r, "error.where", "expected \"%s\", got \"%s\"", where, e->where);
}

START_TEST(test_corpus_file_parses_as_expected)
{
	const struct json_node *entry = json_at(files, (size_t)_i);
	struct report r = { .name = json_key_at(files, (size_t)_i) };
	struct dfu_parse_opts opts = corpus_opts(r.name, entry);
	struct dfu_error e = { 0 };
	struct dfu_image *img = NULL;
	bool valid = false;
	uint8_t *buf;
	size_t len = 0;
	int ret;

	buf = test_corpus_load(r.name, &len);
	ck_assert_msg(buf != NULL, "%s: cannot read the corpus file", r.name);
	ck_assert_msg(json_bool(json_obj_get(entry, "valid"), &valid), "%s: no \"valid\"", r.name);

	ret = dfu_image_parse(buf, len, &opts, &img, &e);

	if (valid)
		check_valid(&r, entry, ret, img, &e);
	else
		check_invalid(&r, entry, ret, img, &e);
	dfu_image_free(img);
	free(buf);
	ck_assert_msg(r.n == 0, "%s: %u mismatch(es); first: %s", r.name, r.n, r.first);
}
END_TEST

/* --- streaming equivalence ------------------------------------------------ */

struct outcome {
	int ret;
	struct dfu_image *img;
	struct dfu_error e;
};

static void parse_chunked(const uint8_t *buf, size_t len, size_t chunk,
			  const struct dfu_parse_opts *opts, struct outcome *o)
{
	struct dfu_reader *rd = NULL;

	memset(o, 0, sizeof(*o));
	ck_assert_int_eq(dfu_reader_new(opts, &rd), 0);
	for (size_t off = 0; off < len && o->ret == 0; off += chunk)
		o->ret =
		    dfu_reader_feed(rd, buf + off, chunk < len - off ? chunk : len - off, &o->e);
	if (o->ret == 0)
		o->ret = dfu_reader_finish(rd, &o->img, &o->e);
	dfu_reader_free(rd);
}

static void compare_outcomes(struct report *r, size_t chunk, const struct outcome *w,
			     const struct outcome *c)
{
	const struct dfu_image *a = w->img, *b = c->img;
	char field[48];

	snprintf(field, sizeof(field), "chunks of %zu", chunk);
	if ((w->ret < 0) != (c->ret < 0)) {
		mismatch(r, field, "whole buffer gave %d (%s), chunked %d (%s at \"%s\": %s)",
			 w->ret, w->e.code, c->ret, c->e.code, c->e.where, c->e.message);
		return;
	}
	if (w->ret < 0) {
		if (strcmp(w->e.code, c->e.code) != 0 || strcmp(w->e.where, c->e.where) != 0)
			mismatch(r, field,
				 "whole buffer failed with %s at \"%s\", chunked with %s at \"%s\"",
				 w->e.code, w->e.where, c->e.code, c->e.where);
		return;
	}
	if (a->format != b->format || a->n_segments != b->n_segments) {
		mismatch(r, field, "whole: %s with %zu segments, chunked: %s with %zu",
			 dfu_format_name(a->format), a->n_segments, dfu_format_name(b->format),
			 b->n_segments);
		return;
	}
	for (size_t i = 0; i < a->n_segments; i++) {
		const struct dfu_segment *x = &a->segments[i], *y = &b->segments[i];

		if (x->alt != y->alt || x->address != y->address || x->length != y->length ||
		    memcmp(x->data, y->data, x->length) != 0)
			mismatch(r, field,
				 "segment %zu: whole 0x%08" PRIx32 "+%zu, chunked 0x%08" PRIx32
				 "+%zu%s",
				 i, x->address, x->length, y->address, y->length,
				 x->length == y->length ? " (bytes differ)" : "");
	}
	if (a->start.kind != b->start.kind || a->start.linear != b->start.linear)
		mismatch(r, field, "start address differs");
	if (a->n_warnings != b->n_warnings)
		mismatch(r, field, "whole: %zu warnings, chunked: %zu", a->n_warnings,
			 b->n_warnings);
	if (a->text.eol != b->text.eol || a->text.records != b->text.records)
		mismatch(r, field, "whole: eol %d, %lu records; chunked: eol %d, %lu records",
			 (int)a->text.eol, a->text.records, (int)b->text.eol, b->text.records);
}

START_TEST(test_corpus_file_streams_like_the_whole_buffer)
{
	static const size_t chunks[] = { 1, 7, 4096 };
	const struct json_node *entry = json_at(files, (size_t)_i);
	struct report r = { .name = json_key_at(files, (size_t)_i) };
	struct dfu_parse_opts opts = corpus_opts(r.name, entry);
	struct outcome whole = { 0 }, part;
	uint8_t *buf;
	size_t len = 0;

	buf = test_corpus_load(r.name, &len);
	ck_assert_msg(buf != NULL, "%s: cannot read the corpus file", r.name);

	whole.ret = dfu_image_parse(buf, len, &opts, &whole.img, &whole.e);
	for (size_t k = 0; k < sizeof(chunks) / sizeof(chunks[0]); k++) {
		parse_chunked(buf, len, chunks[k], &opts, &part);
		compare_outcomes(&r, chunks[k], &whole, &part);
		dfu_image_free(part.img);
	}
	dfu_image_free(whole.img);
	free(buf);
	ck_assert_msg(r.n == 0, "%s: %u mismatch(es); first: %s", r.name, r.n, r.first);
}
END_TEST

/* --- main ------------------------------------------------------------------ */

static struct json_node *load_expected(const char *dir)
{
	char path[4096], err[256];
	struct json_node *root;
	uint8_t *text;
	size_t len = 0;

	snprintf(path, sizeof(path), "%s/expected.json", dir);
	text = test_load(path, &len);
	if (!text) {
		fprintf(stderr, "%s: cannot read\n", path);
		return NULL;
	}
	root = json_parse((const char *)text, len, err, sizeof(err));
	free(text);
	if (!root)
		fprintf(stderr, "%s: %s\n", path, err);
	return root;
}

/* Print "<label>: N files, P passed, F failed" for a test case that ran. */
static void summarise(SRunner *sr, const char *tcase, const char *label)
{
	TestResult **res = srunner_results(sr);
	int n = srunner_ntests_run(sr), ran = 0, passed = 0;

	for (int i = 0; i < n; i++) {
		if (strcmp(tr_tcname(res[i]), tcase) != 0)
			continue;
		ran++;
		if (tr_rtype(res[i]) == CK_PASS)
			passed++;
	}
	free(res);
	if (ran)
		printf("%s: %d files, %d passed, %d failed\n", label, ran, passed, ran - passed);
}

int main(void)
{
	const char *dir = test_corpus_dir();
	Suite *s;
	TCase *tc_parse, *tc_stream;
	SRunner *sr;
	int n, failed;

	if (!dir) {
		printf("SKIP: shared corpus not found; corpus cases skipped\n");
		return 77;
	}
	expected = load_expected(dir);
	files = json_obj_get(expected, "files");
	if (!files || files->type != JSON_OBJECT || json_len(files) == 0) {
		fprintf(stderr, "%s/expected.json: no \"files\" object\n", dir);
		json_free(expected);
		return 99; /* automake: hard error */
	}
	n = (int)json_len(files);

	s = suite_create("corpus");
	tc_parse = tcase_create("parse");
	tcase_set_timeout(tc_parse, 60);
	tcase_add_loop_test(tc_parse, test_corpus_file_parses_as_expected, 0, n);
	suite_add_tcase(s, tc_parse);

	tc_stream = tcase_create("streaming");
	tcase_set_timeout(tc_stream, 120);
	tcase_add_loop_test(tc_stream, test_corpus_file_streams_like_the_whole_buffer, 0, n);
	suite_add_tcase(s, tc_stream);

	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	summarise(sr, "parse", "corpus");
	summarise(sr, "streaming", "corpus streaming");
	srunner_free(sr);
	json_free(expected);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
