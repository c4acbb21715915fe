/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Structured per-device tables of the simulator: identities, memory maps, alternate
 * settings and behaviour switches.  DfuSe layout strings are generated from these
 * tables, never parsed.  [inf] marks a value inferred rather than observed. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sim-api.h"

/* One "<N>*<SIZE><mult><type>" run of a layout string, with ST's exact digit widths. */
struct sim_run {
	uint16_t count;
	uint8_t count_width; /* zero padding of N: "04", "064", "0256" */
	uint16_t size;	     /* in units of mult */
	uint8_t size_width;  /* zero padding of SIZE: "016", "0002", "64" (width 0) */
	char mult;	     /* ' ' (bytes), 'K', 'M' */
	char type;	     /* 'a'..'g': bit0 readable, bit1 erasable, bit2 writable */
};

/* A contiguous memory area: one "/0xADDR/runs" group, and one region of the model. */
struct sim_group {
	uint32_t address;
	enum sim_region_kind kind;
	const struct sim_run *runs;
	uint8_t n_runs;
};

/* Where a generic DFU alt's blocks go (a DfuSe alt is addressed by Set Address). */
enum sim_alt_target {
	SIM_ALT_SLOT,	 /* the first memory region, from its start, up to the image's end */
	SIM_ALT_AT_BASE, /* from .base on; an upload reads to the end of that region */
	SIM_ALT_REFUSED, /* DNLOAD and UPLOAD stall with dfuERROR/errWRITE */
};

struct sim_alt {
	const char *name; /* with ST's trailing spaces: "Internal Flash  " */
	const struct sim_group *const *groups;
	uint8_t n_groups;
	/* generic DFU only */
	enum sim_alt_target target;
	uint32_t base;		 /* SIM_ALT_AT_BASE: the first byte written or read */
	uint32_t erase_at_start; /* a page erased when a download starts, 0 for none */
};

/* Flash programming rules (the reference manuals, see sim-memory.c) and the family's
 * datasheet timings. */
enum sim_family {
	SIM_FAM_F1,	 /* F0/F1/F3 and GD32: half-word program-once, 1-2 KiB pages */
	SIM_FAM_F4,	 /* F2/F4/F7: byte program ANDs bits in, 16-128 KiB sectors */
	SIM_FAM_L4,	 /* L4/G4: 64-bit double word + ECC, program once, 2 KiB pages */
	SIM_FAM_G0,	 /* as L4, G0 timings */
	SIM_FAM_H7,	 /* 256-bit flash word + ECC, program once, 128 KiB sectors */
	SIM_FAM_U5,	 /* 128-bit quad word + ECC, program once, 8 KiB pages [inf] */
	SIM_FAM_GENERIC, /* a generic DFU device's NOR flash: ANDs bits in */
};

enum sim_busy_mode {
	SIM_BUSY_NAK,	 /* held until done (CPU in the flash loop) */
	SIM_BUSY_STALL,	 /* STALL when polled early (STM32L4/F072) */
	SIM_BUSY_REPEAT, /* dfuDNBUSY again (STM32H743) */
	SIM_BUSY_STRICT, /* STALL and dfuERROR (tinyusb) */
};

enum sim_clr_mode {
	SIM_CLR_ST,	 /* outside dfuERROR: → dfuERROR/errUNKNOWN (ST HAL, H7 ROM) */
	SIM_CLR_STRICT,	 /* outside dfuERROR: STALL (STM32C5 ROM, tinyusb) */
	SIM_CLR_LENIENT, /* outside dfuERROR: → dfuIDLE */
};

enum sim_leave {
	SIM_LEAVE_ANSWER_THEN_VANISH,
	SIM_LEAVE_VANISH_DURING_STATUS,
	SIM_LEAVE_VANISH_BEFORE_STATUS,
	SIM_LEAVE_STAY,
	SIM_LEAVE_NEEDS_SET_ADDRESS,
};

enum sim_jump {
	SIM_JUMP_VECTOR_TABLE, /* MSP ← [ptr], PC ← [ptr+4] */
	SIM_JUMP_ENTRY_POINT,  /* PC ← ptr (H7 reports) */
	SIM_JUMP_SYSTEM_RESET, /* reset; boot the application at app_base (ST HAL, Particle, GD32)
				*/
};

enum sim_oversize {
	SIM_OVERSIZE_STALL,    /* STALL, dfuERROR/errSTALLEDPKT (STM32G431) */
	SIM_OVERSIZE_TRUNCATE, /* use the first wTransferSize bytes (ST HAL) */
};

struct sim_profile {
	const char *name;
	const char *description;
	/* DFU-mode identity: device descriptor and strings */
	uint16_t vid, pid, bcd_device, bcd_usb;
	const char *manufacturer, *product, *serial;
	bool serial_utf8; /* GD32: serial string in UTF-8, not UTF-16LE */
	/* functional descriptor (DFU 1.1 §4.1.3) */
	uint8_t fd_attributes;
	uint16_t detach_timeout;
	uint16_t transfer_size;
	uint16_t bcd_dfu;
	uint8_t fd_length; /* 9, or 7 without bcdDFUVersion (Particle) */
	bool dfuse;	   /* ST DfuSe command set; false = generic DFU 1.1 */
	const struct sim_alt *alts;
	uint8_t n_alts;
	/* physical memory: every region the device has, advertised or not */
	const struct sim_group *const *memory;
	uint8_t n_memory;
	enum sim_family family;
	uint32_t flash_base; /* default Address Pointer (AN2662: before any Set Address) */
	/* announced bwPollTimeout in ms (ST ROM: 100 for an erase, 104 otherwise) */
	uint16_t poll_erase_ms, poll_other_ms, poll_set_address_ms;
	enum sim_busy_mode busy;
	enum sim_clr_mode clr;
	enum sim_leave leave;
	enum sim_jump jump;
	enum sim_oversize oversize;
	bool skip_dnbusy;
	bool set_address_rdp_fails;
	uint8_t initial_state, initial_status;
	const uint8_t *commands; /* Get Commands reply */
	uint8_t n_commands;
	/* option bytes: RDP byte and nWRP bits (1 = not protected, one per sector) */
	uint32_t ob_base;
	int8_t ob_rdp_offset;  /* -1: no RDP byte */
	uint8_t ob_rdp_level0; /* 0xAA (most) or 0xA5 (F1, GD32) */
	int8_t ob_wrp_offset;  /* -1: WRP only through the wrp= setting */
	uint8_t ob_wrp_bits;
	const uint8_t *ob_default;
	bool otp_lock_bytes; /* F2/F4: 16 lock bytes after the data blocks (RM0090 §3.8) */
	uint32_t otp_base;
	uint16_t otp_block; /* data block size */
	uint8_t otp_blocks;
	/* the application */
	uint32_t app_base; /* where SYSTEM_RESET finds the vector table */
	/* generic device booting by vector table: where it looks when app_base holds none */
	uint32_t app_base_fallback;
	bool app_gone;	/* the application has no DFU interface: it leaves every DFU listing */
	bool app_riscv; /* GD32VF103: code at app_base, no vector table */
	uint16_t app_vid, app_pid, app_bcd_device;
	const char *app_product;
	uint8_t app_fd_attributes;
	uint16_t app_bcd_dfu;
	/* generic DFU 1.1 */
	bool starts_in_runtime;
	uint16_t manifest_ms;
};

const struct sim_profile *sim_profile_find(const char *name);

/* Size in bytes of a run's unit and of a whole group. */
uint32_t sim_run_unit(const struct sim_run *r);
uint32_t sim_group_size(const struct sim_group *g);

/*
 * Format an alt's DfuSe layout string, "@name/0xADDR/NN*SSSKt,...[/0xADDR/...]", into
 * @buf.  Returns the length (as snprintf), truncating at @cap.
 */
int sim_alt_format(const struct sim_alt *alt, char *buf, size_t cap);
