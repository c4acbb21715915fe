/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The fixture of the engine tests (check-proto, check-protect, check-recovery,
 * check-device), in simtest.c: dfuflash-sim device models on one virtual
 * clock behind the in-process sim backend, a context over them whose log is
 * kept, and for the flashing tests an open DFU-mode alt, an image and what a
 * download reported.  A spy between the engine and the sim handle counts the
 * DFU requests the engine sends and checks its polling.
 *
 * The state is global, as Check's fixtures are functions without arguments:
 * simtest_setup() resets it before each test and simtest_teardown() frees it
 * (simtest_tcase() registers both).  The helpers the tests call all the time
 * keep short names (open_dfuse(), add_app(), download() ...); the fixture's
 * own machinery is simtest_*.
 */
#pragma once

#include "engine.h"
#include "sim-api.h"
#include "testutil.h"
#include "transport-sim.h"

#define SIMTEST_MAX_SIMS 4

/* ---- state ------------------------------------------------------------------------------ */

extern struct dfu_vclock vc;			  /* shared by the devices and the host */
extern struct sim_device *sims[SIMTEST_MAX_SIMS]; /* at paths "1-1", "1-2", ... */
extern size_t n_sims;
extern struct sim_device *sim; /* sims[0]: the device of the one-device tests */
extern struct dfu_ctx *ctx;
extern char logged[65536];    /* the context's log, a "LEVEL:message" line each */
extern struct dfu_dev *dev;   /* the alt opened by open_alt(); teardown closes it */
extern struct dfu_image *img; /* what download() writes; addresses from the file */
extern struct dfu_error err;
extern struct dfu_flash_opts opts;
extern struct dfu_flash_result res;

/* ---- what the spy saw --------------------------------------------------------------------- */

/* Requests on the handle of the last open_alt(), counted from there. */
extern unsigned n_requests;	    /* DFU class requests */
extern unsigned n_req[8];	    /* the same, by bRequest */
extern unsigned n_writes;	    /* DNLOAD of data (wBlockNum >= 2) */
extern unsigned n_erases;	    /* DfuSe erase commands (0x41) */
extern uint32_t set_addresses[512]; /* DfuSe Set Address commands (0x21), in order */
extern size_t n_set_addresses;
/* DfuSe data blocks (DNLOAD wBlockNum >= 2) in order: wBlockNum and the
 * pointer of the Set Address before it; the address an ST ROM writes is
 * simtest_block_address() (AN3156: pointer + (wBlockNum - 2) * T). */
struct simtest_block {
	uint32_t pointer;
	uint16_t block;
	uint16_t len;
};
extern struct simtest_block blocks_sent[4096];
extern size_t n_blocks_sent;
uint32_t simtest_block_address(size_t i, uint16_t tsize);
/* Polling (DFU 1.1 6.1.2: bwPollTimeout is the least time the host waits
 * before the next GET_STATUS), over the whole test. */
extern unsigned early_polls;   /* GET_STATUS before the announced bwPollTimeout */
extern unsigned idle_sleeps;   /* host sleeps not preceded by a busy reply */
extern uint64_t host_sleep_ms; /* total host sleeps */
extern uint64_t busy_poll_ms;  /* sum of the bwPollTimeout of busy replies */

/*
 * A test's own stand-in for the sim's control transfer (failure injection, a
 * truncated reply): when set, the spy calls it instead of the sim, after
 * counting.  It calls simtest_control_real() to reach the sim.  Reset to NULL
 * by simtest_setup().
 */
typedef int simtest_control_fn(struct dfu_handle *h, uint8_t rt, uint8_t req, uint16_t value,
			       uint16_t index, uint8_t *data, uint16_t len, unsigned timeout_ms,
			       const char **usb_name);
extern simtest_control_fn *simtest_control;
int simtest_control_real(struct dfu_handle *h, uint8_t rt, uint8_t req, uint16_t value,
			 uint16_t index, uint8_t *data, uint16_t len, unsigned timeout_ms,
			 const char **usb_name);

/* ---- the fixture ---------------------------------------------------------------------------- */

void simtest_setup(void);
void simtest_teardown(void);

/* A test case of @s on this fixture, with a timeout in seconds.  @setup and
 * @teardown (NULL: none) handle the test file's own state: @setup runs after
 * simtest_setup(), @teardown before simtest_teardown() (Check runs checked
 * teardowns in reverse order). */
TCase *simtest_tcase(Suite *s, const char *name, SFun setup, SFun teardown, double timeout);

/* Add a device from @profile with @faults (NULL: none) at path "1-<n>", its
 * delays scaled by @time_scale (0: none); before simtest_start(). */
void simtest_add_sim(const char *profile, const char *faults, double time_scale);

/* The backend over the added devices and ctx over it, with the log kept. */
void simtest_start(void);

/* One device from @profile with @faults, at its own speed, and ctx. */
void new_sim(const char *profile, const char *faults);

/* Open alt @alt in DFU mode as dev, waiting up to 10 s of virtual time for
 * it to appear (a re-enumeration), and spy on it. */
void open_alt(int alt);

/* new_sim() and open_alt(): a DfuSe ROM starts in DFU mode. */
void open_dfuse(const char *profile, const char *faults, int alt);

/* A generic profile starts in run-time mode: new_sim(), detach, open alt 0. */
void open_generic(const char *profile, const char *faults);

/* Detach the run-time device of @c into DFU mode; open_alt() then waits for
 * the re-enumeration. */
void simtest_detach(struct dfu_ctx *c);

/* What the device model says of itself. */
struct sim_state simtest_state(struct sim_device *d);

/* ---- the image and the download ------------------------------------------------------------ */

/* A new empty img in place of the old one. */
void new_image(void);

void add(uint32_t address, const uint8_t *data, size_t len);

/* @len pseudo-random bytes from @seed (test_pattern) at @address. */
void add_pattern(uint32_t address, size_t len, uint32_t seed);

/* A Cortex-M application of @len bytes at @base: the vector table first (SP
 * in RAM, the reset handler at @entry, or at base + 0x101 for add_app()),
 * then pseudo-random bytes. */
void add_app_entry(uint32_t base, uint32_t entry, size_t len);
void add_app(uint32_t base, size_t len);

/* dfu_dev_download() of img to dev with opts, into res and a cleared err. */
int download(void);

/* opts ask for @length bytes from @address (an upload). */
void set_upload_range(uint32_t address, uint32_t length);

/* The device's memory holds every segment of img. */
void assert_mem_is_image(void);

bool log_has(const char *s);
