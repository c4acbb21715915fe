// SPDX-License-Identifier: GPL-2.0-or-later
/* Unit tests for the DFU 1.1 / DfuSe protocol engine (src/lib/dfu/request.c,
 * plain.c, dfuse.c, ops.c, quirks.c) against the in-process sim devices on a virtual clock:
 * download, upload, verify, leave, polling rules, deadlines and the memory-map checks. */
#include "config.h"

#include "engine.h"
#include "macro.h"
#include "proto.h"
#include "sim-api.h"
#include "simtest.h"
#include "testutil.h"
#include "transport-sim.h"
#include "util.h"

/* ---- fixture: simtest.h, and these of the protocol tests ---------------------------------- */

/* Answers the first GET_STATUS with 5 bytes instead of 6, then gets out of the way. */
static int short_get_status(struct dfu_handle *h, uint8_t rt, uint8_t req, uint16_t value,
			    uint16_t index, uint8_t *data, uint16_t len, unsigned timeout_ms,
			    const char **usb_name)
{
	int r = simtest_control_real(h, rt, req, value, index, data, len, timeout_ms, usb_name);

	if ((rt & 0x60) == 0x20 && req == DFU_REQ_GETSTATUS && r == 6) {
		simtest_control = NULL;
		return 5;
	}
	return r;
}

static bool mem_all(uint32_t address, size_t len, uint8_t v)
{
	uint8_t b[256];

	while (len) {
		size_t n = MIN(len, sizeof(b));

		ck_assert_int_eq(sim_device_mem_read(sim, address, b, n), 0);
		for (size_t i = 0; i < n; i++)
			if (b[i] != v)
				return false;
		address += (uint32_t)n;
		len -= n;
	}
	return true;
}

static void fill_mem(uint32_t address, size_t len, uint8_t v)
{
	uint8_t *b = malloc(len);

	ck_assert_ptr_nonnull(b);
	memset(b, v, len);
	ck_assert_int_eq(sim_device_mem_write(sim, address, b, len), 0);
	free(b);
}

/* ---- DfuSe download ------------------------------------------------------------------------ */

START_TEST(test_f4_download_of_a_multi_segment_image_matches_memory)
{
	/* announced polling: early polls of the default (auto) mode are
	 * check-poll's subject */
	new_sim("stm32f405", NULL);
	dfu_ctx_set_poll(ctx, DFU_POLL_ANNOUNCED, 0);
	open_alt(0);
	add_app(0x08000000, 3000);
	add_pattern(0x08004103, 501, 7);   /* unaligned, sector 1 */
	add_pattern(0x08020010, 5000, 9);  /* sector 5 (128 KiB) */
	add_pattern(0x080213f0, 4100, 11); /* gap in the same sector */
	ck_assert_int_eq(download(), 0);
	assert_mem_is_image();
	ck_assert_uint_eq(res.sectors_erased, 3);
	ck_assert_uint_ge(res.bytes_written, 3000 + 501 + 5000 + 4100);
	ck_assert_uint_eq(simtest_state(sim).dfu_state, DFU_STATE_DFU_IDLE);
	ck_assert_uint_eq(early_polls, 0);
}
END_TEST

/*
 * Set Address (DfuSe 0x21) in a download: the data of one layout segment that
 * is contiguous (after widening to 32 bytes) is one run, written with
 * wBlockNum 2, 3, ... from one Set Address, since the ROM places block n at
 * pointer + (n - 2) * wTransferSize (AN3156).  A short last block gets an
 * address of its own: AN2662 defines that T as "the length of the requested
 * data buffer", so some ROMs place a short block by its own length
 * (needs_address() in dfuse.c).  The F405 ROM's wTransferSize is 2048.
 */
START_TEST(test_download_sets_the_address_once_for_a_run_of_whole_blocks)
{
	open_dfuse("stm32f405", NULL, 0);
	ck_assert_uint_eq(dev->transfer_size, 2048);
	add_pattern(0x08010000, 5 * 2048, 3); /* one run, five whole blocks */
	ck_assert_int_eq(download(), 0);
	assert_mem_is_image();
	ck_assert_uint_eq(n_set_addresses, 1);
	ck_assert_uint_eq(set_addresses[0], 0x08010000);
}
END_TEST

START_TEST(test_download_sets_the_address_again_before_a_short_last_block)
{
	open_dfuse("stm32f405", NULL, 0);
	ck_assert_uint_eq(dev->transfer_size, 2048);
	/* one run of five whole blocks and a sixth of 128 bytes (100 widened to 32) */
	add_pattern(0x08010000, 5 * 2048 + 100, 3);
	ck_assert_int_eq(download(), 0);
	assert_mem_is_image();
	ck_assert_uint_eq(n_set_addresses, 2);
	ck_assert_uint_eq(set_addresses[0], 0x08010000);
	ck_assert_uint_eq(set_addresses[1], 0x08010000 + 5 * 2048);
}
END_TEST

/*
 * An ST ROM computes each block's address from wBlockNum, so the runs of a
 * download are numbered from one Set Address: two runs one block apart are
 * blocks 2, 3 and 5.
 */
/* Two runs of whole blocks in one sector of @profile, one block apart, from
 * @base: downloaded, three blocks sent. */
static void download_two_runs_one_block_apart(const char *profile, uint32_t base)
{
	uint16_t t;

	open_dfuse(profile, NULL, 0);
	t = dev->transfer_size;
	add_pattern(base, 2u * t, 3);
	add_pattern(base + 3u * t, t, 4);
	ck_assert_int_eq(download(), 0);
	assert_mem_is_image();
	ck_assert_uint_eq(n_blocks_sent, 3);
}

START_TEST(test_st_rom_download_numbers_every_run_from_one_set_address)
{
	download_two_runs_one_block_apart("stm32f405", 0x08010000);
	ck_assert_uint_eq(dev->transfer_size, 2048);
	ck_assert_uint_eq(n_set_addresses, 1);
	ck_assert_uint_eq(set_addresses[0], 0x08010000);
	ck_assert_uint_eq(blocks_sent[0].block, 2);
	ck_assert_uint_eq(blocks_sent[1].block, 3);
	ck_assert_uint_eq(blocks_sent[2].block, 5);
}
END_TEST

/*
 * Other DfuSe devices may count the blocks they get instead of computing
 * the address (nothing but AN3156 says they compute): each run gets its own
 * Set Address and blocks 2, 3, ... after it, never a jump (the Photon's
 * bootloader, 4 KiB blocks).
 */
START_TEST(test_other_dfuse_devices_get_a_set_address_per_run)
{
	download_two_runs_one_block_apart("particle-photon", 0x08020000);
	ck_assert_uint_eq(dev->transfer_size, 4096);
	ck_assert_uint_eq(n_set_addresses, 2);
	ck_assert_uint_eq(set_addresses[0], 0x08020000);
	ck_assert_uint_eq(set_addresses[1], 0x08020000 + 3 * 4096);
	ck_assert_uint_eq(blocks_sent[2].block, 2);
	ck_assert_uint_eq(blocks_sent[2].pointer, 0x08020000 + 3 * 4096);
}
END_TEST

/*
 * The CLI brings the device to dfuIDLE when it opens it, and the download
 * checks again before its first request: with nothing sent in between the
 * check asks nothing, so every GET_STATUS of the download answers one of its
 * DNLOADs (two each on the F405).  A request in between, or a second
 * passing, and it asks again.
 */
/*
 * --verify reads what it wrote as one stream: on an ST ROM the runs (sectors
 * 1-2, then the vector-table sector) are reached by block number from the
 * download's one Set Address.  ABORTs: after writing, before reading, after
 * reading.
 */
START_TEST(test_st_rom_verify_reads_every_run_from_the_download_pointer)
{
	open_dfuse("stm32f405", NULL, 0);
	add_app(0x08000000, 20 * 2048); /* sectors 0, 1, 2 in whole blocks */
	opts.verify = true;
	ck_assert_int_eq(download(), 0);
	assert_mem_is_image();
	ck_assert(res.verified);
	ck_assert_uint_eq(n_set_addresses, 1);
	ck_assert_uint_eq(n_req[DFU_REQ_UPLOAD], 20);
	ck_assert_uint_eq(n_req[DFU_REQ_ABORT], 3);
}
END_TEST

START_TEST(test_idle_found_a_moment_ago_is_not_asked_again)
{
	struct dfu_op op;
	unsigned gs, dn;

	open_dfuse("stm32f405", NULL, 0);
	ck_assert_int_eq(dfu_dev_ensure_idle(dev, NULL, &err), 0);
	ck_assert_uint_eq(n_req[DFU_REQ_GETSTATUS], 1);
	ck_assert_int_eq(dfu_dev_ensure_idle(dev, NULL, &err), 0);
	ck_assert_uint_eq(n_req[DFU_REQ_GETSTATUS], 1);
	vc.now_us += 1100 * 1000;
	ck_assert_int_eq(dfu_dev_ensure_idle(dev, NULL, &err), 0);
	ck_assert_uint_eq(n_req[DFU_REQ_GETSTATUS], 2);
	dfu_op_init(&op, -1, "ABORT (test)");
	ck_assert_int_eq(dfu_abort(dev, &op, &err), 0);
	ck_assert_int_eq(dfu_dev_ensure_idle(dev, NULL, &err), 0);
	ck_assert_uint_eq(n_req[DFU_REQ_GETSTATUS], 3);

	add_pattern(0x08010000, 4 * 2048, 3);
	gs = n_req[DFU_REQ_GETSTATUS];
	dn = n_req[DFU_REQ_DNLOAD];
	ck_assert_int_eq(download(), 0);
	assert_mem_is_image();
	ck_assert_uint_eq(n_req[DFU_REQ_GETSTATUS] - gs, 2 * (n_req[DFU_REQ_DNLOAD] - dn));
}
END_TEST

START_TEST(test_h7_download_matches_memory)
{
	open_dfuse("stm32h743", NULL, 0);
	add_app_entry(0x08000000, 0x08000201, 2000);
	add_pattern(0x08020005, 3001, 5); /* not 32-byte aligned: flash words programmed once */
	ck_assert_int_eq(download(), 0);
	assert_mem_is_image();
}
END_TEST

START_TEST(test_l4_download_programs_each_double_word_once)
{
	open_dfuse("stm32l476", NULL, 0);
	add_pattern(0x08000000, 0x405, 1);
	add_pattern(0x08000407, 9, 2);	  /* shares the double word 0x08000400 */
	add_pattern(0x08001003, 5000, 3); /* chunks would split double words */
	ck_assert_int_eq(download(), 0);
	assert_mem_is_image();
}
END_TEST

START_TEST(test_g4_download_with_1024_byte_blocks_matches_memory)
{
	open_dfuse("stm32g474", NULL, 0);
	add_pattern(0x08000800, 4000, 4);
	add_pattern(0x08003001, 77, 6);
	ck_assert_int_eq(download(), 0);
	assert_mem_is_image();
	ck_assert_uint_eq(dev->transfer_size, 1024);
}
END_TEST

START_TEST(test_u5_skipping_dnbusy_after_commands_is_accepted)
{
	open_dfuse("stm32u5", NULL, 0);
	add_pattern(0x08002000, 9000, 8);
	ck_assert_int_eq(download(), 0);
	assert_mem_is_image();
}
END_TEST

START_TEST(test_only_touched_sectors_are_erased)
{
	open_dfuse("stm32f405", NULL, 0);
	fill_mem(0x08000000, 0x20000, 0x5a); /* sectors 0-4 programmed */
	add_pattern(0x08004010, 100, 1);     /* sector 1 only */
	ck_assert_int_eq(download(), 0);
	assert_mem_is_image();
	ck_assert_uint_eq(res.sectors_erased, 1);
	ck_assert(mem_all(0x08000000, 0x4000, 0x5a));
	ck_assert(mem_all(0x08004000, 0x10, 0xff));
	ck_assert(mem_all(0x08004074, 0x4000 - 0x74, 0xff));
	ck_assert(mem_all(0x08008000, 0x18000, 0x5a));
}
END_TEST

START_TEST(test_mass_erase_replaces_the_page_erases)
{
	open_dfuse("stm32f405", NULL, 0);
	fill_mem(0x08040000, 0x100, 0x11);
	add_pattern(0x08000000, 100, 1);
	opts.mass_erase = true;
	ck_assert_int_eq(download(), 0);
	assert_mem_is_image();
	ck_assert_uint_eq(res.sectors_erased, 0);
	ck_assert(mem_all(0x08040000, 0x100, 0xff));
}
END_TEST

START_TEST(test_vector_table_sector_is_written_last)
{
	open_dfuse("stm32f405", NULL, 0);
	add_app(0x08000000, 20 * 2048); /* sectors 0, 1, 2 in whole blocks */
	ck_assert_int_eq(download(), 0);
	assert_mem_is_image();
	/* one Set Address: sector 1 from block 10, sector 0 last, from block 2 */
	ck_assert_uint_eq(n_set_addresses, 1);
	ck_assert_uint_eq(simtest_block_address(0, 2048), 0x08004000);
	ck_assert_uint_eq(blocks_sent[0].block, 10);
	for (size_t i = 0; i < n_blocks_sent; i++)
		ck_assert_uint_eq(simtest_block_address(i, 2048) < 0x08004000,
				  i >= n_blocks_sent - 8);
}
END_TEST

START_TEST(test_interrupted_download_leaves_the_vector_table_sector_erased)
{
	open_dfuse("stm32f405", "disconnect-at-byte=20000", 0);
	add_app(0x08000000, 40000);
	ck_assert_int_eq(download(), DFU_E_USB_NODEV);
	ck_assert_uint_eq(err.usb_err, DFU_E_USB_NODEV);
	ck_assert_str_eq(err.usb_name, "LIBUSB_ERROR_NO_DEVICE");
	ck_assert(err.have_address);
	ck_assert(mem_all(0x08000000, 0x4000, 0xff)); /* no boot: the ROM stays in charge */
	ck_assert(!simtest_state(sim).app_running);
	ck_assert_int_eq(sim_device_replug(sim), 0);
	ck_assert(!simtest_state(sim).app_running);
	ck_assert_uint_eq(simtest_state(sim).mode, SIM_MODE_DFU);
}
END_TEST

/* ---- polling and deadlines ----------------------------------------------------------------- */

START_TEST(test_polling_waits_only_after_busy_replies)
{
	new_sim("stm32f405", NULL);
	dfu_ctx_set_poll(ctx, DFU_POLL_ANNOUNCED, 0);
	open_alt(0);
	add_app(0x08000000, 9000);
	ck_assert_int_eq(download(), 0);
	ck_assert_uint_eq(early_polls, 0);
	ck_assert_uint_eq(idle_sleeps, 0);
	/* each busy reply costs exactly its bwPollTimeout, idle ones nothing */
	ck_assert_uint_gt(host_sleep_ms, 0);
	ck_assert_uint_eq(host_sleep_ms, busy_poll_ms);
}
END_TEST

START_TEST(test_stall_on_early_poll_device_is_never_polled_early)
{
	/* --poll=announced; under auto this F4 identity is polled early once
	 * and demoted (check-poll) */
	new_sim("stm32f405", "busy=stall");
	dfu_ctx_set_poll(ctx, DFU_POLL_ANNOUNCED, 0);
	open_alt(0);
	add_pattern(0x08000000, 20000, 1);
	ck_assert_int_eq(download(), 0);
	assert_mem_is_image();
	ck_assert_uint_eq(early_polls, 0);
}
END_TEST

START_TEST(test_stuck_dnbusy_ends_in_deadline_and_is_unstuck)
{
	uint64_t t0;

	open_dfuse("stm32h743", "stuck-dnbusy=0x08100000", 0);
	add_pattern(0x08100000, 1000, 1);
	opts.timeout_ms = 3000;
	t0 = vc.now_us;
	ck_assert_int_eq(download(), DFU_E_DEADLINE);
	ck_assert_str_eq(err.code, "dfu.deadline");
	ck_assert_ptr_nonnull(strstr(err.op, "erase"));
	ck_assert(err.have_address);
	ck_assert_uint_eq(err.address, 0x08100000);
	ck_assert(err.have_state);
	ck_assert_uint_eq(err.state, DFU_STATE_DFU_DNBUSY);
	ck_assert_uint_lt(vc.now_us - t0, 10000000);
	ck_assert_uint_eq(simtest_state(sim).dfu_state, DFU_STATE_DFU_IDLE);
}
END_TEST

START_TEST(test_stuck_dnbusy_default_deadline_is_bounded)
{
	uint64_t t0;

	open_dfuse("stm32h743", "stuck-dnbusy=0x08100000", 0);
	add_pattern(0x08100000, 1000, 1);
	t0 = vc.now_us;
	ck_assert_int_eq(download(), DFU_E_DEADLINE);
	ck_assert_uint_lt(vc.now_us - t0, 60000000);
}
END_TEST

START_TEST(test_short_get_status_is_a_protocol_error)
{
	struct dfu_idle_report rep;

	open_dfuse("stm32f405", NULL, 0);
	simtest_control = short_get_status;
	ck_assert_int_eq(dfu_dev_ensure_idle(dev, &rep, &err), DFU_E_PROTOCOL);
	ck_assert_str_eq(err.code, "dfu.short_status");
}
END_TEST

/* ---- known state ---------------------------------------------------------------------------- */

START_TEST(test_start_in_error_is_cleared_and_reported)
{
	struct dfu_idle_report rep;

	open_dfuse("stm32f405", "start-in-error=11", 0);
	ck_assert_int_eq(dfu_dev_ensure_idle(dev, &rep, &err), 0);
	ck_assert(rep.cleared);
	ck_assert(!rep.aborted);
	ck_assert_uint_eq(rep.found.state, DFU_STATE_DFU_ERROR);
	ck_assert_uint_eq(rep.found.status, 11);
	ck_assert_ptr_nonnull(
	    strstr(logged, "device was in dfuERROR, status 11 (errVENDOR): cleared"));
	ck_assert_uint_eq(simtest_state(sim).dfu_state, DFU_STATE_DFU_IDLE);
}
END_TEST

START_TEST(test_leftover_dnload_idle_is_aborted)
{
	struct dfu_idle_report rep;

	open_dfuse("stm32f405", "start-in-state=dnload-idle", 0);
	ck_assert_int_eq(dfu_dev_ensure_idle(dev, &rep, &err), 0);
	ck_assert(rep.aborted);
	ck_assert_uint_eq(rep.found.state, DFU_STATE_DFU_DNLOAD_IDLE);
}
END_TEST

START_TEST(test_idle_device_gets_one_get_status_and_no_sleep)
{
	struct dfu_idle_report rep;

	open_dfuse("stm32f405", NULL, 0);
	ck_assert_int_eq(dfu_dev_ensure_idle(dev, &rep, &err), 0);
	ck_assert_uint_eq(n_requests, 1);
	ck_assert_uint_eq(host_sleep_ms, 0);
	ck_assert(!rep.cleared && !rep.aborted);
}
END_TEST

/* ---- errors --------------------------------------------------------------------------------- */

START_TEST(test_device_error_names_op_address_block_state_and_status)
{
	open_dfuse("stm32f405", "rdp=1", 0);
	add_pattern(0x08000000, 100, 1);
	ck_assert_int_eq(download(), DFU_E_DEVSTATUS);
	ck_assert_str_eq(err.op, "DfuSe erase page 0x08000000");
	ck_assert(err.have_address);
	ck_assert_uint_eq(err.address, 0x08000000);
	ck_assert_int_eq(err.block, 0);
	ck_assert(err.have_state);
	ck_assert_uint_eq(err.state, DFU_STATE_DFU_ERROR);
	ck_assert_uint_eq(err.status, DFU_STATUS_ERR_VENDOR);
	ck_assert_ptr_nonnull(err.hint);
	ck_assert_ptr_nonnull(strstr(err.hint, "read-protected (RDP level 1)"));
}
END_TEST

START_TEST(test_upload_stall_under_rdp_reports_err_vendor)
{
	struct dfu_image *up = NULL;

	open_dfuse("stm32f405", "rdp=1,set-address-rdp=ok", 0);
	set_upload_range(0x08000000, 64);
	/* the stall carries a device verdict (dfuERROR, errVENDOR): exit 76, not a
	 * USB error; the libusb name is kept */
	ck_assert_int_eq(dfu_dev_upload(dev, &opts, &up, &res, &err), DFU_E_DEVSTATUS);
	ck_assert_str_eq(err.usb_name, "LIBUSB_ERROR_PIPE");
	ck_assert_int_eq(err.block, 2);
	ck_assert(err.have_state);
	ck_assert_uint_eq(err.status, DFU_STATUS_ERR_VENDOR);
	ck_assert_ptr_null(up);
}
END_TEST

START_TEST(test_upload_range_past_4_gib_is_a_usage_error_before_any_upload)
{
	struct dfu_image *up = NULL;

	open_dfuse("stm32f405", "", 0);
	set_upload_range(0xfffffff0, 0x100);
	/* the caller's address and length wrap: exit 64, not bad firmware data */
	ck_assert_int_eq(dfu_dev_upload(dev, &opts, &up, &res, &err), DFU_E_INVAL);
	ck_assert_str_eq(err.code, "dfuse.upload_range");
	ck_assert_ptr_nonnull(err.hint);
	ck_assert_uint_eq(n_req[DFU_REQ_UPLOAD], 0);
	ck_assert_ptr_null(up);
}
END_TEST

/* ---- differential re-flash ------------------------------------------------------------------- */

/* What a second download did, counted from its start. */
struct second {
	unsigned erases, writes, uploads, set_addresses;
};

/* img downloaded in full, then @change applied to it and img downloaded again
 * with the comparing on. */
static struct second download_twice(void (*change)(void), int *r)
{
	struct second before;

	ck_assert_int_eq(download(), 0);
	if (change)
		change();
	before =
	    (struct second){ n_erases, n_writes, n_req[DFU_REQ_UPLOAD], (unsigned)n_set_addresses };
	opts.full = false;
	*r = download();
	return (struct second){ n_erases - before.erases, n_writes - before.writes,
				n_req[DFU_REQ_UPLOAD] - before.uploads,
				(unsigned)n_set_addresses - before.set_addresses };
}

/* 256 KiB over the F405's sectors 0-5 (4 x 16, 64, 128 KiB). */
static void add_256k(void)
{
	add_app(0x08000000, 256 * 1024);
}

static void change_sector_4(void)
{
	new_image();
	add_256k();
	img->segments[0].data[0x10000 + 77] ^= 0x5a;
}

static void change_every_sector(void)
{
	new_image();
	add_pattern(0x08000000, 256 * 1024, 99);
}

static void change_photon_sectors(void)
{
	new_image();
	add_pattern(0x0800c000, 208 * 1024, 99);
}

START_TEST(test_identical_image_is_neither_erased_nor_written)
{
	struct second d;
	int r;

	open_dfuse("stm32f405", NULL, 0);
	add_256k();
	d = download_twice(NULL, &r);
	ck_assert_int_eq(r, 0);
	ck_assert_uint_eq(d.erases, 0);
	ck_assert_uint_eq(d.writes, 0);
	/* one stream of reads: 256 KiB in 2048-byte blocks */
	ck_assert_uint_eq(d.uploads, 128);
	ck_assert_uint_eq(res.sectors_total, 6);
	ck_assert_uint_eq(res.sectors_skipped, 6);
	ck_assert_uint_eq(res.sectors_erased, 0);
	ck_assert_str_eq(res.full_flash_reason, "");
	assert_mem_is_image();
}
END_TEST

START_TEST(test_one_changed_sector_is_the_only_one_erased_and_written)
{
	struct second d;
	int r;

	open_dfuse("stm32f405", NULL, 0);
	add_256k();
	d = download_twice(change_sector_4, &r);
	ck_assert_int_eq(r, 0);
	ck_assert_uint_eq(d.erases, 1);
	ck_assert_uint_eq(d.writes, 32); /* 64 KiB */
	ck_assert_uint_eq(res.sectors_skipped, 5);
	ck_assert_uint_eq(res.sectors_erased, 1);
	ck_assert(res.verified); /* the written sector was read back */
	assert_mem_is_image();
}
END_TEST

/* A different image over the F405's sectors 0-5, polled as @mode: the
 * UPLOADs of the compare (the new image has no vector table, so there is no
 * read-back after writing, as with --full).  One Set Address for the
 * compare, one for the writes. */
static unsigned uploads_of_a_different_image(enum dfu_poll_mode mode)
{
	struct second d;
	int r;

	new_sim("stm32f405", NULL);
	dfu_ctx_set_poll(ctx, mode, 0);
	open_alt(0);
	add_256k();
	d = download_twice(change_every_sector, &r);
	ck_assert_int_eq(r, 0);
	ck_assert_uint_eq(d.erases, 6);
	ck_assert_uint_eq(d.writes, 128);
	ck_assert_uint_eq(res.sectors_skipped, 0);
	ck_assert_uint_eq(d.set_addresses, 2);
	assert_mem_is_image();
	return d.uploads;
}

/*
 * A different image costs little before the full flash: the compare stops
 * at the first difference of a sector.  On an ST ROM the block number
 * reaches the first block of every sector from one Set Address, so it reads
 * one block per sector whether a Set Address is slow (announced polling:
 * the F405's 104 ms) or quick (polled at once).
 */
START_TEST(test_compare_reads_one_block_per_sector_of_an_st_rom)
{
	ck_assert_uint_eq(uploads_of_a_different_image(DFU_POLL_ANNOUNCED), 6);
}
END_TEST

START_TEST(test_compare_reads_one_block_per_sector_of_an_st_rom_polled_at_once)
{
	ck_assert_uint_eq(uploads_of_a_different_image(DFU_POLL_AUTO), 6);
}
END_TEST

/*
 * Another DfuSe device needs a Set Address to go anywhere but the next
 * block: the compare reads on into the next sector while that is cheaper
 * than a Set Address.  The Photon announces 50 ms for one, and an UPLOAD of
 * its 4 KiB blocks costs about 5 ms: sector 3 (16 KiB) is read to its end
 * (3 more blocks, 15 ms), sector 4 (64 KiB) stops at its first block (15
 * more would be 75 ms), sector 5 (128 KiB) gets a Set Address and one block.
 */
START_TEST(test_compare_reads_on_while_set_address_is_slow)
{
	struct second d;
	int r;

	new_sim("particle-photon", NULL);
	dfu_ctx_set_poll(ctx, DFU_POLL_ANNOUNCED, 0);
	open_alt(0);
	add_pattern(0x0800c000, 208 * 1024, 1); /* sectors 3, 4, 5 */
	d = download_twice(change_photon_sectors, &r);
	ck_assert_int_eq(r, 0);
	ck_assert_uint_eq(d.erases, 3);
	ck_assert_uint_eq(res.sectors_skipped, 0);
	ck_assert_uint_eq(d.uploads, 4 + 1 + 1);
	assert_mem_is_image();
}
END_TEST

START_TEST(test_read_protected_device_gets_a_full_flash_with_the_reason)
{
	int r;

	open_dfuse("stm32f405", "rdp=1,set-address-rdp=ok", 0);
	add_app(0x08000000, 4096);
	opts.full = false;
	r = download();
	/* the compare is refused, the full flash then meets RDP at the erase */
	ck_assert_int_eq(r, DFU_E_DEVSTATUS);
	ck_assert_ptr_nonnull(strstr(res.full_flash_reason, "read-protected"));
	ck_assert(log_has("cannot compare the flash with the image"));
	ck_assert_uint_eq(n_erases, 1);
	ck_assert_str_eq(err.code, "dfuse.read_protected");
}
END_TEST

START_TEST(test_device_without_upload_gets_a_full_flash_without_a_read)
{
	open_dfuse("stm32f405", NULL, 0);
	dev->info.attributes &= (uint8_t)~DFU_ATTR_CAN_UPLOAD;
	add_pattern(0x08000000, 4096, 5);
	opts.full = false;
	ck_assert_int_eq(download(), 0);
	ck_assert_str_eq(res.full_flash_reason, "the device cannot upload (no bitCanUpload)");
	ck_assert(log_has("cannot compare the flash with the image"));
	ck_assert_uint_eq(n_req[DFU_REQ_UPLOAD], 0);
	ck_assert_uint_eq(n_erases, 1);
	assert_mem_is_image();
}
END_TEST

START_TEST(test_full_flash_does_not_compare)
{
	open_dfuse("stm32f405", NULL, 0);
	add_256k();
	ck_assert_int_eq(download(), 0);
	ck_assert_int_eq(download(), 0); /* opts.full: the fixture's */
	ck_assert_uint_eq(n_erases, 12);
	ck_assert_uint_eq(res.sectors_total, 0);
	ck_assert_uint_eq(res.sectors_skipped, 0);
}
END_TEST

/* ---- memory map ------------------------------------------------------------------------------ */

struct refusal {
	const char *profile;
	int alt;
	uint32_t address;
	const char *code;
};

static const struct refusal refusals[] = {
	{ "stm32f405", 0, 0x080ffff0, "dfuse.memmap_outside" }, /* runs past 1 MiB */
	{ "particle-photon", 0, 0x08000000, "dfuse.memmap_readonly" },
	{ "stm32f405", 2, 0x1fff7800, "dfuse.memmap_otp" },
	{ "stm32f405", 1, 0x1fffc000, "dfuse.memmap_option_bytes" },
};

START_TEST(test_memory_map_refusals_come_before_any_request)
{
	const struct refusal *t = &refusals[_i];

	open_dfuse(t->profile, NULL, t->alt);
	add_pattern(t->address, 16 + (t->address == 0x080ffff0 ? 16 : 0), 1);
	n_requests = 0;
	ck_assert_int_eq(download(), DFU_E_MEMMAP);
	ck_assert_str_eq(err.code, t->code);
	ck_assert(err.have_address);
	ck_assert_uint_eq(err.address, t->address == 0x080ffff0 ? 0x08100000 : t->address);
	ck_assert_ptr_nonnull(err.hint);
	ck_assert_uint_eq(n_requests, 0);
}
END_TEST

START_TEST(test_force_writes_the_option_bytes_and_accepts_the_reset)
{
	uint8_t ob[16];

	open_dfuse("stm32f405", NULL, 1);
	ck_assert_int_eq(sim_device_mem_read(sim, 0x1fffc000, ob, sizeof(ob)), 0);
	ob[0] = 0xEC; /* a USER bit */
	add(0x1fffc000, ob, sizeof(ob));
	opts.force = true;
	ck_assert_int_eq(download(), 0);
	ck_assert(res.left);
	assert_mem_is_image();
}
END_TEST

START_TEST(test_raw_image_without_address_is_refused)
{
	open_dfuse("stm32f405", NULL, 0);
	add_pattern(0, 100, 1);
	img->address_from_file = false;
	ck_assert_int_eq(download(), DFU_E_INVAL);
	ck_assert_str_eq(err.code, "dfuse.no_address");
	ck_assert_uint_eq(n_requests, 0);
}
END_TEST

/* ---- verify ---------------------------------------------------------------------------------- */

START_TEST(test_verify_passes_on_a_good_download)
{
	open_dfuse("stm32f405", NULL, 0);
	add_app(0x08000000, 5000);
	opts.verify = true;
	ck_assert_int_eq(download(), 0);
	ck_assert(res.verified);
	ck_assert(!res.mismatch);
}
END_TEST

START_TEST(test_verify_finds_a_write_protected_sector)
{
	open_dfuse("stm32f405", "wrp=0x08020000", 0);
	add_pattern(0x08000000, 1000, 1);
	add_pattern(0x08020100, 1000, 2);
	opts.verify = true;
	ck_assert_int_eq(download(), DFU_E_VERIFY);
	ck_assert(res.mismatch);
	ck_assert_uint_eq(res.mismatch_address, 0x08020100);
	ck_assert_uint_gt(res.mismatch_count, 900);
	ck_assert(err.have_address);
	ck_assert_uint_eq(err.address, 0x08020100);
	ck_assert_str_eq(err.code, "dfuse.write_protected");
}
END_TEST

/* ---- upload ---------------------------------------------------------------------------------- */

START_TEST(test_dfuse_upload_returns_memory)
{
	struct dfu_image *up = NULL;
	uint8_t data[5000];

	open_dfuse("stm32f405", NULL, 0);
	test_pattern(data, sizeof(data), 42);
	ck_assert_int_eq(sim_device_mem_write(sim, 0x08010000, data, sizeof(data)), 0);
	set_upload_range(0x08010000, sizeof(data));
	ck_assert_int_eq(dfu_dev_upload(dev, &opts, &up, &res, &err), 0);
	ck_assert_uint_eq(up->n_segments, 1);
	ck_assert_uint_eq(up->segments[0].address, 0x08010000);
	ck_assert_uint_eq(up->segments[0].length, sizeof(data));
	ck_assert_mem_eq(up->segments[0].data, data, sizeof(data));
	ck_assert_uint_eq(simtest_state(sim).dfu_state, DFU_STATE_DFU_IDLE);
	dfu_image_free(up);
}
END_TEST

START_TEST(test_dfuse_upload_without_length_reads_to_the_end_of_the_segment)
{
	struct dfu_image *up = NULL;

	open_dfuse("stm32f405", NULL, 1);
	ck_assert_int_eq(dfu_dev_upload(dev, &opts, &up, &res, &err), 0);
	ck_assert_uint_eq(up->segments[0].address, 0x1fffc000);
	ck_assert_uint_eq(up->segments[0].length, 16);
	dfu_image_free(up);
}
END_TEST

/* ---- leave ----------------------------------------------------------------------------------- */

START_TEST(test_f4_leave_jumps_to_the_vector_table_base)
{
	open_dfuse("stm32f405", NULL, 0);
	add_app(0x08000000, 4000);
	opts.leave = true;
	ck_assert_int_eq(download(), 0);
	ck_assert(res.left);
	ck_assert(res.have_jump);
	ck_assert_uint_eq(res.jump_address, 0x08000000);
	ck_assert(simtest_state(sim).app_running);
	ck_assert_uint_eq(simtest_state(sim).app_vector, 0x08000000);
}
END_TEST

START_TEST(test_h7_leave_jumps_to_the_reset_vector)
{
	open_dfuse("stm32h743", NULL, 0);
	ck_assert(dev->quirks & DFU_QUIRK_JUMP_TO_RESET_VECTOR);
	add_app_entry(0x08000000, 0x08000201, 4000);
	opts.leave = true;
	ck_assert_int_eq(download(), 0); /* vanish-during-status: still success */
	ck_assert(res.left);
	ck_assert_uint_eq(res.jump_address, 0x08000201);
	ck_assert(simtest_state(sim).app_running);
	ck_assert_uint_eq(simtest_state(sim).app_entry & ~1u, 0x08000200);
}
END_TEST

START_TEST(test_h7_leave_at_the_table_base_does_not_start_the_app)
{
	open_dfuse("stm32h743", NULL, 0);
	add_app_entry(0x08000000, 0x08000201, 4000);
	opts.leave = true;
	opts.have_jump = true;
	opts.jump = 0x08000000; /* what an F4-minded host would send */
	ck_assert_int_eq(download(), 0);
	ck_assert(!simtest_state(sim).app_running);
}
END_TEST

START_TEST(test_leave_vanishing_during_status_is_success)
{
	open_dfuse("stm32f405", "leave=vanish-during-status", 0);
	add_app(0x08000000, 4000);
	opts.leave = true;
	ck_assert_int_eq(download(), 0);
	ck_assert(res.left);
	ck_assert_uint_eq(err.err, 0);
	ck_assert(simtest_state(sim).app_running);
}
END_TEST

START_TEST(test_leave_vanishing_before_status_is_success)
{
	open_dfuse("stm32f405", "leave=vanish-before-status", 0);
	add_app(0x08000000, 4000);
	opts.leave = true;
	ck_assert_int_eq(download(), 0);
	ck_assert(res.left);
}
END_TEST

START_TEST(test_leave_without_image_or_jump_sends_no_set_address)
{
	open_dfuse("stm32f405", NULL, 0);
	ck_assert_int_eq(dfu_dev_leave(dev, NULL, &opts, &res, &err), 0);
	ck_assert(res.left);
	ck_assert(!res.have_jump);
	ck_assert_uint_eq(n_set_addresses, 0);
	ck_assert_ptr_nonnull(strstr(logged, "without Set Address"));
}
END_TEST

START_TEST(test_implausible_vector_table_refuses_leave_before_any_request)
{
	open_dfuse("stm32f405", NULL, 0);
	add_pattern(0x08000000, 100, 1);
	{
		uint8_t erased[8];

		memset(erased, 0xff, sizeof(erased));
		memcpy(img->segments[0].data, erased, sizeof(erased));
	}
	opts.leave = true;
	ck_assert_int_eq(download(), DFU_E_INVAL);
	ck_assert_str_eq(err.code, "dfuse.jump_implausible");
	ck_assert_ptr_nonnull(strstr(err.hint, "--jump"));
	ck_assert_uint_eq(n_requests, 0);
}
END_TEST

START_TEST(test_gd32_leave_errors_are_success)
{
	open_dfuse("gd32vf103", NULL, 0);
	ck_assert(dev->quirks & DFU_QUIRK_LEAVE_IGNORE_ERRORS);
	add_pattern(0x08000000, 3000, 1);
	opts.leave = true;
	ck_assert_int_eq(download(), 0);
	assert_mem_is_image();
	ck_assert(res.left);
}
END_TEST

/* ---- plain DFU 1.1 ------------------------------------------------------------------------- */

START_TEST(test_generic_tolerant_download_returns_to_idle)
{
	open_generic("generic", NULL);
	ck_assert(!dev->dfuse);
	img->address_from_file = false;
	add_pattern(0, 1000, 5);
	opts.verify = true;
	ck_assert_int_eq(download(), 0);
	assert_mem_is_image();
	ck_assert(res.verified);
	ck_assert(!res.left);
	ck_assert_uint_eq(simtest_state(sim).dfu_state, DFU_STATE_DFU_IDLE);
	ck_assert_uint_eq(early_polls, 0);
	ck_assert_uint_eq(idle_sleeps, 0);
}
END_TEST

START_TEST(test_generic_intolerant_download_waits_for_reset_and_leave_resets)
{
	open_generic("generic-intolerant", NULL);
	img->address_from_file = false;
	add_pattern(0, 700, 6);
	opts.leave = true;
	ck_assert_int_eq(download(), 0);
	assert_mem_is_image();
	ck_assert(res.left);
	ck_assert_uint_eq(simtest_state(sim).mode, SIM_MODE_RUNTIME);
}
END_TEST

START_TEST(test_generic_intolerant_refuses_verify_before_touching)
{
	open_generic("generic-intolerant", NULL);
	add_pattern(0, 700, 6);
	opts.verify = true;
	ck_assert_int_eq(download(), DFU_E_UNSUPPORTED);
	ck_assert_str_eq(err.code, "dfu.cannot_verify");
	ck_assert_uint_eq(n_requests, 0);
}
END_TEST

START_TEST(test_generic_upload_returns_what_was_downloaded)
{
	struct dfu_image *up = NULL;

	open_generic("generic", NULL);
	add_pattern(0, 1000, 5);
	ck_assert_int_eq(download(), 0);
	ck_assert_int_eq(dfu_dev_upload(dev, &opts, &up, &res, &err), 0);
	ck_assert_uint_eq(up->n_segments, 1);
	ck_assert_uint_eq(up->segments[0].length, 1000);
	ck_assert_mem_eq(up->segments[0].data, img->segments[0].data, 1000);
	dfu_image_free(up);
	/* the length caps it */
	opts.have_length = true;
	opts.length = 100;
	ck_assert_int_eq(dfu_dev_upload(dev, &opts, &up, &res, &err), 0);
	ck_assert_uint_eq(up->segments[0].length, 100);
	ck_assert_uint_eq(simtest_state(sim).dfu_state, DFU_STATE_DFU_IDLE);
	dfu_image_free(up);
}
END_TEST

/* ---- quirks ---------------------------------------------------------------------------------- */

START_TEST(test_quirks_tell_the_h7_from_the_f4)
{
	struct dfu_if_info i = { .vid = 0x0483, .pid = 0xdf11, .bcd_device = 0x0200 };
	static const char h7[] = "@Internal Flash   /0x08000000/16*128Kg";
	static const char f4[] = "@Internal Flash  /0x08000000/04*016Kg,01*064Kg,07*128Kg";

	ck_assert_int_eq(dfuse_layout_parse(h7, strlen(h7), &i.layout, NULL), 0);
	ck_assert(dfu_quirks_for(&i) & DFU_QUIRK_JUMP_TO_RESET_VECTOR);
	dfuse_layout_free(i.layout);
	ck_assert_int_eq(dfuse_layout_parse(f4, strlen(f4), &i.layout, NULL), 0);
	i.bcd_device = 0x2200;
	ck_assert(!(dfu_quirks_for(&i) & DFU_QUIRK_JUMP_TO_RESET_VECTOR));
	ck_assert(dfu_quirks_for(&i) & DFU_QUIRK_MASS_ERASE_SLOW);
	dfuse_layout_free(i.layout);
	ck_assert_str_eq(dfu_quirk_name(DFU_QUIRK_JUMP_TO_RESET_VECTOR), "jump-to-reset-vector");
}
END_TEST

static TCase *tc(Suite *s, const char *name)
{
	return simtest_tcase(s, name, NULL, NULL, 30);
}

int main(void)
{
	Suite *s = suite_create("proto");
	TCase *t;

	t = tc(s, "dfuse-download");
	tcase_add_test(t, test_f4_download_of_a_multi_segment_image_matches_memory);
	tcase_add_test(t, test_download_sets_the_address_once_for_a_run_of_whole_blocks);
	tcase_add_test(t, test_download_sets_the_address_again_before_a_short_last_block);
	tcase_add_test(t, test_st_rom_download_numbers_every_run_from_one_set_address);
	tcase_add_test(t, test_idle_found_a_moment_ago_is_not_asked_again);
	tcase_add_test(t, test_st_rom_verify_reads_every_run_from_the_download_pointer);
	tcase_add_test(t, test_other_dfuse_devices_get_a_set_address_per_run);
	tcase_add_test(t, test_h7_download_matches_memory);
	tcase_add_test(t, test_l4_download_programs_each_double_word_once);
	tcase_add_test(t, test_g4_download_with_1024_byte_blocks_matches_memory);
	tcase_add_test(t, test_u5_skipping_dnbusy_after_commands_is_accepted);
	tcase_add_test(t, test_only_touched_sectors_are_erased);
	tcase_add_test(t, test_mass_erase_replaces_the_page_erases);
	tcase_add_test(t, test_vector_table_sector_is_written_last);
	tcase_add_test(t, test_interrupted_download_leaves_the_vector_table_sector_erased);

	t = tc(s, "polling");
	tcase_add_test(t, test_polling_waits_only_after_busy_replies);
	tcase_add_test(t, test_stall_on_early_poll_device_is_never_polled_early);
	tcase_add_test(t, test_stuck_dnbusy_ends_in_deadline_and_is_unstuck);
	tcase_add_test(t, test_stuck_dnbusy_default_deadline_is_bounded);
	tcase_add_test(t, test_short_get_status_is_a_protocol_error);

	t = tc(s, "known-state");
	tcase_add_test(t, test_start_in_error_is_cleared_and_reported);
	tcase_add_test(t, test_leftover_dnload_idle_is_aborted);
	tcase_add_test(t, test_idle_device_gets_one_get_status_and_no_sleep);

	t = tc(s, "errors");
	tcase_add_test(t, test_device_error_names_op_address_block_state_and_status);
	tcase_add_test(t, test_upload_stall_under_rdp_reports_err_vendor);
	tcase_add_test(t, test_upload_range_past_4_gib_is_a_usage_error_before_any_upload);

	t = tc(s, "differential");
	tcase_add_test(t, test_identical_image_is_neither_erased_nor_written);
	tcase_add_test(t, test_one_changed_sector_is_the_only_one_erased_and_written);
	tcase_add_test(t, test_compare_reads_on_while_set_address_is_slow);
	tcase_add_test(t, test_compare_reads_one_block_per_sector_of_an_st_rom);
	tcase_add_test(t, test_compare_reads_one_block_per_sector_of_an_st_rom_polled_at_once);
	tcase_add_test(t, test_read_protected_device_gets_a_full_flash_with_the_reason);
	tcase_add_test(t, test_device_without_upload_gets_a_full_flash_without_a_read);
	tcase_add_test(t, test_full_flash_does_not_compare);

	t = tc(s, "memory-map");
	tcase_add_loop_test(t, test_memory_map_refusals_come_before_any_request, 0,
			    (int)(sizeof(refusals) / sizeof(refusals[0])));
	tcase_add_test(t, test_force_writes_the_option_bytes_and_accepts_the_reset);
	tcase_add_test(t, test_raw_image_without_address_is_refused);

	t = tc(s, "verify");
	tcase_add_test(t, test_verify_passes_on_a_good_download);
	tcase_add_test(t, test_verify_finds_a_write_protected_sector);

	t = tc(s, "upload");
	tcase_add_test(t, test_dfuse_upload_returns_memory);
	tcase_add_test(t, test_dfuse_upload_without_length_reads_to_the_end_of_the_segment);

	t = tc(s, "leave");
	tcase_add_test(t, test_f4_leave_jumps_to_the_vector_table_base);
	tcase_add_test(t, test_h7_leave_jumps_to_the_reset_vector);
	tcase_add_test(t, test_h7_leave_at_the_table_base_does_not_start_the_app);
	tcase_add_test(t, test_leave_vanishing_during_status_is_success);
	tcase_add_test(t, test_leave_vanishing_before_status_is_success);
	tcase_add_test(t, test_leave_without_image_or_jump_sends_no_set_address);
	tcase_add_test(t, test_implausible_vector_table_refuses_leave_before_any_request);
	tcase_add_test(t, test_gd32_leave_errors_are_success);

	t = tc(s, "plain-dfu");
	tcase_add_test(t, test_generic_tolerant_download_returns_to_idle);
	tcase_add_test(t, test_generic_intolerant_download_waits_for_reset_and_leave_resets);
	tcase_add_test(t, test_generic_intolerant_refuses_verify_before_touching);
	tcase_add_test(t, test_generic_upload_returns_what_was_downloaded);

	t = tc(s, "quirks");
	tcase_add_test(t, test_quirks_tell_the_h7_from_the_f4);
	return test_run_suite(s);
}
