// SPDX-License-Identifier: GPL-2.0-or-later
/* Unit tests for the transport seam (tests/support/transport-sim.c,
 * src/lib/usb/transport-libusb.c): enumeration, control transfers and their
 * error mapping, re-enumeration and the virtual clock against the in-process
 * sim; the libusb backend where no USB exists. */
#include "config.h"

#include <unistd.h>

#include "engine.h"
#include "sim-api.h"
#include "testutil.h"
#include "transport-sim.h"

/* ---- fixture ------------------------------------------------------------------------- */

#define MAX_DEVS 2
#define T0_US 1000000u

static struct dfu_vclock vc;
static struct sim_device *devs[MAX_DEVS];
static size_t n_devs;
static struct dfu_backend be;
static struct dfu_usb_device *list;
static size_t n_list;
static struct dfu_handle *h;
static const char *usb_name;

static void setup(void)
{
	vc.now_us = T0_US;
	n_devs = 0;
	memset(&be, 0, sizeof(be));
	list = NULL;
	n_list = 0;
	h = NULL;
	usb_name = NULL;
}

static void teardown(void)
{
	if (h)
		h->ops->close(h);
	free(list);
	if (be.ops)
		be.ops->free(be.ctx);
	for (size_t i = 0; i < n_devs; i++)
		sim_device_free(devs[i]);
}

/* Add a sim device on the shared virtual clock. */
static void add_dev(const char *profile, const char *faults)
{
	char errbuf[160] = "";
	struct sim_options o = {
		.time_scale = 1.0,
		.faults = faults,
		.clock = { dfu_vclock_now_us, &vc },
		.errbuf = errbuf,
		.errbuf_size = sizeof(errbuf),
	};

	ck_assert_uint_lt(n_devs, MAX_DEVS);
	ck_assert_msg(sim_device_new(profile, &o, &devs[n_devs]) == 0, "sim %s: %s", profile,
		      errbuf);
	n_devs++;
}

static void start(void)
{
	struct dfu_error e = { 0 };

	ck_assert_int_eq(dfu_backend_sim_new(&vc, devs, n_devs, &be, &e), 0);
}

/* Enumerate into the fixture's list (the previous one is freed). */
static size_t enumerate(void)
{
	struct dfu_error e = { 0 };

	free(list);
	list = NULL;
	ck_assert_int_eq(be.ops->enumerate(be.ctx, &list, &n_list, &e), 0);
	return n_list;
}

/* One device of @profile, enumerated and opened. */
static void open_one(const char *profile, const char *faults)
{
	struct dfu_error e = { 0 };

	add_dev(profile, faults);
	start();
	ck_assert_uint_eq(enumerate(), 1);
	ck_assert_int_eq(be.ops->open(be.ctx, &list[0], &h, &e), 0);
}

static int ctl(uint8_t rt, uint8_t req, uint16_t value, uint8_t *data, uint16_t len,
	       unsigned timeout)
{
	return h->ops->control(h, rt, req, value, 0, data, len, timeout, &usb_name);
}

static int get_status(uint8_t st[6])
{
	return ctl(DFU_RT_IN, DFU_REQ_GETSTATUS, 0, st, 6, 0);
}

/* DfuSe command (AN3156): DNLOAD wBlockNum 0, then the two GET_STATUS. */
static void dfuse_cmd(const uint8_t *cmd, uint16_t len)
{
	uint8_t st[6];

	ck_assert_int_eq(ctl(DFU_RT_OUT, DFU_REQ_DNLOAD, 0, (uint8_t *)cmd, len, 0), len);
	ck_assert_int_eq(get_status(st), 6);
	ck_assert_uint_eq(st[4], DFU_STATE_DFU_DNBUSY);
	vc.now_us += 1000u * (st[1] | st[2] << 8 | (uint32_t)st[3] << 16);
	ck_assert_int_eq(get_status(st), 6);
	ck_assert_uint_eq(st[4], DFU_STATE_DFU_DNLOAD_IDLE);
}

/* DfuSe leave (UM0424; AN3156: executed at the GET_STATUS after the zero-length DNLOAD):
 * Set Address, zero-length DNLOAD, GET_STATUS. */
static int dfuse_leave(void)
{
	static const uint8_t set_addr[5] = { 0x21, 0x00, 0x00, 0x00, 0x08 };
	uint8_t st[6];

	dfuse_cmd(set_addr, sizeof(set_addr));
	ck_assert_int_eq(ctl(DFU_RT_OUT, DFU_REQ_DNLOAD, 2, NULL, 0, 0), 0);
	return get_status(st);
}

/* ---- enumeration ----------------------------------------------------------------------- */

START_TEST(test_enumerate_finds_the_f405_rom_with_its_identity)
{
	add_dev("stm32f405", NULL);
	start();
	ck_assert_uint_eq(enumerate(), 1);
	ck_assert_uint_eq(list[0].vid, 0x0483);
	ck_assert_uint_eq(list[0].pid, 0xdf11);
	ck_assert_uint_eq(list[0].bcd_device, 0x2200);
	ck_assert_uint_eq(list[0].bus, 1);
	ck_assert_uint_eq(list[0].devnum, 2);
	ck_assert_str_eq(list[0].path, "1-1");
	ck_assert_uint_eq(list[0].config_value, 1);
	ck_assert_uint_eq(list[0].max_packet0, 64);
	ck_assert_uint_eq(list[0].i_manufacturer, 1);
	ck_assert_uint_eq(list[0].i_product, 2);
	ck_assert_uint_eq(list[0].i_serial, 3);
	ck_assert_ptr_nonnull(list[0].backend_ref);
}
END_TEST

START_TEST(test_enumerate_lists_every_alt_with_its_interface_string)
{
	add_dev("stm32f405", NULL);
	start();
	ck_assert_uint_eq(enumerate(), 1);
	ck_assert_uint_eq(list[0].n_alts, 4);
	for (size_t i = 0; i < 4; i++) {
		const struct dfu_usb_alt *a = &list[0].alts[i];

		ck_assert_uint_eq(a->alt, i);
		ck_assert_uint_eq(a->interface, 0);
		ck_assert_uint_eq(a->interface_pos, 0);
		ck_assert_uint_eq(a->protocol, 2);
		ck_assert_uint_eq(a->i_interface, 4 + i);
	}
}
END_TEST

START_TEST(test_functional_descriptor_after_the_last_alt_reaches_every_alt)
{
	add_dev("stm32f405", NULL);
	start();
	ck_assert_uint_eq(enumerate(), 1);
	for (size_t i = 0; i < list[0].n_alts; i++) {
		const struct dfu_func_desc *f = &list[0].alts[i].func;

		ck_assert(f->present);
		ck_assert_uint_eq(f->bcd_dfu, 0x011a);
		ck_assert_uint_eq(f->transfer_size, 2048);
		ck_assert_uint_eq(f->attributes, 0x0b);
		ck_assert_uint_eq(f->detach_timeout_ms, 255);
	}
}
END_TEST

START_TEST(test_seven_byte_functional_descriptor_reads_as_dfu_1_0)
{
	add_dev("particle-photon", NULL);
	start();
	ck_assert_uint_eq(enumerate(), 1);
	ck_assert(list[0].alts[0].func.present);
	ck_assert_uint_eq(list[0].alts[0].func.bcd_dfu, 0x0100);
	/* DFU 1.0's 7 bytes still carry wTransferSize */
	ck_assert_uint_eq(list[0].alts[0].func.transfer_size, 4096);
}
END_TEST

START_TEST(test_generic_runtime_interface_comes_with_its_functional_descriptor)
{
	const struct dfu_usb_alt *a;

	add_dev("generic", NULL);
	start();
	ck_assert_uint_eq(enumerate(), 1);
	ck_assert_uint_eq(list[0].vid, 0xcafe);
	ck_assert_uint_eq(list[0].pid, 0x4001);
	ck_assert_uint_eq(list[0].n_alts, 1);
	a = &list[0].alts[0];
	ck_assert_uint_eq(a->protocol, 1);
	ck_assert(a->func.present);
	ck_assert_uint_eq(a->func.attributes, 0x0f);
	ck_assert_uint_eq(a->func.detach_timeout_ms, 1000);
	ck_assert_uint_eq(a->func.transfer_size, 64);
	ck_assert_uint_eq(a->func.bcd_dfu, 0x0110);
}
END_TEST

START_TEST(test_two_devices_get_paths_1_1_and_1_2)
{
	add_dev("stm32f405", NULL);
	add_dev("generic", NULL);
	start();
	ck_assert_uint_eq(enumerate(), 2);
	ck_assert_str_eq(list[0].path, "1-1");
	ck_assert_str_eq(list[1].path, "1-2");
	ck_assert_uint_ne(list[0].devnum, list[1].devnum);
}
END_TEST

START_TEST(test_enumerating_again_keeps_addresses)
{
	uint8_t devnum;

	add_dev("stm32f405", NULL);
	start();
	ck_assert_uint_eq(enumerate(), 1);
	devnum = list[0].devnum;
	ck_assert_uint_eq(enumerate(), 1);
	ck_assert_uint_eq(list[0].devnum, devnum);
}
END_TEST

START_TEST(test_enumerate_skips_a_device_that_is_not_on_the_bus)
{
	/* RDP level 2 disables boot from system memory (RM0090, read protection):
	 * the ROM bootloader never runs, so the chip never enumerates */
	add_dev("stm32f405", "rdp=2");
	add_dev("generic", NULL);
	start();
	ck_assert_uint_eq(enumerate(), 1);
	ck_assert_uint_eq(list[0].vid, 0xcafe);
	ck_assert_str_eq(list[0].path, "1-2");
}
END_TEST

START_TEST(test_enumerate_of_no_devices_is_empty)
{
	start();
	ck_assert_uint_eq(enumerate(), 0);
}
END_TEST

/* ---- control transfers ------------------------------------------------------------------ */

START_TEST(test_get_status_passes_through)
{
	uint8_t st[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

	open_one("stm32f405", NULL);
	ck_assert_int_eq(get_status(st), 6);
	ck_assert_uint_eq(st[0], DFU_STATUS_OK);
	ck_assert_uint_eq(st[4], DFU_STATE_DFU_IDLE);
	ck_assert_ptr_null(usb_name);
}
END_TEST

START_TEST(test_string_descriptor_passes_through)
{
	static const char want[] = "@Internal Flash";
	uint8_t buf[255];
	int r;

	open_one("stm32f405", NULL);
	r = ctl(0x80, 6, 0x0300 | list[0].alts[0].i_interface, buf, sizeof(buf), 0);
	ck_assert_int_gt(r, 2 + 2 * (int)strlen(want));
	ck_assert_uint_eq(buf[0], r);
	ck_assert_uint_eq(buf[1], 0x03);
	for (size_t i = 0; i < strlen(want); i++) {
		ck_assert_uint_eq(buf[2 + 2 * i], (uint8_t)want[i]);
		ck_assert_uint_eq(buf[3 + 2 * i], 0);
	}
}
END_TEST

START_TEST(test_short_in_transfer_returns_what_the_device_sent)
{
	uint8_t buf[64];

	open_one("stm32f405", NULL);
	/* string 0, the LANGID table: 4 bytes although 64 were asked for */
	ck_assert_int_eq(ctl(0x80, 6, 0x0300, buf, sizeof(buf), 0), 4);
	ck_assert_uint_eq(buf[2] | buf[3] << 8, 0x0409);
}
END_TEST

START_TEST(test_stall_maps_to_pipe_with_its_libusb_name)
{
	uint8_t st[6];

	open_one("stm32f405", "stall-on-request=GETSTATUS");
	ck_assert_int_eq(get_status(st), DFU_E_USB_PIPE);
	ck_assert_str_eq(usb_name, "LIBUSB_ERROR_PIPE");
}
END_TEST

START_TEST(test_timeout_advances_the_clock_by_the_transfer_timeout)
{
	uint8_t st[6];

	open_one("stm32f405", "timeout-on-request=GETSTATUS");
	ck_assert_int_eq(ctl(DFU_RT_IN, DFU_REQ_GETSTATUS, 0, st, 6, 700), DFU_E_USB_TIMEOUT);
	ck_assert_str_eq(usb_name, "LIBUSB_ERROR_TIMEOUT");
	ck_assert_uint_eq(vc.now_us, T0_US + 700000u);
}
END_TEST

START_TEST(test_timeout_zero_means_the_5000_ms_default)
{
	uint8_t st[6];

	open_one("stm32f405", "timeout-on-request=GETSTATUS");
	ck_assert_int_eq(get_status(st), DFU_E_USB_TIMEOUT);
	ck_assert_uint_eq(vc.now_us, T0_US + 5000000u);
}
END_TEST

START_TEST(test_a_held_request_advances_the_clock_by_the_hold)
{
	static const uint8_t erase[5] = { 0x41, 0x00, 0x00, 0x00, 0x08 };
	uint8_t st[6];
	uint64_t before;

	open_one("stm32f405", NULL);
	ck_assert_int_eq(ctl(DFU_RT_OUT, DFU_REQ_DNLOAD, 0, (uint8_t *)erase, 5, 0), 5);
	ck_assert_int_eq(get_status(st), 6);
	ck_assert_uint_eq(st[4], DFU_STATE_DFU_DNBUSY);
	/* polled at once, the F4 ROM model holds its answer until the erase is done:
	 * ST's USB device library erases in the interrupt of the first GET_STATUS, and
	 * pydfu, which polls without waiting, works on the F4 ROM */
	before = vc.now_us;
	ck_assert_int_eq(get_status(st), 6);
	ck_assert_uint_eq(st[4], DFU_STATE_DFU_DNLOAD_IDLE);
	ck_assert_uint_gt(vc.now_us, before);
}
END_TEST

START_TEST(test_a_request_held_past_the_timeout_times_out)
{
	static const uint8_t erase[5] = { 0x41, 0x00, 0x00, 0x00, 0x08 };
	uint8_t st[6];
	uint64_t before;

	open_one("stm32f405", NULL);
	ck_assert_int_eq(ctl(DFU_RT_OUT, DFU_REQ_DNLOAD, 0, (uint8_t *)erase, 5, 0), 5);
	ck_assert_int_eq(get_status(st), 6);
	before = vc.now_us;
	ck_assert_int_eq(ctl(DFU_RT_IN, DFU_REQ_GETSTATUS, 0, st, 6, 1), DFU_E_USB_TIMEOUT);
	ck_assert_str_eq(usb_name, "LIBUSB_ERROR_TIMEOUT");
	ck_assert_uint_eq(vc.now_us, before + 1000u);
}
END_TEST

START_TEST(test_in_request_without_a_buffer_is_invalid)
{
	open_one("stm32f405", NULL);
	ck_assert_int_eq(ctl(DFU_RT_IN, DFU_REQ_GETSTATUS, 0, NULL, 6, 0), DFU_E_INVAL);
}
END_TEST

/* ---- clock -------------------------------------------------------------------------------- */

START_TEST(test_sleep_advances_virtual_time_without_blocking)
{
	uint64_t ms;

	start();
	ms = be.clock.now_ms(be.clock.ctx);
	ck_assert_uint_eq(ms, T0_US / 1000);
	be.clock.sleep_ms(be.clock.ctx, 250);
	ck_assert_uint_eq(be.clock.now_ms(be.clock.ctx), ms + 250);
	ck_assert_uint_eq(vc.now_us, T0_US + 250000u);
	/* an hour of virtual time costs nothing */
	be.clock.sleep_ms(be.clock.ctx, 3600000);
	ck_assert_uint_eq(dfu_vclock_now_us(&vc), T0_US + 250000u + 3600000000ull);
}
END_TEST

/* ---- interfaces, reset ---------------------------------------------------------------------- */

START_TEST(test_set_alt_selects_the_alt_in_the_device)
{
	struct sim_state st;

	open_one("stm32f405", NULL);
	ck_assert_int_eq(h->ops->claim(h, 0, &usb_name), 0);
	ck_assert_int_eq(h->ops->set_alt(h, 0, 3, &usb_name), 0);
	ck_assert_int_eq(sim_device_get_state(devs[0], &st), 0);
	ck_assert_uint_eq(st.alt, 3);
}
END_TEST

START_TEST(test_set_alt_needs_a_claimed_interface)
{
	open_one("stm32f405", NULL);
	ck_assert_int_eq(h->ops->set_alt(h, 0, 1, &usb_name), DFU_E_USB_OTHER);
	ck_assert_str_eq(usb_name, "LIBUSB_ERROR_NOT_FOUND");
}
END_TEST

START_TEST(test_set_alt_beyond_the_last_alt_stalls)
{
	open_one("stm32f405", NULL);
	ck_assert_int_eq(h->ops->claim(h, 0, &usb_name), 0);
	ck_assert_int_eq(h->ops->set_alt(h, 0, 9, &usb_name), DFU_E_USB_PIPE);
}
END_TEST

START_TEST(test_claim_of_an_absent_interface_fails)
{
	open_one("stm32f405", NULL);
	ck_assert_int_eq(h->ops->claim(h, 5, &usb_name), DFU_E_USB_OTHER);
	ck_assert_str_eq(usb_name, "LIBUSB_ERROR_NOT_FOUND");
}
END_TEST

START_TEST(test_reset_of_the_st_rom_keeps_the_handle)
{
	uint8_t st[6];

	open_one("stm32f405", NULL);
	ck_assert_int_eq(h->ops->reset(h, &usb_name), 0);
	ck_assert_int_eq(get_status(st), 6);
	ck_assert_uint_eq(enumerate(), 1);
	ck_assert_uint_eq(list[0].devnum, 2);
}
END_TEST

START_TEST(test_reset_after_detach_reports_nodev_and_the_dfu_mode_appears)
{
	/* no bitWillDetach: the host's reset does the re-enumeration (DFU 1.1 §5.1) */
	open_one("generic-intolerant", NULL);
	ck_assert_int_eq(ctl(DFU_RT_OUT, DFU_REQ_DETACH, 1000, NULL, 0, 0), 0);
	ck_assert_int_eq(h->ops->reset(h, &usb_name), DFU_E_USB_NODEV);
	ck_assert_str_eq(usb_name, "LIBUSB_ERROR_NOT_FOUND");
	be.clock.sleep_ms(be.clock.ctx, 1000);
	ck_assert_uint_eq(enumerate(), 1);
	ck_assert_uint_eq(list[0].pid, 0x4000);
	ck_assert_uint_eq(list[0].alts[0].protocol, 2);
	ck_assert_str_eq(list[0].path, "1-1");
}
END_TEST

/* ---- leave and re-enumeration ------------------------------------------------------------- */

START_TEST(test_leave_makes_the_old_handle_fail_with_nodev)
{
	uint8_t st[6];

	open_one("stm32f405", NULL);
	ck_assert_int_eq(dfuse_leave(), 6);
	ck_assert_int_eq(get_status(st), DFU_E_USB_NODEV);
	ck_assert_str_eq(usb_name, "LIBUSB_ERROR_NO_DEVICE");
	ck_assert_int_eq(h->ops->reset(h, &usb_name), DFU_E_USB_NODEV);
	ck_assert_int_eq(h->ops->claim(h, 0, &usb_name), DFU_E_USB_NODEV);
}
END_TEST

START_TEST(test_leave_device_reappears_after_its_reenumeration_delay)
{
	uint8_t devnum;

	open_one("stm32f405", "reenum-delay-ms=300");
	devnum = list[0].devnum;
	ck_assert_int_eq(dfuse_leave(), 6);
	ck_assert_uint_eq(enumerate(), 0);
	be.clock.sleep_ms(be.clock.ctx, 299);
	ck_assert_uint_eq(enumerate(), 0);
	be.clock.sleep_ms(be.clock.ctx, 1);
	ck_assert_uint_eq(enumerate(), 1);
	/* empty flash and BOOT0 high: the ROM again, on the same port at a new address */
	ck_assert_uint_eq(list[0].pid, 0xdf11);
	ck_assert_str_eq(list[0].path, "1-1");
	ck_assert_uint_ne(list[0].devnum, devnum);
}
END_TEST

START_TEST(test_open_of_an_entry_from_before_the_reenumeration_fails_with_nodev)
{
	struct dfu_usb_device old;
	struct dfu_handle *h2 = NULL;
	struct dfu_error e = { 0 };

	open_one("stm32f405", NULL);
	old = list[0];
	ck_assert_int_eq(dfuse_leave(), 6);
	be.clock.sleep_ms(be.clock.ctx, 1000);
	ck_assert_uint_eq(enumerate(), 1);
	ck_assert_int_eq(be.ops->open(be.ctx, &old, &h2, &e), DFU_E_USB_NODEV);
	ck_assert_ptr_null(h2);
	ck_assert_int_eq(e.err, DFU_E_USB_NODEV);
	ck_assert_int_eq(e.usb_err, DFU_E_USB_NODEV);
	ck_assert_str_eq(e.usb_name, "LIBUSB_ERROR_NO_DEVICE");
	ck_assert_ptr_nonnull(strstr(e.message, "0483:df11"));
	/* the new entry opens */
	ck_assert_int_eq(be.ops->open(be.ctx, &list[0], &h2, &e), 0);
	h2->ops->close(h2);
}
END_TEST

START_TEST(test_status_stage_lost_in_a_leave_maps_to_io)
{
	/* ST HAL (usbd_dfu.c): DFU_Leave() runs when the GET_STATUS data stage is
	 * sent and resets the chip before the status stage (stm32-mw-usb-device
	 * issue 23) */
	open_one("stm32f405", "leave=vanish-during-status");
	ck_assert_int_eq(dfuse_leave(), DFU_E_USB_IO);
	ck_assert_str_eq(usb_name, "LIBUSB_ERROR_IO");
}
END_TEST

START_TEST(test_open_of_an_entry_of_another_backend_is_refused)
{
	struct dfu_usb_device fake;
	struct dfu_handle *h2 = NULL;
	struct dfu_error e = { 0 };
	int dummy = 0;

	add_dev("stm32f405", NULL);
	start();
	ck_assert_uint_eq(enumerate(), 1);
	fake = list[0];
	fake.backend_ref = &dummy;
	ck_assert_int_eq(be.ops->open(be.ctx, &fake, &h2, &e), DFU_E_INVAL);
	ck_assert_ptr_null(h2);
}
END_TEST

/* ---- libusb -------------------------------------------------------------------------------- */

START_TEST(test_libusb_backend_starts_and_lists_no_devices_here)
{
	struct dfu_backend lb = { 0 };
	struct dfu_usb_device *l = NULL;
	struct dfu_error e = { 0 };
	size_t n = 99;

	ck_assert_int_eq(dfu_backend_libusb_new(&lb, &e), 0);
	ck_assert_ptr_nonnull(lb.ops);
	ck_assert_int_eq(lb.ops->enumerate(lb.ctx, &l, &n, &e), 0);
	/* the build machines have no USB bus; a machine that does may list devices */
	if (access("/dev/bus/usb", F_OK) != 0)
		ck_assert_uint_eq(n, 0);
	free(l);
	lb.ops->free(lb.ctx);
}
END_TEST

START_TEST(test_libusb_backend_clock_is_real_time)
{
	struct dfu_backend lb = { 0 };
	struct dfu_error e = { 0 };
	uint64_t t0;

	ck_assert_int_eq(dfu_backend_libusb_new(&lb, &e), 0);
	t0 = lb.clock.now_ms(lb.clock.ctx);
	lb.clock.sleep_ms(lb.clock.ctx, 20);
	ck_assert_uint_ge(lb.clock.now_ms(lb.clock.ctx), t0 + 20);
	lb.ops->free(lb.ctx);
}
END_TEST

static Suite *transport_suite(void)
{
	Suite *s = suite_create("transport");
	TCase *tc;

	tc = tcase_create("enumerate");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_enumerate_finds_the_f405_rom_with_its_identity);
	tcase_add_test(tc, test_enumerate_lists_every_alt_with_its_interface_string);
	tcase_add_test(tc, test_functional_descriptor_after_the_last_alt_reaches_every_alt);
	tcase_add_test(tc, test_seven_byte_functional_descriptor_reads_as_dfu_1_0);
	tcase_add_test(tc, test_generic_runtime_interface_comes_with_its_functional_descriptor);
	tcase_add_test(tc, test_two_devices_get_paths_1_1_and_1_2);
	tcase_add_test(tc, test_enumerating_again_keeps_addresses);
	tcase_add_test(tc, test_enumerate_skips_a_device_that_is_not_on_the_bus);
	tcase_add_test(tc, test_enumerate_of_no_devices_is_empty);
	suite_add_tcase(s, tc);

	tc = tcase_create("control");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_get_status_passes_through);
	tcase_add_test(tc, test_string_descriptor_passes_through);
	tcase_add_test(tc, test_short_in_transfer_returns_what_the_device_sent);
	tcase_add_test(tc, test_stall_maps_to_pipe_with_its_libusb_name);
	tcase_add_test(tc, test_timeout_advances_the_clock_by_the_transfer_timeout);
	tcase_add_test(tc, test_timeout_zero_means_the_5000_ms_default);
	tcase_add_test(tc, test_a_held_request_advances_the_clock_by_the_hold);
	tcase_add_test(tc, test_a_request_held_past_the_timeout_times_out);
	tcase_add_test(tc, test_in_request_without_a_buffer_is_invalid);
	tcase_add_test(tc, test_sleep_advances_virtual_time_without_blocking);
	suite_add_tcase(s, tc);

	tc = tcase_create("interfaces");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_set_alt_selects_the_alt_in_the_device);
	tcase_add_test(tc, test_set_alt_needs_a_claimed_interface);
	tcase_add_test(tc, test_set_alt_beyond_the_last_alt_stalls);
	tcase_add_test(tc, test_claim_of_an_absent_interface_fails);
	tcase_add_test(tc, test_reset_of_the_st_rom_keeps_the_handle);
	tcase_add_test(tc, test_reset_after_detach_reports_nodev_and_the_dfu_mode_appears);
	suite_add_tcase(s, tc);

	tc = tcase_create("reenumeration");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_leave_makes_the_old_handle_fail_with_nodev);
	tcase_add_test(tc, test_leave_device_reappears_after_its_reenumeration_delay);
	tcase_add_test(tc, test_open_of_an_entry_from_before_the_reenumeration_fails_with_nodev);
	tcase_add_test(tc, test_status_stage_lost_in_a_leave_maps_to_io);
	tcase_add_test(tc, test_open_of_an_entry_of_another_backend_is_refused);
	suite_add_tcase(s, tc);

	tc = tcase_create("libusb");
	tcase_set_timeout(tc, 10);
	tcase_add_test(tc, test_libusb_backend_starts_and_lists_no_devices_here);
	tcase_add_test(tc, test_libusb_backend_clock_is_real_time);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return test_run_suite(transport_suite());
}
