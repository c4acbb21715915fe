/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Internals shared by the simulator's files: the device object, the effective
 * configuration (profile plus settings and faults) and the helpers between the DFU 1.1
 * layer (sim-device.c) and the DfuSe command layer (sim-dfuse.c). */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "sim-api.h"
#include "sim-memory.h"
#include "sim-profiles.h"

/* DFU 1.1 §6.1.2 states and statuses, with the spec's names. */
enum sim_dfu_state {
	SIM_APP_IDLE = 0,
	SIM_APP_DETACH = 1,
	SIM_DFU_IDLE = 2,
	SIM_DFU_DNLOAD_SYNC = 3,
	SIM_DFU_DNBUSY = 4,
	SIM_DFU_DNLOAD_IDLE = 5,
	SIM_DFU_MANIFEST_SYNC = 6,
	SIM_DFU_MANIFEST = 7,
	SIM_DFU_MANIFEST_WAIT_RESET = 8,
	SIM_DFU_UPLOAD_IDLE = 9,
	SIM_DFU_ERROR = 10,
};

enum sim_dfu_status {
	SIM_OK_STATUS = 0x00,
	SIM_ERR_TARGET = 0x01,
	SIM_ERR_FILE = 0x02,
	SIM_ERR_WRITE = 0x03,
	SIM_ERR_ERASE = 0x04,
	SIM_ERR_CHECK_ERASED = 0x05,
	SIM_ERR_PROG = 0x06,
	SIM_ERR_VERIFY = 0x07,
	SIM_ERR_ADDRESS = 0x08,
	SIM_ERR_NOTDONE = 0x09,
	SIM_ERR_FIRMWARE = 0x0A,
	SIM_ERR_VENDOR = 0x0B,
	SIM_ERR_USBR = 0x0C,
	SIM_ERR_POR = 0x0D,
	SIM_ERR_UNKNOWN = 0x0E,
	SIM_ERR_STALLEDPKT = 0x0F,
};

enum sim_dfu_request {
	SIM_REQ_DETACH = 0,
	SIM_REQ_DNLOAD = 1,
	SIM_REQ_UPLOAD = 2,
	SIM_REQ_GETSTATUS = 3,
	SIM_REQ_CLRSTATUS = 4,
	SIM_REQ_GETSTATE = 5,
	SIM_REQ_ABORT = 6,
	SIM_REQ_COUNT = 7,
};

const char *sim_state_name(uint8_t state);
const char *sim_request_name(uint8_t request);

enum sim_langid_fault { SIM_LANGID_OK, SIM_LANGID_EMPTY, SIM_LANGID_STALL, SIM_LANGID_FAIL_FIRST };

#define SIM_MAX_FAULTY 4
#define SIM_SERIAL_MAX 126 /* characters in a string descriptor (255 bytes, UTF-16) */
#define SIM_MAX_WRP 8

/* The profile's switches after sim_options.faults; parsed by sim-faults.c. */
struct sim_config {
	enum sim_busy_mode busy;
	enum sim_clr_mode clr;
	enum sim_leave leave;
	enum sim_jump jump;
	enum sim_oversize oversize;
	bool skip_dnbusy;
	bool set_address_rdp_fails;
	bool block_size_wlength;
	uint16_t fd_transfer_size; /* advertised */
	uint16_t block_size;	   /* used in the address formula and as the block limit */
	uint8_t fd_length;
	uint8_t fd_attributes;
	uint8_t app_fd_attributes;
	uint8_t start_error; /* nonzero: every ROM start is dfuERROR with this status */
	int start_state;     /* -1, or a leftover state for the first start */
	bool boot0;
	bool app_gone;
	uint32_t reenum_us;
	uint8_t prog_fail_status;
	int rdp; /* -1: as the option bytes say */
	bool unprotect_fails;
	/* request faults */
	uint64_t stall_on, timeout_on; /* 0: off */
	int stall_req, timeout_req;    /* -1: off */
	uint64_t stall_req_k, timeout_req_k;
	int status_req; /* -1: off */
	uint64_t status_req_k;
	uint8_t status_req_status;
	bool disconnect_at_byte_set;
	uint64_t disconnect_at_byte;
	double busy_factor;
	bool zero_poll;
	uint32_t announce_ms; /* poll-timeout=MS, 0 = the profile's */
	bool stuck;
	uint32_t stuck_from;
	uint32_t faulty[SIM_MAX_FAULTY];
	uint8_t faulty_status[SIM_MAX_FAULTY];
	unsigned n_faulty;
	uint32_t wrp[SIM_MAX_WRP];
	unsigned n_wrp;
	bool fail_every_second_run;
	enum sim_langid_fault langid;
	bool wrong_langid;
	bool bad_strings;
	bool identical_alt_names;
	char serial[SIM_SERIAL_MAX + 1]; /* "": the profile's */
	/* hostile-device faults */
	uint32_t disconnect_erase_k;  /* vanish during the K-th erase; 0: off */
	uint32_t disconnect_upload_k; /* vanish at the K-th UPLOAD of data; 0: off */
	bool disconnect_manifest;     /* vanish when manifestation starts */
	bool replug;		      /* a fault's disconnect is followed by a power cycle */
	uint32_t replug_us;	      /* ... that long after it */
	char replug_serial[SIM_SERIAL_MAX + 1]; /* "": keep the serial across a replug */
	int short_status;			/* bytes a GET_STATUS reply keeps; -1: off */
	uint64_t short_status_k;		/* only the K-th GET_STATUS; 0: every one */
	int bad_state;				/* bState GET_STATUS reports; -1: off */
	uint64_t bad_state_k;			/* only the K-th GET_STATUS; 0: every one */
	uint32_t slow_us;			/* every request is held this long */
};

/* Fill @c from the profile, then apply @faults.  0 or -EINVAL (message in errbuf). */
int sim_config_init(struct sim_config *c, const struct sim_profile *p, const char *faults,
		    char *errbuf, size_t errbuf_size);

/* An operation received by DNLOAD and executed at the next GET_STATUS (AN2662: "effectively
 * executed only when a DFU_GETSTATUS request is issued"). */
enum sim_after {
	SIM_AFTER_NONE,
	SIM_AFTER_RESET,      /* option bytes / Read Unprotect: reset without answering */
	SIM_AFTER_STALL_NEXT, /* DNLOAD wBlockNum 1: stall the next request */
};

struct sim_op {
	bool pending;  /* received, not executed yet (dfuDNLOAD-SYNC) */
	bool executed; /* executed; the result waits for a GET_STATUS */
	bool command;  /* DfuSe wBlockNum 0 */
	uint16_t block;
	uint16_t len;
	uint8_t *data; /* block_size bytes */
	uint8_t result;
	enum sim_after after;
	uint16_t poll_ms;
	uint64_t duration_us;
};

#define SIM_MAX_EVENTS 16

struct sim_device {
	const struct sim_profile *p;
	struct sim_config cfg;
	struct sim_clock clock;
	double time_scale;
	sim_log_fn log_fn;
	void *log_ctx;
	struct sim_memory mem;

	/* bus */
	bool connected;
	enum sim_mode mode;
	uint64_t generation;
	uint64_t reconnect_at; /* UINT64_MAX: none */
	enum sim_mode reconnect_mode;
	struct sim_event events[SIM_MAX_EVENTS];
	unsigned ev_head, ev_count;

	/* DFU */
	uint8_t state, status;
	uint8_t alt;
	uint32_t pointer;   /* DfuSe Address Pointer */
	uint32_t jump_addr; /* leave target: pointer, or the last written address */
	bool addr_set;	    /* a Set Address came after the last write (needs-set-address) */
	struct sim_op op;
	uint64_t busy_until; /* dfuDNBUSY ends; UINT64_MAX = stuck */
	bool hung;	     /* stuck inside a GET_STATUS (skip-dnbusy): class
			      * requests time out until a USB reset */
	bool stall_next;
	uint8_t fail_op; /* status-on-request=DNLOAD: the taken DNLOAD's result */
	bool first_start;
	uint64_t busy_total_us; /* time the flash was busy so far (sim_log_busy) */

	/* generic DFU 1.1 download / manifestation / run time */
	uint32_t gen_offset;	/* next download/upload offset in the slot */
	uint32_t gen_erased_to; /* slot bytes erased by this download */
	uint32_t fw_len;
	bool fw_valid;
	uint64_t manifest_until;
	uint64_t detach_until; /* appDETACH times out; UINT64_MAX: none */

	/* the application */
	bool app_running;
	uint32_t app_vector, app_entry;
	uint8_t rdp;

	/* counters for the request faults */
	uint64_t n_class;
	uint64_t n_req[SIM_REQ_COUNT];
	uint64_t dnload_bytes;
	unsigned run;	/* host runs since power-on */
	bool run_fails; /* this run is a failing one (fail-every-second-run) */
	bool run_failed_once;
	unsigned langid_reads;
	uint32_t n_erase;	  /* erases run since power-on (disconnect-on-erase) */
	uint32_t n_upload;	  /* UPLOADs of data since power-on (disconnect-on-upload) */
	bool vanish_after;	  /* drop off the bus once this request is answered */
	bool power_cycle_at_plug; /* the pending re-enumeration is a replug (power cycle) */
};

/* The clock, and a scaled datasheet duration. */
uint64_t sim_now(struct sim_device *d);
uint64_t sim_scaled(struct sim_device *d, uint64_t us);

/* sim-log.c: emit one JSON line through the callback. */
void sim_log_transfer(struct sim_device *d, const struct sim_transfer *t, uint64_t now, int result,
		      uint8_t state_before, uint8_t state_after, uint8_t status_after);
void sim_log_event(struct sim_device *d, const char *event, const char *detail, uint64_t now);
void sim_log_note(struct sim_device *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The device starts being busy for @us (scaled) with @what ("erase", "program", "write",
 * "manifest"): added to busy_total_us and logged with the running total, so that a
 * benchmark learns the chip's floor without a copy of the timing tables. */
void sim_log_busy(struct sim_device *d, const char *what, uint64_t us, uint64_t now);

/* sim-descriptors.c */
int sim_descriptor_device(struct sim_device *d, uint8_t *buf, size_t cap);
int sim_descriptor_config(struct sim_device *d, uint8_t *buf, size_t cap);
int sim_descriptor_functional(struct sim_device *d, uint8_t *buf, size_t cap);
/* String descriptor @index for @langid; -ENOENT unknown, SIM_STALL for an injected stall. */
int sim_descriptor_string(struct sim_device *d, uint8_t index, uint16_t langid, uint8_t *buf,
			  size_t cap);
/* The UTF-8 text of string @index, or -ENOENT. */
int sim_string_text(struct sim_device *d, uint8_t index, char *buf, size_t cap);

/* sim-device.c: bus transitions used by the DfuSe layer. */
void sim_disconnect(struct sim_device *d, uint64_t now, const char *reason, bool reconnect,
		    enum sim_mode mode, uint64_t reconnect_at);
/* A fault pulls the device off the bus at @now (the cable, a brown-out): it is gone
 * until a replug, which replug= schedules (a power cycle) and sim_device_replug() does. */
void sim_fault_disconnect(struct sim_device *d, uint64_t now, const char *reason);
/* The ROM starts (power-on, reset with BOOT0 high): initial state, pointer, RDP. */
void sim_rom_start(struct sim_device *d);
/* Reset the chip and boot per boot0: the ROM, or the application when it is valid.
 * Re-enumerates at @at (plus the re-enumeration delay). */
void sim_system_reset(struct sim_device *d, uint64_t at, const char *reason);
/* Apply the option bytes: RDP level and write protection. */
void sim_apply_option_bytes(struct sim_device *d);
/* Whether the application would start with vector table at @vtor; fills entry. */
bool sim_vector_table_valid(struct sim_device *d, uint32_t vtor, uint32_t *entry);
/* Start the application (vector and entry) at @at: it enumerates or is gone. */
void sim_app_start(struct sim_device *d, uint64_t at, uint32_t vector, uint32_t entry,
		   const char *reason);

/* sim-dfuse.c: DfuSe (AN3156) requests; return SIM_OK/SIM_STALL/SIM_GONE(_AFTER_DATA). */
int sim_dfuse_dnload(struct sim_device *d, struct sim_transfer *t, uint64_t now);
int sim_dfuse_upload(struct sim_device *d, struct sim_transfer *t, uint64_t now);
int sim_dfuse_getstatus(struct sim_device *d, struct sim_transfer *t, uint64_t now);
/* Execute the pending DfuSe operation now; fills d->op.result/after/duration. */
void sim_dfuse_execute(struct sim_device *d, uint64_t now);
/* Perform the leave jump (AN2662: to the Address Pointer) at @now. */
void sim_dfuse_leave(struct sim_device *d, uint64_t now);

/* Fill a 6-byte GET_STATUS reply. */
void sim_status_reply(uint8_t *buf, uint8_t status, uint32_t poll_ms, uint8_t state);

/* The bwPollTimeout a busy reply announces for an operation that announces
 * @ms by the profile: zero-poll-timeout and poll-timeout=MS override it. */
static inline uint32_t sim_announced_ms(const struct sim_device *d, uint32_t ms)
{
	if (d->cfg.zero_poll)
		return 0;
	return d->cfg.announce_ms ? d->cfg.announce_ms : ms;
}
