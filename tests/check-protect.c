// SPDX-License-Identifier: GPL-2.0-or-later
/* Unit tests for read-out and write protection, Read Unprotect, OTP and option
 * bytes (src/lib/dfu/protect.c, st-rom.c, otp.c, optbytes.c, the protection
 * paths of dfuse.c)
 * against the in-process sim devices on a virtual clock. */
#include "config.h"

#include "engine.h"
#include "macro.h"
#include "protect.h"
#include "proto.h"
#include "sim-api.h"
#include "simtest.h"
#include "testutil.h"
#include "transport-sim.h"
#include "util.h"

/* ---- fixture: simtest.h, and these of the protection tests ------------------------------ */

static uint8_t mem_byte(uint32_t address)
{
	uint8_t b;

	ck_assert_int_eq(sim_device_mem_read(sim, address, &b, 1), 0);
	return b;
}

/* The device we had, so that it can be found after a reset. */
static struct dfu_if_info identity(void)
{
	struct dfu_if_info same;

	dfu_dev_identity(dev, &same);
	return same;
}

/* ---- read-out protection ------------------------------------------------------------------- */

START_TEST(test_rdp_erase_refusal_is_read_protected_with_the_hint)
{
	/* the ODrive report: status 11 at the start, then ERASE_PAGE refused */
	open_dfuse("stm32f405", "rdp=1,start-in-error=11", 0);
	add_app(0x08000000, 3000);
	ck_assert_int_eq(download(), DFU_E_DEVSTATUS);
	ck_assert_str_eq(err.code, "dfuse.read_protected");
	ck_assert_ptr_nonnull(err.hint);
	ck_assert_str_eq(err.hint, DFU_HINT_READ_PROTECTED);
	ck_assert_ptr_nonnull(strstr(err.hint, "`--unprotect` removes the protection by "
					       "mass-erasing the whole flash"));
	ck_assert_ptr_nonnull(strstr(err.message, "DfuSe erase page 0x08000000"));
	ck_assert_ptr_nonnull(strstr(err.message, "already at the start"));
	ck_assert_uint_eq(err.status, DFU_STATUS_ERR_VENDOR);
	ck_assert(res.read_protected);
	ck_assert_uint_eq(n_writes, 0);
}
END_TEST

START_TEST(test_rdp_set_address_refusal_on_upload_is_read_protected)
{
	struct dfu_image *up = NULL;

	open_dfuse("stm32f405", "rdp=1", 0);
	set_upload_range(0x08000000, 64);
	ck_assert_int_eq(dfu_dev_upload(dev, &opts, &up, &res, &err), DFU_E_DEVSTATUS);
	ck_assert_str_eq(err.code, "dfuse.read_protected");
	ck_assert_ptr_nonnull(strstr(err.message, "Set Address"));
	ck_assert(res.read_protected);
	ck_assert_ptr_null(up);
}
END_TEST

START_TEST(test_rdp_read_stall_is_read_protected)
{
	struct dfu_image *up = NULL;

	/* AN2662: Set Address works under RDP, the read stalls with errVENDOR */
	open_dfuse("stm32f405", "rdp=1,set-address-rdp=ok", 0);
	set_upload_range(0x08000000, 64);
	/* a stall with dfuERROR/errVENDOR behind it: the device refused (exit 76),
	 * not a USB failure (74) */
	ck_assert_int_eq(dfu_dev_upload(dev, &opts, &up, &res, &err), DFU_E_DEVSTATUS);
	ck_assert_int_eq(err.err, DFU_E_DEVSTATUS);
	ck_assert_str_eq(err.code, "dfuse.read_protected");
	ck_assert_str_eq(err.hint, DFU_HINT_READ_PROTECTED);
}
END_TEST

START_TEST(test_damaged_page_after_a_good_erase_is_not_read_protection)
{
	/* the Photon / rusefi seed: the vector-table sector erased, the next page
	 * refused with errVENDOR: a damaged page, named, not RDP */
	open_dfuse("stm32f405", "faulty-page=0x08004000", 0);
	add_app(0x08000000, 40000);
	ck_assert_int_eq(download(), DFU_E_DEVSTATUS);
	ck_assert_str_eq(err.code, "dfuse.erase_page_failed");
	ck_assert_ptr_nonnull(strstr(err.message, "0x08004000"));
	ck_assert_ptr_nonnull(strstr(err.message, "damaged or worn"));
	ck_assert_ptr_null(strstr(err.message, "read-out protection"));
	ck_assert_ptr_nonnull(err.hint);
	ck_assert_ptr_nonnull(strstr(err.hint, "mass erase"));
	ck_assert(!res.read_protected);
	ck_assert_uint_eq(res.sectors_erased, 1);
	ck_assert_uint_eq(n_writes, 0);
	/* the state the flash is left in */
	ck_assert_str_eq(err.detail, "1 sector erased (0x08000000); the erase of sector 0x08004000 "
				     "was refused (it may be unchanged or partly erased); nothing "
				     "written yet");
}
END_TEST

START_TEST(test_damaged_first_page_after_a_compare_is_not_read_protection)
{
	/* the differential re-flash read the flash before the first erase: an
	 * RDP-1 chip would have refused that read, so the refused erase is this
	 * page, with nothing erased before it */
	open_dfuse("stm32f405", "faulty-page=0x08000000", 0);
	opts.full = false;
	add_app(0x08000000, 8000);
	ck_assert_int_eq(download(), DFU_E_DEVSTATUS);
	ck_assert_str_eq(err.code, "dfuse.erase_page_failed");
	ck_assert_ptr_nonnull(strstr(err.message, "while the flash could be read"));
	ck_assert_ptr_nonnull(strstr(err.message, "damaged or worn"));
	ck_assert(!res.read_protected);
	ck_assert_uint_eq(res.sectors_erased, 0);
	ck_assert_uint_eq(n_writes, 0);
	ck_assert_str_eq(err.detail,
			 "no sector erased before; the erase of sector 0x08000000 was "
			 "refused (it may be unchanged or partly erased); nothing written "
			 "yet");
}
END_TEST

START_TEST(test_stuck_erase_describes_the_flash_state)
{
	/* an erase that never leaves dfuDNBUSY: the deadline error still says
	 * what the flash holds, with the sector being erased */
	open_dfuse("stm32f405", "zero-poll-timeout,stuck-dnbusy", 0);
	add_app(0x08000000, 40000);
	ck_assert_int_eq(download(), DFU_E_DEADLINE);
	ck_assert_ptr_nonnull(strstr(err.detail, "0x08000000"));
	ck_assert_ptr_nonnull(strstr(err.detail, "erase did not finish"));
	ck_assert_uint_eq(n_writes, 0);
}
END_TEST

START_TEST(test_hal_err_vendor_is_not_read_protection)
{
	/* the ST HAL uses errVENDOR for any media failure: no RDP verdict there
	 * (dfuse_is_st_rom() is false for its "... FIRMWARE UPDATE" product
	 * string), so the refusal stays the generic device-status error */
	open_dfuse("stm32-hal-iap", "faulty-page=0x08020000:11", 0);
	add_pattern(0x08020000, 100, 1);
	ck_assert_int_eq(download(), DFU_E_DEVSTATUS);
	ck_assert_str_eq(err.code, "dfu.device_status");
	ck_assert_str_eq(err.op, "DfuSe erase page 0x08020000");
	ck_assert_uint_eq(err.state, DFU_STATE_DFU_ERROR);
	ck_assert_uint_eq(err.status, DFU_STATUS_ERR_VENDOR);
	ck_assert(!res.read_protected);
}
END_TEST

START_TEST(test_unprotect_then_download_of_the_same_image)
{
	struct dfu_if_info same;
	uint32_t wait_ms;

	open_dfuse("stm32f405", "rdp=1,start-in-error=11", 0);
	add_app(0x08000000, 40000);
	ck_assert_int_eq(download(), DFU_E_DEVSTATUS);
	ck_assert_str_eq(err.code, "dfuse.read_protected");

	dfu_error_clear(&err);
	wait_ms = dfu_dev_unprotect_wait_ms(dev);
	ck_assert_uint_ge(wait_ms, 30000 + 10000);
	ck_assert_int_eq(dfu_dev_unprotect(dev, &err), 0);
	same = identity();
	dfu_dev_close(dev);
	dev = NULL;
	ck_assert_int_eq(dfu_reopen(ctx, &same, -1, wait_ms, &dev, &err), 0);
	ck_assert_uint_eq(simtest_state(sim).rdp_level, 0);

	memset(&res, 0, sizeof(res));
	ck_assert_int_eq(download(), 0);
	assert_mem_is_image();
	ck_assert(!res.read_protected);
}
END_TEST

START_TEST(test_failing_unprotect_is_reported)
{
	open_dfuse("stm32f405", "rdp=1,unprotect-fails", 0);
	ck_assert_int_eq(dfu_dev_unprotect(dev, &err), DFU_E_DEVSTATUS);
	ck_assert_str_eq(err.code, "dfuse.unprotect_failed");
	ck_assert_ptr_nonnull(strstr(err.message, "still active"));
	ck_assert_ptr_nonnull(err.hint);
	ck_assert_uint_eq(simtest_state(sim).rdp_level, 1);
	ck_assert(simtest_state(sim).connected);
}
END_TEST

START_TEST(test_unprotect_on_plain_dfu_is_unsupported)
{
	struct dfu_match m;
	struct dfu_if_info *list = NULL;
	struct dfu_dev *rt = NULL;
	size_t n = 0;

	new_sim("generic", NULL);
	dfu_match_init(&m);
	ck_assert_int_eq(dfu_list(ctx, &m, &list, &n, NULL), 0);
	ck_assert_int_eq(dfu_dev_open(ctx, &list[0], &rt, NULL), 0);
	ck_assert_int_eq(dfu_dev_unprotect(rt, &err), DFU_E_UNSUPPORTED);
	dfu_dev_close(rt);
	dfu_if_info_free(list, n);
}
END_TEST

START_TEST(test_reopen_of_a_device_that_stays_fails_with_the_deadline)
{
	struct dfu_if_info same;
	uint64_t t0 = vc.now_us;

	open_dfuse("stm32f405", NULL, 0);
	same = identity();
	dfu_dev_close(dev);
	dev = NULL;
	ck_assert_int_eq(dfu_reopen(ctx, &same, -1, 2000, &dev, &err), DFU_E_NODEVICE);
	ck_assert_str_eq(err.code, "device.did_not_return");
	ck_assert_uint_ge(vc.now_us - t0, 2000000);
}
END_TEST

/* ---- write protection ----------------------------------------------------------------------- */

START_TEST(test_wrp_vector_table_sector_is_checked_without_verify)
{
	open_dfuse("stm32f405", "wrp=0x08000000", 0);
	add_app(0x08000000, 5000);
	ck_assert_int_eq(download(), DFU_E_VERIFY);
	ck_assert_str_eq(err.code, "dfuse.write_protected");
	ck_assert(res.write_protected);
	ck_assert_uint_eq(res.wrp_sector, 0x08000000);
	ck_assert_ptr_nonnull(strstr(err.message, "sector 0x08000000"));
	ck_assert_ptr_nonnull(strstr(err.hint, "read-options"));
	ck_assert(!res.verified);
}
END_TEST

START_TEST(test_wrp_with_verify_names_the_sector)
{
	open_dfuse("stm32f405", "wrp=0x08020000", 0);
	add_app(0x08000000, 1000);
	add_pattern(0x08020100, 1000, 2);
	opts.verify = true;
	ck_assert_int_eq(download(), DFU_E_VERIFY);
	ck_assert_str_eq(err.code, "dfuse.write_protected");
	ck_assert_uint_eq(res.wrp_sector, 0x08020000);
	ck_assert_uint_eq(res.mismatch_address, 0x08020100);
	ck_assert_ptr_nonnull(strstr(err.message, "sector 0x08020000 (128 KiB)"));
}
END_TEST

START_TEST(test_good_application_passes_the_vector_table_check)
{
	open_dfuse("stm32f405", NULL, 0);
	add_app(0x08000000, 40000);
	ck_assert_int_eq(download(), 0);
	assert_mem_is_image();
	ck_assert(!res.write_protected);
	ck_assert_uint_ge(res.bytes_read, 16384); /* the vector-table sector was read back */
}
END_TEST

START_TEST(test_wrp_vector_table_sector_off_base_on_a_non_rom_bootloader)
{
	/* Photon: the application (and its vector table) at 0x08020000, the
	 * Particle bootloader is no ST ROM: the sector is still read back */
	open_dfuse("particle-photon", "wrp=0x08020000", 0);
	add_app(0x08020000, 5000);
	ck_assert_int_eq(download(), DFU_E_VERIFY);
	ck_assert_str_eq(err.code, "dfuse.write_protected");
	ck_assert_uint_eq(res.wrp_sector, 0x08020000);
	ck_assert_ptr_nonnull(strstr(err.message, "sector 0x08020000"));
}
END_TEST

START_TEST(test_wrp_first_sector_read_back_on_gd32)
{
	/* GD32VF103: no Cortex-M vector table; the image's first sector is read
	 * back instead */
	open_dfuse("gd32vf103", "wrp=0x08000000", 0);
	add_pattern(0x08000000, 3000, 5);
	ck_assert_int_eq(download(), DFU_E_VERIFY);
	ck_assert_uint_eq(res.wrp_sector, 0x08000000);
	ck_assert_ptr_nonnull(strstr(err.message, "sector 0x08000000"));
}
END_TEST

START_TEST(test_data_without_vector_table_is_not_read_back)
{
	open_dfuse("stm32f405", "wrp=0x08020000", 0);
	add_pattern(0x08020000, 1000, 3);
	ck_assert_int_eq(download(), 0); /* as documented: only --verify finds this */
	ck_assert_uint_eq(res.bytes_read, 0);
}
END_TEST

/* ---- OTP ------------------------------------------------------------------------------------- */

#define OTP_BASE 0x1FFF7800u
#define OTP_LOCK 0x1FFF7A00u

START_TEST(test_otp_without_flag_is_refused_before_any_request)
{
	uint8_t lock = 0x00;

	open_dfuse("stm32f405", NULL, 2);
	add_pattern(OTP_BASE + 3 * 32, 32, 1);
	add(OTP_LOCK + 3, &lock, 1);
	opts.force = true; /* force is not enough */
	ck_assert_int_eq(download(), DFU_E_MEMMAP);
	ck_assert_str_eq(err.code, "dfuse.memmap_otp");
	ck_assert_ptr_nonnull(strstr(err.message, "block 3 (0x1fff7860..0x1fff787f)"));
	ck_assert_ptr_nonnull(strstr(err.message, "lock byte 3"));
	ck_assert_ptr_nonnull(strstr(err.hint, "--otp"));
	ck_assert_uint_eq(err.address, OTP_BASE + 3 * 32);
	ck_assert_uint_eq(n_requests, 0);
}
END_TEST

START_TEST(test_otp_zero_to_one_is_refused_before_any_write)
{
	uint8_t cur[32], want[32];

	open_dfuse("stm32f405", NULL, 2);
	memset(cur, 0xff, sizeof(cur));
	cur[5] = 0x0f;
	ck_assert_int_eq(sim_device_mem_write(sim, OTP_BASE, cur, sizeof(cur)), 0);
	memset(want, 0x00, sizeof(want));
	want[5] = 0x1f; /* bit 4 would go from 0 to 1 */
	add(OTP_BASE, want, sizeof(want));
	opts.otp = true;
	ck_assert_int_eq(download(), DFU_E_MEMMAP);
	ck_assert_str_eq(err.code, "dfuse.otp_zero_to_one");
	ck_assert_uint_eq(err.address, OTP_BASE + 5);
	ck_assert_uint_eq(n_writes, 0);
	ck_assert_uint_eq(n_erases, 0);
	ck_assert_uint_eq(mem_byte(OTP_BASE), 0xff); /* nothing written */
}
END_TEST

START_TEST(test_otp_lock_after_data_in_two_runs)
{
	uint8_t data[32], lock = 0x00, back[32];

	/* run 1: block 3 */
	open_dfuse("stm32f405", NULL, 2);
	test_pattern(data, sizeof(data), 33);
	add(OTP_BASE + 3 * 32, data, sizeof(data));
	opts.otp = true;
	ck_assert_int_eq(download(), 0);
	ck_assert(res.otp);
	ck_assert_uint_eq(res.otp_blocks_written, 1u << 3);
	ck_assert_uint_eq(res.otp_locks_written, 0);
	ck_assert_uint_eq(res.otp_blocks_locked, 0);
	ck_assert_uint_eq(n_erases, 0);

	/* run 2: its lock byte alone (STM32CubeProgrammer failed here) */
	dfu_dev_close(dev);
	dev = NULL;
	open_alt(2);
	new_image();
	add(OTP_LOCK + 3, &lock, 1);
	memset(&res, 0, sizeof(res));
	ck_assert_int_eq(download(), 0);
	ck_assert_uint_eq(res.otp_locks_written, 1u << 3);
	ck_assert_uint_eq(res.otp_blocks_locked, 1u << 3);
	ck_assert_uint_eq(res.otp_bytes_changed, 1);
	ck_assert_uint_eq(n_writes, 1);
	ck_assert_uint_eq(n_erases, 0);
	ck_assert_uint_eq(mem_byte(OTP_LOCK + 3), 0x00);
	ck_assert_uint_eq(mem_byte(OTP_LOCK + 2), 0xff);
	ck_assert_int_eq(sim_device_mem_read(sim, OTP_BASE + 3 * 32, back, sizeof(back)), 0);
	ck_assert_mem_eq(back, data, sizeof(data));
}
END_TEST

START_TEST(test_otp_locked_block_is_refused_and_unchanged_bytes_pass)
{
	uint8_t data[32], lock = 0x00;

	open_dfuse("stm32f405", NULL, 2);
	test_pattern(data, sizeof(data), 7);
	ck_assert_int_eq(sim_device_mem_write(sim, OTP_BASE + 32, data, sizeof(data)), 0);
	ck_assert_int_eq(sim_device_mem_write(sim, OTP_LOCK + 1, &lock, 1), 0);
	opts.otp = true;

	/* the same bytes again (and the lock byte again): nothing to program */
	add(OTP_BASE + 32, data, sizeof(data));
	add(OTP_LOCK + 1, &lock, 1);
	ck_assert_int_eq(download(), 0);
	ck_assert_uint_eq(res.otp_bytes_changed, 0);
	ck_assert_uint_eq(n_writes, 0);
	ck_assert_uint_eq(res.otp_blocks_locked, 1u << 1);

	/* one bit less in the locked block */
	data[9] &= 0x7f;
	new_image();
	add(OTP_BASE + 32, data, sizeof(data));
	n_writes = 0;
	ck_assert_int_eq(download(), DFU_E_MEMMAP);
	ck_assert_str_eq(err.code, "dfuse.otp_locked");
	ck_assert_uint_eq(n_writes, 0);
}
END_TEST

START_TEST(test_otp_lock_byte_value_must_be_0_or_ff)
{
	uint8_t lock = 0x5a;

	open_dfuse("stm32f405", NULL, 2);
	add(OTP_LOCK + 4, &lock, 1);
	opts.otp = true;
	ck_assert_int_eq(download(), DFU_E_MEMMAP);
	ck_assert_str_eq(err.code, "dfuse.otp_lock_value");
	ck_assert_uint_eq(n_writes, 0);
}
END_TEST

START_TEST(test_otp_of_an_old_rom_declaring_it_erasable_is_never_erased)
{
	uint8_t data[40];

	/* the early F407 ROM says "g" (erasable) for OTP: the erase would fail */
	open_dfuse("stm32f407-oldrom", NULL, 2);
	test_pattern(data, sizeof(data), 5);
	le32_put(data, 0x20010000u); /* looks like a vector table: still no erase */
	le32_put(data + 4, 0x08000101u);
	add(OTP_BASE, data, sizeof(data));
	opts.otp = true;
	ck_assert_int_eq(download(), 0);
	ck_assert_uint_eq(n_erases, 0);
	ck_assert_uint_eq(res.sectors_erased, 0);
	assert_mem_is_image();
	ck_assert_uint_eq(res.otp_blocks_written, 3u); /* blocks 0 and 1 */
}
END_TEST

START_TEST(test_otp_check_pure)
{
	struct dfu_otp_layout l;
	struct dfu_otp_plan plan;
	uint8_t cur[528];
	uint8_t v[2] = { 0x12, 0x00 };
	char text[256];

	ck_assert(dfu_otp_layout_for(0x1FFF7A0C, &l));
	ck_assert_uint_eq(l.base, OTP_BASE);
	ck_assert_uint_eq(l.lock_base, OTP_LOCK);
	ck_assert_uint_eq(dfu_otp_area_size(&l), 528);
	ck_assert(dfu_otp_layout_for(0x1FF0F400, &l));
	ck_assert_uint_eq(l.block_size, 64);
	ck_assert(!dfu_otp_layout_for(0x1FFF7A10, NULL));
	ck_assert(!dfu_otp_layout_for(0x08000000, NULL));

	ck_assert(dfu_otp_layout_for(OTP_BASE, &l));
	memset(cur, 0xff, sizeof(cur));
	add(OTP_BASE + 15 * 32, v, 1);
	add(OTP_LOCK + 15, v + 1, 1);
	ck_assert_int_eq(
	    dfu_otp_check(&l, OTP_BASE, cur, sizeof(cur), img, DFU_ALT_NONE, &plan, &err), 0);
	ck_assert_uint_eq(plan.blocks_written, 1u << 15);
	ck_assert_uint_eq(plan.locks_written, 1u << 15);
	ck_assert_uint_eq(plan.bytes_changed, 2);
	ck_assert_uint_eq(plan.first_change, OTP_BASE + 15 * 32);
	dfu_otp_plan_describe(&l, &plan, text, sizeof(text));
	ck_assert_str_eq(text, "block 15 (0x1fff79e0..0x1fff79ff), lock byte 15 (0x1fff7a0f: "
			       "locks block 15 for good)");

	/* without a lock layout only the 0 -> 1 rule applies */
	cur[480] = 0x02;
	ck_assert_int_eq(
	    dfu_otp_check(NULL, OTP_BASE, cur, sizeof(cur), img, DFU_ALT_NONE, &plan, &err),
	    DFU_E_MEMMAP);
	ck_assert_str_eq(err.code, "dfuse.otp_zero_to_one");
}
END_TEST

/* ---- option bytes -----------------------------------------------------------------------------
 */

static const uint8_t f4_default[16] = {
	0xEF, 0xAA, 0x10, 0x55, 0xFF, 0xFF, 0xFF, 0xFF,
	0xFF, 0x0F, 0x00, 0xF0, 0xFF, 0xFF, 0xFF, 0xFF,
};

START_TEST(test_ob_decode_f4_default)
{
	struct dfu_option_bytes ob;

	ck_assert_int_eq(dfu_option_bytes_decode(0x1FFFC000, f4_default, 16, 12, &ob, &err), 0);
	ck_assert_int_eq(ob.family, DFU_OB_F2F4);
	ck_assert_str_eq(ob.family_name, "STM32F2/F4");
	ck_assert_int_eq(ob.rdp_level, 0);
	ck_assert_uint_eq(ob.rdp_raw, 0xAA);
	ck_assert_uint_eq(ob.wrp_bits, 12);
	ck_assert_uint_eq(ob.wrp_mask, 0);
	ck_assert_int_eq(ob.bor_level, 0);
	ck_assert_ptr_nonnull(strstr(ob.bor_text, "off"));
	ck_assert(ob.wdg_sw && ob.nrst_stop && ob.nrst_stdby);
	ck_assert_ptr_nonnull(strstr(ob.boot, "BOOT0"));
	ck_assert(!ob.complement_error);
}
END_TEST

struct rdp_case {
	uint8_t byte;
	int level;
};
static const struct rdp_case rdp_cases[] = {
	{ 0xAA, 0 }, { 0xCC, 2 }, { 0x55, 1 }, { 0x00, 1 }, { 0xFF, 1 }, { 0xA5, 1 },
};

START_TEST(test_ob_decode_f4_rdp_table)
{
	struct dfu_option_bytes ob;
	uint8_t d[16];

	memcpy(d, f4_default, 16);
	d[1] = rdp_cases[_i].byte;
	d[3] = (uint8_t)(0xff - d[1]);
	ck_assert_int_eq(dfu_option_bytes_decode(0x1FFFC000, d, 16, 0, &ob, NULL), 0);
	ck_assert_int_eq(ob.rdp_level, rdp_cases[_i].level);
	ck_assert_int_eq(dfu_option_bytes_rdp_of(0x1FFFC000, d, 16), rdp_cases[_i].level);
}
END_TEST

struct bor_case {
	uint8_t user;
	int level;
	const char *text;
	bool wdg_sw, nrst_stop, nrst_stdby;
};
static const struct bor_case bor_cases[] = {
	{ 0xEC, 0, "off", true, true, true },	    { 0xE8, 1, "2.10-2.40", true, true, true },
	{ 0xE4, 2, "2.40-2.70", true, true, true }, { 0xE0, 3, "2.70-3.60", true, true, true },
	{ 0x0C, 0, "off", false, false, false },    { 0x4C, 0, "off", false, true, false },
	{ 0x2C, 0, "off", true, false, false },	    { 0x8C, 0, "off", false, false, true },
};

START_TEST(test_ob_decode_f4_user_byte_table)
{
	const struct bor_case *c = &bor_cases[_i];
	struct dfu_option_bytes ob;
	uint8_t d[16];

	memcpy(d, f4_default, 16);
	d[0] = c->user;
	d[2] = (uint8_t)(0xff - c->user);
	ck_assert_int_eq(dfu_option_bytes_decode(0x1FFFC000, d, 16, 12, &ob, NULL), 0);
	ck_assert_int_eq(ob.bor_level, c->level);
	ck_assert_ptr_nonnull(strstr(ob.bor_text, c->text));
	ck_assert(ob.wdg_sw == c->wdg_sw);
	ck_assert(ob.nrst_stop == c->nrst_stop);
	ck_assert(ob.nrst_stdby == c->nrst_stdby);
	ck_assert(!ob.complement_error);
}
END_TEST

START_TEST(test_ob_decode_f4_wrp_bits)
{
	struct dfu_option_bytes ob;
	uint8_t d[16];

	memcpy(d, f4_default, 16);
	d[8] = 0xDE; /* sectors 0 and 5 protected */
	d[9] = 0x07; /* and sector 11 */
	ck_assert_int_eq(dfu_option_bytes_decode(0x1FFFC000, d, 16, 12, &ob, NULL), 0);
	ck_assert_uint_eq(ob.wrp_mask, (1u << 0) | (1u << 5) | (1u << 11));
	ck_assert(!ob.pcrop_mode);
	ck_assert(ob.complement_error); /* complements were not updated */
	ck_assert_uint_eq(ob.complement_at, 0x1FFFC00A);
	/* an F401 (6 sectors): only those bits count */
	ck_assert_int_eq(dfu_option_bytes_decode(0x1FFFC000, d, 16, 6, &ob, NULL), 0);
	ck_assert_uint_eq(ob.wrp_bits, 6);
	ck_assert_uint_eq(ob.wrp_mask, (1u << 0) | (1u << 5));
	/* SPRMOD: the bits select PCROP, 1 = protected */
	d[9] = 0x80 | 0x00;
	d[8] = 0x01;
	ck_assert_int_eq(dfu_option_bytes_decode(0x1FFFC000, d, 16, 12, &ob, NULL), 0);
	ck_assert(ob.pcrop_mode);
	ck_assert_uint_eq(ob.wrp_mask, 1u);
	/* a dual-bank part shows BFB2 */
	d[0] = 0xFC;
	ck_assert_int_eq(dfu_option_bytes_decode(0x1FFFC000, d, 16, 24, &ob, NULL), 0);
	ck_assert_ptr_nonnull(strstr(ob.boot, "BFB2 (boot from bank 2) on"));
}
END_TEST

START_TEST(test_ob_decode_l4_and_f1_and_unknown)
{
	struct dfu_option_bytes ob;
	uint8_t l4[40], f1[16];

	memset(l4, 0, sizeof(l4));
	/* RDP 0xAA, BOR level 2, nRST_STOP, IWDG_SW, nSWBOOT0 = 0, nBOOT0 = 1, nBOOT1 = 1 */
	le32_put(l4, 0xAAu | 2u << 8 | 1u << 12 | 1u << 16 | 1u << 23 | 1u << 27);
	l4[0x18] = 0x10; /* WRP1A: pages 0x10..0x1f */
	l4[0x1A] = 0x1f;
	l4[0x20] = 0xff; /* WRP1B: disabled (start > end) */
	l4[0x22] = 0x00;
	ck_assert_int_eq(dfu_option_bytes_decode(0x1FFF7800, l4, sizeof(l4), 0, &ob, NULL), 0);
	ck_assert_int_eq(ob.family, DFU_OB_L4G4);
	ck_assert_int_eq(ob.rdp_level, 0);
	ck_assert_int_eq(ob.bor_level, 2);
	ck_assert(ob.nrst_stop && !ob.nrst_stdby && ob.wdg_sw);
	ck_assert_uint_eq(ob.n_wrp_ranges, 1);
	ck_assert_uint_eq(ob.wrp_first[0], 0x10);
	ck_assert_uint_eq(ob.wrp_last[0], 0x1f);
	ck_assert_ptr_nonnull(strstr(ob.boot, "nBOOT0 = 1"));

	memset(f1, 0xff, sizeof(f1));
	f1[0] = 0xA5;
	f1[1] = 0x5A;
	f1[2] = 0x07;
	f1[3] = 0xF8;
	f1[8] = 0xFE; /* page group 0 protected */
	f1[9] = 0x01;
	for (int i = 10; i < 16; i += 2)
		f1[i + 1] = 0x00;
	ck_assert_int_eq(dfu_option_bytes_decode(0x1FFFF800, f1, 16, 0, &ob, NULL), 0);
	ck_assert_int_eq(ob.family, DFU_OB_F0F1);
	ck_assert_int_eq(ob.rdp_level, 0);
	ck_assert_uint_eq(ob.wrp_mask, 1u);

	ck_assert_int_eq(dfu_option_bytes_decode(0x5200201C, f1, 16, 0, &ob, &err),
			 DFU_E_UNSUPPORTED);
	ck_assert_str_eq(err.code, "optbytes.unknown_layout");
	ck_assert_int_eq(dfu_option_bytes_rdp_of(0x5200201C, f1, 16), -1);
}
END_TEST

START_TEST(test_ob_rdp_level2_is_refused_before_any_request)
{
	uint8_t d[16];

	open_dfuse("stm32f405", NULL, 1);
	memcpy(d, f4_default, 16);
	d[1] = 0xCC;
	d[3] = 0x33;
	add(0x1FFFC000, d, 16);
	opts.force = true;
	ck_assert_int_eq(download(), DFU_E_MEMMAP);
	ck_assert_str_eq(err.code, "dfuse.ob_rdp_level2");
	ck_assert_uint_eq(n_requests, 0);
}
END_TEST

START_TEST(test_ob_write_resets_and_is_confirmed)
{
	struct dfu_if_info same;
	struct dfu_image *back = NULL;
	struct dfu_option_bytes ob;
	uint8_t d[16];

	open_dfuse("stm32f405", NULL, 1);
	memcpy(d, f4_default, 16);
	d[8] = 0xDF; /* protect sector 5 */
	d[10] = 0x20;
	add(0x1FFFC000, d, 16);
	opts.force = true;
	ck_assert_int_eq(download(), 0);
	ck_assert(res.left);
	same = identity();
	dfu_dev_close(dev);
	dev = NULL;
	ck_assert_int_eq(dfu_option_bytes_confirm(ctx, &same, img, 10000, &back, &err), 0);
	ck_assert_ptr_nonnull(back);
	ck_assert_uint_eq(back->n_segments, 1);
	ck_assert_int_eq(dfu_option_bytes_decode(back->segments[0].address, back->segments[0].data,
						 back->segments[0].length, 12, &ob, NULL),
			 0);
	ck_assert_uint_eq(ob.wrp_mask, 1u << 5);
	dfu_image_free(back);

	/* the new WRP works: the vector-table check finds it */
	open_alt(0);
	new_image();
	add_app(0x08020000, 2000);
	ck_assert_int_eq(download(), DFU_E_VERIFY);
	ck_assert_str_eq(err.code, "dfuse.write_protected");
	ck_assert_uint_eq(res.wrp_sector, 0x08020000);
}
END_TEST

START_TEST(test_ob_write_enabling_rdp_is_reported_by_the_confirmation)
{
	struct dfu_if_info same;
	uint8_t d[16];

	open_dfuse("stm32f405", NULL, 1);
	memcpy(d, f4_default, 16);
	d[1] = 0x55;
	d[3] = 0xAA;
	add(0x1FFFC000, d, 16);
	opts.force = true;
	ck_assert_int_eq(download(), 0);
	same = identity();
	dfu_dev_close(dev);
	dev = NULL;
	/* the ROM now refuses the Set Address of the read-back with errVENDOR,
	 * which dfuse_classify_rdp() turns into dfuse.read_protected, keeping
	 * DFU_E_DEVSTATUS */
	ck_assert_int_eq(dfu_option_bytes_confirm(ctx, &same, img, 10000, NULL, &err),
			 DFU_E_DEVSTATUS);
	ck_assert_int_eq(err.err, DFU_E_DEVSTATUS);
	ck_assert_str_eq(err.code, "dfuse.read_protected");
	ck_assert_uint_eq(err.status, DFU_STATUS_ERR_VENDOR);
	ck_assert_str_eq(err.op, "DfuSe Set Address 0x1fffc000");
	ck_assert_ptr_nonnull(strstr(err.hint, "enabled read-out protection"));
	ck_assert_uint_eq(simtest_state(sim).rdp_level, 1);
}
END_TEST

static TCase *tc(Suite *s, const char *name)
{
	return simtest_tcase(s, name, NULL, NULL, 30);
}

int main(void)
{
	Suite *s = suite_create("protect");
	TCase *t;

	t = tc(s, "rdp");
	tcase_add_test(t, test_rdp_erase_refusal_is_read_protected_with_the_hint);
	tcase_add_test(t, test_rdp_set_address_refusal_on_upload_is_read_protected);
	tcase_add_test(t, test_rdp_read_stall_is_read_protected);
	tcase_add_test(t, test_hal_err_vendor_is_not_read_protection);
	tcase_add_test(t, test_damaged_page_after_a_good_erase_is_not_read_protection);
	tcase_add_test(t, test_damaged_first_page_after_a_compare_is_not_read_protection);
	tcase_add_test(t, test_stuck_erase_describes_the_flash_state);
	tcase_add_test(t, test_unprotect_then_download_of_the_same_image);
	tcase_add_test(t, test_failing_unprotect_is_reported);
	tcase_add_test(t, test_unprotect_on_plain_dfu_is_unsupported);
	tcase_add_test(t, test_reopen_of_a_device_that_stays_fails_with_the_deadline);

	t = tc(s, "wrp");
	tcase_add_test(t, test_wrp_vector_table_sector_is_checked_without_verify);
	tcase_add_test(t, test_wrp_with_verify_names_the_sector);
	tcase_add_test(t, test_good_application_passes_the_vector_table_check);
	tcase_add_test(t, test_data_without_vector_table_is_not_read_back);
	tcase_add_test(t, test_wrp_vector_table_sector_off_base_on_a_non_rom_bootloader);
	tcase_add_test(t, test_wrp_first_sector_read_back_on_gd32);

	t = tc(s, "otp");
	tcase_add_test(t, test_otp_without_flag_is_refused_before_any_request);
	tcase_add_test(t, test_otp_zero_to_one_is_refused_before_any_write);
	tcase_add_test(t, test_otp_lock_after_data_in_two_runs);
	tcase_add_test(t, test_otp_locked_block_is_refused_and_unchanged_bytes_pass);
	tcase_add_test(t, test_otp_lock_byte_value_must_be_0_or_ff);
	tcase_add_test(t, test_otp_of_an_old_rom_declaring_it_erasable_is_never_erased);
	tcase_add_test(t, test_otp_check_pure);

	t = tc(s, "option-bytes");
	tcase_add_test(t, test_ob_decode_f4_default);
	tcase_add_loop_test(t, test_ob_decode_f4_rdp_table, 0, (int)ARRAY_SIZE(rdp_cases));
	tcase_add_loop_test(t, test_ob_decode_f4_user_byte_table, 0, (int)ARRAY_SIZE(bor_cases));
	tcase_add_test(t, test_ob_decode_f4_wrp_bits);
	tcase_add_test(t, test_ob_decode_l4_and_f1_and_unknown);
	tcase_add_test(t, test_ob_rdp_level2_is_refused_before_any_request);
	tcase_add_test(t, test_ob_write_resets_and_is_confirmed);
	tcase_add_test(t, test_ob_write_enabling_rdp_is_reported_by_the_confirmation);
	return test_run_suite(s);
}
