// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * `dfuflash image info|convert|suffix|prefix|layout`: the offline commands, which
 * work on files and layout strings with no device attached.
 */
#include "config.h"

#include <getopt.h>
#include <string.h>
#include <strings.h>

#include "macro.h"
#include "image-map.h"
#include "tool.h"

/* --- shared option handling ------------------------------------------- */

struct image_opts {
	struct dfu_parse_opts parse;
	bool json;
	bool force;
	/* convert / suffix */
	enum dfu_format to;
	bool have_to;
	bool have_vid, have_pid, have_did, have_spec;
	uint16_t vid, pid, did, spec;
	bool have_alt;
	uint8_t alt;
	const char *target_name;
	bool have_fill;
	uint8_t fill;
	/* info: read the vector table here instead of the lowest address */
	bool have_vt_base;
	uint32_t vt_base;
	/* info --map[=LAYOUT]: draw against LAYOUT, or the device's (NULL) */
	bool map;
	const char *map_layout;
};

enum {
	OPT_JSON = 0x100,
	OPT_FORMAT,
	OPT_TO,
	OPT_ADDRESS,
	OPT_VID,
	OPT_PID,
	OPT_DID,
	OPT_SPEC,
	OPT_ALT,
	OPT_TARGET_NAME,
	OPT_FILL,
	OPT_FORCE,
	OPT_MAX_SIZE,
	OPT_MAX_SPAN,
	OPT_VECTOR_BASE,
	OPT_MAP,
	OPT_HELP,
};

static const struct option image_long_opts[] = {
	{ "json", no_argument, NULL, OPT_JSON },
	{ "format", required_argument, NULL, OPT_FORMAT },
	{ "to", required_argument, NULL, OPT_TO },
	{ "address", required_argument, NULL, OPT_ADDRESS },
	{ "base", required_argument, NULL, OPT_ADDRESS },
	{ "vid", required_argument, NULL, OPT_VID },
	{ "pid", required_argument, NULL, OPT_PID },
	{ "did", required_argument, NULL, OPT_DID },
	{ "device-version", required_argument, NULL, OPT_DID },
	{ "spec", required_argument, NULL, OPT_SPEC },
	{ "alt", required_argument, NULL, OPT_ALT },
	{ "target-name", required_argument, NULL, OPT_TARGET_NAME },
	{ "fill", required_argument, NULL, OPT_FILL },
	{ "force", no_argument, NULL, OPT_FORCE },
	{ "max-size", required_argument, NULL, OPT_MAX_SIZE },
	{ "max-span", required_argument, NULL, OPT_MAX_SPAN },
	{ "vector-base", required_argument, NULL, OPT_VECTOR_BASE },
	{ "map", optional_argument, NULL, OPT_MAP },
	{ "help", no_argument, NULL, OPT_HELP },
	{ "quiet", no_argument, NULL, 'q' },
	{ 0 },
};

static const char image_usage[] =
    "Usage:\n"
    "  dfuflash image info [--json] [--format F] [--address A] [--vector-base A]\n"
    "        [--map[=LAYOUT]] FILE...\n"
    "  dfuflash image convert IN OUT [--to bin|hex|srec|dfu|dfuse] [--format F]\n"
    "        [--address A] [--vid V --pid P --device-version D] [--spec S]\n"
    "        [--alt N --target-name NAME] [--fill BYTE] [--force]\n"
    "  dfuflash image suffix add|check|delete FILE [--vid V] [--pid P] [--did D]\n"
    "        [--spec S] [--force]\n"
    "  dfuflash image prefix add|check|delete FILE   (NXP LPC DFU prefix)\n"
    "  dfuflash image layout [--json] STRING\n"
    "\n"
    "Options:\n"
    "  --format F        input format instead of detecting it: bin, dfu, dfuse,\n"
    "                    hex, srec, elf\n"
    "  --address A       base address of a raw binary or DFU 1.1 payload\n"
    "                    (decimal or 0x hexadecimal); alias --base\n"
    "  --to F            output format (default: from OUT's extension)\n"
    "  --vid/--pid/--did/--device-version/--spec  suffix fields, hexadecimal\n"
    "                    (e.g. 0483, 0xdf11); default ffff (any), spec 0100\n"
    "                    (011a for DfuSe)\n"
    "  --alt N, --target-name NAME  DfuSe target of data that has none\n"
    "  --fill BYTE       gap fill of raw binary output (default 0xff)\n"
    "  --max-size N      refuse images holding more than N data bytes (default 1 GiB,\n"
    "                    256 MiB on 32-bit hosts)\n"
    "  --max-span N      refuse images spanning more than N bytes (default: no cap)\n"
    "  --vector-base A   image info: read the vector table at A\n"
    "  --map[=LAYOUT]    image info: draw the image against a DfuSe layout string,\n"
    "                    or that of the DFU device connected\n"
    "  --force           replace an existing output file / an existing suffix\n"
    "  -q, --quiet       print errors only\n"
    "  --json            machine-readable output on stdout\n";

/* --format --address --max-size --max-span --vector-base: reading the input. */
static int input_option(int c, const char *arg, struct image_opts *o)
{
	uint32_t v;

	switch (c) {
	case OPT_FORMAT:
		if (dfu_format_from_name(arg, &o->parse.format) < 0) {
			tool_err("--format '%s': unknown format", arg);
			tool_hint("formats: bin, dfu, dfuse, hex, srec, elf");
			return TOOL_EXIT_USAGE;
		}
		break;
	case OPT_ADDRESS:
		if (!tool_parse_u32("--address", arg, &o->parse.base))
			return TOOL_EXIT_USAGE;
		o->parse.have_base = true;
		break;
	case OPT_MAX_SIZE:
		if (!tool_parse_u32("--max-size", arg, &v))
			return TOOL_EXIT_USAGE;
		o->parse.limits.max_bytes = v ? v : 1;
		break;
	case OPT_MAX_SPAN:
		if (!tool_parse_u32("--max-span", arg, &v))
			return TOOL_EXIT_USAGE;
		o->parse.limits.max_span = v ? v : 1;
		break;
	case OPT_VECTOR_BASE:
		if (!tool_parse_u32("--vector-base", arg, &o->vt_base))
			return TOOL_EXIT_USAGE;
		o->have_vt_base = true;
		break;
	}
	return 0;
}

/* --vid --pid --did --spec: the DFU suffix that convert and suffix write. */
static int suffix_option(int c, const char *arg, struct image_opts *o)
{
	switch (c) {
	case OPT_VID:
		if (!tool_parse_hex16("--vid", arg, &o->vid))
			return TOOL_EXIT_USAGE;
		o->have_vid = true;
		break;
	case OPT_PID:
		if (!tool_parse_hex16("--pid", arg, &o->pid))
			return TOOL_EXIT_USAGE;
		o->have_pid = true;
		break;
	case OPT_DID:
		if (!tool_parse_hex16("--did", arg, &o->did))
			return TOOL_EXIT_USAGE;
		o->have_did = true;
		break;
	case OPT_SPEC:
		if (!tool_parse_hex16("--spec", arg, &o->spec))
			return TOOL_EXIT_USAGE;
		if (o->spec != 0x0100 && o->spec != 0x011a) {
			tool_err("--spec '%s': bcdDFU must be 0100 (DFU 1.0/1.1) or 011a (DfuSe)",
				 arg);
			return TOOL_EXIT_USAGE;
		}
		o->have_spec = true;
		break;
	}
	return 0;
}

/* --to --alt --target-name --fill: the rest of what convert writes. */
static int output_option(int c, const char *arg, struct image_opts *o)
{
	switch (c) {
	case OPT_TO:
		if (dfu_format_from_name(arg, &o->to) < 0 || o->to == DFU_FORMAT_AUTO ||
		    o->to == DFU_FORMAT_ELF) {
			tool_err("--to '%s': cannot write that format", arg);
			tool_hint("output formats: bin, hex, srec, dfu, dfuse");
			return TOOL_EXIT_USAGE;
		}
		o->have_to = true;
		break;
	case OPT_ALT:
		if (!tool_parse_u8("--alt", arg, &o->alt))
			return TOOL_EXIT_USAGE;
		o->have_alt = true;
		break;
	case OPT_TARGET_NAME:
		if (strlen(arg) > 254) {
			tool_err("--target-name: at most 254 characters (UM0391 szTargetName)");
			return TOOL_EXIT_USAGE;
		}
		o->target_name = arg;
		break;
	case OPT_FILL:
		if (!tool_parse_u8("--fill", arg, &o->fill))
			return TOOL_EXIT_USAGE;
		o->have_fill = true;
		break;
	}
	return 0;
}

/* Returns 0, an exit code, or -1 after --help. */
static int parse_image_opts(struct tool_ctx *ctx, int argc, char **argv, struct image_opts *o)
{
	int c, ret;

	memset(o, 0, sizeof(*o));
	optind = 1;
	while ((c = getopt_long(argc, argv, "q", image_long_opts, NULL)) != -1) {
		switch (c) {
		case 'q':
			ctx->quiet = true;
			continue;
		case OPT_JSON:
			o->json = true;
			continue;
		case OPT_FORCE:
			o->force = true;
			continue;
		case OPT_MAP:
			o->map = true;
			o->map_layout = optarg;
			continue;
		case OPT_HELP:
			fputs(image_usage, stdout);
			return -1;
		case OPT_FORMAT:
		case OPT_ADDRESS:
		case OPT_MAX_SIZE:
		case OPT_MAX_SPAN:
		case OPT_VECTOR_BASE:
			ret = input_option(c, optarg, o);
			break;
		case OPT_VID:
		case OPT_PID:
		case OPT_DID:
		case OPT_SPEC:
			ret = suffix_option(c, optarg, o);
			break;
		case OPT_TO:
		case OPT_ALT:
		case OPT_TARGET_NAME:
		case OPT_FILL:
			ret = output_option(c, optarg, o);
			break;
		default:
			fputs(image_usage, stderr);
			return TOOL_EXIT_USAGE;
		}
		if (ret)
			return ret;
	}
	return 0;
}

/* --- info --------------------------------------------------------------- */

static const char *format_long_name(enum dfu_format f)
{
	switch (f) {
	case DFU_FORMAT_BIN:
		return "raw binary";
	case DFU_FORMAT_DFU:
		return "DFU 1.1 (raw payload with DFU suffix)";
	case DFU_FORMAT_DFUSE:
		return "DfuSe (ST UM0391)";
	case DFU_FORMAT_IHEX:
		return "Intel HEX";
	case DFU_FORMAT_SREC:
		return "Motorola S-record";
	case DFU_FORMAT_ELF:
		return "ELF";
	case DFU_FORMAT_AUTO:
		break;
	}
	return "unknown";
}

static const char *eol_name(enum dfu_line_endings eol)
{
	switch (eol) {
	case DFU_EOL_LF:
		return "LF";
	case DFU_EOL_CRLF:
		return "CRLF";
	case DFU_EOL_MIXED:
		return "mixed";
	case DFU_EOL_NONE:
		break;
	}
	return "none";
}

/* The start-address type names of the corpus' expected.json. */
static const char *start_type_name(const struct dfu_start *s)
{
	static const char *const srec[] = { "S7", "S8", "S9" };

	switch (s->kind) {
	case DFU_START_IHEX_CS_IP:
		return "ihex03_cs_ip";
	case DFU_START_IHEX_LINEAR:
		return "ihex05_eip";
	case DFU_START_SREC:
		return s->srec_type >= 7 && s->srec_type <= 9 ? srec[s->srec_type - 7] : "srec";
	case DFU_START_ELF_ENTRY:
		return "elf_e_entry";
	case DFU_START_NONE:
		break;
	}
	return "none";
}

static void segment_crc(const struct dfu_segment *s, uint32_t *crc)
{
	*crc = dfu_crc32(0, s->data, s->length);
}

static void info_text(const char *path, const struct dfu_image *img, const struct image_opts *o)
{
	struct dfu_vector_table vt;
	uint32_t low;
	uint64_t high;

	tool_put_escaped(stdout, path);
	printf(": %s\n", format_long_name(img->format));
	if (img->format == DFU_FORMAT_IHEX || img->format == DFU_FORMAT_SREC)
		printf("  records:       %lu (%lu data), line endings %s\n", img->text.records,
		       img->text.data_records, eol_name(img->text.eol));
	if (img->text.srec_header) {
		fputs("  S0 header:     \"", stdout);
		tool_put_escaped(stdout, img->text.srec_header);
		fputs("\"\n", stdout);
	}
	if (img->format == DFU_FORMAT_ELF)
		printf("  ELF:           %u-bit %s-endian, e_machine %u, %zu PT_LOAD\n",
		       img->elf.elf_class, img->elf.big_endian ? "big" : "little", img->elf.machine,
		       img->elf.n_load);
	if (!img->address_from_file)
		printf("  address:       not in the file; %s 0x%08x\n",
		       o->parse.have_base ? "placed at --address" : "assumed",
		       img->n_segments ? img->segments[0].address : 0);
	printf("  segments:      %zu, %llu bytes", img->n_segments,
	       (unsigned long long)dfu_image_data_bytes(img));
	if (dfu_image_span(img, &low, &high))
		printf(" in 0x%08x..0x%08llx", low, (unsigned long long)(high - 1));
	putchar('\n');
	for (size_t i = 0; i < img->n_segments; i++) {
		const struct dfu_segment *s = &img->segments[i];
		uint32_t crc;

		segment_crc(s, &crc);
		printf("    ");
		if (s->alt != DFU_ALT_NONE)
			printf("alt %-3d ", s->alt);
		printf("0x%08x..0x%08llx  %10zu bytes  crc32 %08x\n", s->address,
		       (unsigned long long)(s->address + (uint64_t)s->length - 1), s->length, crc);
	}
	if (img->start.kind != DFU_START_NONE) {
		printf("  start address: 0x%08x (%s", img->start.linear,
		       start_type_name(&img->start));
		if (img->start.kind == DFU_START_IHEX_CS_IP)
			printf(", CS:IP %04x:%04x", img->start.cs, img->start.ip);
		printf(")\n");
	}
	if (img->suffix.present)
		printf("  DFU suffix:    bcdDFU %04x, vendor %04x, product %04x, device %04x, "
		       "bLength %u, dwCRC %08x (ok)\n",
		       img->suffix.bcd_dfu, img->suffix.id_vendor, img->suffix.id_product,
		       img->suffix.bcd_device, img->suffix.length, img->suffix.crc);
	if (img->format == DFU_FORMAT_DFUSE) {
		printf("  DfuSe:         version %u, image size %u%s, %zu target%s\n",
		       img->dfuse_version, img->dfuse_image_size,
		       img->dfuse_size_counts_suffix ? " (counts the suffix, as dfuse-pack)" : "",
		       img->n_targets, img->n_targets == 1 ? "" : "s");
		for (size_t t = 0; t < img->n_targets; t++) {
			const struct dfuse_target *tg = &img->targets[t];

			printf("    target %zu: alt %u, %s\"", t, tg->alt,
			       tg->named ? "named " : "unnamed ");
			tool_put_escaped(stdout, tg->name);
			printf("\", %u bytes, %zu element%s\n", tg->target_size, tg->n_elements,
			       tg->n_elements == 1 ? "" : "s");
			for (size_t k = 0; k < tg->n_elements; k++)
				printf("      element %zu: 0x%08x, %u bytes, crc32 %08x\n", k,
				       tg->elements[k].address, tg->elements[k].size,
				       tg->elements[k].crc32);
		}
	}
	if (dfu_image_vector_table(img, o->have_vt_base, o->vt_base, NULL, 0, &vt) == 0) {
		printf("  vector table:  at 0x%08x: SP 0x%08x, reset 0x%08x", vt.address,
		       vt.initial_sp, vt.reset_vector);
		if (vt.verdict == DFU_VT_NO_DATA)
			printf(" (none)");
		printf(": %s%s\n", dfu_vt_verdict_str(vt.verdict),
		       vt.verdict == DFU_VT_PLAUSIBLE ? " Cortex-M vector table" : "");
	}
	for (size_t i = 0; i < img->n_warnings; i++) {
		fputs("  warning:       ", stdout);
		tool_put_escaped(stdout, img->warnings[i]);
		fputc('\n', stdout);
	}
}

static void json_segments(struct json_out *j, const struct dfu_image *img)
{
	json_arr_open(j, "segments");
	for (size_t i = 0; i < img->n_segments; i++) {
		const struct dfu_segment *s = &img->segments[i];
		uint32_t crc;

		segment_crc(s, &crc);
		json_obj_open(j, NULL);
		json_uint(j, "address", s->address);
		json_uint(j, "length", s->length);
		json_hex32(j, "crc32", crc);
		if (s->alt != DFU_ALT_NONE)
			json_int(j, "alt", s->alt);
		json_obj_close(j);
	}
	json_arr_close(j);
}

static void json_start_address(struct json_out *j, const struct dfu_start *start)
{
	if (start->kind == DFU_START_NONE) {
		json_null(j, "start_address");
		return;
	}
	json_obj_open(j, "start_address");
	json_str(j, "type", start_type_name(start));
	json_uint(j, "linear", start->linear);
	if (start->kind == DFU_START_IHEX_CS_IP) {
		json_uint(j, "cs", start->cs);
		json_uint(j, "ip", start->ip);
	}
	json_obj_close(j);
}

static void json_suffix(struct json_out *j, const struct dfu_suffix *suffix)
{
	if (!suffix->present) {
		json_null(j, "dfu_suffix");
		return;
	}
	json_obj_open(j, "dfu_suffix");
	json_uint(j, "bLength", suffix->length);
	json_uint(j, "bcdDFU", suffix->bcd_dfu);
	json_uint(j, "bcdDevice", suffix->bcd_device);
	json_uint(j, "idProduct", suffix->id_product);
	json_uint(j, "idVendor", suffix->id_vendor);
	json_hex32(j, "dwCRC", suffix->crc);
	json_obj_close(j);
}

static void json_dfuse_target(struct json_out *j, const struct dfuse_target *tg)
{
	json_obj_open(j, NULL);
	json_uint(j, "alt", tg->alt);
	json_uint(j, "named", tg->named_raw);
	json_str(j, "name", tg->name);
	json_uint(j, "target_size", tg->target_size);
	json_arr_open(j, "elements");
	for (size_t k = 0; k < tg->n_elements; k++) {
		json_obj_open(j, NULL);
		json_uint(j, "address", tg->elements[k].address);
		json_uint(j, "length", tg->elements[k].size);
		json_hex32(j, "crc32", tg->elements[k].crc32);
		json_obj_close(j);
	}
	json_arr_close(j);
	json_obj_close(j);
}

static void json_dfuse(struct json_out *j, const struct dfu_image *img)
{
	if (img->format != DFU_FORMAT_DFUSE) {
		json_null(j, "dfuse");
		return;
	}
	json_obj_open(j, "dfuse");
	json_uint(j, "bVersion", img->dfuse_version);
	json_uint(j, "image_size", img->dfuse_image_size);
	json_bool(j, "image_size_counts_suffix", img->dfuse_size_counts_suffix);
	json_uint(j, "targets_count", img->n_targets);
	json_arr_open(j, "targets");
	for (size_t t = 0; t < img->n_targets; t++)
		json_dfuse_target(j, &img->targets[t]);
	json_arr_close(j);
	json_obj_close(j);
}

/* Intel HEX and S-record: records, line endings, case; ELF: its header. */
static void json_format_details(struct json_out *j, const struct dfu_image *img)
{
	if (img->format == DFU_FORMAT_IHEX || img->format == DFU_FORMAT_SREC) {
		json_obj_open(j, img->format == DFU_FORMAT_IHEX ? "ihex" : "srec");
		json_uint(j, "records", img->text.records);
		json_uint(j, "data_records", img->text.data_records);
		json_str(j, "line_endings", eol_name(img->text.eol));
		json_str(j, "case",
			 img->text.lower_case ? (img->text.upper_case ? "mixed" : "lower")
					      : "upper");
		if (img->text.srec_header)
			json_str(j, "header", img->text.srec_header);
		json_obj_close(j);
	}
	if (img->format == DFU_FORMAT_ELF) {
		json_obj_open(j, "elf");
		json_uint(j, "class", img->elf.elf_class);
		json_str(j, "byte_order", img->elf.big_endian ? "big" : "little");
		json_uint(j, "e_machine", img->elf.machine);
		json_uint(j, "e_type", img->elf.type);
		json_uint(j, "load_segments", img->elf.n_load);
		json_obj_close(j);
	}
}

static void json_vector_table(struct json_out *j, const struct dfu_image *img,
			      const struct image_opts *o)
{
	struct dfu_vector_table vt;

	if (dfu_image_vector_table(img, o->have_vt_base, o->vt_base, NULL, 0, &vt) != 0 ||
	    vt.verdict == DFU_VT_NO_DATA) {
		json_null(j, "vector_table");
		return;
	}
	json_obj_open(j, "vector_table");
	json_uint(j, "address", vt.address);
	json_uint(j, "initial_sp", vt.initial_sp);
	json_uint(j, "reset_vector", vt.reset_vector);
	json_bool(j, "reset_thumb_bit", vt.thumb);
	json_bool(j, "reset_in_image", vt.reset_in_image);
	json_bool(j, "plausible", vt.verdict == DFU_VT_PLAUSIBLE);
	json_str(j, "verdict", dfu_vt_verdict_str(vt.verdict));
	json_obj_close(j);
}

static void info_json(struct json_out *j, const char *path, const struct dfu_image *img,
		      const struct image_opts *o)
{
	uint32_t low;
	uint64_t high;

	json_str(j, "file", path);
	json_bool(j, "valid", true);
	json_str(j, "format", dfu_format_name(img->format));
	json_str(j, "address_source", img->address_from_file ? "file" : "assumed");
	json_segments(j, img);
	if (dfu_image_span(img, &low, &high)) {
		json_obj_open(j, "span");
		json_uint(j, "low", low);
		json_uint(j, "high_exclusive", high);
		json_uint(j, "data_bytes", dfu_image_data_bytes(img));
		json_obj_close(j);
	}
	json_start_address(j, &img->start);
	json_suffix(j, &img->suffix);
	json_dfuse(j, img);
	json_format_details(j, img);
	json_vector_table(j, img, o);
	json_arr_open(j, "warnings");
	for (size_t i = 0; i < img->n_warnings; i++)
		json_str(j, NULL, img->warnings[i]);
	json_arr_close(j);
	json_null(j, "error");
}

/* With --json a file that fails still gets an entry: the error object. */
static int load_for_info(const char *path, const struct image_opts *o, struct json_out *j,
			 struct dfu_image **img)
{
	if (!o->json)
		return tool_load_image(path, &o->parse, img);
	{
		_cleanup_(dfu_reader_freep) struct dfu_reader *r = NULL;
		_cleanup_free_ uint8_t *buf = NULL;
		struct dfu_parse_opts po = o->parse;
		struct dfu_error e = { 0 };
		size_t len = 0;
		int ret;
		size_t n = strlen(path);

		if (po.format == DFU_FORMAT_AUTO &&
		    ((n >= 4 && strcasecmp(path + n - 4, ".dfu") == 0) ||
		     (n >= 6 && strcasecmp(path + n - 6, ".dfuse") == 0)))
			po.expect_suffix = true;
		ret = tool_read_file(path, &buf, &len);
		if (ret != 0) {
			json_str(j, "file", path);
			json_bool(j, "valid", false);
			json_obj_open(j, "error");
			json_str(j, "code", "file.unreadable");
			json_str(j, "message", "cannot read the file");
			json_obj_close(j);
			return ret;
		}
		ret = dfu_image_parse(buf, len, &po, img, &e);
		if (ret < 0) {
			tool_report(path, &e);
			json_str(j, "file", path);
			json_bool(j, "valid", false);
			json_str(j, "format",
				 dfu_format_name(po.format != DFU_FORMAT_AUTO
						     ? po.format
						     : dfu_format_detect(buf, len)));
			json_obj_open(j, "error");
			json_str(j, "code", e.code);
			json_str(j, "where", e.where);
			json_str(j, "message", e.message);
			if (e.hint)
				json_str(j, "hint", e.hint);
			json_obj_close(j);
			return tool_exit_for(ret);
		}
		return 0;
	}
}

/* --map: a raw binary without --address goes where flash would put it, the
 * start of the layout's first writable segment. */
static int info_map(const char *path, struct dfu_image *img, const struct image_opts *o)
{
	_cleanup_(dfuse_layout_freep) struct dfuse_layout *l = NULL;
	struct dfu_error e = { 0 };
	int ret;

	ret = tool_image_map_layout(o->map_layout, img, &l);
	if (ret)
		return ret;
	for (size_t i = 0; !img->address_from_file && !o->parse.have_base && i < l->n_segments;
	     i++) {
		if (!(l->segments[i].attr & DFUSE_ATTR_WRITABLE))
			continue;
		ret = dfu_image_rebase(img, l->segments[i].start, &e);
		if (ret < 0) {
			tool_report(path, &e);
			return tool_exit_for(ret);
		}
		printf("  (raw binary drawn at 0x%08x, where flash writes it without --address)\n",
		       l->segments[i].start);
		break;
	}
	tool_image_map(img, l);
	return 0;
}

static int image_info(int argc, char **argv, const struct image_opts *o)
{
	struct json_out j;
	int worst = 0;

	if (optind >= argc) {
		tool_err("image info: no FILE given");
		fputs(image_usage, stderr);
		return TOOL_EXIT_USAGE;
	}
	if (o->map && o->json) {
		tool_err("image info: --map draws for a terminal; it has no --json form");
		tool_hint(
		    "`dfuflash flash FILE --dry-run --json` lists the sectors a download touches");
		return TOOL_EXIT_USAGE;
	}
	if (o->json) {
		json_begin(&j, stdout);
		json_obj_open(&j, NULL);
		json_uint(&j, "schema", TOOL_JSON_SCHEMA);
		json_arr_open(&j, "files");
	}
	for (int i = optind; i < argc; i++) {
		_cleanup_(dfu_image_freep) struct dfu_image *img = NULL;
		int ret;

		if (o->json)
			json_obj_open(&j, NULL);
		ret = load_for_info(argv[i], o, &j, &img);
		if (ret == 0) {
			if (o->json)
				info_json(&j, argv[i], img, o);
			else
				info_text(argv[i], img, o);
			if (o->map)
				ret = info_map(argv[i], img, o);
		}
		if (o->json)
			json_obj_close(&j);
		if (ret != 0 && worst == 0)
			worst = ret;
	}
	if (o->json) {
		json_arr_close(&j);
		json_obj_close(&j);
		json_end(&j);
	}
	return worst;
}

/* --- convert ------------------------------------------------------------ */

static bool format_from_extension(const char *path, enum dfu_format *f)
{
	const char *dot = strrchr(path, '.');

	if (!dot || strchr(dot, '/'))
		return false;
	return dfu_format_from_name(dot + 1, f) == 0 && *f != DFU_FORMAT_AUTO &&
	       *f != DFU_FORMAT_ELF;
}

static int image_convert(struct tool_ctx *ctx, int argc, char **argv, const struct image_opts *o)
{
	_cleanup_(dfu_image_freep) struct dfu_image *img = NULL;
	struct dfu_write_opts w = { 0 };
	struct dfu_buf out = { 0 };
	struct dfu_error e = { 0 };
	const char *in, *outp;
	int ret;

	if (argc - optind != 2) {
		tool_err("image convert: need IN and OUT, got %d argument%s", argc - optind,
			 argc - optind == 1 ? "" : "s");
		fputs(image_usage, stderr);
		return TOOL_EXIT_USAGE;
	}
	in = argv[optind];
	outp = argv[optind + 1];
	w.format = o->to;
	if (!o->have_to && !format_from_extension(outp, &w.format)) {
		tool_err("image convert: cannot tell the output format from '%s'", outp);
		tool_hint("give --to bin|hex|srec|dfu|dfuse");
		return TOOL_EXIT_USAGE;
	}
	ret = tool_load_image(in, &o->parse, &img);
	if (ret)
		return ret;
	for (size_t i = 0; i < img->n_warnings; i++)
		tool_warn("%s: %s", in, img->warnings[i]);
	/* as flash refuses it: an empty output would be a silent no-op later */
	if (img->n_segments == 0) {
		tool_err("%s: the file holds no data to convert", in);
		return TOOL_EXIT_DATAERR;
	}
	/* A raw binary has no address: writing one that needs addresses would
	 * silently put the data at 0. */
	if (!img->address_from_file && !o->parse.have_base &&
	    (w.format == DFU_FORMAT_IHEX || w.format == DFU_FORMAT_SREC ||
	     w.format == DFU_FORMAT_DFUSE)) {
		tool_err("%s: a %s file carries no address, but %s output needs one", in,
			 dfu_format_name(img->format), dfu_format_name(w.format));
		tool_hint("give --address, e.g. --address 0x08000000");
		return TOOL_EXIT_USAGE;
	}
	/* ".dfu" is both plain DFU 1.1 and DfuSe: keep addresses when there are. */
	if (!o->have_to && w.format == DFU_FORMAT_DFU &&
	    (img->address_from_file || o->parse.have_base) &&
	    (img->format != DFU_FORMAT_BIN && img->format != DFU_FORMAT_DFU)) {
		w.format = DFU_FORMAT_DFUSE;
		tool_msg(ctx,
			 "%s: writing DfuSe, which keeps the addresses (--to dfu writes a plain "
			 "DFU 1.1 file)",
			 outp);
	}
	w.vid = o->have_vid ? o->vid : (img->suffix.present ? img->suffix.id_vendor : 0xffff);
	w.pid = o->have_pid ? o->pid : (img->suffix.present ? img->suffix.id_product : 0xffff);
	w.bcd_device =
	    o->have_did ? o->did : (img->suffix.present ? img->suffix.bcd_device : 0xffff);
	w.bcd_dfu = o->have_spec ? o->spec : (w.format == DFU_FORMAT_DFUSE ? 0x011a : 0x0100);
	w.alt = o->have_alt ? o->alt : 0;
	w.target_name = o->target_name;
	w.fill = o->fill;
	w.have_fill = o->have_fill;
	ret = dfu_image_write(img, &w, &out, &e);
	if (ret < 0) {
		tool_report(outp, &e);
		dfu_buf_release(&out);
		return tool_exit_for(ret);
	}
	if (o->force)
		ret = tool_replace_file(outp, out.data, out.len);
	else
		ret = tool_write_file(outp, out.data, out.len);
	if (ret == 0)
		tool_msg(ctx, "%s: %s, %zu bytes written", outp, format_long_name(w.format),
			 out.len);
	dfu_buf_release(&out);
	return ret;
}

/* --- suffix ------------------------------------------------------------- */

/* The file as read, and what dfu_suffix_parse() made of it. */
struct suffix_file {
	const char *path;
	uint8_t *data;
	size_t len;
	int parsed; /* dfu_suffix_parse(): 1 = suffix, 0 = none, < 0 = broken */
	struct dfu_suffix s;
	struct dfu_error e;
};

/* bLength of a broken suffix, when it is plausible; else 0. */
static size_t broken_suffix_length(const struct suffix_file *f)
{
	if (f->len >= 16 && f->data[f->len - 5] >= 16 && f->data[f->len - 5] <= f->len)
		return f->data[f->len - 5];
	return 0;
}

static int suffix_check(const struct suffix_file *f)
{
	if (f->parsed < 0) {
		tool_report(f->path, &f->e);
		return TOOL_EXIT_DATAERR;
	}
	if (f->parsed == 0) {
		tool_err("%s: no DFU suffix", f->path);
		return TOOL_EXIT_FAILURE;
	}
	tool_put_escaped(stdout, f->path);
	printf(": DFU suffix ok: bcdDFU %04x, vendor %04x, product %04x, device %04x, "
	       "bLength %u, dwCRC %08x\n",
	       f->s.bcd_dfu, f->s.id_vendor, f->s.id_product, f->s.bcd_device, f->s.length,
	       f->s.crc);
	return 0;
}

static int suffix_delete(struct tool_ctx *ctx, const struct suffix_file *f,
			 const struct image_opts *o)
{
	size_t cut = f->s.length;
	int ret;

	if (f->parsed < 0) {
		tool_report(f->path, &f->e);
		if (!o->force) {
			tool_hint("give --force to cut the last bLength bytes anyway");
			return TOOL_EXIT_DATAERR;
		}
		cut = broken_suffix_length(f);
		if (!cut)
			return TOOL_EXIT_DATAERR;
	} else if (f->parsed == 0) {
		tool_err("%s: has no DFU suffix to delete", f->path);
		return TOOL_EXIT_DATAERR;
	}
	ret = tool_replace_file(f->path, f->data, f->len - cut);
	if (ret == 0)
		tool_msg(ctx, "%s: DFU suffix (%u bytes) removed", f->path, (unsigned)cut);
	return ret;
}

static int suffix_add(struct tool_ctx *ctx, const struct suffix_file *f, const struct image_opts *o)
{
	uint16_t vid = o->have_vid ? o->vid : 0xffff, pid = o->have_pid ? o->pid : 0xffff;
	uint16_t did = o->have_did ? o->did : 0xffff, spec = o->have_spec ? o->spec : 0x0100;
	uint8_t suffix[DFU_SUFFIX_LEN];
	struct dfu_buf b = { 0 };
	size_t payload = f->len;
	int ret;

	if (f->parsed != 0) {
		if (!o->force) {
			if (f->parsed < 0)
				tool_report(f->path, &f->e);
			else
				tool_err("%s: already has a DFU suffix", f->path);
			tool_hint("give --force to replace it");
			return TOOL_EXIT_DATAERR;
		}
		payload = f->len - (f->parsed > 0 ? f->s.length : broken_suffix_length(f));
	}
	dfu_suffix_build(f->data, payload, did, pid, vid, spec, suffix);
	if (dfu_buf_append(&b, f->data, payload) < 0 ||
	    dfu_buf_append(&b, suffix, sizeof(suffix)) < 0) {
		dfu_buf_release(&b);
		tool_err("out of memory");
		return TOOL_EXIT_SOFTWARE;
	}
	ret = tool_replace_file(f->path, b.data, b.len);
	dfu_buf_release(&b);
	if (ret == 0)
		tool_msg(
		    ctx,
		    "%s: DFU suffix added (vendor %04x, product %04x, device %04x, bcdDFU %04x)",
		    f->path, vid, pid, did, spec);
	return ret;
}

static int image_suffix(struct tool_ctx *ctx, int argc, char **argv, const struct image_opts *o)
{
	_cleanup_free_ uint8_t *data = NULL;
	struct suffix_file f = { 0 };
	const char *op;
	int ret;

	if (argc - optind != 2) {
		tool_err("image suffix: need an operation (add, check, delete) and FILE");
		fputs(image_usage, stderr);
		return TOOL_EXIT_USAGE;
	}
	op = argv[optind];
	f.path = argv[optind + 1];
	if (strcmp(op, "add") && strcmp(op, "check") && strcmp(op, "delete")) {
		tool_err("image suffix: unknown operation '%s' (add, check or delete)", op);
		return TOOL_EXIT_USAGE;
	}
	ret = tool_read_file(f.path, &data, &f.len);
	if (ret)
		return ret;
	f.data = data;
	f.parsed = dfu_suffix_parse(data, f.len, &f.s, &f.e);
	if (strcmp(op, "check") == 0)
		return suffix_check(&f);
	if (strcmp(op, "delete") == 0)
		return suffix_delete(ctx, &f, o);
	return suffix_add(ctx, &f, o);
}

/* --- layout ------------------------------------------------------------- */

static void attr_str(uint8_t attr, char out[4])
{
	out[0] = attr & DFUSE_ATTR_READABLE ? 'r' : '-';
	out[1] = attr & DFUSE_ATTR_ERASABLE ? 'e' : '-';
	out[2] = attr & DFUSE_ATTR_WRITABLE ? 'w' : '-';
	out[3] = 0;
}

static int image_layout(int argc, char **argv, const struct image_opts *o)
{
	_cleanup_(dfuse_layout_freep) struct dfuse_layout *l = NULL;
	struct dfu_error e = { 0 };
	const char *str;
	int ret;

	if (argc - optind != 1) {
		tool_err("image layout: need exactly one layout STRING (quote it)");
		return TOOL_EXIT_USAGE;
	}
	str = argv[optind];
	ret = dfuse_layout_parse(str, strlen(str), &l, &e);
	if (ret < 0) {
		tool_report("layout", &e);
		return tool_exit_for(ret);
	}
	for (size_t i = 0; i < l->n_warnings; i++)
		tool_warn("layout: %s", l->warnings[i]);
	if (o->json) {
		struct json_out j;

		json_begin(&j, stdout);
		json_obj_open(&j, NULL);
		json_uint(&j, "schema", TOOL_JSON_SCHEMA);
		json_str(&j, "name", l->name);
		json_arr_open(&j, "segments");
		for (size_t i = 0; i < l->n_segments; i++) {
			const struct dfuse_layout_segment *s = &l->segments[i];

			json_obj_open(&j, NULL);
			json_uint(&j, "start", s->start);
			json_uint(&j, "end", s->end);
			json_uint(&j, "count", s->count);
			json_uint(&j, "size", s->size);
			json_bool(&j, "readable", s->attr & DFUSE_ATTR_READABLE);
			json_bool(&j, "erasable", s->attr & DFUSE_ATTR_ERASABLE);
			json_bool(&j, "writable", s->attr & DFUSE_ATTR_WRITABLE);
			json_obj_close(&j);
		}
		json_arr_close(&j);
		json_arr_open(&j, "warnings");
		for (size_t i = 0; i < l->n_warnings; i++)
			json_str(&j, NULL, l->warnings[i]);
		json_arr_close(&j);
		json_obj_close(&j);
		json_end(&j);
		return 0;
	}
	fputs("name: \"", stdout);
	tool_put_escaped(stdout, l->name);
	fputs("\"\n", stdout);
	for (size_t i = 0; i < l->n_segments; i++) {
		const struct dfuse_layout_segment *s = &l->segments[i];
		char a[4];

		attr_str(s->attr, a);
		printf("  0x%08x..0x%08llx  %4u x %7u bytes  %s (%c)\n", s->start,
		       (unsigned long long)(s->end - 1), s->count, s->size, a, s->type);
	}
	return 0;
}

/* --- dispatch ----------------------------------------------------------- */

int cmd_image(struct tool_ctx *ctx, int argc, char **argv)
{
	struct image_opts o;
	const char *sub;
	int ret;

	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		fputs(image_usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? TOOL_EXIT_USAGE : 0;
	}
	sub = argv[1];
	ret = parse_image_opts(ctx, argc - 1, argv + 1, &o);
	if (ret)
		return ret < 0 ? 0 : ret;
	/* getopt ran over argv+1; optind counts from there */
	argc -= 1;
	argv += 1;
	if (strcmp(sub, "info") == 0)
		return image_info(argc, argv, &o);
	if (strcmp(sub, "convert") == 0)
		return image_convert(ctx, argc, argv, &o);
	if (strcmp(sub, "suffix") == 0)
		return image_suffix(ctx, argc, argv, &o);
	if (strcmp(sub, "layout") == 0)
		return image_layout(argc, argv, &o);
	if (strcmp(sub, "prefix") == 0) {
		if (argc - optind != 2) {
			tool_err("image prefix: need an operation (add, check, delete) and FILE");
			return TOOL_EXIT_USAGE;
		}
		return cmd_image_prefix(ctx, argv[optind], argv[optind + 1]);
	}
	tool_err("image: unknown subcommand '%s'", sub);
	fputs(image_usage, stderr);
	return TOOL_EXIT_USAGE;
}
