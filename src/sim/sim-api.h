/* SPDX-License-Identifier: GPL-2.0-or-later */
/* src/sim/: the virtual DFU devices and dfuflash-sim.  May use src/util; never
 * src/lib, so that the device side is an independent implementation.
 *
 * The in-process API of the dfuflash-sim device model: a virtual USB DFU 1.1 / ST DfuSe
 * device answering control transfers on a caller-supplied clock.  It never sleeps, never
 * prints and keeps no globals; the umockdev front end and the in-process transport wrap it. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sim_device;

/*
 * Outcomes of a control transfer besides negative errno values (which mean a caller
 * error: -EINVAL for a bad argument).  They map one to one onto what libusb reports.
 */
enum sim_outcome {
	SIM_OK = 0,
	SIM_STALL = 1,		 /* the device stalled the request: LIBUSB_ERROR_PIPE */
	SIM_TIMEOUT = 2,	 /* no answer at all; nothing was processed: LIBUSB_ERROR_TIMEOUT */
	SIM_GONE = 3,		 /* the device is not on the bus: LIBUSB_ERROR_NO_DEVICE */
	SIM_GONE_AFTER_DATA = 4, /* IN data (in_len bytes) left the device, then it vanished
				  * before the status stage: the host sees PIPE/IO/NO_DEVICE */
};

/* The 8-byte SETUP packet, already decoded from little endian. */
struct sim_setup {
	uint8_t bmRequestType;
	uint8_t bRequest;
	uint16_t wValue;
	uint16_t wIndex;
	uint16_t wLength;
};

/* Decode 8 wire bytes into @out. */
void sim_setup_parse(const uint8_t raw[8], struct sim_setup *out);

/*
 * Time source.  now_us returns microseconds on any monotonic scale; the model computes
 * every duration against it and never waits, so tests drive it with a virtual clock.
 */
struct sim_clock {
	uint64_t (*now_us)(void *ctx);
	void *ctx;
};

/*
 * Observability: called once per complete JSON line (no trailing newline), for each
 * control transfer, bus event and notable device decision.  The line is only valid
 * during the call.  sim_log_to_file() is a ready-made callback for a FILE * the caller
 * opened (pass it as ctx); it appends '\n' and flushes.
 */
typedef void (*sim_log_fn)(void *ctx, const char *json_line);
void sim_log_to_file(void *file, const char *json_line);

struct sim_options {
	/* Scale applied to every real (datasheet) duration: 1.0 = datasheet typical
	 * values, 0 = instantaneous (note: a zeroed struct means 0), negative = 1.0.
	 * Announced bwPollTimeout values are never scaled: they are what the device
	 * claims, not what it does.  Protocol timeouts (wDetachTimeOut) are not scaled. */
	double time_scale;
	/*
	 * Comma-separated settings and faults, NULL or "" for none.  Tokens:
	 *
	 * Request faults (N counts DFU class requests from 1, across re-enumerations;
	 * NAME is DETACH, DNLOAD, UPLOAD, GETSTATUS, CLRSTATUS, GETSTATE or ABORT, and
	 * NAME:K selects its K-th occurrence, default 1):
	 *   stall-on=N                 STALL the N-th class request (not processed)
	 *   stall-on-request=NAME[:K]  STALL that request (not processed)
	 *   timeout-on=N               never answer the N-th class request (not processed)
	 *   timeout-on-request=NAME[:K]
	 *   status-on-request=NAME[:K]=STATUS  that request fails with bStatus STATUS (1-15):
	 *                              a DNLOAD is taken and its operation (erase, Set
	 *                              Address, write, leave, manifestation) changes nothing
	 *                              and ends in dfuERROR/STATUS at the GET_STATUS that
	 *                              reports it; any other request is STALLed (not
	 *                              processed) and leaves dfuERROR/STATUS
	 *   disconnect-at-byte=K       vanish during the DNLOAD whose data crosses download
	 *                              byte K (0-based, counted over all data blocks: DfuSe
	 *                              wBlockNum >= 2, every generic block); the
	 *                              blocks before it are in flash; only sim_device_replug()
	 *                              brings the device back
	 *   disconnect-on-erase[=K]    vanish during the K-th erase (default 1; DfuSe erase
	 *                              commands, page erases of a generic download): the
	 *                              GET_STATUS that starts it is answered, the sector is
	 *                              erased, the next request finds no device
	 *   disconnect-on-upload[=K]   vanish during the K-th UPLOAD of data (DfuSe
	 *                              wBlockNum >= 2, every generic one; default 1)
	 *   disconnect-on-manifest     vanish once the GET_STATUS that enters dfuMANIFEST is
	 *                              answered: a generic download's firmware is never
	 *                              marked valid, a DfuSe leave never jumps
	 *   replug[=MS]                the disconnects above come back: MS ms later (default
	 *                              1000) the device is plugged in again, as after a power
	 *                              cycle (option bytes reload, the ROM starts afresh), at a
	 *                              new bus address
	 *   replug-serial=TEXT         the same, and the device that comes back reports
	 *                              serial TEXT (rules of serial=)
	 * Reply faults (a GET_STATUS is processed in full; its reply is garbled; DFU mode):
	 *   short-status=N[:K]         the reply holds N bytes (0 to 5; 0 = zero-length);
	 *                              :K only the K-th GET_STATUS, default every one
	 *   bad-state=V[:K]            the reply reports bState V (11 to 255: no DFU state)
	 *   slow=MS                    every request is answered MS ms late (the host's
	 *                              timeout decides whether it still counts)
	 * Timing faults:
	 *   busy-longer[=F]            real durations F times longer (default 10)
	 *   zero-poll-timeout          announce bwPollTimeout 0 everywhere
	 *   poll-timeout=MS            announce MS (up to 0xffffff) in every busy reply
	 *   stuck-dnbusy[=ADDR]        erases of sectors at or above ADDR (default: all)
	 *                              never finish: GET_STATUS answers dfuDNBUSY until a
	 *                              CLRSTATUS (→ dfuERROR/errUNKNOWN), the STM32H743
	 *                              bank-2 report; the erase itself did happen.  On a
	 *                              skip-dnbusy device (U5) the GET_STATUS that runs
	 *                              the erase is held (timeout), and so is every class
	 *                              request after it, until a USB reset
	 *   busy=nak|stall|repeat|strict  what a request during dfuDNBUSY gets:
	 *                              held until done, STALL, dfuDNBUSY again, STALL and
	 *                              dfuERROR
	 *   skip-dnbusy                DfuSe commands answer the first GET_STATUS with the
	 *                              final state (STM32U5 ROM)
	 * Memory and protection:
	 *   faulty-page=ADDR[:STATUS]  erasing the sector holding ADDR fails with STATUS
	 *                              (default errVENDOR = 11 on DfuSe, errERASE = 4 generic)
	 *                              and leaves it unerased; up to 4 of them
	 *   wrp=ADDR                   write-protect the sector holding ADDR (up to 8)
	 *   rdp=0|1|2                  read-out protection level at power-on (2: absent)
	 *   set-address-rdp=fail|ok    Set Address under RDP1 fails with errVENDOR (F4/F7
	 *                              ROMs per betaflight) or works (AN2662)
	 *   unprotect-fails            Read Unprotect ends in dfuERROR/errUNKNOWN
	 *   prog-fail-status=N         bStatus of a refused program (default errTARGET)
	 *   block-size=descriptor|wlength  T in address = pointer + (wBlockNum-2)*T (AN3156)
	 * State and run faults:
	 *   start-in-error=N           every ROM start is dfuERROR with bStatus N (10, 11, ...)
	 *   start-in-state=dnload-idle|upload-idle|dnbusy  leftover state at the first start
	 *   fail-every-second-run      every second host run (from the 2nd, see
	 *                              sim_device_session_begin()) sees its first DNLOAD end
	 *                              in dfuERROR/errUNKNOWN; replug restarts the count
	 *   clrstatus=st|strict|lenient  CLRSTATUS outside dfuERROR: errUNKNOWN (ST), STALL,
	 *                              or dfuIDLE
	 * Descriptor faults:
	 *   no-langid[=empty|stall|fail-first]  string 0 empty (bLength 2), STALLed, or
	 *                              STALLed on the first read only (default empty)
	 *   wrong-langid               string 0 says 0x0407, strings answer 0x0409 only
	 *   bad-strings                string descriptors claim one byte more than sent
	 *   identical-alt-names        every alt carries alt 0's string (STM32G0B1 bug)
	 *   serial=TEXT                the serial number string (1 to 126 printable
	 *                              ASCII characters, no blanks) instead of the profile's
	 *   transfer-size=N            wTransferSize in the functional descriptor (also the
	 *                              device's block size unless N is 0 or 0xFFFF)
	 *   oversize-wlength=stall|truncate  DNLOAD/UPLOAD with wLength > wTransferSize
	 *   functional-descriptor=7|9  length of the functional descriptor
	 * Leave and boot:
	 *   leave=answer-then-vanish|vanish-during-status|vanish-before-status|stay|needs-set-address
	 *   jump=vector-table|entry-point|system-reset
	 *   app=runtime|gone           a started application enumerates with its run-time
	 *                              DFU interface, or never appears on USB
	 *   boot0=0|1                  boot pin: 1 (default) = a reset enters the ROM
	 *   reenum-delay-ms=N          time between disconnect and re-enumeration
	 *   manifest-tolerant=0|1, will-detach=0|1  generic DFU 1.1 attributes
	 */
	const char *faults;
	struct sim_clock clock; /* now_us NULL: CLOCK_MONOTONIC */
	sim_log_fn log_fn;	/* NULL: no log */
	void *log_ctx;
	/* Optional: on -EINVAL from sim_device_new(), a message naming the bad token. */
	char *errbuf;
	size_t errbuf_size;
};

/*
 * Create a device from a profile (see sim_profile_names()).  @opts may be NULL for
 * defaults (real clock, time scale 1, no faults).  The device is connected (or absent
 * with rdp=2) at generation 1.
 * Returns 0 and stores the device in *out (caller owns it; free with sim_device_free()),
 * -ENOENT for an unknown profile, -EINVAL for a bad fault token (errbuf names it),
 * -ENOMEM.
 */
int sim_device_new(const char *profile, const struct sim_options *opts, struct sim_device **out);
/* Free a device; NULL is fine. */
void sim_device_free(struct sim_device *d);
void sim_device_freep(struct sim_device **d);

/* Check a fault string without creating a device: 0 or -EINVAL (errbuf names the token). */
int sim_faults_check(const char *faults, char *errbuf, size_t errbuf_size);

/* NULL-terminated list of profile names, and a one-line description of one (NULL if unknown). */
const char *const *sim_profile_names(void);
const char *sim_profile_description(const char *name);

/* One control transfer. */
struct sim_transfer {
	struct sim_setup setup;
	const uint8_t *out_data; /* wLength bytes for host-to-device requests */
	uint8_t *in_buf;	 /* device-to-host: room for in_cap bytes */
	size_t in_cap;
	/* The enumeration the host opened (sim_state.generation), or 0 for "current".
	 * A request from an older generation gets SIM_GONE, as a stale usbfs fd would. */
	uint64_t generation;
	size_t in_len;	   /* out: IN bytes produced */
	uint64_t delay_us; /* out: virtual time the device held (NAKed) the request before
			    * answering; the front end delays the completion that long, and
			    * a host whose timeout is shorter sees LIBUSB_ERROR_TIMEOUT */
};

/*
 * Run one control transfer through the device: standard requests (GET_DESCRIPTOR,
 * GET/SET_CONFIGURATION, GET/SET_INTERFACE, GET_STATUS) and DFU class requests.
 * Returns SIM_OK (in_len set for IN requests), SIM_STALL, SIM_TIMEOUT, SIM_GONE,
 * SIM_GONE_AFTER_DATA, or -EINVAL (NULL arguments, out_data missing for wLength > 0,
 * in_cap < wLength for IN requests).  May change the device state, queue events and
 * write memory, exactly as the real device would.
 */
int sim_device_submit(struct sim_device *d, struct sim_transfer *t);

/* The same, in the shape of libusb_control_transfer(); in_len may be NULL. */
int sim_device_control(struct sim_device *d, const struct sim_setup *setup, const uint8_t *out_data,
		       uint8_t *in_buf, size_t in_cap, size_t *in_len);

enum sim_mode {
	SIM_MODE_DFU,	  /* DFU mode (ROM bootloader or generic DFU-mode firmware) */
	SIM_MODE_RUNTIME, /* the application, exposing a DFU run-time interface */
	SIM_MODE_ABSENT,  /* nothing on the bus (app=gone, RDP level 2, unplugged) */
};

/* A snapshot of the device, after applying everything due by now. */
struct sim_state {
	bool connected;	     /* on the bus now */
	enum sim_mode mode;  /* what is on the bus now (ABSENT when disconnected) */
	uint64_t generation; /* enumeration count; changes at every re-enumeration */
	uint16_t vid, pid, bcd_device;
	uint8_t dfu_state;  /* bState (0 appIDLE … 10 dfuERROR) */
	uint8_t dfu_status; /* bStatus */
	uint8_t alt;	    /* selected alternate setting */
	uint32_t address_pointer;
	uint8_t rdp_level;	  /* 0, 1 or 2 */
	bool app_running;	  /* the flashed application was started */
	uint32_t app_vector;	  /* its vector table (0 if unknown) */
	uint32_t app_entry;	  /* its entry point (reset handler, Thumb bit as found) */
	uint64_t reconnect_at_us; /* pending re-enumeration time, or UINT64_MAX */
};
int sim_device_get_state(struct sim_device *d, struct sim_state *st);

/* Bus events, oldest first, for the front end to mirror (remove / add the device). */
enum sim_event_type {
	SIM_EVENT_DISCONNECT = 1,
	SIM_EVENT_CONNECT = 2,
};
struct sim_event {
	enum sim_event_type type;
	enum sim_mode mode;  /* CONNECT: what enumerates */
	uint64_t generation; /* CONNECT: the new generation; DISCONNECT: the old one */
	uint64_t at_us;	     /* clock time of the event */
	const char *reason;  /* static string: "leave", "option-bytes", "detach", ... */
};
/*
 * Pop the oldest event into *ev.  Returns 1 when one was popped, 0 when none is pending.
 * Applies every transition due by now first (a pending re-enumeration becomes a CONNECT).
 */
int sim_device_next_event(struct sim_device *d, struct sim_event *ev);
/* Clock time of the next timed transition (busy end, re-enumeration, detach timeout),
 * or UINT64_MAX: the front end wakes up then and calls sim_device_next_event(). */
uint64_t sim_device_next_deadline(struct sim_device *d);

/*
 * USB bus reset (libusb_reset_device).  Returns 1 when the device re-enumerates as
 * something else (run-time ↔ DFU), so the front end answers ENODEV and re-adds it;
 * 0 when it stays (ST ROM: back to dfuIDLE); SIM_GONE when not connected.
 */
int sim_device_usb_reset(struct sim_device *d);
/* Unplug and plug again (power cycle): option bytes reload, the ROM or the
 * application starts by boot0, run counters restart.  Always 0. */
int sim_device_replug(struct sim_device *d);
/* Pull the cable: the device leaves the bus until sim_device_replug(). */
int sim_device_unplug(struct sim_device *d);
/* A new host program starts talking to the device: the front end calls this when a
 * client opens the device node (the model cannot see processes).  Only
 * fail-every-second-run uses it; DFU state is kept across runs, as on real ROMs (dfu-util
 * logs show runs that start in dfuDNLOAD-IDLE). */
void sim_device_session_begin(struct sim_device *d);

/* Descriptors as the sysfs "descriptors" attribute holds them: device descriptor
 * followed by the configuration descriptor, for the current mode.  Returns the full
 * length (copies at most cap bytes), or SIM_GONE when absent. */
int sim_device_descriptors(struct sim_device *d, uint8_t *buf, size_t cap);
/* String descriptor @index as UTF-8 (for sysfs manufacturer/product/serial).
 * Returns the length or -ENOENT. */
int sim_device_string(struct sim_device *d, uint8_t index, char *buf, size_t cap);

/*
 * Raw memory access, bypassing protocol, protection and flash rules (for tests and
 * --flash-in / --flash-out).  The range must lie inside one region.
 * Returns 0 or -ERANGE.
 */
int sim_device_mem_read(struct sim_device *d, uint32_t address, uint8_t *buf, size_t len);
int sim_device_mem_write(struct sim_device *d, uint32_t address, const uint8_t *buf, size_t len);

enum sim_region_kind {
	SIM_REGION_FLASH,
	SIM_REGION_RAM,
	SIM_REGION_OPTION, /* option bytes */
	SIM_REGION_OTP,
	SIM_REGION_FEATURE, /* "Device Feature" pseudo register */
	SIM_REGION_SYSTEM,  /* system memory (the ROM itself) */
};
struct sim_region_info {
	enum sim_region_kind kind;
	uint32_t base;
	uint32_t size;
};
/* Region @i (0-based) for dumps; returns 0, or -ENOENT past the last. */
int sim_device_region(struct sim_device *d, size_t i, struct sim_region_info *info);
