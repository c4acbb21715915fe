// SPDX-License-Identifier: GPL-2.0-or-later
/* The simulated device: bus presence and re-enumeration, standard requests, the DFU 1.1
 * state machine (DFU 1.1 §6 and appendix A, as tinyusb's dfu_device.c implements it) for
 * generic devices and the run-time mode, and the request faults.  The DfuSe command layer
 * lives in sim-dfuse.c. */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "macro.h"
#include "sim-internal.h"
#include "util.h"

#define NEVER UINT64_MAX

/* ---- time ---------------------------------------------------------------------------- */

static uint64_t real_clock(void *ctx)
{
	struct timespec ts;

	(void)ctx;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

uint64_t sim_now(struct sim_device *d)
{
	return d->clock.now_us(d->clock.ctx);
}

uint64_t sim_scaled(struct sim_device *d, uint64_t us)
{
	return (uint64_t)((double)us * d->time_scale * d->cfg.busy_factor);
}

void sim_setup_parse(const uint8_t raw[8], struct sim_setup *out)
{
	out->bmRequestType = raw[0];
	out->bRequest = raw[1];
	out->wValue = le16_get(raw + 2);
	out->wIndex = le16_get(raw + 4);
	out->wLength = le16_get(raw + 6);
}

void sim_status_reply(uint8_t *buf, uint8_t status, uint32_t poll_ms, uint8_t state)
{
	/* DFU 1.1 §6.1.2: bStatus, bwPollTimeout (24-bit LE), bState, iString */
	buf[0] = status;
	buf[1] = (uint8_t)poll_ms;
	buf[2] = (uint8_t)(poll_ms >> 8);
	buf[3] = (uint8_t)(poll_ms >> 16);
	buf[4] = state;
	buf[5] = 0;
}

/* ---- bus events ---------------------------------------------------------------------- */

static void push_event(struct sim_device *d, enum sim_event_type type, enum sim_mode mode,
		       uint64_t at, const char *reason)
{
	struct sim_event *ev;

	if (d->ev_count == SIM_MAX_EVENTS) {
		/* the front end is not listening: drop the oldest */
		d->ev_head = (d->ev_head + 1) % SIM_MAX_EVENTS;
		d->ev_count--;
	}
	ev = &d->events[(d->ev_head + d->ev_count++) % SIM_MAX_EVENTS];
	ev->type = type;
	ev->mode = mode;
	ev->generation = d->generation;
	ev->at_us = at;
	ev->reason = reason;
	sim_log_event(d, type == SIM_EVENT_CONNECT ? "connect" : "disconnect", reason, at);
}

void sim_disconnect(struct sim_device *d, uint64_t now, const char *reason, bool reconnect,
		    enum sim_mode mode, uint64_t reconnect_at)
{
	if (d->connected) {
		d->connected = false;
		push_event(d, SIM_EVENT_DISCONNECT, d->mode, now, reason);
	}
	d->reconnect_at = reconnect ? reconnect_at : NEVER;
	d->reconnect_mode = mode;
}

void sim_fault_disconnect(struct sim_device *d, uint64_t now, const char *reason)
{
	sim_disconnect(d, now, reason, d->cfg.replug, SIM_MODE_DFU, now + d->cfg.replug_us);
	d->power_cycle_at_plug = d->cfg.replug;
}

static void connect_now(struct sim_device *d, enum sim_mode mode, uint64_t at, const char *reason)
{
	d->mode = mode;
	d->reconnect_at = NEVER;
	if (mode == SIM_MODE_ABSENT)
		return;
	d->generation++;
	d->connected = true;
	push_event(d, SIM_EVENT_CONNECT, mode, at, reason);
}

/* ---- option bytes, ROM start, application ---------------------------------------------- */

static struct sim_region *ob_region(struct sim_device *d)
{
	if (d->p->ob_rdp_offset < 0 && d->p->ob_wrp_offset < 0)
		return NULL;
	return sim_memory_find(&d->mem, d->p->ob_base, 1);
}

void sim_apply_option_bytes(struct sim_device *d)
{
	struct sim_region *ob = ob_region(d);
	uint16_t nwrp = 0xFFFF;

	if (ob && d->p->ob_rdp_offset >= 0) {
		uint8_t v = ob->data[d->p->ob_rdp_offset];

		/* RM0090 §3.7.3: 0xAA level 0, 0xCC level 2, anything else level 1 */
		d->rdp = v == d->p->ob_rdp_level0 ? 0 : v == 0xCC ? 2 : 1;
	} else if (d->cfg.rdp >= 0) {
		d->rdp = (uint8_t)d->cfg.rdp;
	}
	if (ob && d->p->ob_wrp_offset >= 0)
		nwrp = le16_get(ob->data + d->p->ob_wrp_offset);
	for (size_t i = 0; i < d->mem.n; i++) {
		struct sim_region *r = &d->mem.regions[i];

		if (r->kind != SIM_REGION_FLASH)
			continue;
		for (size_t s = 0; s < r->n_sectors; s++) {
			struct sim_sector *sec = &r->sectors[s];

			sec->wrp = r->base == d->p->flash_base && d->p->ob_wrp_offset >= 0 &&
				   s < d->p->ob_wrp_bits && !(nwrp & (1u << s));
			for (unsigned k = 0; k < d->cfg.n_wrp; k++)
				if (d->cfg.wrp[k] >= sec->start &&
				    d->cfg.wrp[k] - sec->start < sec->size)
					sec->wrp = true;
		}
	}
}

void sim_rom_start(struct sim_device *d)
{
	uint64_t now = sim_now(d);

	uint8_t *data = d->op.data;

	sim_apply_option_bytes(d);
	memset(&d->op, 0, sizeof(d->op));
	d->op.data = data;
	d->state = SIM_DFU_IDLE;
	d->status = SIM_OK_STATUS;
	d->alt = 0;
	d->pointer = d->jump_addr = d->p->flash_base;
	d->addr_set = false;
	d->busy_until = 0;
	d->hung = false;
	d->stall_next = false;
	d->fail_op = 0;
	d->app_running = false;
	d->app_vector = d->app_entry = 0;
	d->manifest_until = 0;
	d->detach_until = NEVER;
	d->gen_offset = 0;
	if (d->cfg.start_error) {
		/* ROMs that start (or are reset into) dfuERROR/errFIRMWARE, as dfu-util logs of F4
		 * and GD32VF103 ROMs show, or errVENDOR (a command refused under RDP) */
		d->state = SIM_DFU_ERROR;
		d->status = d->cfg.start_error;
	}
	if (d->first_start && d->cfg.start_state >= 0) {
		/* the state a killed previous host run left behind: the ROM keeps its DFU state
		 * between host programs (dfu-util logs show dfuDNLOAD-IDLE at the start) */
		d->state = (uint8_t)d->cfg.start_state;
		d->status = SIM_OK_STATUS;
		if (d->state == SIM_DFU_DNBUSY) {
			d->op.executed = true;
			d->op.result = SIM_OK_STATUS;
			d->busy_until = now + sim_scaled(d, 1000000);
		}
	}
	d->first_start = false;
}

static enum sim_mode power_on_mode(struct sim_device *d, uint32_t *vector, uint32_t *entry);

/* A generic bootloader that checks the vector table itself (Maple) rather than keeping a
 * "firmware valid" flag. */
static bool boots_by_vector(const struct sim_device *d)
{
	return !d->p->dfuse && d->p->jump == SIM_JUMP_VECTOR_TABLE;
}

bool sim_vector_table_valid(struct sim_device *d, uint32_t vtor, uint32_t *entry)
{
	struct sim_region *vr = sim_memory_find(&d->mem, vtor, 8);
	struct sim_region *ram = NULL, *code;
	uint32_t sp, pc;

	if (!vr || vr->kind != SIM_REGION_FLASH || vtor % 4)
		return false;
	sp = le32_get(vr->data + (vtor - vr->base));
	pc = le32_get(vr->data + (vtor + 4 - vr->base));
	/* the initial MSP may point one past the end of RAM */
	for (size_t i = 0; i < d->mem.n; i++) {
		struct sim_region *r = &d->mem.regions[i];

		if (r->kind == SIM_REGION_RAM && sp > r->base && sp <= r->base + r->size)
			ram = r;
	}
	if (!ram || sp % 4)
		return false;
	/* Thumb reset handler inside programmed flash */
	code = sim_memory_find(&d->mem, pc & ~1u, 4);
	if (!(pc & 1) || !code || code->kind != SIM_REGION_FLASH ||
	    sim_region_is_erased(code, pc & ~1u, 4))
		return false;
	if (entry)
		*entry = pc;
	return true;
}

/* SYSTEM_RESET boot of a flash bootloader or GD32: the image at app_base. */
static bool app_at_base_valid(struct sim_device *d, uint32_t *vector, uint32_t *entry)
{
	if (d->p->app_riscv) {
		/* RISC-V: execution starts at the base; no vector table to check */
		struct sim_region *r = sim_memory_find(&d->mem, d->p->app_base, 4);

		if (!r || sim_region_is_erased(r, d->p->app_base, 4))
			return false;
		*vector = 0;
		*entry = d->p->app_base;
		return true;
	}
	*vector = d->p->app_base;
	return sim_vector_table_valid(d, d->p->app_base, entry);
}

void sim_app_start(struct sim_device *d, uint64_t at, uint32_t vector, uint32_t entry,
		   const char *reason)
{
	d->app_running = true;
	d->app_vector = vector;
	d->app_entry = entry;
	d->state = SIM_APP_IDLE;
	d->status = SIM_OK_STATUS;
	d->detach_until = NEVER;
	sim_log_note(d, "application starts: vector 0x%08x entry 0x%08x", (unsigned)vector,
		     (unsigned)entry);
	sim_disconnect(d, sim_now(d), reason, true,
		       d->cfg.app_gone ? SIM_MODE_ABSENT : SIM_MODE_RUNTIME, at + d->cfg.reenum_us);
}

void sim_system_reset(struct sim_device *d, uint64_t at, const char *reason)
{
	uint32_t vector = 0, entry = 0;
	enum sim_mode mode;

	sim_disconnect(d, sim_now(d), reason, false, SIM_MODE_ABSENT, NEVER);
	mode = power_on_mode(d, &vector, &entry);
	if (mode == SIM_MODE_RUNTIME) {
		sim_app_start(d, at, vector, entry, reason);
		return;
	}
	d->reconnect_at = at + d->cfg.reenum_us;
	d->reconnect_mode = mode;
}

/* The STM32duino bootloader's checkUserCode(): an image is there when its initial stack
 * pointer looks like SRAM, (sp & 0x2FFE0000) == 0x20000000; the reset vector is not
 * looked at, so a sketch linked for another address is started all the same. */
static bool maple_image_at(struct sim_device *d, uint32_t base, uint32_t *entry)
{
	uint8_t w[8];

	if (sim_device_mem_read(d, base, w, sizeof(w)) < 0)
		return false;
	if ((le32_get(w) & 0x2FFE0000u) != 0x20000000u)
		return false;
	*entry = le32_get(w + 4);
	return true;
}

/* What the chip runs after a reset: option bytes reload, then boot0 / boot loader logic. */
static enum sim_mode power_on_mode(struct sim_device *d, uint32_t *vector, uint32_t *entry)
{
	sim_apply_option_bytes(d);
	d->app_running = false;
	if (d->rdp == 2) {
		/* RDP level 2 disables system-memory boot (RM0090 §3.7.3): never enumerates */
		d->state = SIM_DFU_IDLE;
		return SIM_MODE_ABSENT;
	}
	if (boots_by_vector(d)) {
		/* Maple: the image at app_base, else the one at the fallback, else DFU */
		*vector = d->p->app_base;
		if (!maple_image_at(d, *vector, entry)) {
			*vector = d->p->app_base_fallback;
			if (!*vector || !maple_image_at(d, *vector, entry)) {
				sim_rom_start(d);
				return SIM_MODE_DFU;
			}
		}
		return SIM_MODE_RUNTIME;
	}
	if (!d->p->dfuse) {
		/* generic device: its bootloader starts a valid application, else stays in DFU
		 * with errFIRMWARE (DFU 1.1 §6.1.2, tinyusb firmware_valid_check) */
		if (d->fw_valid) {
			*vector = 0;
			*entry = 0;
			return SIM_MODE_RUNTIME;
		}
		sim_rom_start(d);
		d->state = SIM_DFU_ERROR;
		d->status = SIM_ERR_FIRMWARE;
		return SIM_MODE_DFU;
	}
	if (d->p->jump == SIM_JUMP_SYSTEM_RESET) {
		/* a flash bootloader (ST HAL IAP, Particle, GD32 leave): boots the app when valid
		 */
		if (app_at_base_valid(d, vector, entry))
			return SIM_MODE_RUNTIME;
		sim_rom_start(d);
		return SIM_MODE_DFU;
	}
	if (d->cfg.boot0) {
		sim_rom_start(d);
		return SIM_MODE_DFU;
	}
	if (app_at_base_valid(d, vector, entry))
		return SIM_MODE_RUNTIME;
	return SIM_MODE_ABSENT;
}

/* ---- timed transitions ----------------------------------------------------------------- */

static enum sim_mode power_cycle(struct sim_device *d);

static bool manifest_tolerant(struct sim_device *d)
{
	return d->cfg.fd_attributes & 0x04;
}

static void tick(struct sim_device *d, uint64_t now)
{
	if (!d->connected && d->reconnect_at <= now && d->power_cycle_at_plug) {
		uint64_t at = d->reconnect_at;

		/* replug=: someone plugs the device in again (maybe another board) */
		d->power_cycle_at_plug = false;
		if (d->cfg.replug_serial[0])
			memcpy(d->cfg.serial, d->cfg.replug_serial, sizeof(d->cfg.serial));
		connect_now(d, power_cycle(d), at, "plug");
	}
	if (!d->connected && d->reconnect_at <= now) {
		uint64_t at = d->reconnect_at;

		connect_now(d, d->reconnect_mode, at, "enumerate");
		if (d->mode == SIM_MODE_RUNTIME)
			d->state = SIM_APP_IDLE;
	}
	if (d->state == SIM_DFU_DNBUSY && d->busy_until <= now)
		d->state = SIM_DFU_DNLOAD_SYNC; /* DFU 1.1: dfuDNBUSY → dfuDNLOAD-SYNC when done */
	if (d->state == SIM_DFU_MANIFEST && d->manifest_until <= now && !d->p->dfuse)
		d->state =
		    manifest_tolerant(d) ? SIM_DFU_MANIFEST_SYNC : SIM_DFU_MANIFEST_WAIT_RESET;
	if (d->state == SIM_APP_DETACH && d->detach_until <= now) {
		/* DFU 1.1 §5.1: no USB reset within wDetachTimeOut: back to appIDLE */
		d->state = SIM_APP_IDLE;
		d->detach_until = NEVER;
	}
}

/* ---- life cycle ------------------------------------------------------------------------- */

/* The message for a failed sim_device_new(), when the caller gave a buffer. */
static void report(const struct sim_options *opts, const char *fmt, ...) _printf_format_(2, 3);
static void report(const struct sim_options *opts, const char *fmt, ...)
{
	va_list ap;

	if (!opts || !opts->errbuf || !opts->errbuf_size)
		return;
	va_start(ap, fmt);
	vsnprintf(opts->errbuf, opts->errbuf_size, fmt, ap);
	va_end(ap);
}

/* The option-dependent parts of a new device: configuration, clock, log sink. */
static int apply_options(struct sim_device *d, const struct sim_options *opts)
{
	int r = sim_config_init(&d->cfg, d->p, opts ? opts->faults : NULL,
				opts ? opts->errbuf : NULL, opts ? opts->errbuf_size : 0);

	if (r < 0)
		return r;
	d->clock.now_us = real_clock;
	if (opts && opts->clock.now_us)
		d->clock = opts->clock;
	d->time_scale = opts && opts->time_scale >= 0 ? opts->time_scale : 1.0;
	if (opts) {
		d->log_fn = opts->log_fn;
		d->log_ctx = opts->log_ctx;
	}
	return 0;
}

/* rdp=N: program the RDP option byte, so Read Unprotect can clear it */
static void program_rdp(struct sim_device *d)
{
	const struct sim_profile *p = d->p;
	struct sim_region *ob = ob_region(d);

	if (ob && p->ob_rdp_offset >= 0)
		ob->data[p->ob_rdp_offset] = d->cfg.rdp == 0   ? p->ob_rdp_level0
					     : d->cfg.rdp == 1 ? 0x55
							       : 0xCC;
}

/* faulty-page=ADDR[:STATUS]: mark the sectors; -EINVAL for one outside the memory. */
static int mark_faulty_sectors(struct sim_device *d, const struct sim_options *opts)
{
	for (unsigned i = 0; i < d->cfg.n_faulty; i++) {
		struct sim_region *fr = sim_memory_find(&d->mem, d->cfg.faulty[i], 1);
		struct sim_sector *fs = fr ? sim_region_sector(fr, d->cfg.faulty[i]) : NULL;

		if (!fs) {
			report(opts, "faulty-page=0x%08x is outside the memory",
			       (unsigned)d->cfg.faulty[i]);
			return -EINVAL;
		}
		/* errVENDOR as rusefi #8803 saw on an ST ROM; errERASE elsewhere */
		fs->faulty_status = d->cfg.faulty_status[i] ? d->cfg.faulty_status[i]
				    : d->p->dfuse	    ? SIM_ERR_VENDOR
							    : SIM_ERR_ERASE;
	}
	return 0;
}

/* The first power-on: connect in whatever mode the chip boots into. */
static void power_on(struct sim_device *d)
{
	uint32_t vector = 0, entry = 0;
	enum sim_mode mode;

	d->reconnect_at = NEVER;
	d->detach_until = NEVER;
	d->first_start = true;
	/* a generic device ships with a valid application and starts in run-time mode */
	d->fw_valid = d->p->starts_in_runtime;
	mode = power_on_mode(d, &vector, &entry);
	if (mode == SIM_MODE_RUNTIME) {
		d->state = SIM_APP_IDLE;
		d->app_running = true;
		d->app_vector = vector;
		d->app_entry = entry;
	}
	connect_now(d, mode, sim_now(d), "power-on");
}

int sim_device_new(const char *profile, const struct sim_options *opts, struct sim_device **out)
{
	const struct sim_profile *p = sim_profile_find(profile);
	struct sim_device *d;
	int r;

	if (!out)
		return -EINVAL;
	*out = NULL;
	if (!p) {
		report(opts, "unknown profile '%s'", profile ? profile : "(null)");
		return -ENOENT;
	}
	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->p = p;
	r = apply_options(d, opts);
	if (r < 0)
		goto fail;
	r = sim_memory_init(&d->mem, p);
	if (r < 0)
		goto fail;
	d->op.data = calloc(1, MAX(d->cfg.block_size, p->transfer_size) + 1u);
	if (!d->op.data) {
		r = -ENOMEM;
		goto fail;
	}
	if (d->cfg.rdp >= 0)
		program_rdp(d);
	r = mark_faulty_sectors(d, opts);
	if (r < 0)
		goto fail;
	power_on(d);
	*out = d;
	return 0;
fail:
	sim_device_free(d);
	return r;
}

void sim_device_free(struct sim_device *d)
{
	if (!d)
		return;
	sim_memory_fini(&d->mem);
	free(d->op.data);
	free(d);
}

void sim_device_freep(struct sim_device **d)
{
	sim_device_free(*d);
	*d = NULL;
}

/* ---- generic DFU 1.1 (no DfuSe) --------------------------------------------------------- */

static struct sim_region *slot(struct sim_device *d)
{
	return &d->mem.regions[0];
}

static const struct sim_alt *cur_alt(struct sim_device *d)
{
	return d->alt < d->p->n_alts ? &d->p->alts[d->alt] : NULL;
}

/* The region the current alt's blocks go to, and their first offset in it. */
static struct sim_region *gen_region(struct sim_device *d, uint32_t *start)
{
	const struct sim_alt *a = cur_alt(d);
	struct sim_region *r;

	*start = 0;
	if (!a || a->target != SIM_ALT_AT_BASE)
		return slot(d);
	r = sim_memory_find(&d->mem, a->base, 1);
	if (!r)
		return slot(d);
	*start = a->base - r->base;
	return r;
}

static bool alt_refused(struct sim_device *d)
{
	const struct sim_alt *a = cur_alt(d);

	return a && a->target == SIM_ALT_REFUSED;
}

/* Maple: DNLOAD or UPLOAD on the alt without a target sets dfuERROR/errWRITE and the
 * request is not handled (STALL). */
static int refuse_alt(struct sim_device *d)
{
	d->state = SIM_DFU_ERROR;
	d->status = SIM_ERR_WRITE;
	return SIM_STALL;
}

/* Maple alt 1 erases the page at 0x08002000 as a download starts, so that the next boot
 * finds no image there. */
static void erase_at_start(struct sim_device *d)
{
	const struct sim_alt *a = cur_alt(d);
	struct sim_region *r =
	    a && a->erase_at_start ? sim_memory_find(&d->mem, a->erase_at_start, 1) : NULL;

	if (r)
		sim_region_erase(r, sim_region_sector(r, a->erase_at_start));
}

/* A request the current state does not allow: STALL; the strict table (DFU 1.1 appendix
 * A, tinyusb) also moves to dfuERROR, the ST ROM leaves the state alone (AN2662
 * flowcharts: "otherwise Stall"). */
static int bad_request(struct sim_device *d)
{
	if (!d->p->dfuse) {
		d->state = SIM_DFU_ERROR;
		d->status = SIM_ERR_STALLEDPKT;
	}
	return SIM_STALL;
}

static int generic_dnload(struct sim_device *d, struct sim_transfer *t)
{
	uint16_t len = t->setup.wLength;

	if (!(d->cfg.fd_attributes & 0x01))
		return bad_request(d);
	if (d->state != SIM_DFU_IDLE && d->state != SIM_DFU_DNLOAD_IDLE)
		return bad_request(d);
	if (d->state == SIM_DFU_IDLE && alt_refused(d))
		return refuse_alt(d);
	if (len == 0) {
		/* the zero-length terminator; in dfuIDLE there is nothing to end (DFU 1.1
		 * appendix A: dfuIDLE accepts DNLOAD only with wLength > 0) */
		if (d->state == SIM_DFU_IDLE)
			return bad_request(d);
		d->state = SIM_DFU_MANIFEST_SYNC;
		d->manifest_until = 0;
		return SIM_OK;
	}
	if (len > d->cfg.block_size) {
		if (d->cfg.oversize == SIM_OVERSIZE_STALL)
			return bad_request(d);
		len = d->cfg.block_size;
	}
	if (d->cfg.disconnect_at_byte_set && d->cfg.disconnect_at_byte >= d->dnload_bytes &&
	    d->cfg.disconnect_at_byte < d->dnload_bytes + len) {
		/* disconnect-at-byte: the cable goes during this block */
		d->cfg.disconnect_at_byte_set = false;
		sim_fault_disconnect(d, sim_now(d), "disconnect-at-byte");
		return SIM_GONE;
	}
	d->dnload_bytes += len;
	if (d->state == SIM_DFU_IDLE) {
		/* a new download replaces the application */
		gen_region(d, &d->gen_offset);
		d->gen_erased_to = d->gen_offset;
		d->fw_valid = false;
		d->fw_len = 0;
		erase_at_start(d);
	}
	memcpy(d->op.data, t->out_data, len);
	d->op.len = len;
	d->op.block = t->setup.wValue;
	d->op.pending = true;
	d->op.executed = false;
	d->state = SIM_DFU_DNLOAD_SYNC;
	return SIM_OK;
}

/* Write one generic block at the download cursor, erasing pages as the cursor enters
 * them, the way small bootloaders (tinyusb examples, dapboot) do. */
static void generic_execute(struct sim_device *d)
{
	uint32_t start;
	struct sim_region *r = gen_region(d, &start);
	uint64_t us = 0;

	d->op.pending = false;
	d->op.executed = true;
	d->op.result = SIM_OK_STATUS;
	d->op.duration_us = 0;
	if (d->fail_op) {
		/* status-on-request=DNLOAD: nothing erased or written */
		d->op.result = d->fail_op;
		d->fail_op = 0;
		return;
	}
	if ((uint64_t)d->gen_offset + d->op.len > r->size) {
		d->op.result = SIM_ERR_ADDRESS;
		return;
	}
	while (d->gen_erased_to < d->gen_offset + d->op.len) {
		struct sim_sector *s = sim_region_sector(r, r->base + d->gen_erased_to);

		if (s->faulty_status) {
			d->op.result = s->faulty_status;
			return;
		}
		sim_region_erase(r, s);
		us += sim_family_erase_us(d->p->family, s->size);
		d->gen_erased_to = s->start + s->size - r->base;
		if (++d->n_erase == d->cfg.disconnect_erase_k) {
			/* disconnect-on-erase: gone while it erases, before the block is written */
			d->vanish_after = true;
			d->op.duration_us = us;
			return;
		}
	}
	if (sim_region_program(r, r->base + d->gen_offset, d->op.data, d->op.len) < 0) {
		d->op.result = SIM_ERR_PROG;
		return;
	}
	us += sim_family_program_us(d->p->family, d->op.len);
	d->gen_offset += d->op.len;
	d->op.duration_us = us;
}

static uint32_t ms_ceil(uint64_t us)
{
	return (uint32_t)((us + 999) / 1000);
}

static int generic_getstatus(struct sim_device *d, struct sim_transfer *t, uint64_t now)
{
	uint8_t *b = t->in_buf;
	uint32_t poll = 0;

	switch (d->state) {
	case SIM_DFU_DNLOAD_SYNC:
		if (d->op.pending && d->cfg.skip_dnbusy) {
			/* Maple: the block is written inside this request, which is answered
			 * when done with dfuDNLOAD-IDLE and a zero bwPollTimeout */
			generic_execute(d);
			t->delay_us = sim_scaled(d, d->op.duration_us);
		}
		if (d->op.pending) {
			uint64_t dur;

			generic_execute(d);
			dur = sim_scaled(d, d->op.duration_us);
			/* erase and program in one step, as the bootloader does them */
			sim_log_busy(d, "write", dur, now);
			/* strict devices announce at least the real time (DFU 1.1 §6.1.2:
			 * bwPollTimeout is the minimum wait before the next GET_STATUS) */
			poll = sim_announced_ms(d, ms_ceil(dur));
			d->busy_until = now + dur;
			d->state = SIM_DFU_DNBUSY;
			break;
		}
		d->op.executed = false;
		if (d->op.result == SIM_OK_STATUS) {
			d->state = SIM_DFU_DNLOAD_IDLE;
		} else {
			d->state = SIM_DFU_ERROR;
			d->status = d->op.result;
		}
		break;
	case SIM_DFU_MANIFEST_SYNC:
		if (!d->manifest_until && d->fail_op) {
			/* status-on-request=DNLOAD: the manifestation fails */
			d->state = SIM_DFU_ERROR;
			d->status = d->fail_op;
			d->fail_op = 0;
			break;
		}
		if (!d->manifest_until && d->cfg.disconnect_manifest) {
			/* disconnect-on-manifest: power goes as the manifestation starts; the
			 * firmware was never marked valid */
			d->fw_valid = false;
			d->state = SIM_DFU_MANIFEST;
			d->vanish_after = true;
			break;
		}
		if (!d->manifest_until && d->cfg.skip_dnbusy) {
			/* Maple: straight to the end state, nothing to wait for */
			d->fw_len = d->gen_offset;
			d->fw_valid = d->fw_len > 0;
			d->state =
			    manifest_tolerant(d) ? SIM_DFU_IDLE : SIM_DFU_MANIFEST_WAIT_RESET;
			break;
		}
		if (!d->manifest_until) {
			uint64_t dur = sim_scaled(d, (uint64_t)d->p->manifest_ms * 1000);

			sim_log_busy(d, "manifest", dur, now);

			/* the download is complete: the firmware becomes valid once manifested */
			d->fw_len = d->gen_offset;
			d->fw_valid = d->fw_len > 0;
			d->manifest_until = now + dur;
			d->state = SIM_DFU_MANIFEST;
			poll = sim_announced_ms(d, ms_ceil(dur));
			break;
		}
		/* manifestation done on a tolerant device */
		d->manifest_until = 0;
		d->state = SIM_DFU_IDLE;
		break;
	default:
		break;
	}
	sim_status_reply(b, d->status, poll, d->state);
	return SIM_OK;
}

static int generic_upload(struct sim_device *d, struct sim_transfer *t)
{
	uint32_t start;
	struct sim_region *r = gen_region(d, &start);
	const struct sim_alt *a = cur_alt(d);
	uint32_t want = t->setup.wLength, n, end;

	if (!(d->cfg.fd_attributes & 0x02))
		return bad_request(d);
	if (d->state != SIM_DFU_IDLE && d->state != SIM_DFU_UPLOAD_IDLE)
		return bad_request(d);
	if (d->state == SIM_DFU_IDLE && alt_refused(d))
		return refuse_alt(d);
	if (want > d->cfg.block_size) {
		if (d->cfg.oversize == SIM_OVERSIZE_STALL)
			return bad_request(d);
		want = d->cfg.block_size;
	}
	if (++d->n_upload == d->cfg.disconnect_upload_k) {
		sim_fault_disconnect(d, sim_now(d), "disconnect-on-upload");
		return SIM_GONE;
	}
	if (d->state == SIM_DFU_IDLE)
		d->gen_offset = start;
	/* Maple reads the flash to its end, programmed or not */
	end = a && a->target == SIM_ALT_AT_BASE ? r->size : d->fw_len;
	n = end > d->gen_offset ? MIN(want, end - d->gen_offset) : 0;
	memcpy(t->in_buf, r->data + d->gen_offset, n);
	t->in_len = n;
	d->gen_offset += n;
	/* DFU 1.1 §6.2: a short frame ends the upload */
	d->state = n < t->setup.wLength ? SIM_DFU_IDLE : SIM_DFU_UPLOAD_IDLE;
	return SIM_OK;
}

/* ---- requests common to both DFU flavours ------------------------------------------------ */

static int do_clrstatus(struct sim_device *d)
{
	if (d->state == SIM_DFU_ERROR) {
		d->state = SIM_DFU_IDLE;
		d->status = SIM_OK_STATUS;
		d->op.pending = d->op.executed = false;
		return SIM_OK;
	}
	switch (d->cfg.clr) {
	case SIM_CLR_ST:
		/* ST HAL: CLRSTATUS outside dfuERROR reports errUNKNOWN (dfu-libusb issue 4) */
		d->state = SIM_DFU_ERROR;
		d->status = SIM_ERR_UNKNOWN;
		d->op.pending = d->op.executed = false;
		return SIM_OK;
	case SIM_CLR_LENIENT:
		d->state = SIM_DFU_IDLE;
		d->status = SIM_OK_STATUS;
		d->op.pending = d->op.executed = false;
		return SIM_OK;
	case SIM_CLR_STRICT:
	default:
		return bad_request(d);
	}
}

static int do_abort(struct sim_device *d)
{
	switch (d->state) {
	case SIM_DFU_IDLE:
	case SIM_DFU_DNLOAD_IDLE:
	case SIM_DFU_UPLOAD_IDLE:
		break;
	case SIM_DFU_DNLOAD_SYNC:
	case SIM_DFU_MANIFEST_SYNC:
		/* ST HAL DFU_Abort also leaves these */
		if (d->p->dfuse)
			break;
		return bad_request(d);
	default:
		/* ST: acknowledged, nothing happens; strict: STALL */
		return d->p->dfuse ? SIM_OK : bad_request(d);
	}
	d->state = SIM_DFU_IDLE;
	d->status = SIM_OK_STATUS;
	d->op.pending = d->op.executed = false;
	d->manifest_until = 0;
	return SIM_OK;
}

/* A request while dfuDNBUSY has not elapsed: NAKed until done, STALLed, answered with
 * dfuDNBUSY again, or the strict STALL to dfuERROR, as busy= says.  ROMs announce a
 * constant poll time, not the real duration, and devices differ in what an early poll
 * gets.  Returns -1 to go on processing normally (NAK mode, now moved to the end of the
 * busy period). */
static int while_busy(struct sim_device *d, struct sim_transfer *t, uint64_t *now)
{
	uint8_t req = t->setup.bRequest;
	enum sim_busy_mode mode = d->cfg.busy;

	if (d->busy_until == NEVER)
		mode = SIM_BUSY_REPEAT; /* stuck-dnbusy: H743 bank 2 keeps answering dfuDNBUSY */
	switch (mode) {
	case SIM_BUSY_NAK:
		t->delay_us = d->busy_until - *now;
		*now = d->busy_until;
		tick(d, *now);
		return -1;
	case SIM_BUSY_STALL:
		return SIM_STALL;
	case SIM_BUSY_STRICT:
		/* tinyusb: stall on all other requests, state → dfuERROR (status unchanged) */
		d->state = SIM_DFU_ERROR;
		return SIM_STALL;
	case SIM_BUSY_REPEAT:
	default:
		if (req == SIM_REQ_GETSTATUS) {
			sim_status_reply(t->in_buf, SIM_OK_STATUS,
					 sim_announced_ms(d, d->op.poll_ms), SIM_DFU_DNBUSY);
			t->in_len = MIN(6u, t->setup.wLength);
			return SIM_OK;
		}
		if (req == SIM_REQ_GETSTATE) {
			t->in_buf[0] = SIM_DFU_DNBUSY;
			t->in_len = MIN(1u, t->setup.wLength);
			return SIM_OK;
		}
		if (req == SIM_REQ_CLRSTATUS) {
			/* STM32CubeProgrammer's unstick: CLRSTATUS → (errUNKNOWN, dfuERROR) */
			d->busy_until = 0;
			d->op.pending = d->op.executed = false;
			d->state = SIM_DFU_ERROR;
			d->status = SIM_ERR_UNKNOWN;
			return SIM_OK;
		}
		return SIM_STALL;
	}
}

static int runtime_request(struct sim_device *d, struct sim_transfer *t, uint64_t now)
{
	switch (t->setup.bRequest) {
	case SIM_REQ_GETSTATUS:
		sim_status_reply(t->in_buf, SIM_OK_STATUS, 0, d->state);
		t->in_len = MIN(6u, t->setup.wLength);
		return SIM_OK;
	case SIM_REQ_GETSTATE:
		t->in_buf[0] = d->state;
		t->in_len = MIN(1u, t->setup.wLength);
		return SIM_OK;
	case SIM_REQ_DETACH:
		if (d->state != SIM_APP_IDLE)
			return SIM_STALL;
		if (d->cfg.app_fd_attributes & 0x08) {
			/* bitWillDetach: the device re-enumerates in DFU mode by itself
			 * (DFU 1.1 §5.1) */
			d->app_running = false;
			sim_disconnect(d, now, "detach", true, SIM_MODE_DFU,
				       now + d->cfg.reenum_us);
			sim_rom_start(d);
			if (!d->p->dfuse && !d->cfg.start_error)
				d->state = SIM_DFU_IDLE;
			return SIM_OK;
		}
		d->state = SIM_APP_DETACH;
		d->detach_until = now + (uint64_t)MIN(t->setup.wValue, d->p->detach_timeout) * 1000;
		return SIM_OK;
	default:
		return SIM_STALL;
	}
}

static int dfu_request(struct sim_device *d, struct sim_transfer *t, uint64_t now)
{
	switch (t->setup.bRequest) {
	case SIM_REQ_DETACH:
		/* AN3156: meaningless for the ROM bootloader, acknowledged */
		return d->p->dfuse ? SIM_OK : bad_request(d);
	case SIM_REQ_DNLOAD:
		return d->p->dfuse ? sim_dfuse_dnload(d, t, now) : generic_dnload(d, t);
	case SIM_REQ_UPLOAD:
		return d->p->dfuse ? sim_dfuse_upload(d, t, now) : generic_upload(d, t);
	case SIM_REQ_GETSTATUS: {
		int r = d->p->dfuse ? sim_dfuse_getstatus(d, t, now) : generic_getstatus(d, t, now);

		if (r == SIM_OK || r == SIM_GONE_AFTER_DATA)
			t->in_len = MIN(6u, t->setup.wLength);
		return r;
	}
	case SIM_REQ_CLRSTATUS:
		return do_clrstatus(d);
	case SIM_REQ_GETSTATE:
		t->in_buf[0] = d->state;
		t->in_len = MIN(1u, t->setup.wLength);
		return SIM_OK;
	case SIM_REQ_ABORT:
		return do_abort(d);
	default:
		return bad_request(d);
	}
}

/* Whether the request faults pick this class request; counts it. */
static int request_fault(struct sim_device *d, uint8_t req)
{
	uint64_t k;

	d->n_class++;
	k = req < SIM_REQ_COUNT ? ++d->n_req[req] : 0;
	if (d->cfg.stall_on == d->n_class || (d->cfg.stall_req == req && d->cfg.stall_req_k == k))
		return SIM_STALL;
	if (d->cfg.timeout_on == d->n_class ||
	    (d->cfg.timeout_req == req && d->cfg.timeout_req_k == k))
		return SIM_TIMEOUT;
	return SIM_OK;
}

static int class_dfu_request(struct sim_device *d, struct sim_transfer *t, uint64_t *now);

static int class_request(struct sim_device *d, struct sim_transfer *t, uint64_t *now)
{
	static const bool is_in[SIM_REQ_COUNT] = { false, false, true, true, false, true, false };
	uint8_t req = t->setup.bRequest;
	int r;

	if (t->setup.wIndex != 0 || req >= SIM_REQ_COUNT ||
	    is_in[req] != !!(t->setup.bmRequestType & 0x80))
		return SIM_STALL;
	r = request_fault(d, req);
	if (r != SIM_OK)
		return r;
	if (d->hung)
		return SIM_TIMEOUT;
	if (d->mode == SIM_MODE_RUNTIME)
		return runtime_request(d, t, *now);
	if (d->cfg.status_req == req && d->cfg.status_req_k == d->n_req[req]) {
		/* status-on-request: a DNLOAD's operation fails when it runs, any other
		 * request is refused at once with the status */
		if (req != SIM_REQ_DNLOAD) {
			d->state = SIM_DFU_ERROR;
			d->status = d->cfg.status_req_status;
			return SIM_STALL;
		}
		d->fail_op = d->cfg.status_req_status;
		r = class_dfu_request(d, t, now);
		if (r != SIM_OK ||
		    (d->state != SIM_DFU_DNLOAD_SYNC && d->state != SIM_DFU_MANIFEST_SYNC))
			d->fail_op = 0; /* refused: nothing to fail */
		return r;
	}
	return class_dfu_request(d, t, now);
}

static int class_dfu_request(struct sim_device *d, struct sim_transfer *t, uint64_t *now)
{
	int r;

	if (d->stall_next) {
		/* AN2662 Fig. 55: DNLOAD wBlockNum 1 ends in "Stall" */
		d->stall_next = false;
		d->state = SIM_DFU_ERROR;
		d->status = SIM_ERR_STALLEDPKT;
		return SIM_STALL;
	}
	if (d->state == SIM_DFU_DNBUSY && d->busy_until > *now) {
		r = while_busy(d, t, now);
		if (r >= 0)
			return r;
	}
	return dfu_request(d, t, *now);
}

/* ---- standard requests ---------------------------------------------------------------------- */

static int get_descriptor(struct sim_device *d, struct sim_transfer *t)
{
	uint8_t type = (uint8_t)(t->setup.wValue >> 8), index = (uint8_t)t->setup.wValue;
	uint8_t buf[2560];
	int n;

	switch (type) {
	case 0x01:
		n = sim_descriptor_device(d, buf, sizeof(buf));
		break;
	case 0x02:
		n = index == 0 ? sim_descriptor_config(d, buf, sizeof(buf)) : -ENOENT;
		break;
	case 0x03:
		n = sim_descriptor_string(d, index, t->setup.wIndex, buf, sizeof(buf));
		if (n == SIM_STALL)
			return SIM_STALL;
		break;
	case 0x21:
		n = sim_descriptor_functional(d, buf, sizeof(buf));
		break;
	default:
		n = -ENOENT;
		break;
	}
	if (n < 0)
		return SIM_STALL;
	t->in_len = MIN((size_t)n, (size_t)t->setup.wLength);
	memcpy(t->in_buf, buf, t->in_len);
	return SIM_OK;
}

static int standard_request(struct sim_device *d, struct sim_transfer *t)
{
	const struct sim_setup *s = &t->setup;
	uint8_t n_alts = d->mode == SIM_MODE_RUNTIME ? 1 : d->p->n_alts;

	switch (s->bmRequestType << 8 | s->bRequest) {
	case 0x8006: /* GET_DESCRIPTOR (device) */
	case 0x8106: /* GET_DESCRIPTOR (interface): the functional descriptor */
		return get_descriptor(d, t);
	case 0x8000: /* GET_STATUS (device): self powered */
	case 0x8100:
	case 0x8200:
		t->in_buf[0] = s->bmRequestType == 0x80 ? 0x01 : 0x00;
		t->in_buf[1] = 0;
		t->in_len = MIN(2u, s->wLength);
		return SIM_OK;
	case 0x8008: /* GET_CONFIGURATION */
		t->in_buf[0] = 1;
		t->in_len = MIN(1u, s->wLength);
		return SIM_OK;
	case 0x0009: /* SET_CONFIGURATION */
		return s->wValue <= 1 ? SIM_OK : SIM_STALL;
	case 0x0005: /* SET_ADDRESS: the front end owns addresses */
	case 0x0001: /* CLEAR_FEATURE */
	case 0x0003: /* SET_FEATURE */
		return SIM_OK;
	case 0x810A: /* GET_INTERFACE */
		if (s->wIndex != 0)
			return SIM_STALL;
		t->in_buf[0] = d->alt;
		t->in_len = MIN(1u, s->wLength);
		return SIM_OK;
	case 0x010B: /* SET_INTERFACE */
		if (s->wIndex != 0 || s->wValue >= n_alts)
			return SIM_STALL;
		d->alt = (uint8_t)s->wValue;
		return SIM_OK;
	default:
		return SIM_STALL;
	}
}

/* Whether the K-th occurrence setting @k (0: every one) picks GET_STATUS number @n. */
static bool picks(uint64_t k, uint64_t n)
{
	return k == 0 || k == n;
}

/* The GET_STATUS reply as a hostile device garbles it, after the request did its work:
 * bad-state= reports a bState DFU 1.1 does not define, short-status= sends fewer than 6
 * bytes (0: a zero-length reply). */
static void garble_status(struct sim_device *d, struct sim_transfer *t)
{
	uint64_t n = d->n_req[SIM_REQ_GETSTATUS];
	uint8_t *b = t->in_buf;

	if (d->mode != SIM_MODE_DFU || t->setup.bRequest != SIM_REQ_GETSTATUS || t->in_len < 6)
		return;
	if (d->cfg.bad_state >= 0 && picks(d->cfg.bad_state_k, n))
		b[4] = (uint8_t)d->cfg.bad_state;
	if (d->cfg.short_status >= 0 && picks(d->cfg.short_status_k, n))
		t->in_len = (size_t)d->cfg.short_status;
}

/* ---- public entry points --------------------------------------------------------------------- */

int sim_device_submit(struct sim_device *d, struct sim_transfer *t)
{
	uint8_t scratch[64], *user_in;
	uint64_t now;
	uint8_t before;
	int r;

	if (!d || !t)
		return -EINVAL;
	if (t->setup.bmRequestType & 0x80) {
		if (t->setup.wLength && (!t->in_buf || t->in_cap < t->setup.wLength))
			return -EINVAL;
	} else if (t->setup.wLength && !t->out_data) {
		return -EINVAL;
	}
	t->in_len = 0;
	t->delay_us = 0;
	/* replies are built whole (GET_STATUS is 6 bytes): short requests get a scratch
	 * buffer and receive only wLength bytes of it */
	user_in = t->in_buf;
	if ((t->setup.bmRequestType & 0x80) && t->setup.wLength < sizeof(scratch))
		t->in_buf = scratch;
	now = sim_now(d);
	tick(d, now);
	before = d->state;
	if (!d->connected || (t->generation && t->generation != d->generation)) {
		r = SIM_GONE;
	} else if ((t->setup.bmRequestType & 0x60) == 0x20 &&
		   (t->setup.bmRequestType & 0x1f) == 0x01) {
		r = class_request(d, t, &now);
		if (r == SIM_OK)
			garble_status(d, t);
	} else if ((t->setup.bmRequestType & 0x60) == 0x00) {
		r = standard_request(d, t);
	} else {
		r = SIM_STALL;
	}
	if (r != SIM_OK && r != SIM_GONE_AFTER_DATA)
		t->in_len = 0;
	t->in_len = MIN(t->in_len, (size_t)t->setup.wLength);
	if (r != SIM_GONE) {
		/* slow=: every answer comes just in time (or just too late) */
		t->delay_us += d->cfg.slow_us;
	}
	if (d->vanish_after) {
		/* answered; then the device drops off the bus (disconnect-on-erase, -manifest) */
		d->vanish_after = false;
		sim_fault_disconnect(d, now, "fault-disconnect");
	}
	if (t->in_buf != user_in) {
		if (t->in_len)
			memcpy(user_in, t->in_buf, t->in_len);
		t->in_buf = user_in;
	}
	sim_log_transfer(d, t, now, r, before, d->state, d->status);
	return r;
}

int sim_device_control(struct sim_device *d, const struct sim_setup *setup, const uint8_t *out_data,
		       uint8_t *in_buf, size_t in_cap, size_t *in_len)
{
	struct sim_transfer t = {
		.out_data = out_data,
		.in_buf = in_buf,
		.in_cap = in_cap,
	};
	int r;

	if (!setup)
		return -EINVAL;
	t.setup = *setup;
	r = sim_device_submit(d, &t);
	if (in_len)
		*in_len = t.in_len;
	return r;
}

int sim_device_get_state(struct sim_device *d, struct sim_state *st)
{
	bool dfu;

	if (!d || !st)
		return -EINVAL;
	tick(d, sim_now(d));
	dfu = d->mode != SIM_MODE_RUNTIME;
	memset(st, 0, sizeof(*st));
	st->connected = d->connected;
	st->mode = d->connected ? d->mode : SIM_MODE_ABSENT;
	st->generation = d->generation;
	st->vid = dfu ? d->p->vid : d->p->app_vid;
	st->pid = dfu ? d->p->pid : d->p->app_pid;
	st->bcd_device = dfu ? d->p->bcd_device : d->p->app_bcd_device;
	st->dfu_state = d->state;
	st->dfu_status = d->status;
	st->alt = d->alt;
	st->address_pointer = d->pointer;
	st->rdp_level = d->rdp;
	st->app_running = d->app_running;
	st->app_vector = d->app_vector;
	st->app_entry = d->app_entry;
	st->reconnect_at_us = d->connected ? NEVER : d->reconnect_at;
	return 0;
}

int sim_device_next_event(struct sim_device *d, struct sim_event *ev)
{
	if (!d || !ev)
		return -EINVAL;
	tick(d, sim_now(d));
	if (!d->ev_count)
		return 0;
	*ev = d->events[d->ev_head];
	d->ev_head = (d->ev_head + 1) % SIM_MAX_EVENTS;
	d->ev_count--;
	return 1;
}

uint64_t sim_device_next_deadline(struct sim_device *d)
{
	uint64_t t = NEVER;

	if (!d)
		return NEVER;
	if (!d->connected)
		t = MIN(t, d->reconnect_at);
	if (d->state == SIM_DFU_DNBUSY)
		t = MIN(t, d->busy_until);
	if (d->state == SIM_DFU_MANIFEST && !d->p->dfuse)
		t = MIN(t, d->manifest_until);
	if (d->state == SIM_APP_DETACH)
		t = MIN(t, d->detach_until);
	return t;
}

int sim_device_usb_reset(struct sim_device *d)
{
	uint64_t now;

	if (!d)
		return -EINVAL;
	now = sim_now(d);
	tick(d, now);
	if (!d->connected)
		return SIM_GONE;
	sim_log_event(d, "usb-reset", sim_state_name(d->state), now);
	if (d->mode == SIM_MODE_RUNTIME) {
		if (d->state != SIM_APP_DETACH)
			return 0;
		/* DFU 1.1 §5.1: USB reset in appDETACH enters DFU mode */
		d->app_running = false;
		sim_disconnect(d, now, "detach-reset", true, SIM_MODE_DFU, now);
		sim_rom_start(d);
		if (!d->p->dfuse && !d->cfg.start_error)
			d->state = SIM_DFU_IDLE;
		tick(d, now);
		return 1;
	}
	if (d->p->dfuse) {
		/* a bus reset does not leave the ROM bootloader: it re-enumerates in DFU mode,
		 * which is why every host needs :leave (back to dfuIDLE: inferred) */
		d->state = SIM_DFU_IDLE;
		d->status = SIM_OK_STATUS;
		d->op.pending = d->op.executed = false;
		d->stall_next = false;
		d->busy_until = 0;
		d->hung = false;
		return 0;
	}
	if (boots_by_vector(d)) {
		/* Maple: a bus reset in dfuIDLE is ignored; in any other state the bootloader
		 * resets the chip, which then boots an image it finds */
		if (d->state == SIM_DFU_IDLE)
			return 0;
		sim_system_reset(d, now, "usb-reset");
		tick(d, now);
		return 1;
	}
	/* generic: valid firmware → application, else dfuERROR/errFIRMWARE (DFU 1.1 §6.1.2,
	 * tinyusb firmware_valid_check) */
	if (d->fw_valid) {
		sim_app_start(d, now, 0, 0, "usb-reset");
		d->reconnect_at = now; /* re-enumerates as part of the reset */
		tick(d, now);
		return 1;
	}
	d->state = SIM_DFU_ERROR;
	d->status = SIM_ERR_FIRMWARE;
	d->op.pending = d->op.executed = false;
	return 0;
}

/* A power cycle: option bytes reload, the ROM or the application starts by boot0, run
 * counters restart.  Returns what enumerates. */
static enum sim_mode power_cycle(struct sim_device *d)
{
	uint32_t vector = 0, entry = 0;
	enum sim_mode mode;

	d->run = 0;
	d->run_fails = false;
	d->langid_reads = 0;
	d->hung = false;
	d->stall_next = false;
	d->busy_until = 0;
	d->manifest_until = 0;
	d->op.pending = d->op.executed = false;
	mode = power_on_mode(d, &vector, &entry);
	if (mode == SIM_MODE_RUNTIME) {
		d->state = SIM_APP_IDLE;
		d->status = SIM_OK_STATUS;
		d->app_running = true;
		d->app_vector = vector;
		d->app_entry = entry;
	}
	return mode;
}

int sim_device_replug(struct sim_device *d)
{
	uint64_t now;

	if (!d)
		return -EINVAL;
	now = sim_now(d);
	sim_disconnect(d, now, "unplug", false, SIM_MODE_ABSENT, NEVER);
	d->power_cycle_at_plug = false;
	connect_now(d, power_cycle(d), now, "plug");
	return 0;
}

int sim_device_unplug(struct sim_device *d)
{
	if (!d)
		return -EINVAL;
	sim_disconnect(d, sim_now(d), "unplug", false, SIM_MODE_ABSENT, NEVER);
	return 0;
}

void sim_device_session_begin(struct sim_device *d)
{
	if (!d)
		return;
	d->run++;
	/* fail-every-second-run (ST community: an F405 that works "every other time"):
	 * every second run fails, counting from the first after power-on */
	d->run_fails = d->cfg.fail_every_second_run && d->run % 2 == 0;
	d->run_failed_once = false;
}

int sim_device_descriptors(struct sim_device *d, uint8_t *buf, size_t cap)
{
	int n;

	if (!d)
		return -EINVAL;
	tick(d, sim_now(d));
	if (!d->connected)
		return SIM_GONE;
	n = sim_descriptor_device(d, buf, cap);
	return n + sim_descriptor_config(d, cap > (size_t)n ? buf + n : NULL,
					 cap > (size_t)n ? cap - (size_t)n : 0);
}

int sim_device_string(struct sim_device *d, uint8_t index, char *buf, size_t cap)
{
	if (!d)
		return -EINVAL;
	return sim_string_text(d, index, buf, cap);
}

int sim_device_mem_read(struct sim_device *d, uint32_t address, uint8_t *buf, size_t len)
{
	struct sim_region *r;

	if (!d || (!buf && len))
		return -EINVAL;
	r = sim_memory_find(&d->mem, address, len);
	if (!r)
		return -ERANGE;
	memcpy(buf, r->data + (address - r->base), len);
	return 0;
}

int sim_device_mem_write(struct sim_device *d, uint32_t address, const uint8_t *buf, size_t len)
{
	struct sim_region *r;

	if (!d || (!buf && len))
		return -EINVAL;
	r = sim_memory_find(&d->mem, address, len);
	if (!r)
		return -ERANGE;
	memcpy(r->data + (address - r->base), buf, len);
	if (r->programmed) {
		/* loaded words count as programmed unless left erased */
		for (uint32_t u = (address - r->base) / r->unit;
		     u <= (address - r->base + len - 1) / r->unit && len; u++) {
			if (!sim_region_is_erased(r, r->base + u * r->unit, r->unit))
				r->programmed[u / 8] |= (uint8_t)(1u << (u % 8));
		}
	}
	if (!d->p->dfuse && r == slot(d)) {
		/* a loaded generic image is the application */
		d->fw_len = MAX(d->fw_len, address - r->base + (uint32_t)len);
		d->fw_valid = d->fw_len > 0;
	}
	return 0;
}

int sim_device_region(struct sim_device *d, size_t i, struct sim_region_info *info)
{
	if (!d || !info)
		return -EINVAL;
	if (i >= d->mem.n)
		return -ENOENT;
	info->kind = d->mem.regions[i].kind;
	info->base = d->mem.regions[i].base;
	info->size = d->mem.regions[i].size;
	return 0;
}
