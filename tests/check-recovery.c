// SPDX-License-Identifier: GPL-2.0-or-later
/* Unit tests for recovery and diagnostics (src/lib/dfu/request.c retries,
 * facts.c, recover.c, causes.c, the trace callback of ctx.c)
 * against the in-process sim devices on a virtual clock: every transient
 * failure ends in a verified flash or in a message naming the cause. */
#include "config.h"

#include "engine.h"
#include "macro.h"
#include "proto.h"
#include "sim-api.h"
#include "simtest.h"
#include "testutil.h"
#include "transport-sim.h"
#include "util.h"

/* ---- fixture: simtest.h, and these of the recovery tests ---------------------------------- */

/* Failure injection in front of the sim handle (simtest_control). */
static struct {
	int req;	     /* bRequest to hit, -1 = none */
	unsigned first;	     /* its first occurrence hit (1-based) */
	unsigned count;	     /* how many occurrences from there */
	int err;	     /* DFU_E_USB_* returned */
	const char *name;    /* libusb name */
	bool process_first;  /* the device gets the request, the host sees the failure */
	bool oversize_first; /* the device gets an oversized DNLOAD instead (strict stall) */
} inj;
static unsigned n_block3; /* DNLOADs of wBlockNum 3 */

/* Trace records. */
static unsigned n_trace, n_trace_status, n_trace_strings, n_trace_retry;
static bool trace_durations_ok = true;

static void trace_cb(void *ud, const struct dfu_trace_rec *r)
{
	(void)ud;
	n_trace++;
	if (r->have_state)
		n_trace_status++;
	if (strcmp(r->request, "GET_DESCRIPTOR") == 0)
		n_trace_strings++;
	if (r->attempt)
		n_trace_retry++;
	if (!r->request || !r->op || (r->result >= 0 && r->data_len > r->w_length))
		trace_durations_ok = false;
}

/* The spy has counted the request in n_req[] already: that is its occurrence. */
static int inject_control(struct dfu_handle *h, uint8_t rt, uint8_t req, uint16_t value,
			  uint16_t index, uint8_t *data, uint16_t len, unsigned timeout_ms,
			  const char **usb_name)
{
	bool class_req = (rt & 0x60) == 0x20;

	if (class_req && req == DFU_REQ_DNLOAD && value == 3)
		n_block3++;
	if (class_req && inj.req == req && n_req[req] >= inj.first &&
	    n_req[req] < inj.first + inj.count) {
		if (inj.process_first)
			simtest_control_real(h, rt, req, value, index, data, len, timeout_ms,
					     usb_name);
		if (inj.oversize_first) {
			static uint8_t big[4096];

			simtest_control_real(h, rt, req, value, index, big, 2048, timeout_ms,
					     usb_name);
		}
		if (usb_name)
			*usb_name = inj.name;
		if (inj.err == DFU_E_USB_TIMEOUT)
			vc.now_us += (uint64_t)(timeout_ms ? timeout_ms : 5000) * 1000;
		return inj.err;
	}
	return simtest_control_real(h, rt, req, value, index, data, len, timeout_ms, usb_name);
}

static void inject(int req, unsigned first, unsigned count, int e, const char *name)
{
	inj.req = req;
	inj.first = first;
	inj.count = count;
	inj.err = e;
	inj.name = name;
	inj.process_first = false;
	inj.oversize_first = false;
}

static void setup(void)
{
	inject(-1, 0, 0, 0, NULL);
	simtest_control = inject_control;
	n_block3 = 0;
	n_trace = n_trace_status = n_trace_strings = n_trace_retry = 0;
	trace_durations_ok = true;
}

/* What an upload read back (@back) is the image over [@base, @base + @len). */
static void assert_read_back_is_image(const struct dfu_image *back, uint32_t base, size_t len)
{
	for (uint32_t i = 0; i < len; i++) {
		uint8_t b, want;

		ck_assert_int_eq(dfu_image_read(back, DFU_ALT_NONE, base + i, &b, 1, 0), 1);
		ck_assert_int_eq(dfu_image_read(img, DFU_ALT_NONE, base + i, &want, 1, 0), 1);
		ck_assert_uint_eq(b, want);
	}
}

static const char *cause(void)
{
	const char *id = dfu_cause_id(&err, dfu_dev_quirks(dev));

	return id ? id : "(none)";
}

/* The hint in err is the table's for its cause. */
static void assert_cause(const char *id)
{
	ck_assert_str_eq(cause(), id);
	ck_assert_ptr_nonnull(err.hint);
	ck_assert_str_eq(err.hint, dfu_cause_hint(&err, dfu_dev_quirks(dev)));
}

/* REC_DEBUG=1: the log and the request counts of a test, for debugging */
static void dump(void)
{
	if (!getenv("REC_DEBUG"))
		return;
	fprintf(stderr, "---- log\n%s", logged);
	for (size_t i = 0; i < n_set_addresses; i++)
		fprintf(stderr, "set address 0x%08x\n", set_addresses[i]);
	for (int i = 0; i < 8; i++)
		fprintf(stderr, "req %d: %u\n", i, n_req[i]);
}

static bool retry_log_has(const char *s)
{
	for (uint32_t i = 0; i < res.n_retry_log; i++)
		if (strstr(res.retry_log[i], s))
			return true;
	return false;
}

/* ---- 1. classified retries ------------------------------------------------------------ */

START_TEST(test_stalled_get_status_is_retried_and_reported)
{
	open_dfuse("stm32f405", "stall-on-request=GETSTATUS:4", 0);
	add_app(0x08000000, 40000);
	ck_assert_int_eq(download(), 0);
	assert_mem_is_image();
	ck_assert_uint_eq(res.retries, 1);
	ck_assert_uint_eq(res.n_retry_log, 1);
	ck_assert(retry_log_has("DFU_GETSTATUS"));
	ck_assert(retry_log_has("LIBUSB_ERROR_PIPE"));
	ck_assert(log_has("retry 1 of 3"));
}
END_TEST

START_TEST(test_timed_out_get_status_is_retried_within_the_deadline)
{
	open_dfuse("stm32f405", "timeout-on-request=GETSTATUS:3", 0);
	add_app(0x08000000, 20000);
	ck_assert_int_eq(download(), 0);
	assert_mem_is_image();
	ck_assert_uint_eq(res.retries, 1);
	ck_assert(retry_log_has("LIBUSB_ERROR_TIMEOUT"));
}
END_TEST

START_TEST(test_stalled_set_address_is_sent_again)
{
	/* DNLOAD 1: erase, 2: Set Address */
	open_dfuse("stm32f405", "stall-on-request=DNLOAD:2", 0);
	add_app(0x08000000, 8000);
	ck_assert_int_eq(download(), 0);
	assert_mem_is_image();
	ck_assert_uint_eq(res.retries, 1);
	ck_assert(retry_log_has("Set Address"));
}
END_TEST

START_TEST(test_lost_data_block_gets_a_fresh_set_address)
{
	/* DNLOAD 1: erase, 2: Set Address, 3: block 2, 4: block 3 */
	open_dfuse("stm32f405", "timeout-on-request=DNLOAD:4", 0);
	add_app(0x08000000, 8000);
	ck_assert_int_eq(download(), 0);
	dump();
	assert_mem_is_image();
	ck_assert_uint_eq(res.retries, 1);
	/* the run's pointer again, then the short last chunk's own */
	ck_assert_uint_ge(n_set_addresses, 3);
	ck_assert_uint_eq(set_addresses[0], 0x08000000);
	ck_assert_uint_eq(set_addresses[1], 0x08000000);
	ck_assert_uint_eq(set_addresses[2], 0x08001800);
	ck_assert(log_has("Set Address 0x08000000 again (before block 3)"));
}
END_TEST

START_TEST(test_block_that_arrived_is_not_sent_twice)
{
	/* the device takes block 3, the host sees IO: GET_STATUS says dfuDNBUSY */
	open_dfuse("stm32l476", NULL, 0); /* ECC flash: a second write would fail */
	add_app(0x08000000, 8000);
	inject(DFU_REQ_DNLOAD, 4, 1, DFU_E_USB_IO, "LIBUSB_ERROR_IO");
	inj.process_first = true;
	ck_assert_int_eq(download(), 0);
	assert_mem_is_image();
	ck_assert_uint_eq(res.retries, 1);
	ck_assert_uint_eq(n_block3, 1);
}
END_TEST

START_TEST(test_huge_poll_timeout_before_a_retry_is_cut_to_the_deadline)
{
	uint64_t t0;

	/* as above, with a device that announces 0xffffff ms (4.6 hours) in
	 * the dfuDNBUSY found before the retry: the wait ends at the deadline */
	open_dfuse("stm32l476", "poll-timeout=16777215", 0);
	add_app(0x08000000, 8000);
	inject(DFU_REQ_DNLOAD, 4, 1, DFU_E_USB_IO, "LIBUSB_ERROR_IO");
	inj.process_first = true;
	opts.timeout_ms = 1000;
	t0 = vc.now_us;
	ck_assert_int_eq(download(), 0);
	assert_mem_is_image();
	ck_assert_uint_eq(n_block3, 1);
	ck_assert_uint_lt(vc.now_us - t0, 30 * 1000000ull);
}
END_TEST

START_TEST(test_device_error_after_a_stall_is_cleared_and_the_block_resent)
{
	/* a strict device goes to dfuERROR/errSTALLEDPKT with the stall (here: the
	 * G474 stalls the oversized block the injector sends in its place) */
	open_dfuse("stm32g474", NULL, 0);
	add_app(0x08000000, 5000);
	/* DNLOAD 1-3: the 2 KiB pages, 4: Set Address 0x08000000 (the vector-table
	 * page comes last, numbered from there too), 5: block 4 (0x08000800),
	 * 6: block 5 */
	inject(DFU_REQ_DNLOAD, 6, 1, DFU_E_USB_PIPE, "LIBUSB_ERROR_PIPE");
	inj.oversize_first = true;
	ck_assert_int_eq(download(), 0);
	dump();
	assert_mem_is_image();
	ck_assert_uint_eq(res.retries, 1);
	ck_assert_uint_ge(n_req[DFU_REQ_CLRSTATUS], 1);
	ck_assert(log_has("CLRSTATUS before retry of DfuSe write block 5"));
	/* the pointer the block was numbered from */
	ck_assert(log_has("Set Address 0x08000000 again (before block 5)"));
}
END_TEST

START_TEST(test_lost_get_status_answer_of_a_strict_device_resends_the_command)
{
	/* the GET_STATUS after the erase is processed and then lost; the
	 * device answers the next one normally */
	open_dfuse("stm32f405", NULL, 0);
	add_app(0x08000000, 4000);
	inject(DFU_REQ_GETSTATUS, 3, 1, DFU_E_USB_IO, "LIBUSB_ERROR_IO");
	inj.process_first = true;
	ck_assert_int_eq(download(), 0);
	assert_mem_is_image();
	ck_assert_uint_eq(res.retries, 1);
}
END_TEST

START_TEST(test_retries_are_bounded)
{
	open_dfuse("stm32f405", NULL, 0);
	add_app(0x08000000, 4000);
	/* GET_STATUS 2 is the first poll of the erase */
	inject(DFU_REQ_GETSTATUS, 2, 100, DFU_E_USB_PIPE, "LIBUSB_ERROR_PIPE");
	ck_assert_int_eq(download(), DFU_E_USB_PIPE);
	ck_assert_uint_eq(res.retries, DFU_RETRY_MAX);
	ck_assert_uint_eq(err.attempts, DFU_RETRY_MAX + 1);
	ck_assert_ptr_nonnull(strstr(err.message, "also when retried"));
	ck_assert_uint_eq(n_req[DFU_REQ_GETSTATUS], 1 + DFU_RETRY_MAX + 1);
	assert_cause("pipe");
	ck_assert(dfu_error_wants_reset(&err));
}
END_TEST

START_TEST(test_device_verdict_is_not_retried)
{
	open_dfuse("stm32f405", "rdp=1", 0);
	add_app(0x08000000, 4000);
	ck_assert_int_eq(download(), DFU_E_DEVSTATUS);
	ck_assert_uint_eq(err.status, DFU_STATUS_ERR_VENDOR);
	ck_assert_uint_eq(res.retries, 0);
	assert_cause("rdp");
	ck_assert(!dfu_error_wants_reset(&err));
}
END_TEST

START_TEST(test_read_unprotect_and_leave_are_not_retried)
{
	open_dfuse("stm32f405", "stall-on-request=DNLOAD:1", 0);
	ck_assert_int_eq(dfuse_read_unprotect(dev, &res, &err), DFU_E_USB_PIPE);
	ck_assert_uint_eq(res.retries, 0);
	ck_assert_uint_eq(n_req[DFU_REQ_DNLOAD], 1);
}
END_TEST

START_TEST(test_plain_dfu_block_is_resent_only_from_dnload_idle)
{
	open_generic("generic", "stall-on-request=DNLOAD:3");
	add_pattern(0, 3000, 0);
	ck_assert_int_eq(download(), 0);
	ck_assert_uint_eq(res.retries, 1);
	ck_assert_uint_eq(simtest_state(sim).dfu_state, DFU_STATE_DFU_IDLE);
}
END_TEST

/* ---- 2. fail every second run: reset and re-open ----------------------------------------- */

START_TEST(test_fail_every_second_run_recovers_by_reset)
{
	char path[64];

	open_dfuse("stm32f405", "fail-every-second-run", 0);
	add_app(0x08000000, 20000);
	ck_assert_int_eq(download(), 0); /* run 1 */
	dfu_dev_close(dev);
	dev = NULL;
	open_alt(0); /* run 2: its first DNLOAD fails */
	snprintf(path, sizeof(path), "%s", dev->info.path);
	ck_assert_int_eq(download(), DFU_E_DEVSTATUS);
	ck_assert_uint_eq(err.status, DFU_STATUS_ERR_UNKNOWN);
	assert_cause("unknown-status");
	ck_assert(dfu_error_wants_reset(&err));
	dfu_error_clear(&err);
	ck_assert_int_eq(dfu_dev_recover(&dev, &err), 0);
	ck_assert_ptr_nonnull(dev);
	ck_assert_str_eq(dev->info.path, path);
	ck_assert_uint_eq(dev->info.alt, 0);
	ck_assert(log_has("reset the device at 1-1 (it stayed on the bus), alt 0 selected again"));
	ck_assert_int_eq(download(), 0);
	assert_mem_is_image();
}
END_TEST

START_TEST(test_recover_fails_cleanly_when_the_device_is_gone)
{
	uint64_t t0;

	open_dfuse("stm32f405", "disconnect-at-byte=100", 0);
	add_app(0x08000000, 4000);
	ck_assert_int_eq(download(), DFU_E_USB_NODEV);
	ck_assert(!dfu_error_wants_reset(&err));
	dfu_error_clear(&err);
	/* the handle is stale, so the USB reset answers NO_DEVICE: dfu_dev_recover
	 * closes it and waits its 5 s (RECOVER_WAIT_MS) for the same port to be
	 * listed in DFU mode again; the device never comes back */
	t0 = vc.now_us;
	ck_assert_int_eq(dfu_dev_recover(&dev, &err), DFU_E_NODEVICE);
	ck_assert_ptr_null(dev);
	ck_assert_int_eq(err.err, DFU_E_NODEVICE);
	ck_assert_str_eq(err.code, "device.did_not_return");
	ck_assert_str_eq(err.message, "0483:df11 at 1-1 did not come back in DFU mode within "
				      "5000 ms after a USB reset");
	ck_assert_uint_ge(vc.now_us - t0, 5000000);
	ck_assert_uint_lt(vc.now_us - t0, 6000000);
}
END_TEST

/* A device that breaks the protocol, or a refusal before the first request: the error
 * still says what the flash holds and what to do next. */
START_TEST(test_short_status_at_start_says_the_flash_is_unchanged)
{
	open_dfuse("stm32f405", "short-status=3", 0);
	add_app(0x08000000, 4000);
	ck_assert_int_eq(download(), DFU_E_PROTOCOL);
	ck_assert_ptr_nonnull(strstr(err.message, "short GET_STATUS reply: 3 of 6 bytes"));
	ck_assert_ptr_nonnull(strstr(err.detail, "nothing was erased or written"));
	ck_assert_ptr_nonnull(err.hint);
	ck_assert_ptr_nonnull(strstr(err.hint, "replug"));
}
END_TEST

START_TEST(test_undefined_state_during_an_erase_leaves_that_sector_undefined)
{
	open_dfuse("stm32f405", "bad-state=200:3", 0);
	add_app(0x08000000, 4000);
	ck_assert_int_eq(download(), DFU_E_PROTOCOL);
	ck_assert_msg(strstr(err.detail, "sector 0x08000000 (16 KiB) was being erased"), "%s | %s",
		      err.message, err.detail);
	ck_assert_ptr_nonnull(strstr(err.detail, "broke the DFU protocol"));
	ck_assert_ptr_nonnull(strstr(err.detail, "running the same command again"));
	ck_assert(err.resumable);
}
END_TEST

START_TEST(test_generic_download_lost_at_its_first_block_may_leave_an_incomplete_firmware)
{
	open_generic("generic", "disconnect-at-byte=0");
	add_pattern(0, 3000, 7);
	ck_assert_int_eq(download(), DFU_E_USB_NODEV);
	ck_assert_ptr_nonnull(strstr(err.detail, "may hold an incomplete firmware"));
	ck_assert(err.resumable);
}
END_TEST

START_TEST(test_refused_transfer_size_says_the_flash_is_unchanged)
{
	open_dfuse("stm32f405", "transfer-size=0", 0);
	add_app(0x08000000, 4000);
	ck_assert_int_lt(download(), 0);
	ck_assert_str_eq(err.detail, "nothing was erased or written: the flash is unchanged");
}
END_TEST

START_TEST(test_layout_string_too_slow_to_read_is_named_as_the_cause)
{
	/* every answer takes 1.5 s: more than the 1 s a string read gets */
	open_dfuse("stm32f405", "slow=1500", 0);
	add_app(0x08000000, 4000);
	ck_assert_int_eq(download(), DFU_E_MEMMAP);
	ck_assert_str_eq(err.code, "dfuse.memmap_unread");
	ck_assert_ptr_nonnull(strstr(err.message, "could not be read"));
	ck_assert_ptr_nonnull(strstr(err.detail, "the flash is unchanged"));
}
END_TEST

START_TEST(test_failed_read_says_a_read_changes_nothing)
{
	struct dfu_image *back = NULL;

	open_dfuse("stm32f405", "disconnect-on-upload=2", 0);
	opts.have_address = true;
	opts.address = 0x08000000;
	opts.have_length = true;
	opts.length = 8192;
	ck_assert_int_eq(dfu_dev_upload(dev, &opts, &back, &res, &err), DFU_E_USB_NODEV);
	ck_assert_ptr_null(back);
	ck_assert_ptr_nonnull(strstr(err.detail, "a read changes nothing: the flash is unchanged"));
	ck_assert_ptr_nonnull(strstr(err.detail, "running the same command again reads all of it"));
}
END_TEST

/* ---- 3. deadlines name the operation and the cause ----------------------------------------- */

START_TEST(test_stuck_dnbusy_names_operation_and_cause)
{
	open_dfuse("stm32f405", "stuck-dnbusy", 0);
	add_app(0x08000000, 4000);
	ck_assert_int_eq(download(), DFU_E_DEADLINE);
	ck_assert_ptr_nonnull(strstr(err.message, "DfuSe erase page 0x08000000"));
	ck_assert_ptr_nonnull(strstr(err.message, "after announcing"));
	ck_assert_uint_gt(err.announced_ms, 0);
	ck_assert_uint_gt(err.busy_ms, err.announced_ms);
	assert_cause("busy-longer");
	ck_assert_ptr_nonnull(strstr(err.hint, "power"));
}
END_TEST

/* The U5 runs an erase inside the GET_STATUS: a stuck one is never answered. */
START_TEST(test_unanswered_erase_says_the_sector_is_undefined_and_resumable)
{
	open_dfuse("stm32u5", "stuck-dnbusy", 0);
	add_app(0x08000000, 4000);
	ck_assert_int_eq(download(), DFU_E_USB_TIMEOUT);
	ck_assert_ptr_nonnull(strstr(err.op, "DfuSe erase page 0x08000000"));
	ck_assert_msg(strstr(err.detail, "no sector erased before; sector 0x08000000 (8 KiB) was "
					 "being erased: the device stopped answering during the "
					 "erase") != NULL,
		      "%s", err.detail);
	ck_assert_ptr_nonnull(strstr(err.detail, "the chip stays in the bootloader"));
	ck_assert(err.resumable);
	ck_assert(dfu_error_wants_reset(&err));
}
END_TEST

START_TEST(test_h7_bank2_erase_names_the_rom_erratum)
{
	open_dfuse("stm32h743", "stuck-dnbusy=0x08100000", 0);
	add_pattern(0x08100000, 1000, 0x08100000);
	opts.timeout_ms = 3000;
	ck_assert_int_eq(download(), DFU_E_DEADLINE);
	assert_cause("h7-bank2-erase");
	ck_assert_ptr_nonnull(strstr(err.hint, "erratum"));
	ck_assert_uint_eq(simtest_state(sim).dfu_state, DFU_STATE_DFU_IDLE);
}
END_TEST

START_TEST(test_zero_poll_timeout_forever_names_the_firmware)
{
	open_dfuse("stm32f405", "zero-poll-timeout,stuck-dnbusy", 0);
	add_app(0x08000000, 4000);
	opts.timeout_ms = 2000;
	ck_assert_int_eq(download(), DFU_E_DEADLINE);
	ck_assert(err.zero_poll);
	ck_assert_ptr_nonnull(strstr(err.message, "announcing bwPollTimeout 0"));
	assert_cause("zero-poll-stuck");
}
END_TEST

START_TEST(test_slow_f4_mass_erase_suggests_a_longer_timeout)
{
	open_dfuse("stm32f405", "busy=repeat", 0);
	add_app(0x08000000, 4000);
	opts.mass_erase = true;
	opts.timeout_ms = 1500;
	download();
	dump();
	ck_assert_int_eq(err.err, DFU_E_DEADLINE);
	ck_assert_ptr_nonnull(strstr(err.op, "mass erase"));
	assert_cause("mass-erase-slow");
	ck_assert_ptr_nonnull(strstr(err.hint, "--timeout"));
}
END_TEST

/* ---- 4. a disconnect in the middle of a download ------------------------------------------- */

START_TEST(test_disconnect_mid_download_says_what_the_flash_holds_and_resumes)
{
	open_dfuse("stm32f405", "disconnect-at-byte=20000", 0);
	add_app(0x08000000, 40000);
	ck_assert_int_eq(download(), DFU_E_USB_NODEV);
	assert_cause("gone-mid-download");
	ck_assert(err.resumable);
	/* the vector-table sector is erased first and written last */
	ck_assert_ptr_nonnull(strstr(err.detail, "3 sectors erased (0x08000000, 0x08004000, "
						 "0x08008000)"));
	ck_assert_ptr_nonnull(strstr(err.detail, "written: 0x08004000..0x080087ff"));
	ck_assert_ptr_nonnull(strstr(err.detail, "18432 of 40000 bytes"));
	ck_assert_ptr_nonnull(strstr(err.detail, "vector-table sector 0x08000000 is erased and "
						 "not yet written"));
	ck_assert_ptr_nonnull(strstr(err.detail, "stays in the bootloader"));
	/* replug; the same download again completes the flash */
	dfu_dev_close(dev);
	dev = NULL;
	ck_assert_int_eq(sim_device_replug(sim), 0);
	open_alt(0);
	ck_assert_int_eq(download(), 0);
	assert_mem_is_image();
}
END_TEST

START_TEST(test_verdict_after_writing_describes_the_flash_but_is_not_resumable)
{
	/* the second erase fails: the first (the vector-table sector) is done */
	open_dfuse("stm32f405", "faulty-page=0x08004000:4", 0);
	add_app(0x08000000, 20000);
	ck_assert_int_eq(download(), DFU_E_DEVSTATUS);
	assert_cause("erase-failed");
	ck_assert(!err.resumable);
	ck_assert_ptr_nonnull(strstr(err.detail, "1 sector erased (0x08000000)"));
	ck_assert_ptr_nonnull(strstr(err.detail, "nothing written yet"));
}
END_TEST

/* ---- 5. no LANGID, broken strings ----------------------------------------------------------- */

static void strings_case(const char *faults, const char *state)
{
	struct dfu_match m;
	struct dfu_if_info *list = NULL;
	size_t n = 0;

	new_sim("stm32f405", faults);
	dfu_match_init(&m);
	ck_assert_int_eq(dfu_list(ctx, &m, &list, &n, NULL), 0);
	ck_assert_uint_ge(n, 1);
	ck_assert_ptr_nonnull(strstr(list[0].strings_state, state));
	ck_assert_int_eq(list[0].open_err, 0);
	dfu_if_info_free(list, n);
	open_alt(0);
	add_app(0x08000000, 6000);
	ck_assert_int_eq(download(), 0);
	assert_mem_is_image();
}

START_TEST(test_no_langid_is_listed_and_flashed)
{
	strings_case("no-langid", "no LANGID");
}
END_TEST

START_TEST(test_stalled_langid_is_listed_and_flashed)
{
	strings_case("no-langid=stall", "no LANGID");
}
END_TEST

START_TEST(test_broken_strings_are_listed_and_flashed)
{
	strings_case("bad-strings", "truncated");
}
END_TEST

/* ---- 6. the cause table on virtual devices ------------------------------------------------ */

START_TEST(test_cause_target_dfuse)
{
	open_dfuse("stm32f405", "faulty-page=0x08000000:1", 0);
	add_app(0x08000000, 4000);
	ck_assert_int_eq(download(), DFU_E_DEVSTATUS);
	assert_cause("target-dfuse");
}
END_TEST

START_TEST(test_cause_vendor_status_on_plain_dfu_is_not_rdp)
{
	struct dfu_error e = { 0 };

	/* the same status on a plain DFU device: no RDP talk */
	dfu_error_set(&e, DFU_E_DEVSTATUS, "dfu.device_status", NULL, "x");
	dfu_error_device(&e, "download block 0 (offset 0)", 0);
	dfu_error_state(&e, DFU_STATE_DFU_ERROR, DFU_STATUS_ERR_VENDOR);
	ck_assert_str_eq(dfu_cause_id(&e, 0), "vendor");
	ck_assert_str_eq(dfu_cause_id(&e, DFU_QUIRK_DFUSE_PROTOCOL), "rdp");
}
END_TEST

START_TEST(test_cause_unsupported_dfuse_command)
{
	uint8_t cmd[1] = { 0x55 };
	struct dfu_status_reply st;
	struct dfu_op op;

	open_dfuse("stm32f405", NULL, 0);
	ck_assert_int_eq(dfu_dev_ensure_idle(dev, NULL, &err), 0);
	dfu_op_init(&op, 0, "DfuSe erase page (command 0x55)");
	ck_assert_int_eq(dfu_request(dev, &op, DFU_REQ_DNLOAD, 0, cmd, 1, 0, &err), 1);
	ck_assert_int_eq(dfu_poll(dev, &op, dfu_now_ms(ctx) + 5000, &st, &err), DFU_E_DEVSTATUS);
	ck_assert_uint_eq(err.status, DFU_STATUS_ERR_STALLEDPKT);
	assert_cause("stalledpkt-command");
}
END_TEST

START_TEST(test_cause_timeout_after_retries)
{
	open_dfuse("stm32f405", NULL, 0);
	add_app(0x08000000, 4000);
	/* GET_STATUS 4 is the first poll of the Set Address, after the erase */
	inject(DFU_REQ_GETSTATUS, 4, 100, DFU_E_USB_TIMEOUT, "LIBUSB_ERROR_TIMEOUT");
	ck_assert_int_eq(download(), DFU_E_USB_TIMEOUT);
	ck_assert_uint_eq(res.retries, DFU_RETRY_MAX);
	assert_cause("timeout");
	ck_assert(err.resumable);
}
END_TEST

START_TEST(test_cause_io_after_retries)
{
	open_dfuse("stm32f405", NULL, 0);
	add_app(0x08000000, 4000);
	inject(DFU_REQ_DNLOAD, 3, 100, DFU_E_USB_IO, "LIBUSB_ERROR_IO");
	ck_assert_int_eq(download(), DFU_E_USB_IO);
	ck_assert_uint_eq(err.attempts, DFU_RETRY_MAX + 1);
	assert_cause("io");
}
END_TEST

START_TEST(test_cause_overflow)
{
	open_dfuse("stm32f405", NULL, 0);
	add_app(0x08000000, 4000);
	inject(DFU_REQ_GETSTATUS, 3, 100, DFU_E_USB_OVERFLOW, "LIBUSB_ERROR_OVERFLOW");
	ck_assert_int_eq(download(), DFU_E_USB_OVERFLOW);
	assert_cause("overflow");
}
END_TEST

START_TEST(test_cause_gone_outside_a_download)
{
	struct dfu_op op;
	struct dfu_status_reply st;

	open_dfuse("stm32f405", NULL, 0);
	inject(DFU_REQ_GETSTATUS, 1, 100, DFU_E_USB_NODEV, "LIBUSB_ERROR_NO_DEVICE");
	dfu_op_init(&op, -1, "GET_STATUS");
	ck_assert_int_eq(dfu_get_status(dev, &op, 0, &st, &err), DFU_E_USB_NODEV);
	assert_cause("gone");
}
END_TEST

START_TEST(test_causes_without_a_virtual_trigger)
{
	/* the same rows from built errors, independent of the sim (each is also
	 * triggered on a virtual device in the "cause-rows" case) */
	static const struct {
		uint8_t status;
		const char *op;
		const char *id;
	} rows[] = {
		{ DFU_STATUS_ERR_WRITE, "DfuSe write block 2 at 0x08000000", "write-failed" },
		{ DFU_STATUS_ERR_PROG, "DfuSe write block 2 at 0x08000000", "prog-failed" },
		{ DFU_STATUS_ERR_VERIFY, "download block 3 (offset 3)", "verify-failed" },
		{ DFU_STATUS_ERR_CHECK_ERASED, "DfuSe erase page 0x08000000", "erase-check" },
		{ DFU_STATUS_ERR_ADDRESS, "download block 3 (offset 3)", "address" },
		{ DFU_STATUS_ERR_NOTDONE, "manifestation", "notdone" },
		{ DFU_STATUS_ERR_FIRMWARE, "GET_STATUS at start", "firmware" },
		{ DFU_STATUS_ERR_USBR, "download block 3 (offset 3)", "usb-reset-seen" },
		{ DFU_STATUS_ERR_POR, "download block 3 (offset 3)", "power-on-reset" },
		{ DFU_STATUS_ERR_STALLEDPKT, "download block 3 (offset 3)", "stalledpkt" },
		{ DFU_STATUS_ERR_TARGET, "download block 0 (offset 0)", "target" },
	};

	for (size_t i = 0; i < ARRAY_SIZE(rows); i++) {
		struct dfu_error e = { 0 };

		dfu_error_set(&e, DFU_E_DEVSTATUS, "dfu.device_status", NULL, "x");
		dfu_error_device(&e, rows[i].op, 0);
		dfu_error_state(&e, DFU_STATE_DFU_ERROR, rows[i].status);
		ck_assert_str_eq(dfu_cause_id(&e, 0), rows[i].id);
		ck_assert_ptr_nonnull(dfu_cause_hint(&e, 0));
	}
	/* a DfuSe command stalled by a plain DFU bootloader (dapboot with -s) */
	{
		struct dfu_error e = { 0 };

		dfu_error_set(&e, DFU_E_USB_PIPE, "dfu.usb", NULL, "x");
		dfu_error_device_at(&e, "DfuSe Set Address 0x08000000", 0, 0x08000000);
		e.usb_err = DFU_E_USB_PIPE;
		e.attempts = 1;
		ck_assert_str_eq(dfu_cause_id(&e, 0), "command-to-plain-dfu");
	}
}
END_TEST

/* ---- 6b. every status row of the cause table on a virtual device ------------------------- */

/* A download that the device ends with dfuERROR/@status: not retried, the cause's hint. */
static void assert_verdict(uint8_t status, const char *op, const char *id)
{
	dump();
	ck_assert_int_eq(download(), DFU_E_DEVSTATUS);
	ck_assert_uint_eq(err.state, DFU_STATE_DFU_ERROR);
	ck_assert_uint_eq(err.status, status);
	ck_assert_ptr_nonnull(strstr(err.op, op));
	assert_cause(id);
}

START_TEST(test_cause_write_failed)
{
	/* DNLOAD 1: erase, 2: Set Address, 3: block 2 */
	open_dfuse("stm32f405", "status-on-request=DNLOAD:3=3", 0);
	add_app(0x08000000, 4000);
	assert_verdict(DFU_STATUS_ERR_WRITE, "DfuSe write block 2", "write-failed");
	ck_assert_uint_eq(res.retries, 0);
	ck_assert(!dfu_error_wants_reset(&err));
}
END_TEST

START_TEST(test_cause_alt_refuses)
{
	/* the STM32duino bootloader's alt 0 takes no download: errWRITE on block 0 */
	open_dfuse("maple", NULL, 0);
	add_pattern(0, 2000, 0);
	assert_verdict(DFU_STATUS_ERR_WRITE, "download block 0 ", "alt-refuses");
}
END_TEST

START_TEST(test_cause_prog_failed)
{
	open_dfuse("stm32l476", "status-on-request=DNLOAD:3=6", 0);
	add_app(0x08000000, 1000);
	assert_verdict(DFU_STATUS_ERR_PROG, "DfuSe write block 2", "prog-failed");
}
END_TEST

START_TEST(test_cause_verify_failed)
{
	/* plain DFU: DNLOAD 1 is block 0, 2 is block 1 */
	open_generic("generic", "status-on-request=DNLOAD:2=7");
	add_pattern(0, 3000, 0);
	assert_verdict(DFU_STATUS_ERR_VERIFY, "download block 1", "verify-failed");
}
END_TEST

START_TEST(test_cause_erase_check)
{
	/* the sector is not blank after the erase (rusefi #8803) */
	open_dfuse("stm32f405", "faulty-page=0x08000000:5", 0);
	add_app(0x08000000, 4000);
	assert_verdict(DFU_STATUS_ERR_CHECK_ERASED, "DfuSe erase page 0x08000000", "erase-check");
	ck_assert_uint_eq(simtest_state(sim).dfu_status, DFU_STATUS_ERR_CHECK_ERASED);
}
END_TEST

START_TEST(test_cause_address_past_the_end_of_a_plain_device)
{
	/* 128 KiB of flash behind the generic device: one block more is refused */
	open_generic("generic", NULL);
	add_pattern(0, 128 * 1024 + 64, 0);
	assert_verdict(DFU_STATUS_ERR_ADDRESS, "download block 2048", "address");
}
END_TEST

START_TEST(test_cause_notdone_at_manifestation)
{
	/* 3000 bytes: blocks 0..46, then the zero-length DNLOAD 48 */
	open_generic("generic", "status-on-request=DNLOAD:48=9");
	add_pattern(0, 3000, 0);
	assert_verdict(DFU_STATUS_ERR_NOTDONE, "manifest", "notdone");
}
END_TEST

START_TEST(test_cause_firmware_at_manifestation)
{
	/* the device checks the image it got and finds no valid firmware */
	open_generic("generic", "status-on-request=DNLOAD:48=10");
	add_pattern(0, 3000, 0);
	assert_verdict(DFU_STATUS_ERR_FIRMWARE, "manifest", "firmware");
}
END_TEST

START_TEST(test_cause_usb_reset_seen)
{
	open_dfuse("stm32f405", "status-on-request=DNLOAD:3=12", 0);
	add_app(0x08000000, 4000);
	assert_verdict(DFU_STATUS_ERR_USBR, "DfuSe write block 2", "usb-reset-seen");
	ck_assert(dfu_error_wants_reset(&err));
}
END_TEST

START_TEST(test_cause_power_on_reset)
{
	open_dfuse("stm32f405", "status-on-request=DNLOAD:1=13", 0);
	add_app(0x08000000, 4000);
	assert_verdict(DFU_STATUS_ERR_POR, "DfuSe erase page 0x08000000", "power-on-reset");
	ck_assert(dfu_error_wants_reset(&err));
}
END_TEST

START_TEST(test_cause_stalledpkt_on_a_plain_device)
{
	open_generic("generic", "status-on-request=DNLOAD:3=15");
	add_pattern(0, 3000, 0);
	assert_verdict(DFU_STATUS_ERR_STALLEDPKT, "download block 2", "stalledpkt");
}
END_TEST

START_TEST(test_cause_target_on_a_plain_device)
{
	open_generic("generic", "status-on-request=DNLOAD:1=1");
	add_pattern(0, 3000, 0);
	assert_verdict(DFU_STATUS_ERR_TARGET, "download block 0", "target");
}
END_TEST

START_TEST(test_cause_vendor_on_a_plain_device)
{
	open_generic("generic", "status-on-request=DNLOAD:1=11");
	add_pattern(0, 3000, 0);
	assert_verdict(DFU_STATUS_ERR_VENDOR, "download block 0", "vendor");
}
END_TEST

START_TEST(test_cause_dfuse_command_to_a_plain_dfu_bootloader)
{
	/* dapboot given -s: it takes the 5-byte DNLOAD and stalls the GET_STATUS that
	 * follows it (here: polled before the block it took for data is written) */
	uint8_t cmd[5] = { 0x21, 0x00, 0x00, 0x00, 0x08 };
	struct dfu_status_reply st;
	struct dfu_op op;

	open_generic("generic", "busy=stall");
	ck_assert_int_eq(dfu_dev_ensure_idle(dev, NULL, &err), 0);
	dfu_op_init_at(&op, 0, 0x08000000, "DfuSe Set Address 0x08000000");
	ck_assert_int_eq(dfu_request(dev, &op, DFU_REQ_DNLOAD, 0, cmd, sizeof(cmd), 0, &err), 5);
	ck_assert_int_eq(dfu_get_status(dev, &op, 0, &st, &err), 0);
	ck_assert_uint_eq(st.state, DFU_STATE_DFU_DNBUSY);
	ck_assert_int_eq(dfu_get_status(dev, &op, 0, &st, &err), DFU_E_USB_PIPE);
	assert_cause("command-to-plain-dfu");
	ck_assert_ptr_nonnull(strstr(err.hint, "drop -s"));
}
END_TEST

/* ---- 7. trace ----------------------------------------------------------------------------- */

START_TEST(test_trace_has_every_request)
{
	struct dfu_match m;
	struct dfu_if_info *list = NULL;
	size_t n = 0;
	unsigned classes;

	new_sim("stm32f405", "stall-on-request=GETSTATUS:4");
	dfu_ctx_set_trace_fn(ctx, trace_cb, NULL);
	dfu_match_init(&m);
	ck_assert_int_eq(dfu_list(ctx, &m, &list, &n, NULL), 0);
	dfu_if_info_free(list, n);
	ck_assert_uint_gt(n_trace_strings, 0); /* LANGID and strings while listing */
	open_alt(0);
	n_trace = n_trace_status = 0;
	add_app(0x08000000, 8000);
	ck_assert_int_eq(download(), 0);
	classes = 0;
	for (size_t i = 0; i < 8; i++)
		classes += n_req[i];
	ck_assert_uint_eq(n_trace, classes);
	ck_assert_uint_eq(n_trace_status, n_req[DFU_REQ_GETSTATUS] - 1); /* one stalled */
	ck_assert_uint_ge(n_trace_retry, 1);
	ck_assert(trace_durations_ok);
}
END_TEST

/* ---- fault-matrix regressions ------------------------------------------------------------ */

START_TEST(test_stalled_first_get_status_is_retried_not_run_time_mode)
{
	struct dfu_idle_report rep;

	open_dfuse("stm32f405", "stall-on-request=GETSTATUS:1", 0);
	ck_assert_int_eq(dfu_dev_ensure_idle(dev, &rep, &err), 0);
	ck_assert(!rep.stall_as_idle);
	add_app(0x08000000, 8000);
	ck_assert_int_eq(download(), 0);
	assert_mem_is_image();
}
END_TEST

START_TEST(test_dfu_mode_get_status_stalling_always_is_a_protocol_error)
{
	open_dfuse("stm32f405", NULL, 0);
	inject(DFU_REQ_GETSTATUS, 1, 100, DFU_E_USB_PIPE, "LIBUSB_ERROR_PIPE");
	ck_assert_int_eq(dfu_dev_ensure_idle(dev, NULL, &err), DFU_E_PROTOCOL);
	ck_assert_str_eq(err.code, "dfu.status_stalled");
	ck_assert_ptr_null(strstr(err.message, "run-time"));
	ck_assert_uint_eq(n_req[DFU_REQ_GETSTATUS], DFU_RETRY_MAX + 1);
}
END_TEST

START_TEST(test_timed_out_dnload_restarts_the_deadline)
{
	/* DNLOAD 3: the third erase; its lost time must not eat the erase deadline */
	open_dfuse("stm32f405", "zero-poll-timeout,timeout-on-request=DNLOAD:3", 0);
	add_app(0x08000000, 40000);
	ck_assert_int_eq(download(), 0);
	dump();
	assert_mem_is_image();
	ck_assert_uint_ge(res.retries, 1);
}
END_TEST

START_TEST(test_stalled_clrstatus_at_start_is_retried)
{
	struct dfu_idle_report rep;

	open_dfuse("gd32vf103", "stall-on-request=CLRSTATUS:1", 0);
	ck_assert_int_eq(dfu_dev_ensure_idle(dev, &rep, &err), 0);
	ck_assert(rep.cleared);
	ck_assert_uint_ge(n_req[DFU_REQ_CLRSTATUS], 2);
}
END_TEST

START_TEST(test_manifest_wait_reset_at_start_is_reset_and_reopened)
{
	struct dfu_status_reply st;
	struct dfu_op op;

	new_sim("generic-intolerant", NULL);
	simtest_detach(ctx);
	open_alt(0);
	add_pattern(0, 2048, 0);
	ck_assert_int_eq(dfu_dev_ensure_idle(dev, NULL, &err), 0);
	ck_assert_int_eq(download(), 0);
	ck_assert_uint_eq(simtest_state(sim).dfu_state, DFU_STATE_DFU_MANIFEST_WAIT_RESET);
	dfu_error_clear(&err);
	ck_assert_int_eq(dfu_dev_ensure_idle(dev, NULL, &err), 0);
	dfu_op_init(&op, -1, "check");
	ck_assert_int_eq(dfu_get_status(dev, &op, 0, &st, NULL), 0);
	ck_assert_uint_eq(st.state, DFU_STATE_DFU_IDLE);
	ck_assert_int_eq(download(), 0);
}
END_TEST

START_TEST(test_stalled_detach_is_retried)
{
	new_sim("generic", "stall-on-request=DETACH:1");
	simtest_detach(ctx);
	ck_assert_ptr_null(strstr(logged, "also when retried"));
	open_alt(0);
}
END_TEST

START_TEST(test_transient_upload_failures_are_retried)
{
	static const char *const faults[] = { "stall-on-request=UPLOAD:2",
					      "timeout-on-request=UPLOAD:2",
					      "stall-on-request=ABORT:1" };

	for (size_t f = 0; f < sizeof(faults) / sizeof(faults[0]); f++) {
		struct dfu_image *back = NULL;

		if (f) {
			simtest_teardown();
			simtest_setup();
			setup();
		}
		open_dfuse("stm32f405", faults[f], 0);
		add_app(0x08000000, 40000);
		ck_assert_int_eq(download(), 0);
		set_upload_range(0x08000000, 40000);
		dfu_error_clear(&err);
		ck_assert_msg(dfu_dev_upload(dev, &opts, &back, &res, &err) == 0, "%s: %s",
			      faults[f], err.message);
		assert_read_back_is_image(back, 0x08000000, 40000);
		dfu_image_free(back);
	}
}
END_TEST

/* A plain DFU device with @faults holding 4 KiB of the image at 0, in dfuIDLE,
 * and opts set to read those 4 KiB back. */
static void plain_device_holding_4k(const char *faults)
{
	open_generic("generic", faults);
	add_pattern(0, 4096, 0);
	ck_assert_int_eq(download(), 0);
	dfu_error_clear(&err);
	ck_assert_int_eq(dfu_dev_ensure_idle(dev, NULL, &err), 0);
	opts.have_length = true;
	opts.length = 4096;
}

START_TEST(test_stalled_plain_upload_is_retried)
{
	struct dfu_image *back = NULL;

	plain_device_holding_4k("stall-on-request=UPLOAD:2");
	ck_assert_msg(dfu_dev_upload(dev, &opts, &back, &res, &err) == 0, "%s", err.message);
	ck_assert_uint_ge(res.retries, 1);
	assert_read_back_is_image(back, 0, 4096);
	dfu_image_free(back);
}
END_TEST

/*
 * A timed-out UPLOAD of a plain DFU device is not sent again (the device may
 * have moved on to the next block): the USB reset of dfu_dev_recover() starts
 * its firmware, so it is detached once more and the read starts over.
 */
START_TEST(test_timed_out_plain_upload_recovers_by_reset_and_detach)
{
	struct dfu_image *back = NULL;

	plain_device_holding_4k("timeout-on-request=UPLOAD:2");
	ck_assert_int_eq(dfu_dev_upload(dev, &opts, &back, &res, &err), DFU_E_USB_TIMEOUT);
	ck_assert_ptr_null(back);
	ck_assert(dfu_error_wants_reset(&err));
	dfu_error_clear(&err);
	ck_assert_msg(dfu_dev_recover(&dev, &err) == 0, "%s", err.message);
	ck_assert_ptr_nonnull(dev);
	ck_assert(log_has("the device started its firmware after the USB reset: detaching it"));
	ck_assert(log_has("re-enumerated and was opened again at 1-1, alt 0: in dfuIDLE"));
	ck_assert_msg(dfu_dev_upload(dev, &opts, &back, &res, &err) == 0, "%s", err.message);
	assert_read_back_is_image(back, 0, 4096);
	dfu_image_free(back);
}
END_TEST

static const char *const bad_transfer_sizes[] = { "transfer-size=65535", "transfer-size=0" };

START_TEST(test_absurd_transfer_size_is_a_device_error_before_erasing)
{
	/* the device's descriptor is wrong, not the command line: 76, not 64 */
	open_dfuse("stm32f405", bad_transfer_sizes[_i], 0);
	add_app(0x08000000, 8000);
	ck_assert_int_eq(download(), DFU_E_PROTOCOL);
	ck_assert_str_eq(err.code, "dfu.transfer_size");
	ck_assert_ptr_nonnull(strstr(err.message, "nothing was done"));
	ck_assert_ptr_nonnull(strstr(err.hint, "-t"));
	ck_assert_uint_eq(n_req[DFU_REQ_DNLOAD], 0);
	opts.transfer_size = 2048;
	ck_assert_int_eq(download(), 0);
	assert_mem_is_image();
}
END_TEST

START_TEST(test_dfuse_transfer_size_below_a_command_is_a_device_error_before_any_request)
{
	/* _i = 1..4: too small for the 5-byte Set Address and Erase commands */
	char fault[32];

	snprintf(fault, sizeof(fault), "transfer-size=%d", _i);
	open_dfuse("stm32f405", fault, 0);
	add_app(0x08000000, 8000);
	ck_assert_int_eq(download(), DFU_E_PROTOCOL);
	ck_assert_str_eq(err.code, "dfu.transfer_size");
	ck_assert_ptr_nonnull(err.hint);
	ck_assert_uint_eq(n_requests, 0);
	ck_assert_uint_eq(n_erases, 0);
}
END_TEST

static TCase *tc(Suite *s, const char *name)
{
	return simtest_tcase(s, name, setup, NULL, 60);
}

int main(void)
{
	Suite *s = suite_create("recovery");
	TCase *t;

	t = tc(s, "retries");
	tcase_add_test(t, test_stalled_get_status_is_retried_and_reported);
	tcase_add_test(t, test_timed_out_get_status_is_retried_within_the_deadline);
	tcase_add_test(t, test_stalled_set_address_is_sent_again);
	tcase_add_test(t, test_lost_data_block_gets_a_fresh_set_address);
	tcase_add_test(t, test_block_that_arrived_is_not_sent_twice);
	tcase_add_test(t, test_huge_poll_timeout_before_a_retry_is_cut_to_the_deadline);
	tcase_add_test(t, test_device_error_after_a_stall_is_cleared_and_the_block_resent);
	tcase_add_test(t, test_lost_get_status_answer_of_a_strict_device_resends_the_command);
	tcase_add_test(t, test_retries_are_bounded);
	tcase_add_test(t, test_device_verdict_is_not_retried);
	tcase_add_test(t, test_read_unprotect_and_leave_are_not_retried);
	tcase_add_test(t, test_plain_dfu_block_is_resent_only_from_dnload_idle);

	t = tc(s, "reset-recovery");
	tcase_add_test(t, test_fail_every_second_run_recovers_by_reset);
	tcase_add_test(t, test_recover_fails_cleanly_when_the_device_is_gone);

	t = tc(s, "deadlines");
	tcase_add_test(t, test_stuck_dnbusy_names_operation_and_cause);
	tcase_add_test(t, test_unanswered_erase_says_the_sector_is_undefined_and_resumable);
	tcase_add_test(t, test_h7_bank2_erase_names_the_rom_erratum);
	tcase_add_test(t, test_zero_poll_timeout_forever_names_the_firmware);
	tcase_add_test(t, test_slow_f4_mass_erase_suggests_a_longer_timeout);

	t = tc(s, "interrupted");
	tcase_add_test(t, test_disconnect_mid_download_says_what_the_flash_holds_and_resumes);
	tcase_add_test(t, test_short_status_at_start_says_the_flash_is_unchanged);
	tcase_add_test(t, test_undefined_state_during_an_erase_leaves_that_sector_undefined);
	tcase_add_test(
	    t, test_generic_download_lost_at_its_first_block_may_leave_an_incomplete_firmware);
	tcase_add_test(t, test_refused_transfer_size_says_the_flash_is_unchanged);
	tcase_add_test(t, test_layout_string_too_slow_to_read_is_named_as_the_cause);
	tcase_add_test(t, test_failed_read_says_a_read_changes_nothing);
	tcase_add_test(t, test_verdict_after_writing_describes_the_flash_but_is_not_resumable);

	t = tc(s, "strings");
	tcase_add_test(t, test_no_langid_is_listed_and_flashed);
	tcase_add_test(t, test_stalled_langid_is_listed_and_flashed);
	tcase_add_test(t, test_broken_strings_are_listed_and_flashed);

	t = tc(s, "causes");
	tcase_add_test(t, test_cause_target_dfuse);
	tcase_add_test(t, test_cause_vendor_status_on_plain_dfu_is_not_rdp);
	tcase_add_test(t, test_cause_unsupported_dfuse_command);
	tcase_add_test(t, test_cause_timeout_after_retries);
	tcase_add_test(t, test_cause_io_after_retries);
	tcase_add_test(t, test_cause_overflow);
	tcase_add_test(t, test_cause_gone_outside_a_download);
	tcase_add_test(t, test_causes_without_a_virtual_trigger);

	t = tc(s, "cause-rows");
	tcase_add_test(t, test_cause_write_failed);
	tcase_add_test(t, test_cause_prog_failed);
	tcase_add_test(t, test_cause_alt_refuses);
	tcase_add_test(t, test_cause_verify_failed);
	tcase_add_test(t, test_cause_erase_check);
	tcase_add_test(t, test_cause_address_past_the_end_of_a_plain_device);
	tcase_add_test(t, test_cause_notdone_at_manifestation);
	tcase_add_test(t, test_cause_firmware_at_manifestation);
	tcase_add_test(t, test_cause_usb_reset_seen);
	tcase_add_test(t, test_cause_power_on_reset);
	tcase_add_test(t, test_cause_stalledpkt_on_a_plain_device);
	tcase_add_test(t, test_cause_target_on_a_plain_device);
	tcase_add_test(t, test_cause_vendor_on_a_plain_device);
	tcase_add_test(t, test_cause_dfuse_command_to_a_plain_dfu_bootloader);

	t = tc(s, "matrix-regressions");
	tcase_add_test(t, test_stalled_first_get_status_is_retried_not_run_time_mode);
	tcase_add_test(t, test_dfu_mode_get_status_stalling_always_is_a_protocol_error);
	tcase_add_test(t, test_timed_out_dnload_restarts_the_deadline);
	tcase_add_test(t, test_stalled_clrstatus_at_start_is_retried);
	tcase_add_test(t, test_manifest_wait_reset_at_start_is_reset_and_reopened);
	tcase_add_test(t, test_stalled_detach_is_retried);
	tcase_add_test(t, test_transient_upload_failures_are_retried);
	tcase_add_test(t, test_stalled_plain_upload_is_retried);
	tcase_add_test(t, test_timed_out_plain_upload_recovers_by_reset_and_detach);
	tcase_add_loop_test(t, test_absurd_transfer_size_is_a_device_error_before_erasing, 0,
			    (int)ARRAY_SIZE(bad_transfer_sizes));
	tcase_add_loop_test(
	    t, test_dfuse_transfer_size_below_a_command_is_a_device_error_before_any_request, 1, 5);

	t = tc(s, "trace");
	tcase_add_test(t, test_trace_has_every_request);
	return test_run_suite(s);
}
