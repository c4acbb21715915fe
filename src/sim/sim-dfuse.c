// SPDX-License-Identifier: GPL-2.0-or-later
/* The ST DfuSe command layer (AN3156, AN2662 text and flowcharts): DNLOAD commands and
 * writes executed on the first GET_STATUS, UPLOAD reads, read-out and write protection,
 * option bytes, OTP, and the leave jump.  [inf] marks behaviour inferred rather than
 * documented or observed. */
#include "config.h"

#include <string.h>

#include "macro.h"
#include "sim-internal.h"
#include "util.h"

#define NEVER UINT64_MAX

/* A failure the ROM reports as STALL plus dfuERROR/status (UPLOAD, oversize requests). */
static int stall_error(struct sim_device *d, uint8_t status)
{
	d->state = SIM_DFU_ERROR;
	d->status = status;
	return SIM_STALL;
}

int sim_dfuse_dnload(struct sim_device *d, struct sim_transfer *t, uint64_t now)
{
	uint16_t len = t->setup.wLength, block = t->setup.wValue;

	/* AN2662 Fig. 55: "dfuIDLE or dfuDNLOAD-IDLE? No → Stall", state unchanged */
	if (d->state != SIM_DFU_IDLE && d->state != SIM_DFU_DNLOAD_IDLE)
		return SIM_STALL;
	if (len == 0) {
		/* Leave DFU (AN2662: a zero-length DNLOAD); wValue is ignored, as in ST's
		 * usbd_dfu.c (dfu-util sends 2, pydfu 0) */
		d->state = SIM_DFU_MANIFEST_SYNC;
		if (d->cfg.leave == SIM_LEAVE_VANISH_BEFORE_STATUS && !d->fail_op) {
			/* GD32VF103, STM32H7RS: resets on the request itself */
			sim_dfuse_leave(d, now);
		}
		return SIM_OK;
	}
	if (len > d->cfg.block_size) {
		/* STM32G431 stalls 2048-byte blocks (siliconwitchery/web-stm32-updater issue 3);
		 * the ST HAL truncates to USBD_DFU_XFER_SIZE */
		if (d->cfg.oversize == SIM_OVERSIZE_STALL)
			return stall_error(d, SIM_ERR_STALLEDPKT);
		len = d->cfg.block_size;
	}
	if (block >= 2 && d->cfg.disconnect_at_byte_set &&
	    d->cfg.disconnect_at_byte >= d->dnload_bytes &&
	    d->cfg.disconnect_at_byte < d->dnload_bytes + len) {
		/* disconnect-at-byte: the cable goes during this block; earlier blocks are in
		 * flash */
		sim_log_note(d, "disconnect at download byte %llu",
			     (unsigned long long)d->cfg.disconnect_at_byte);
		d->cfg.disconnect_at_byte_set = false;
		sim_fault_disconnect(d, now, "disconnect-at-byte");
		return SIM_GONE;
	}
	if (block >= 2)
		d->dnload_bytes += len;
	memcpy(d->op.data, t->out_data, len);
	d->op.len = len;
	d->op.block = block;
	d->op.command = block == 0;
	d->op.pending = true;
	d->op.executed = false;
	d->state = SIM_DFU_DNLOAD_SYNC;
	return SIM_OK;
}

/* ---- execution (AN3156: on the first GET_STATUS after the DNLOAD) ---------------------- */

static void set_result(struct sim_device *d, uint8_t status)
{
	d->op.result = status;
}

static void erase_sector(struct sim_device *d, struct sim_region *r, struct sim_sector *s,
			 bool *stuck)
{
	if (s->faulty_status) {
		/* faulty-page (rusefi #8803): the sector stays programmed and the erase fails */
		set_result(d, s->faulty_status);
		return;
	}
	sim_region_erase(r, s);
	d->op.duration_us += sim_family_erase_us(d->p->family, s->size);
	if (d->cfg.stuck && s->start + s->size > d->cfg.stuck_from)
		*stuck = true;
}

static void cmd_set_address(struct sim_device *d, uint32_t addr)
{
	d->op.poll_ms = d->p->poll_set_address_ms;
	/* betaflight: F4/F7 ROMs refuse Set Address under RDP1, unlike AN2662 says */
	if (d->rdp && d->cfg.set_address_rdp_fails)
		return set_result(d, SIM_ERR_VENDOR);
	if (!sim_memory_find(&d->mem, addr, 1))
		return set_result(d, SIM_ERR_TARGET);
	d->pointer = addr;
	d->jump_addr = addr;
	d->addr_set = true;
}

static bool mass_erase_refused(const struct sim_device *d)
{
	for (size_t i = 0; i < d->mem.n; i++) {
		const struct sim_region *r = &d->mem.regions[i];

		if (r->kind != SIM_REGION_FLASH)
			continue;
		for (size_t s = 0; s < r->n_sectors; s++)
			if ((r->sectors[s].attr & SIM_ATTR_ERASE) && r->sectors[s].wrp)
				return true;
	}
	return false;
}

static void cmd_erase(struct sim_device *d, const uint8_t *data, uint16_t len, bool *stuck)
{
	d->op.poll_ms = d->p->poll_erase_ms;
	if (d->rdp)
		return set_result(d, SIM_ERR_VENDOR); /* AN2662: erase ignored under RDP1 */
	if (len == 1) {
		/* mass erase: all user flash, not OTP or option bytes (AN2662).  A
		 * chip with a write-protected sector refuses it whole (SWD tools:
		 * "Mass erase operation failed! Please verify flash protection");
		 * the ROM reports no error, as for erasing a protected page
		 * (AN2662 note) [inf]. */
		if (mass_erase_refused(d))
			return;
		for (size_t i = 0; i < d->mem.n; i++) {
			struct sim_region *r = &d->mem.regions[i];

			if (r->kind != SIM_REGION_FLASH)
				continue;
			for (size_t s = 0; s < r->n_sectors; s++)
				if (r->sectors[s].attr & SIM_ATTR_ERASE)
					erase_sector(d, r, &r->sectors[s], stuck);
		}
		d->op.duration_us = sim_family_mass_erase_us(d->p->family);
		return;
	}
	uint32_t addr = le32_get(data + 1);
	struct sim_region *r = sim_memory_find(&d->mem, addr, 1);
	struct sim_sector *s = r ? sim_region_sector(r, addr) : NULL;

	/* the page holding any address; only internal flash is erasable (AN2662; OTP cannot
	 * be erased, RM0090 §3.8) */
	if (!r || r->kind != SIM_REGION_FLASH || !s || !(s->attr & SIM_ATTR_ERASE))
		return set_result(d, SIM_ERR_TARGET);
	erase_sector(d, r, s, stuck);
}

static void cmd_read_unprotect(struct sim_device *d)
{
	struct sim_region *ob = sim_memory_find(&d->mem, d->p->ob_base, 1);

	d->op.poll_ms = d->p->poll_other_ms;
	if (d->cfg.unprotect_fails)
		return set_result(d, SIM_ERR_UNKNOWN); /* AN2662 Fig. 60 */
	/* RDP 1 → 0 mass-erases flash and SRAM, then reloads the option bytes (AN2662);
	 * OTP and option bytes stay */
	for (size_t i = 0; i < d->mem.n; i++) {
		struct sim_region *r = &d->mem.regions[i];

		if (r->kind == SIM_REGION_FLASH) {
			memset(r->data, 0xFF, r->size);
			if (r->programmed)
				memset(r->programmed, 0, r->size / r->unit / 8 + 1);
		} else if (r->kind == SIM_REGION_RAM) {
			memset(r->data, 0, r->size);
		}
	}
	if (ob && d->p->ob_rdp_offset >= 0)
		ob->data[d->p->ob_rdp_offset] = d->p->ob_rdp_level0;
	d->cfg.rdp = 0;
	d->op.duration_us = sim_family_mass_erase_us(d->p->family);
	d->op.after = SIM_AFTER_RESET;
}

/* F2/F4 OTP (RM0090 §3.8): data block i is locked once lock byte i reads 0x00. */
static bool otp_write_allowed(struct sim_device *d, struct sim_region *r, uint32_t addr,
			      uint16_t len)
{
	uint32_t data_size = (uint32_t)d->p->otp_blocks * d->p->otp_block;

	for (uint32_t off = addr - r->base; off < addr - r->base + len; off++) {
		if (off < data_size) {
			if (r->data[data_size + off / d->p->otp_block] == 0x00)
				return false;
		} else {
			uint8_t v = d->op.data[off - (addr - r->base)];

			if (v != 0x00 && v != 0xFF)
				sim_log_note(
				    d,
				    "OTP lock byte %u written with 0x%02x: block state undefined",
				    (unsigned)(off - data_size), v);
		}
	}
	return true;
}

static void write_memory(struct sim_device *d)
{
	uint16_t len = d->op.len;
	uint32_t t = d->cfg.block_size_wlength ? len : d->cfg.block_size;
	uint64_t addr64 = (uint64_t)d->pointer + (uint64_t)(d->op.block - 2) * t;
	uint32_t addr = (uint32_t)addr64;
	struct sim_region *r;

	d->op.poll_ms = d->p->poll_other_ms;
	if (d->rdp)
		return set_result(d, SIM_ERR_VENDOR);
	r = addr64 + len <= 0x100000000ull ? sim_memory_find(&d->mem, addr, len) : NULL;
	if (!r || r->kind == SIM_REGION_SYSTEM || !sim_region_allows(r, addr, len, SIM_ATTR_WRITE))
		return set_result(d, SIM_ERR_TARGET);
	switch (r->kind) {
	case SIM_REGION_OPTION:
		/* AN2662: the whole block from the base, then the device resets */
		if (addr != r->base || len != r->size)
			return set_result(d, SIM_ERR_TARGET);
		memcpy(r->data, d->op.data, len);
		d->op.duration_us = 50000; /* [inf] */
		d->op.after = SIM_AFTER_RESET;
		break;
	case SIM_REGION_OTP:
		if (d->p->otp_lock_bytes && !otp_write_allowed(d, r, addr, len))
			return set_result(d, SIM_ERR_TARGET);
		if (sim_region_program(r, addr, d->op.data, len) < 0)
			return set_result(d, d->cfg.prog_fail_status);
		d->op.duration_us = sim_family_program_us(d->p->family, len);
		break;
	case SIM_REGION_FLASH:
		/* the ROM does not check for erased cells: the flash decides (sim-memory.c) */
		if (sim_region_program(r, addr, d->op.data, len) < 0) {
			sim_log_note(d, "program refused at 0x%08x: word already programmed",
				     (unsigned)addr);
			set_result(d, d->cfg.prog_fail_status);
		}
		d->op.duration_us = sim_family_program_us(d->p->family, len);
		break;
	default:
		sim_region_program(r, addr, d->op.data, len);
		break;
	}
	/* "The Address Pointer can also be set through the last Write Memory operation" */
	d->jump_addr = addr;
	d->addr_set = false;
}

void sim_dfuse_execute(struct sim_device *d, uint64_t now)
{
	const uint8_t *data = d->op.data;
	uint16_t len = d->op.len;
	bool stuck = false;

	(void)now;
	d->op.pending = false;
	d->op.executed = true;
	d->op.result = SIM_OK_STATUS;
	d->op.after = SIM_AFTER_NONE;
	d->op.duration_us = 0;
	d->op.poll_ms = d->p->poll_other_ms;
	d->busy_until = 0;
	if (d->fail_op) {
		/* status-on-request=DNLOAD: the operation changes nothing and fails */
		set_result(d, d->fail_op);
		d->fail_op = 0;
		return;
	}
	if (d->run_fails && !d->run_failed_once) {
		/* fail-every-second-run: this run's first operation fails */
		d->run_failed_once = true;
		return set_result(d, SIM_ERR_UNKNOWN);
	}
	if (d->op.block == 1) {
		d->op.after = SIM_AFTER_STALL_NEXT;
		return;
	}
	if (d->op.block >= 2)
		return write_memory(d);
	if (data[0] == 0x21 && len == 5)
		cmd_set_address(d, le32_get(data + 1));
	else if (data[0] == 0x41 && (len == 1 || len == 5))
		cmd_erase(d, data, len, &stuck);
	else if (data[0] == 0x92 && len == 1)
		cmd_read_unprotect(d);
	else
		set_result(d, SIM_ERR_STALLEDPKT); /* "Unsupported command", AN2662 Fig. 55 */
	if (data[0] == 0x41 && (len == 1 || len == 5) &&
	    ++d->n_erase == d->cfg.disconnect_erase_k) {
		/* disconnect-on-erase: the device answers dfuDNBUSY, then drops off the bus
		 * while it erases (the sector ends up erased) */
		d->vanish_after = true;
		stuck = false;
	}
	if (stuck)
		d->busy_until = NEVER; /* stuck-dnbusy */
}

/* ---- GET_STATUS ------------------------------------------------------------------------- */

static int status_of_pending(struct sim_device *d, uint8_t *b, uint64_t now)
{
	uint64_t dur;
	uint32_t poll;

	sim_dfuse_execute(d, now);
	poll = sim_announced_ms(d, d->op.poll_ms);
	if (d->op.after == SIM_AFTER_STALL_NEXT) {
		d->op.executed = false;
		d->stall_next = true;
		d->state = SIM_DFU_DNBUSY;
		d->busy_until = now;
		sim_status_reply(b, SIM_OK_STATUS, poll, SIM_DFU_DNBUSY);
		return SIM_OK;
	}
	if (d->cfg.skip_dnbusy && d->op.command && d->op.after == SIM_AFTER_NONE) {
		/* STM32U5: straight to the result (dfu-util ticket 145) */
		if (d->busy_until == NEVER) {
			/* it runs the command inside this request: a stuck erase holds it
			 * (NAK) and everything after it until a USB reset */
			d->hung = true;
			sim_log_event(d, "hung", "stuck-dnbusy", now);
			return SIM_TIMEOUT;
		}
		d->op.executed = false;
		if (d->op.result == SIM_OK_STATUS) {
			d->state = SIM_DFU_DNLOAD_IDLE;
		} else {
			d->state = SIM_DFU_ERROR;
			d->status = d->op.result;
		}
		sim_status_reply(b, d->status, 0, d->state);
		return SIM_OK;
	}
	dur = sim_scaled(d, d->op.duration_us);
	sim_log_busy(d, d->op.block >= 2 ? "program" : "erase", dur, now);
	d->state = SIM_DFU_DNBUSY;
	if (d->busy_until != NEVER)
		d->busy_until = now + dur;
	sim_status_reply(b, SIM_OK_STATUS, poll, SIM_DFU_DNBUSY);
	if (d->op.after == SIM_AFTER_RESET && d->op.result == SIM_OK_STATUS) {
		/* option bytes / Read Unprotect: no second GET_STATUS (AN2662) */
		sim_system_reset(d, now + dur,
				 d->op.block >= 2 ? "option-bytes" : "read-unprotect");
	}
	return SIM_OK;
}

int sim_dfuse_getstatus(struct sim_device *d, struct sim_transfer *t, uint64_t now)
{
	uint8_t *b = t->in_buf;

	if (d->state == SIM_DFU_DNLOAD_SYNC && d->op.pending)
		return status_of_pending(d, b, now);
	if (d->state == SIM_DFU_DNLOAD_SYNC && d->op.executed) {
		d->op.executed = false;
		if (d->op.result == SIM_OK_STATUS) {
			d->state = SIM_DFU_DNLOAD_IDLE;
		} else {
			d->state = SIM_DFU_ERROR;
			d->status = d->op.result;
		}
	} else if (d->state == SIM_DFU_MANIFEST_SYNC) {
		if (d->fail_op) {
			/* status-on-request=DNLOAD: the leave request fails */
			d->state = SIM_DFU_ERROR;
			d->status = d->fail_op;
			d->fail_op = 0;
		} else if (d->cfg.leave == SIM_LEAVE_NEEDS_SET_ADDRESS && !d->addr_set) {
			/* STM32C071 (LibUsbDfu issue 13): leave without Set Address fails */
			d->state = SIM_DFU_ERROR;
			d->status = SIM_ERR_TARGET;
		} else if (d->cfg.disconnect_manifest) {
			/* disconnect-on-manifest: power goes before the jump */
			d->state = SIM_DFU_MANIFEST;
			sim_status_reply(b, SIM_OK_STATUS, 0, SIM_DFU_MANIFEST);
			d->vanish_after = true;
			return SIM_OK;
		} else {
			d->state = SIM_DFU_MANIFEST;
			sim_status_reply(b, SIM_OK_STATUS, 0, SIM_DFU_MANIFEST);
			sim_dfuse_leave(d, now);
			return d->cfg.leave == SIM_LEAVE_VANISH_DURING_STATUS ? SIM_GONE_AFTER_DATA
									      : SIM_OK;
		}
	}
	sim_status_reply(b, d->status, 0, d->state);
	return SIM_OK;
}

/* ---- UPLOAD ------------------------------------------------------------------------------- */

int sim_dfuse_upload(struct sim_device *d, struct sim_transfer *t, uint64_t now)
{
	uint16_t block = t->setup.wValue;
	uint32_t want = t->setup.wLength, tsize;
	uint64_t addr64;
	struct sim_region *r;

	/* AN3156: UPLOAD only in dfuIDLE or dfuUPLOAD-IDLE, else STALL, state unchanged */
	if (d->state != SIM_DFU_IDLE && d->state != SIM_DFU_UPLOAD_IDLE)
		return SIM_STALL;
	if (block == 0) {
		/* Get Commands; a short reply ends the upload (ST HAL) */
		t->in_len = MIN((size_t)d->p->n_commands, (size_t)want);
		memcpy(t->in_buf, d->p->commands, t->in_len);
		d->state = want > d->p->n_commands ? SIM_DFU_IDLE : SIM_DFU_UPLOAD_IDLE;
		return SIM_OK;
	}
	if (block == 1)
		return stall_error(d, SIM_ERR_STALLEDPKT);
	if (++d->n_upload == d->cfg.disconnect_upload_k) {
		sim_fault_disconnect(d, now, "disconnect-on-upload");
		return SIM_GONE;
	}
	if (want > d->cfg.block_size) {
		if (d->cfg.oversize == SIM_OVERSIZE_STALL)
			return stall_error(d, SIM_ERR_STALLEDPKT);
		want = d->cfg.block_size; /* ST HAL: a generic host takes it for the end */
	}
	/* AN2662: read refused under RDP whatever the target */
	if (d->rdp)
		return stall_error(d, SIM_ERR_VENDOR);
	tsize = d->cfg.block_size_wlength ? t->setup.wLength : d->cfg.block_size;
	addr64 = (uint64_t)d->pointer + (uint64_t)(block - 2) * tsize;
	r = addr64 + want <= 0x100000000ull ? sim_memory_find(&d->mem, (uint32_t)addr64, want)
					    : NULL;
	if (!r || !sim_region_allows(r, (uint32_t)addr64, want, SIM_ATTR_READ))
		return stall_error(d, SIM_ERR_TARGET); /* [inf] past the end of a region */
	memcpy(t->in_buf, r->data + ((uint32_t)addr64 - r->base), want);
	t->in_len = want;
	d->state = SIM_DFU_UPLOAD_IDLE;
	return SIM_OK;
}

/* ---- leave -------------------------------------------------------------------------------- */

/* entry-point jump: the pointer must be a reset handler of a flashed vector table. */
static bool find_entry(struct sim_device *d, uint32_t target, uint32_t *vector)
{
	for (size_t i = 0; i < d->mem.n; i++) {
		struct sim_region *r = &d->mem.regions[i];

		if (r->kind != SIM_REGION_FLASH)
			continue;
		/* VTOR alignment: 512 bytes covers every Cortex-M vector table size in use */
		for (uint32_t v = r->base; v + 8 <= r->base + r->size; v += 512) {
			uint32_t entry;

			if (sim_vector_table_valid(d, v, &entry) &&
			    (entry & ~1u) == (target & ~1u)) {
				*vector = v;
				return true;
			}
		}
	}
	return false;
}

void sim_dfuse_leave(struct sim_device *d, uint64_t now)
{
	uint32_t target = d->jump_addr, vector = 0, entry = 0;

	sim_log_note(d, "leave: jump to 0x%08x", (unsigned)target);
	if (d->cfg.leave == SIM_LEAVE_STAY) {
		/* STM32H743 ROM V9.0: disconnects, never starts the application */
		sim_disconnect(d, now, "leave", true, SIM_MODE_DFU, now + d->cfg.reenum_us);
		sim_rom_start(d);
		return;
	}
	switch (d->cfg.jump) {
	case SIM_JUMP_VECTOR_TABLE:
		/* MSP ← [ptr], PC ← [ptr+4], as the USART bootloader's Go command (AN3155) */
		if (sim_vector_table_valid(d, target, &entry))
			return sim_app_start(d, now, target, entry, "leave");
		break;
	case SIM_JUMP_ENTRY_POINT:
		/* H7 reports (ST community: an H743 leaves with 0x8008ACC): the pointer is the
		 * entry PC */
		if (find_entry(d, target, &vector))
			return sim_app_start(d, now, vector, target, "leave");
		break;
	case SIM_JUMP_SYSTEM_RESET:
	default:
		break;
	}
	/* "If the Address Pointer points to an address that doesn't contain executable code,
	 * then the device will be reset" and re-enters the ROM with BOOT0 high */
	if (d->cfg.jump != SIM_JUMP_SYSTEM_RESET)
		sim_log_note(d, "no executable code at 0x%08x: reset", (unsigned)target);
	sim_system_reset(d, now, "leave");
}
