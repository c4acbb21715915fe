/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Memory regions of the simulated device and their hardware rules: erase to 0xFF, the
 * per-family programming rules of the reference manuals (sim-memory.c), write
 * protection.  No protocol knowledge: the DfuSe layer decides what a request may touch. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sim-profiles.h"

/* type letter bits (UM0424 §4.3.2) */
#define SIM_ATTR_READ 0x1
#define SIM_ATTR_ERASE 0x2
#define SIM_ATTR_WRITE 0x4

enum sim_prog_rule {
	SIM_PROG_AND,	   /* byte-wise, cell = old AND new, never fails (F2/F4/F7, F4 OTP) */
	SIM_PROG_HALFWORD, /* F0/F1/F3: a half-word that is not 0xFFFF takes only 0x0000 */
	SIM_PROG_ONCE,	   /* ECC words (8/16/32 bytes): once per erase */
	SIM_PROG_COPY,	   /* RAM, option bytes */
	SIM_PROG_IGNORE,   /* "Device Feature": writes accepted, nothing stored */
};

struct sim_sector {
	uint32_t start, size;
	uint8_t attr;	       /* SIM_ATTR_* */
	bool wrp;	       /* write protected: erase/program silently do nothing */
	uint8_t faulty_status; /* nonzero: erase fails with this bStatus and erases nothing */
};

struct sim_region {
	enum sim_region_kind kind;
	uint32_t base, size;
	uint8_t *data;
	enum sim_prog_rule rule;
	unsigned unit;	     /* program unit in bytes (1, 2, 8, 16, 32) */
	bool zero_overwrite; /* SIM_PROG_ONCE: all-zero words may be programmed again (L4/G) */
	uint8_t *programmed; /* SIM_PROG_ONCE: bitmap of programmed units since erase */
	struct sim_sector *sectors;
	size_t n_sectors;
};

struct sim_memory {
	struct sim_region *regions;
	size_t n;
};

/* Build the regions of @p (erased flash, zeroed RAM, default option bytes).
 * Returns 0 or -ENOMEM; sim_memory_fini() frees in both cases. */
int sim_memory_init(struct sim_memory *m, const struct sim_profile *p);
void sim_memory_fini(struct sim_memory *m);

/* The region holding all of [addr, addr+len) (len 0 counts as 1), or NULL. */
struct sim_region *sim_memory_find(struct sim_memory *m, uint32_t addr, size_t len);
/* The sector holding @addr (which must lie in @r). */
struct sim_sector *sim_region_sector(struct sim_region *r, uint32_t addr);
/* Whether every sector touched by [addr, addr+len) has all @attr bits. */
bool sim_region_allows(struct sim_region *r, uint32_t addr, size_t len, uint8_t attr);

/* Erase a sector to 0xFF (WRP sectors stay unchanged). */
void sim_region_erase(struct sim_region *r, struct sim_sector *s);

/*
 * Program [addr, addr+len) with the region's rule; bytes in WRP sectors are skipped
 * silently.  Units are programmed in order and the first refused unit stops the write
 * (earlier units stay programmed), as the flash controller does.
 * Returns 0, or -EPERM when a unit was refused (programmed twice, half-word not erased).
 */
int sim_region_program(struct sim_region *r, uint32_t addr, const uint8_t *data, size_t len);

/* Whether [addr, addr+len) of @r is still erased (all 0xFF). */
bool sim_region_is_erased(const struct sim_region *r, uint32_t addr, size_t len);

/* Datasheet durations (typical values) in microseconds. */
uint64_t sim_family_erase_us(enum sim_family f, uint32_t sector_size);
uint64_t sim_family_mass_erase_us(enum sim_family f);
uint64_t sim_family_program_us(enum sim_family f, size_t bytes);
