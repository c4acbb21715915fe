// SPDX-License-Identifier: GPL-2.0-or-later
/* Unit tests for the ELF reader (src/lib/image/elf.c): synthetic files from a tiny
 * builder, then the shared corpus. */
#include "config.h"

#include "image.h"
#include "testutil.h"
#include "util.h"

/* --- a tiny ELF builder -------------------------------------------------- */

#define PT_LOAD 1
#define PT_NOTE 4
#define SHT_PROGBITS 1
#define SHT_NOBITS 8
#define SHF_WRITE 0x1
#define SHF_ALLOC 0x2
#define SHF_EXECINSTR 0x4

#define PHOFF_AT 0x40 /* behind the 64-byte ELF64 header; ELF32 uses 52 */
#define SHOFF_AT 0x180
#define DATA_AT 0x400
#define FILE_LEN 0x800

struct t_phdr {
	uint32_t type;
	uint64_t offset, vaddr, paddr, filesz, memsz;
};

struct t_shdr {
	uint32_t type;
	uint64_t flags, addr, offset, size;
};

struct t_elf {
	bool is64, be;
	uint16_t machine;
	uint64_t entry;
	size_t n_ph, n_sh;
	struct t_phdr ph[4];
	struct t_shdr sh[4];
};

struct t_out {
	const struct t_elf *sp;
	uint8_t *buf;
};

static void put16(const struct t_out *o, size_t off, uint16_t v)
{
	if (o->sp->be) {
		o->buf[off] = (uint8_t)(v >> 8);
		o->buf[off + 1] = (uint8_t)v;
	} else {
		le16_put(o->buf + off, v);
	}
}

static void put32(const struct t_out *o, size_t off, uint32_t v)
{
	if (o->sp->be)
		be32_put(o->buf + off, v);
	else
		le32_put(o->buf + off, v);
}

static void put64(const struct t_out *o, size_t off, uint64_t v)
{
	if (o->sp->be) {
		be32_put(o->buf + off, (uint32_t)(v >> 32));
		be32_put(o->buf + off + 4, (uint32_t)v);
	} else {
		le32_put(o->buf + off, (uint32_t)v);
		le32_put(o->buf + off + 4, (uint32_t)(v >> 32));
	}
}

static void put_word(const struct t_out *o, size_t off, uint64_t v)
{
	if (o->sp->is64)
		put64(o, off, v);
	else
		put32(o, off, (uint32_t)v);
}

/*
 * Header, program headers at PHOFF_AT, section headers at SHOFF_AT (index 0
 * is the null section, sp->sh follow) and whatever data the caller puts
 * from DATA_AT on.  @buf holds FILE_LEN bytes; the file is FILE_LEN long.
 */
static void build_elf(uint8_t *buf, const struct t_elf *sp)
{
	struct t_out o = { .sp = sp, .buf = buf };
	bool w = sp->is64;
	size_t phentsize = w ? 56 : 32, shentsize = w ? 64 : 40;

	memset(buf, 0, DATA_AT);
	memcpy(buf, "\177ELF", 4);
	buf[4] = w ? 2 : 1;
	buf[5] = sp->be ? 2 : 1;
	buf[6] = 1;
	put16(&o, 16, 2); /* ET_EXEC */
	put16(&o, 18, sp->machine);
	put32(&o, 20, 1);
	put_word(&o, 24, sp->entry);
	put_word(&o, w ? 32 : 28, sp->n_ph ? PHOFF_AT : 0);
	put_word(&o, w ? 40 : 32, sp->n_sh ? SHOFF_AT : 0);
	put32(&o, w ? 48 : 36, 0x05000200);
	put16(&o, w ? 52 : 40, w ? 64 : 52);
	put16(&o, w ? 54 : 42, (uint16_t)phentsize);
	put16(&o, w ? 56 : 44, (uint16_t)sp->n_ph);
	put16(&o, w ? 58 : 46, (uint16_t)shentsize);
	put16(&o, w ? 60 : 48, (uint16_t)(sp->n_sh ? sp->n_sh + 1 : 0));

	for (size_t i = 0; i < sp->n_ph; i++) {
		const struct t_phdr *p = &sp->ph[i];
		size_t at = PHOFF_AT + i * phentsize;

		put32(&o, at, p->type);
		if (w) {
			put32(&o, at + 4, 7);
			put64(&o, at + 8, p->offset);
			put64(&o, at + 16, p->vaddr);
			put64(&o, at + 24, p->paddr);
			put64(&o, at + 32, p->filesz);
			put64(&o, at + 40, p->memsz);
		} else {
			put32(&o, at + 4, (uint32_t)p->offset);
			put32(&o, at + 8, (uint32_t)p->vaddr);
			put32(&o, at + 12, (uint32_t)p->paddr);
			put32(&o, at + 16, (uint32_t)p->filesz);
			put32(&o, at + 20, (uint32_t)p->memsz);
			put32(&o, at + 24, 7);
		}
	}
	for (size_t i = 0; i < sp->n_sh; i++) {
		const struct t_shdr *s = &sp->sh[i];
		size_t at = SHOFF_AT + (i + 1) * shentsize;

		put32(&o, at + 4, s->type);
		if (w) {
			put64(&o, at + 8, s->flags);
			put64(&o, at + 16, s->addr);
			put64(&o, at + 24, s->offset);
			put64(&o, at + 32, s->size);
		} else {
			put32(&o, at + 8, (uint32_t)s->flags);
			put32(&o, at + 12, (uint32_t)s->addr);
			put32(&o, at + 16, (uint32_t)s->offset);
			put32(&o, at + 20, (uint32_t)s->size);
		}
	}
}

/* Fill [off, off+n) with bytes seed, seed+1, ... */
static void fill(uint8_t *buf, size_t off, size_t n, uint8_t seed)
{
	for (size_t i = 0; i < n; i++)
		buf[off + i] = (uint8_t)(seed + i);
}

/*
 * The usual Cortex-M layout: .text in flash, .data linked in RAM (VMA
 * 0x20000000) but loaded right after .text (LMA 0x08000010), plus .bss.
 */
static const struct t_elf arm_app = {
    .machine = 40,
    .entry = 0x08000009,
    .n_ph = 3,
    .ph =
	{
	    {PT_LOAD, DATA_AT, 0x08000000, 0x08000000, 16, 16},
	    {PT_LOAD, DATA_AT + 16, 0x20000000, 0x08000010, 8, 16},
	    {PT_LOAD, DATA_AT + 24, 0x20000010, 0x20000010, 0, 0x100},
	},
    .n_sh = 3,
    .sh =
	{
	    {SHT_PROGBITS, SHF_ALLOC | SHF_EXECINSTR, 0x08000000, DATA_AT, 16},
	    {SHT_PROGBITS, SHF_ALLOC | SHF_WRITE, 0x20000000, DATA_AT + 16, 8},
	    {SHT_NOBITS, SHF_ALLOC | SHF_WRITE, 0x20000010, DATA_AT + 24, 0x100},
	},
};

static struct dfu_image *img;
static uint8_t file[FILE_LEN];

static void setup(void)
{
	memset(file, 0, sizeof(file));
	ck_assert_int_eq(dfu_image_new(DFU_FORMAT_ELF, &img), 0);
}

static void teardown(void)
{
	dfu_image_free(img);
	img = NULL;
}

/* Build @sp with data bytes 0x00.. from DATA_AT and parse it. */
static int parse_spec(const struct t_elf *sp, struct dfu_error *e)
{
	build_elf(file, sp);
	fill(file, DATA_AT, FILE_LEN - DATA_AT, 0);
	return dfu_elf_parse(file, FILE_LEN, img, NULL, e);
}

/* --- placement ----------------------------------------------------------- */

START_TEST(test_load_segments_go_to_paddr_not_vaddr)
{
	struct dfu_error e = { 0 };

	ck_assert_int_eq(parse_spec(&arm_app, &e), 0);
	/* .data follows .text at its load address: one run of 24 bytes. */
	ck_assert_uint_eq(img->n_segments, 1);
	ck_assert_uint_eq(img->segments[0].address, 0x08000000);
	ck_assert_uint_eq(img->segments[0].length, 24);
	ck_assert_int_eq(img->segments[0].alt, DFU_ALT_NONE);
	ck_assert_mem_eq(img->segments[0].data, file + DATA_AT, 24);
	ck_assert_ptr_null(dfu_image_find(img, DFU_ALT_NONE, 0x20000000));
	ck_assert(img->address_from_file);
}
END_TEST

START_TEST(test_memsz_beyond_filesz_is_not_flashed)
{
	ck_assert_int_eq(parse_spec(&arm_app, NULL), 0);
	/* PT_LOAD 1 has memsz 16 but filesz 8: only 8 bytes go to flash. */
	ck_assert_uint_eq(dfu_image_data_bytes(img), 24);
	ck_assert_ptr_null(dfu_image_find(img, DFU_ALT_NONE, 0x08000018));
}
END_TEST

START_TEST(test_load_segments_without_file_data_are_skipped_but_counted)
{
	ck_assert_int_eq(parse_spec(&arm_app, NULL), 0);
	ck_assert_uint_eq(img->elf.n_load, 3);
	ck_assert_ptr_null(dfu_image_find(img, DFU_ALT_NONE, 0x20000010));
}
END_TEST

START_TEST(test_header_facts_and_entry_are_kept)
{
	ck_assert_int_eq(parse_spec(&arm_app, NULL), 0);
	ck_assert_uint_eq(img->elf.elf_class, 32);
	ck_assert(!img->elf.big_endian);
	ck_assert_uint_eq(img->elf.machine, 40);
	ck_assert_uint_eq(img->elf.type, 2);
	ck_assert_uint_eq(img->elf.flags, 0x05000200);
	ck_assert_int_eq(img->start.kind, DFU_START_ELF_ENTRY);
	ck_assert_uint_eq(img->start.linear, 0x08000009);
}
END_TEST

START_TEST(test_entry_zero_means_no_start_address)
{
	struct t_elf sp = arm_app;

	sp.entry = 0;
	ck_assert_int_eq(parse_spec(&sp, NULL), 0);
	ck_assert_int_eq(img->start.kind, DFU_START_NONE);
}
END_TEST

START_TEST(test_big_endian_elf32_is_read_in_its_byte_order)
{
	struct t_elf sp = {
		.be = true,
		.machine = 20, /* PowerPC e200 */
		.entry = 0x00100100,
		.n_ph = 1,
		.ph = { { PT_LOAD, DATA_AT, 0x00100000, 0x00100000, 32, 32 } },
	};

	ck_assert_int_eq(parse_spec(&sp, NULL), 0);
	ck_assert(img->elf.big_endian);
	ck_assert_uint_eq(img->elf.elf_class, 32);
	ck_assert_uint_eq(img->elf.machine, 20);
	ck_assert_uint_eq(img->elf.flags, 0x05000200);
	ck_assert_uint_eq(img->n_segments, 1);
	ck_assert_uint_eq(img->segments[0].address, 0x00100000);
	ck_assert_uint_eq(img->segments[0].length, 32);
	ck_assert_uint_eq(img->start.linear, 0x00100100);
}
END_TEST

START_TEST(test_elf64_is_read)
{
	struct t_elf sp = {
	    .is64 = true,
	    .machine = 243, /* RISC-V */
	    .entry = 0x20010000,
	    .n_ph = 2,
	    .ph =
		{
		    {PT_NOTE, DATA_AT, 0, 0, 8, 8},
		    {PT_LOAD, DATA_AT + 0x40, 0x20010000, 0x20000000, 0x40, 0x80},
		},
	    .n_sh = 1,
	    .sh = {{SHT_PROGBITS, SHF_ALLOC, 0x20010000, DATA_AT + 0x40, 0x40}},
	};

	ck_assert_int_eq(parse_spec(&sp, NULL), 0);
	ck_assert_uint_eq(img->elf.elf_class, 64);
	ck_assert_uint_eq(img->elf.n_load, 1);
	ck_assert_uint_eq(img->n_segments, 1);
	ck_assert_uint_eq(img->segments[0].address, 0x20000000);
	ck_assert_uint_eq(img->segments[0].length, 0x40);
	ck_assert_mem_eq(img->segments[0].data, file + DATA_AT + 0x40, 0x40);
	ck_assert(img->elf.have_section_base);
	ck_assert_uint_eq(img->elf.section_base, 0x20000000);
	ck_assert_uint_eq(img->start.linear, 0x20010000);
}
END_TEST

START_TEST(test_big_endian_elf64_is_read)
{
	struct t_elf sp = {
		.is64 = true,
		.be = true,
		.machine = 8, /* MIPS */
		.n_ph = 1,
		.ph = { { PT_LOAD, DATA_AT, 0xbfc00000, 0x1fc00000, 16, 16 } },
	};

	ck_assert_int_eq(parse_spec(&sp, NULL), 0);
	ck_assert(img->elf.big_endian);
	ck_assert_uint_eq(img->segments[0].address, 0x1fc00000);
	ck_assert_uint_eq(img->segments[0].length, 16);
}
END_TEST

START_TEST(test_elf64_load_address_above_4gib_is_refused)
{
	struct dfu_error e = { 0 };
	struct t_elf sp = {
		.is64 = true,
		.machine = 243,
		.n_ph = 1,
		.ph = { { PT_LOAD, DATA_AT, 0x100000000, 0xfffffff8, 16, 16 } },
	};

	ck_assert_int_eq(parse_spec(&sp, &e), DFU_E_RANGE);
	ck_assert_str_eq(e.code, "elf.address_overflow");
}
END_TEST

START_TEST(test_identical_overlapping_load_segments_are_accepted)
{
	struct t_elf sp = {
	    .machine = 40,
	    .n_ph = 2,
	    .ph =
		{
		    {PT_LOAD, DATA_AT, 0x1000, 0x1000, 16, 16},
		    {PT_LOAD, DATA_AT + 8, 0x1008, 0x1008, 16, 16},
		},
	};

	ck_assert_int_eq(parse_spec(&sp, NULL), 0);
	ck_assert_uint_eq(img->n_segments, 1);
	ck_assert_uint_eq(img->segments[0].length, 24);
}
END_TEST

START_TEST(test_conflicting_load_segments_are_refused)
{
	struct dfu_error e = { 0 };
	struct t_elf sp = {
	    .machine = 40,
	    .n_ph = 2,
	    .ph =
		{
		    {PT_LOAD, DATA_AT, 0x1000, 0x1000, 16, 16},
		    {PT_LOAD, DATA_AT + 0x100, 0x1008, 0x1008, 16, 16},
		},
	};

	ck_assert_int_eq(parse_spec(&sp, &e), DFU_E_CONFLICT);
	ck_assert_str_eq(e.code, "elf.overlap");
	ck_assert_str_eq(e.message,
			 "PT_LOAD 0 and PT_LOAD 1 both load 0x00001008 with different bytes");
}
END_TEST

/* --- sections ------------------------------------------------------------ */

START_TEST(test_section_base_uses_the_lma_of_each_section)
{
	/* .data's VMA (0x20000000) is below .text, its LMA is not: the base
	 * is .text's 0x08000000, as objcopy -O binary would start. */
	ck_assert_int_eq(parse_spec(&arm_app, NULL), 0);
	ck_assert(img->elf.have_section_base);
	ck_assert_uint_eq(img->elf.section_base, 0x08000000);
}
END_TEST

START_TEST(test_section_base_maps_vma_to_lma_through_the_load_segment)
{
	/* Everything linked to run from RAM at 0x20000000 but loaded at
	 * 0x08000000: the section base is the load address. */
	struct t_elf sp = {
		.machine = 40,
		.n_ph = 1,
		.ph = { { PT_LOAD, DATA_AT, 0x20000000, 0x08000000, 32, 32 } },
		.n_sh = 1,
		.sh = { { SHT_PROGBITS, SHF_ALLOC, 0x20000000, DATA_AT, 32 } },
	};

	ck_assert_int_eq(parse_spec(&sp, NULL), 0);
	ck_assert_uint_eq(img->elf.section_base, 0x08000000);
}
END_TEST

START_TEST(test_section_base_skips_header_bytes_inside_a_load_segment)
{
	/* As NXP's .axf: the PT_LOAD starts at file offset 0 (it carries the
	 * ELF header), the first section sits 0x400 bytes in. */
	struct t_elf sp = {
	    .machine = 40,
	    .n_ph = 1,
	    .ph = {{PT_LOAD, 0, 0x80000000, 0x80000000, DATA_AT + 0x20, DATA_AT + 0x100}},
	    .n_sh = 3,
	    .sh =
		{
		    {SHT_PROGBITS, SHF_ALLOC | SHF_EXECINSTR, 0x80000400, DATA_AT, 0x20},
		    {SHT_NOBITS, SHF_ALLOC, 0x80000000, DATA_AT + 0x20, 0x10},
		    {SHT_PROGBITS, 0, 0x0, DATA_AT + 0x10, 0x10},
		},
	};

	ck_assert_int_eq(parse_spec(&sp, NULL), 0);
	ck_assert_uint_eq(img->segments[0].address, 0x80000000);
	ck_assert(img->elf.have_section_base);
	ck_assert_uint_eq(img->elf.section_base, 0x80000400);
}
END_TEST

START_TEST(test_missing_section_headers_only_mean_no_section_base)
{
	struct t_elf sp = arm_app;

	sp.n_sh = 0;
	ck_assert_int_eq(parse_spec(&sp, NULL), 0);
	ck_assert(!img->elf.have_section_base);
	ck_assert_uint_eq(img->n_segments, 1);
}
END_TEST

START_TEST(test_section_headers_outside_the_file_are_ignored_with_a_warning)
{
	ck_assert_int_eq(parse_spec(&arm_app, NULL), 0);
	dfu_image_free(img);
	ck_assert_int_eq(dfu_image_new(DFU_FORMAT_ELF, &img), 0);
	le32_put(file + 32, FILE_LEN - 8); /* e_shoff */
	ck_assert_int_eq(dfu_elf_parse(file, FILE_LEN, img, NULL, NULL), 0);
	ck_assert(!img->elf.have_section_base);
	ck_assert_uint_eq(img->n_warnings, 1);
}
END_TEST

/* --- errors -------------------------------------------------------------- */

START_TEST(test_load_data_outside_the_file_is_truncated)
{
	struct dfu_error e = { 0 };
	struct t_elf sp = arm_app;

	sp.ph[1].offset = 8192;
	ck_assert_int_eq(parse_spec(&sp, &e), DFU_E_FORMAT);
	ck_assert_str_eq(e.code, "elf.truncated");
	ck_assert_str_eq(e.message, "PT_LOAD 1 data (offset 8192, 8 bytes) outside the file");
	ck_assert_str_eq(e.where, "offset 96 (0x60)"); /* program header 1 */
}
END_TEST

START_TEST(test_program_headers_past_the_end_are_truncated)
{
	struct dfu_error e = { 0 };

	build_elf(file, &arm_app);
	ck_assert_int_eq(dfu_elf_parse(file, PHOFF_AT + 40, img, NULL, &e), DFU_E_FORMAT);
	ck_assert_str_eq(e.code, "elf.truncated");
}
END_TEST

START_TEST(test_short_program_header_entries_are_a_bad_header)
{
	struct dfu_error e = { 0 };

	build_elf(file, &arm_app);
	le16_put(file + 42, 16); /* e_phentsize */
	ck_assert_int_eq(dfu_elf_parse(file, FILE_LEN, img, NULL, &e), DFU_E_FORMAT);
	ck_assert_str_eq(e.code, "elf.bad_header");
}
END_TEST

START_TEST(test_header_cut_short_is_truncated)
{
	struct dfu_error e = { 0 };

	build_elf(file, &arm_app);
	ck_assert_int_eq(dfu_elf_parse(file, 40, img, NULL, &e), DFU_E_FORMAT);
	ck_assert_str_eq(e.code, "elf.truncated");
}
END_TEST

START_TEST(test_bad_magic_is_refused)
{
	struct dfu_error e = { 0 };

	build_elf(file, &arm_app);
	file[1] = 'e';
	ck_assert_int_eq(dfu_elf_parse(file, FILE_LEN, img, NULL, &e), DFU_E_FORMAT);
	ck_assert_str_eq(e.code, "elf.bad_magic");
	ck_assert_str_eq(e.where, "offset 0 (0x0)");
}
END_TEST

START_TEST(test_unknown_class_is_refused)
{
	struct dfu_error e = { 0 };

	build_elf(file, &arm_app);
	file[4] = 3;
	ck_assert_int_eq(dfu_elf_parse(file, FILE_LEN, img, NULL, &e), DFU_E_UNSUPPORTED);
	ck_assert_str_eq(e.code, "elf.unsupported_class");
}
END_TEST

START_TEST(test_unknown_byte_order_is_refused)
{
	struct dfu_error e = { 0 };

	build_elf(file, &arm_app);
	file[5] = 0;
	ck_assert_int_eq(dfu_elf_parse(file, FILE_LEN, img, NULL, &e), DFU_E_FORMAT);
	ck_assert_str_eq(e.code, "elf.bad_encoding");
}
END_TEST

START_TEST(test_host_machine_is_refused_by_name)
{
	struct dfu_error e = { 0 };
	struct t_elf sp = arm_app;

	sp.machine = 62;
	ck_assert_int_eq(parse_spec(&sp, &e), DFU_E_UNSUPPORTED);
	ck_assert_str_eq(e.code, "elf.unsupported_machine");
	ck_assert_str_eq(e.message, "e_machine 62 (x86-64) is not a firmware target");
	ck_assert_ptr_nonnull(e.hint);
	ck_assert_uint_eq(img->n_segments, 0);
}
END_TEST

START_TEST(test_machine_none_is_refused)
{
	struct dfu_error e = { 0 };
	struct t_elf sp = arm_app;

	sp.machine = 0;
	ck_assert_int_eq(parse_spec(&sp, &e), DFU_E_UNSUPPORTED);
	ck_assert_str_eq(e.code, "elf.unsupported_machine");
}
END_TEST

START_TEST(test_no_load_segment_with_data_is_refused)
{
	struct dfu_error e = { 0 };
	struct t_elf sp = {
		.machine = 40,
		.n_ph = 1,
		.ph = { { PT_LOAD, DATA_AT, 0x20000000, 0x20000000, 0, 0x100 } },
	};

	ck_assert_int_eq(parse_spec(&sp, &e), DFU_E_FORMAT);
	ck_assert_str_eq(e.code, "elf.no_load_segments");
}
END_TEST

START_TEST(test_no_program_headers_is_refused)
{
	struct dfu_error e = { 0 };
	struct t_elf sp = { .machine = 40 };

	ck_assert_int_eq(parse_spec(&sp, &e), DFU_E_FORMAT);
	ck_assert_str_eq(e.code, "elf.no_load_segments");
}
END_TEST

/* --- corpus -------------------------------------------------------------- */

struct corpus_seg {
	uint32_t address;
	size_t length;
	uint32_t crc32;
};

static const struct corpus_elf {
	const char *name;
	uint32_t entry;
	uint32_t section_base;
	size_t n_segments;
	struct corpus_seg seg[3];
} corpus_elves[] = {
	{ "f4_app_0x08000000.elf",
	  0x08000081,
	  0x08000000,
	  1,
	  { { 0x08000000, 1172, 0x99dda8ec } } },
	{ "f4_app_0x08004000.elf",
	  0x08004081,
	  0x08004000,
	  1,
	  { { 0x08004000, 1172, 0x77e52721 } } },
	{ "f4_app_with_config.elf",
	  0x08000081,
	  0x08000000,
	  2,
	  { { 0x08000000, 1172, 0xb0108431 }, { 0x080e0000, 20, 0xbb4b4be5 } } },
	/* The PT_LOAD carries the ELF header; sections start at 0x80002000. */
	{ "bincopy_evkbimxrt1050_iled_blinky_sdram.axf",
	  0x80002305,
	  0x80002000,
	  1,
	  { { 0x80000000, 27560, 0x041a049d } } },
	{ "bincopy_gcc.elf", 0x000004c5, 0, 1, { { 0, 12064, 0xc47a03ae } } },
	{ "bincopy_iar.out",
	  0x002830e9,
	  0x0027f400,
	  3,
	  { { 0x0027f400, 512, 0x84320b07 },
	    { 0x00280000, 360, 0x4a55ce4d },
	    { 0x00280180, 14136, 0x9416b672 } } },
	/* armlink: RW_m_data (VMA 0x20280000) is flashed at its p_paddr. */
	{ "bincopy_keil.out",
	  0x08003835,
	  0x08000400,
	  2,
	  { { 0x08000400, 512, 0x84320b07 }, { 0x08001000, 15600, 0x3b3bdcab } } },
	{ "openmv7_bootloader.elf",
	  0x08002e39,
	  0x08000000,
	  1,
	  { { 0x08000000, 14520, 0xeac02b2e } } },
	{ "tomu_toboot.elf", 0x0000034f, 0, 1, { { 0, 5664, 0xeb60fbe7 } } },
};

START_TEST(test_corpus_elf_segments_entry_and_section_base)
{
	const struct corpus_elf *c = &corpus_elves[_i];
	struct dfu_error e = { 0 };
	uint8_t *buf;
	size_t len;

	buf = test_corpus_load(c->name, &len);
	ck_assert_msg(buf != NULL, "cannot load %s", c->name);
	ck_assert_msg(dfu_elf_parse(buf, len, img, NULL, &e) == 0, "%s: %s: %s", c->name, e.code,
		      e.message);
	ck_assert_uint_eq(img->n_segments, c->n_segments);
	for (size_t k = 0; k < c->n_segments; k++) {
		const struct dfu_segment *s = &img->segments[k];

		ck_assert_uint_eq(s->address, c->seg[k].address);
		ck_assert_uint_eq(s->length, c->seg[k].length);
		ck_assert_uint_eq(dfu_crc32(0, s->data, s->length), c->seg[k].crc32);
	}
	ck_assert_int_eq(img->start.kind, DFU_START_ELF_ENTRY);
	ck_assert_uint_eq(img->start.linear, c->entry);
	ck_assert(img->elf.have_section_base);
	ck_assert_uint_eq(img->elf.section_base, c->section_base);
	ck_assert_uint_eq(img->elf.machine, 40);
	free(buf);
}
END_TEST

START_TEST(test_corpus_truncated_elf_names_the_second_load_segment)
{
	struct dfu_error e = { 0 };
	uint8_t *buf;
	size_t len;

	buf = test_corpus_load("bad_elf_truncated.elf", &len);
	ck_assert_ptr_nonnull(buf);
	ck_assert_int_eq(dfu_elf_parse(buf, len, img, NULL, &e), DFU_E_FORMAT);
	ck_assert_str_eq(e.code, "elf.truncated");
	ck_assert_str_eq(e.message, "PT_LOAD 1 data (offset 8192, 8 bytes) outside the file");
	free(buf);
}
END_TEST

START_TEST(test_corpus_x86_64_host_program_is_refused)
{
	struct dfu_error e = { 0 };
	uint8_t *buf;
	size_t len;

	buf = test_corpus_load("bincopy_elf_x86_64.out", &len);
	ck_assert_ptr_nonnull(buf);
	ck_assert_int_eq(dfu_elf_parse(buf, len, img, NULL, &e), DFU_E_UNSUPPORTED);
	ck_assert_str_eq(e.code, "elf.unsupported_machine");
	ck_assert_str_eq(e.message, "e_machine 62 (x86-64) is not a firmware target");
	free(buf);
}
END_TEST

START_TEST(test_corpus_fwupd_example_elf_with_machine_none_is_refused)
{
	struct dfu_error e = { 0 };
	uint8_t *buf;
	size_t len;

	buf = test_corpus_load("fwupd_example.elf", &len);
	ck_assert_ptr_nonnull(buf);
	ck_assert_int_eq(dfu_elf_parse(buf, len, img, NULL, &e), DFU_E_UNSUPPORTED);
	ck_assert_str_eq(e.code, "elf.unsupported_machine");
	free(buf);
}
END_TEST

static Suite *elf_suite(void)
{
	Suite *s = suite_create("elf");
	TCase *tc;

	tc = tcase_create("placement");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_load_segments_go_to_paddr_not_vaddr);
	tcase_add_test(tc, test_memsz_beyond_filesz_is_not_flashed);
	tcase_add_test(tc, test_load_segments_without_file_data_are_skipped_but_counted);
	tcase_add_test(tc, test_header_facts_and_entry_are_kept);
	tcase_add_test(tc, test_entry_zero_means_no_start_address);
	tcase_add_test(tc, test_big_endian_elf32_is_read_in_its_byte_order);
	tcase_add_test(tc, test_elf64_is_read);
	tcase_add_test(tc, test_big_endian_elf64_is_read);
	tcase_add_test(tc, test_elf64_load_address_above_4gib_is_refused);
	tcase_add_test(tc, test_identical_overlapping_load_segments_are_accepted);
	tcase_add_test(tc, test_conflicting_load_segments_are_refused);
	suite_add_tcase(s, tc);

	tc = tcase_create("sections");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_section_base_uses_the_lma_of_each_section);
	tcase_add_test(tc, test_section_base_maps_vma_to_lma_through_the_load_segment);
	tcase_add_test(tc, test_section_base_skips_header_bytes_inside_a_load_segment);
	tcase_add_test(tc, test_missing_section_headers_only_mean_no_section_base);
	tcase_add_test(tc, test_section_headers_outside_the_file_are_ignored_with_a_warning);
	suite_add_tcase(s, tc);

	tc = tcase_create("errors");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_load_data_outside_the_file_is_truncated);
	tcase_add_test(tc, test_program_headers_past_the_end_are_truncated);
	tcase_add_test(tc, test_short_program_header_entries_are_a_bad_header);
	tcase_add_test(tc, test_header_cut_short_is_truncated);
	tcase_add_test(tc, test_bad_magic_is_refused);
	tcase_add_test(tc, test_unknown_class_is_refused);
	tcase_add_test(tc, test_unknown_byte_order_is_refused);
	tcase_add_test(tc, test_host_machine_is_refused_by_name);
	tcase_add_test(tc, test_machine_none_is_refused);
	tcase_add_test(tc, test_no_load_segment_with_data_is_refused);
	tcase_add_test(tc, test_no_program_headers_is_refused);
	suite_add_tcase(s, tc);

	/* the cases that read the shared corpus: left out without it */
	tc = test_corpus_tcase(s, setup, teardown, 30);
	if (tc) {
		tcase_add_loop_test(tc, test_corpus_elf_segments_entry_and_section_base, 0,
				    (int)(sizeof(corpus_elves) / sizeof(corpus_elves[0])));
		tcase_add_test(tc, test_corpus_truncated_elf_names_the_second_load_segment);
		tcase_add_test(tc, test_corpus_x86_64_host_program_is_refused);
		tcase_add_test(tc, test_corpus_fwupd_example_elf_with_machine_none_is_refused);
	}
	return s;
}

int main(void)
{
	return test_run_suite(elf_suite());
}
