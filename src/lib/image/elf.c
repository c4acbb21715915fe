// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * ELF executables as firmware images: the bytes of every PT_LOAD with data,
 * placed at its physical (load) address, which is where a flasher must write
 * them.  ELF32 and ELF64, either byte order.  Section headers are only read
 * to find where objcopy -O binary would start (the vector table); no
 * relocation, no symbols.
 */
#include "config.h"

#include <string.h>

#include "image.h"
#include "macro.h"
#include "util.h"

#define ADDR_SPACE (UINT64_C(1) << 32)

/* ELF gABI values used here. */
#define EI_CLASS 4
#define EI_DATA 5
#define EI_NIDENT 16
#define ELFCLASS32 1
#define ELFCLASS64 2
#define ELFDATA2LSB 1
#define ELFDATA2MSB 2
#define PT_LOAD 1
#define PN_XNUM 0xffff
#define SHT_NOBITS 8
#define SHF_ALLOC 0x2

#define EHDR32_LEN 52
#define EHDR64_LEN 64
#define PHDR32_LEN 32
#define PHDR64_LEN 56
#define SHDR32_LEN 40
#define SHDR64_LEN 64

struct elf_file {
	const uint8_t *buf;
	size_t len;
	bool is64;
	bool be;
};

/* Program and section headers, widened to 64 bits. */
struct phdr {
	uint32_t type;
	uint64_t offset, vaddr, paddr, filesz, memsz;
};

struct shdr {
	uint32_t type;
	uint64_t flags, addr, offset, size;
	uint32_t info;
};

static uint16_t rd16(const struct elf_file *f, uint64_t off)
{
	return f->be ? be16_get(f->buf + off) : le16_get(f->buf + off);
}

static uint32_t rd32(const struct elf_file *f, uint64_t off)
{
	return f->be ? be32_get(f->buf + off) : le32_get(f->buf + off);
}

static uint64_t rd64(const struct elf_file *f, uint64_t off)
{
	return f->be ? be64_get(f->buf + off) : le64_get(f->buf + off);
}

/* An address or offset field: 4 bytes in ELF32, 8 in ELF64. */
static uint64_t rdword(const struct elf_file *f, uint64_t off)
{
	return f->is64 ? rd64(f, off) : rd32(f, off);
}

/* Callers have checked that the whole header lies inside the file. */
static void read_phdr(const struct elf_file *f, uint64_t off, struct phdr *p)
{
	p->type = rd32(f, off);
	if (f->is64) {
		p->offset = rd64(f, off + 8);
		p->vaddr = rd64(f, off + 16);
		p->paddr = rd64(f, off + 24);
		p->filesz = rd64(f, off + 32);
		p->memsz = rd64(f, off + 40);
	} else {
		p->offset = rd32(f, off + 4);
		p->vaddr = rd32(f, off + 8);
		p->paddr = rd32(f, off + 12);
		p->filesz = rd32(f, off + 16);
		p->memsz = rd32(f, off + 20);
	}
}

static void read_shdr(const struct elf_file *f, uint64_t off, struct shdr *s)
{
	s->type = rd32(f, off + 4);
	if (f->is64) {
		s->flags = rd64(f, off + 8);
		s->addr = rd64(f, off + 16);
		s->offset = rd64(f, off + 24);
		s->size = rd64(f, off + 32);
		s->info = rd32(f, off + 44);
	} else {
		s->flags = rd32(f, off + 8);
		s->addr = rd32(f, off + 12);
		s->offset = rd32(f, off + 16);
		s->size = rd32(f, off + 20);
		s->info = rd32(f, off + 28);
	}
}

/* [off, off+n) inside a file of @len bytes, without overflow. */
static bool in_file(uint64_t off, uint64_t n, size_t len)
{
	return off <= len && n <= len - off;
}

/*
 * Machines firmware is built for (ELF gABI e_machine registry).  Host
 * architectures are refused: an x86-64 or AArch64 executable given to a DFU
 * tool is nearly always the wrong file.
 */
static const struct {
	uint16_t machine;
	const char *name;
	bool firmware;
} machines[] = {
	{ 0, "none", false },	    { 2, "SPARC", false },	 { 3, "x86", false },
	{ 4, "M68K", true },	    { 8, "MIPS", true },	 { 20, "PowerPC", true },
	{ 21, "PowerPC64", false }, { 36, "V850 (old)", true },	 { 40, "ARM", true },
	{ 42, "SuperH", true },	    { 43, "SPARC V9", false },	 { 44, "TriCore", true },
	{ 45, "ARC", true },	    { 50, "IA-64", false },	 { 62, "x86-64", false },
	{ 83, "AVR", true },	    { 87, "V850", true },	 { 93, "ARCompact", true },
	{ 94, "Xtensa", true },	    { 105, "MSP430", true },	 { 165, "8051", true },
	{ 167, "NDS32", true },	    { 173, "RX", true },	 { 183, "AArch64", false },
	{ 185, "AVR32", true },	    { 195, "ARCv2", true },	 { 197, "RL78", true },
	{ 243, "RISC-V", true },    { 258, "LoongArch", false },
};

static int machine_index(uint16_t m)
{
	for (size_t i = 0; i < ARRAY_SIZE(machines); i++) {
		if (machines[i].machine == m)
			return (int)i;
	}
	return -1;
}

static int check_ident(const struct elf_file *f, struct dfu_error *e)
{
	char where[DFU_WHERE_LEN];

	if (f->len < 4 || memcmp(f->buf, "\177ELF", 4) != 0) {
		dfu_where_offset(where, 0);
		return dfu_error_set(e, DFU_E_FORMAT, "elf.bad_magic", where,
				     "no ELF magic (0x7f 'E' 'L' 'F') at the start of the file");
	}
	if (f->len < EI_NIDENT) {
		dfu_where_offset(where, f->len);
		return dfu_error_set(e, DFU_E_FORMAT, "elf.truncated", where,
				     "file of %zu bytes ends inside e_ident", f->len);
	}
	if (f->buf[EI_CLASS] != ELFCLASS32 && f->buf[EI_CLASS] != ELFCLASS64) {
		dfu_where_offset(where, EI_CLASS);
		return dfu_error_set(e, DFU_E_UNSUPPORTED, "elf.unsupported_class", where,
				     "EI_CLASS %u is neither ELFCLASS32 (1) nor ELFCLASS64 (2)",
				     f->buf[EI_CLASS]);
	}
	if (f->buf[EI_DATA] != ELFDATA2LSB && f->buf[EI_DATA] != ELFDATA2MSB) {
		dfu_where_offset(where, EI_DATA);
		return dfu_error_set(e, DFU_E_FORMAT, "elf.bad_encoding", where,
				     "EI_DATA %u is neither ELFDATA2LSB (1) nor ELFDATA2MSB (2)",
				     f->buf[EI_DATA]);
	}
	return 0;
}

/*
 * Lowest LMA of the SHF_ALLOC sections with file contents, objcopy's rule:
 * a section inside a PT_LOAD's file range loads at sh_addr - p_vaddr +
 * p_paddr, any other at sh_addr.  Missing or broken section headers only
 * mean there is no section base (a warning), never a failed parse.
 */
static int find_section_base(const struct elf_file *f, struct dfu_image *img, const struct phdr *ph,
			     size_t n_ph)
{
	size_t shdr_len = f->is64 ? SHDR64_LEN : SHDR32_LEN;
	uint64_t shoff = rdword(f, f->is64 ? 40 : 32);
	uint16_t shentsize = rd16(f, f->is64 ? 58 : 46);
	uint64_t shnum = rd16(f, f->is64 ? 60 : 48);
	bool found = false;
	uint64_t base = 0;

	if (shoff == 0)
		return 0;
	if (shentsize < shdr_len)
		return dfu_image_warn(
		    img, "e_shentsize %u is smaller than a section header (%zu): sections ignored",
		    shentsize, shdr_len);
	if (!in_file(shoff, shentsize, f->len))
		return dfu_image_warn(
		    img, "section headers at offset %llu lie outside the file: sections ignored",
		    (unsigned long long)shoff);
	/* gABI: with 0 in e_shnum, the real count is sh_size of section 0. */
	if (shnum == 0) {
		struct shdr s0;

		read_shdr(f, shoff, &s0);
		shnum = s0.size;
	}
	if (shnum > (f->len - shoff) / shentsize)
		return dfu_image_warn(img,
				      "%llu section headers at offset %llu run past the end of the "
				      "file: sections ignored",
				      (unsigned long long)shnum, (unsigned long long)shoff);

	for (uint64_t i = 0; i < shnum; i++) {
		struct shdr s;
		uint64_t lma;

		read_shdr(f, shoff + i * shentsize, &s);
		if (!(s.flags & SHF_ALLOC) || s.type == SHT_NOBITS || s.size == 0)
			continue;
		lma = s.addr;
		for (size_t k = 0; k < n_ph; k++) {
			if (ph[k].type == PT_LOAD && s.offset >= ph[k].offset &&
			    s.offset - ph[k].offset < ph[k].filesz) {
				lma = s.addr - ph[k].vaddr + ph[k].paddr;
				break;
			}
		}
		/* A section that cannot sit in the 32-bit space is no base. */
		if (lma >= ADDR_SPACE)
			continue;
		if (!found || lma < base)
			base = lma;
		found = true;
	}
	img->elf.have_section_base = found;
	img->elf.section_base = (uint32_t)base;
	return 0;
}

/* Earlier PT_LOAD (by PT_LOAD index) whose data covers @addr, or -1. */
static long earlier_load(const struct phdr *ph, size_t n, uint32_t addr)
{
	long idx = -1;

	for (size_t k = 0; k < n; k++) {
		if (ph[k].type != PT_LOAD)
			continue;
		idx++;
		if (ph[k].filesz > 0 && addr >= ph[k].paddr && addr - ph[k].paddr < ph[k].filesz)
			return idx;
	}
	return -1;
}

/* What the ELF header says about the program header table and the entry point. */
struct elf_phdrs {
	uint64_t entry;
	uint64_t phoff, phnum;
	uint16_t phentsize;
	size_t phdr_len; /* the size of one header for this class */
};

static int check_header_size(const struct elf_file *f, struct dfu_error *e)
{
	size_t ehdr_len = f->is64 ? EHDR64_LEN : EHDR32_LEN;
	char where[DFU_WHERE_LEN];

	if (f->len >= ehdr_len)
		return 0;
	dfu_where_offset(where, f->len);
	return dfu_error_set(e, DFU_E_FORMAT, "elf.truncated", where,
			     "file of %zu bytes is shorter than the %zu-byte ELF header", f->len,
			     ehdr_len);
}

static int check_machine(const struct elf_file *f, struct dfu_error *e)
{
	uint16_t machine = rd16(f, 18);
	int mi = machine_index(machine);
	char where[DFU_WHERE_LEN];

	if (mi >= 0 && machines[mi].firmware)
		return 0;
	dfu_where_offset(where, 18);
	dfu_error_set(e, DFU_E_UNSUPPORTED, "elf.unsupported_machine", where,
		      "e_machine %u (%s) is not a firmware target", machine,
		      mi < 0 ? "unknown" : machines[mi].name);
	dfu_error_hint(e, "firmware machines: ARM, AVR, AVR32, RISC-V, MSP430, Xtensa, 8051, ARC, "
			  "PowerPC, SuperH, M68K, MIPS, TriCore, RX, RL78, V850, NDS32");
	return DFU_E_UNSUPPORTED;
}

/* Keep the header fields the image reports, and read the program header table's place. */
static void read_header(const struct elf_file *f, struct dfu_image *img, struct elf_phdrs *h)
{
	img->elf.elf_class = f->is64 ? 64 : 32;
	img->elf.big_endian = f->be;
	img->elf.machine = rd16(f, 18);
	img->elf.type = rd16(f, 16);
	img->elf.flags = rd32(f, f->is64 ? 48 : 36);
	img->address_from_file = true;
	h->entry = rdword(f, 24);
	h->phoff = rdword(f, f->is64 ? 32 : 28);
	h->phentsize = rd16(f, f->is64 ? 54 : 42);
	h->phnum = rd16(f, f->is64 ? 56 : 44);
	h->phdr_len = f->is64 ? PHDR64_LEN : PHDR32_LEN;
}

/* gABI: PN_XNUM in e_phnum means the count is sh_info of section 0. */
static int resolve_phnum(const struct elf_file *f, struct elf_phdrs *h, struct dfu_error *e)
{
	char where[DFU_WHERE_LEN];
	struct shdr s0;
	uint64_t shoff;

	if (h->phnum != PN_XNUM)
		return 0;
	shoff = rdword(f, f->is64 ? 40 : 32);
	if (shoff == 0 || !in_file(shoff, f->is64 ? SHDR64_LEN : SHDR32_LEN, f->len)) {
		dfu_where_offset(where, f->is64 ? 56 : 44);
		return dfu_error_set(e, DFU_E_FORMAT, "elf.bad_header", where,
				     "e_phnum is PN_XNUM but section header 0 is missing");
	}
	read_shdr(f, shoff, &s0);
	h->phnum = s0.info;
	return 0;
}

/* The program header table exists, has entries of a sane size, and lies inside the file. */
static int check_phdr_table(const struct elf_file *f, const struct elf_phdrs *h,
			    struct dfu_error *e)
{
	char where[DFU_WHERE_LEN];

	if (h->phnum == 0 || h->phoff == 0)
		return dfu_error_set(
		    e, DFU_E_FORMAT, "elf.no_load_segments", NULL,
		    "no program headers, so nothing to load (a relocatable object?)");
	if (h->phentsize < h->phdr_len) {
		dfu_where_offset(where, f->is64 ? 54 : 42);
		return dfu_error_set(e, DFU_E_FORMAT, "elf.bad_header", where,
				     "e_phentsize %u is smaller than a program header (%zu)",
				     h->phentsize, h->phdr_len);
	}
	if (h->phoff > f->len || h->phnum > (f->len - h->phoff) / h->phentsize) {
		dfu_where_offset(where, h->phoff);
		return dfu_error_set(e, DFU_E_FORMAT, "elf.truncated", where,
				     "%llu program headers of %u bytes at offset %llu run past the "
				     "end of the %zu-byte file",
				     (unsigned long long)h->phnum, h->phentsize,
				     (unsigned long long)h->phoff, f->len);
	}
	return 0;
}

/* The program headers, widened; caller frees *@out. */
static int read_phdrs(const struct elf_file *f, const struct elf_phdrs *h, struct phdr **out,
		      struct dfu_error *e)
{
	struct phdr *ph = calloc((size_t)h->phnum, sizeof(*ph));

	if (!ph)
		return dfu_error_set(e, DFU_E_NOMEM, "elf.nomem", NULL, "out of memory");
	for (size_t k = 0; k < h->phnum; k++)
		read_phdr(f, h->phoff + k * h->phentsize, &ph[k]);
	*out = ph;
	return 0;
}

/* What loading the PT_LOAD segments needs. */
struct elf_load {
	const struct elf_file *f;
	const struct elf_phdrs *h;
	const struct phdr *ph;
	struct dfu_image *img;
	const struct dfu_limits *limits;
	struct dfu_error *e;
};

/* The file data of program header @k, PT_LOAD number @idx (with data), into the image. */
static int load_segment(const struct elf_load *ld, size_t k, long idx)
{
	const struct phdr *p = &ld->ph[k];
	struct dfu_error *e = ld->e;
	struct dfu_error sub = { 0 };
	char where[DFU_WHERE_LEN];
	uint32_t conflict = 0;
	int r;

	dfu_where_offset(where, ld->h->phoff + k * ld->h->phentsize);
	if (p->filesz > p->memsz)
		return dfu_error_set(e, DFU_E_FORMAT, "elf.bad_header", where,
				     "PT_LOAD %ld p_filesz %llu is larger than p_memsz %llu", idx,
				     (unsigned long long)p->filesz, (unsigned long long)p->memsz);
	if (!in_file(p->offset, p->filesz, ld->f->len))
		return dfu_error_set(e, DFU_E_FORMAT, "elf.truncated", where,
				     "PT_LOAD %ld data (offset %llu, %llu bytes) outside the file",
				     idx, (unsigned long long)p->offset,
				     (unsigned long long)p->filesz);
	if (p->paddr >= ADDR_SPACE || p->filesz > ADDR_SPACE - p->paddr)
		return dfu_error_set(
		    e, DFU_E_RANGE, "elf.address_overflow", where,
		    "PT_LOAD %ld: %llu bytes at p_paddr 0x%llx run past the 32-bit address space",
		    idx, (unsigned long long)p->filesz, (unsigned long long)p->paddr);
	r = dfu_image_add(ld->img, DFU_ALT_NONE, (uint32_t)p->paddr, ld->f->buf + p->offset,
			  (size_t)p->filesz, ld->limits, &conflict, &sub);
	if (r == DFU_E_CONFLICT) {
		long other = earlier_load(ld->ph, k, conflict);

		return dfu_error_set(
		    e, r, "elf.overlap", where,
		    "PT_LOAD %ld and PT_LOAD %ld both load 0x%08x with different bytes", other, idx,
		    conflict);
	}
	if (r < 0)
		return dfu_error_set(e, r, sub.code, where, "PT_LOAD %ld: %s", idx, sub.message);
	return 0;
}

/* Every PT_LOAD with file data; at least one must have some. */
static int load_segments(const struct elf_load *ld)
{
	size_t n_data = 0;
	long n_load = 0;
	int r;

	for (size_t k = 0; k < ld->h->phnum; k++) {
		long idx;

		if (ld->ph[k].type != PT_LOAD)
			continue;
		idx = n_load++;
		/* Bytes past p_filesz are zero-filled RAM (.bss), not flash. */
		if (ld->ph[k].filesz == 0)
			continue;
		r = load_segment(ld, k, idx);
		if (r < 0)
			return r;
		n_data++;
	}
	ld->img->elf.n_load = (size_t)n_load;
	if (n_data == 0)
		return dfu_error_set(ld->e, DFU_E_FORMAT, "elf.no_load_segments", NULL,
				     "none of the %ld PT_LOAD program headers has file data",
				     n_load);
	return 0;
}

/* gABI: e_entry 0 means the file has no entry point.  Returns 0 or DFU_E_NOMEM. */
static int keep_entry(struct dfu_image *img, uint64_t entry)
{
	if (entry == 0)
		return 0;
	if (entry < ADDR_SPACE) {
		img->start.kind = DFU_START_ELF_ENTRY;
		img->start.linear = (uint32_t)entry;
		return 0;
	}
	return dfu_image_warn(img, "e_entry 0x%llx is above 4 GiB: no start address kept",
			      (unsigned long long)entry);
}

int dfu_elf_parse(const uint8_t *buf, size_t len, struct dfu_image *img,
		  const struct dfu_limits *limits, struct dfu_error *e)
{
	struct elf_file f = { .buf = buf, .len = len };
	_cleanup_free_ struct phdr *ph = NULL;
	struct elf_phdrs h = { 0 };
	struct elf_load ld;
	int r;

	r = check_ident(&f, e);
	if (r < 0)
		return r;
	f.is64 = buf[EI_CLASS] == ELFCLASS64;
	f.be = buf[EI_DATA] == ELFDATA2MSB;
	r = check_header_size(&f, e);
	if (r < 0)
		return r;
	r = check_machine(&f, e);
	if (r < 0)
		return r;
	read_header(&f, img, &h);
	r = resolve_phnum(&f, &h, e);
	if (r < 0)
		return r;
	r = check_phdr_table(&f, &h, e);
	if (r < 0)
		return r;
	r = read_phdrs(&f, &h, &ph, e);
	if (r < 0)
		return r;

	ld = (struct elf_load){ .f = &f, .h = &h, .ph = ph, .img = img, .limits = limits, .e = e };
	r = load_segments(&ld);
	if (r < 0)
		return r;
	if (keep_entry(img, h.entry) < 0 || find_section_base(&f, img, ph, (size_t)h.phnum) < 0)
		return dfu_error_set(e, DFU_E_NOMEM, "elf.nomem", NULL, "out of memory");
	return 0;
}
