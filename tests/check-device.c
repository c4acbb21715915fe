// SPDX-License-Identifier: GPL-2.0-or-later
/* Unit tests for discovery, matching, open, detach, reset and waiting
 * (src/lib/dfu/discover.c, dev.c), against the in-process sim devices on a virtual clock. */
#include "config.h"

#include <time.h>

#include "engine.h"
#include "sim-api.h"
#include "simtest.h"
#include "testutil.h"
#include "transport-sim.h"

#define F4_FLASH "@Internal Flash  /0x08000000/04*016Kg,01*064Kg,07*128Kg"
#define F4_OB "@Option Bytes  /0x1FFFC000/01*016 e"
#define F4_OTP "@OTP Memory /0x1FFF7800/01*512 e,01*016 e"
#define F4_FEATURE "@Device Feature/0xFFFF0000/01*004 e"
#define F4_SERIAL "3574364C3034"

/* ---- fixture: simtest.h, and these of the device tests ----------------------------------- */

static struct dfu_if_info *list;
static size_t n_list;
static struct dfu_match m;

/* Add a sim device at path "1-<n>" (call before simtest_start()).  Without
 * its delays (time scale 0): these tests are about finding devices, and the
 * waits they check are the host's own on the virtual clock. */
static void add_sim(const char *profile, const char *faults)
{
	simtest_add_sim(profile, faults, 0);
}

static void setup(void)
{
	list = NULL;
	n_list = 0;
	dfu_match_init(&m);
}

static void teardown(void)
{
	dfu_if_info_free(list, n_list);
}

static void do_list(void)
{
	dfu_if_info_free(list, n_list);
	ck_assert_int_eq(dfu_list(ctx, &m, &list, &n_list, NULL), 0);
}

/* "path/alt" of each listed alt, comma separated. */
static const char *listed(void)
{
	static char buf[512];
	size_t len = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < n_list; i++)
		len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%s%s/%u", i ? "," : "",
					list[i].path, list[i].alt);
	return buf;
}

/* The three devices the matching tests choose from: an F405 ROM (1-1, DFU
 * mode, 4 alts), a generic application in run-time mode (1-2) and a G474 ROM
 * (1-3, DFU mode, 3 alts). */
static void three_devices(void)
{
	add_sim("stm32f405", NULL);
	add_sim("generic", NULL);
	add_sim("stm32g474", NULL);
	simtest_start();
}

static void set_id(struct dfu_id_match *id, bool any_vid, uint16_t vid, bool any_pid, uint16_t pid)
{
	id->set = true;
	id->any_vid = any_vid;
	id->vid = vid;
	id->any_pid = any_pid;
	id->pid = pid;
}

static void set_none(struct dfu_id_match *id)
{
	id->set = true;
	id->none = true;
}

static double real_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- listing ------------------------------------------------------------------------- */

START_TEST(test_ctx_takes_the_backend_and_clears_the_callers_copy)
{
	struct dfu_backend be = { 0 };

	ck_assert_int_eq(dfu_backend_sim_new(&vc, NULL, 0, &be, NULL), 0);
	ck_assert_int_eq(dfu_ctx_new(&be, &ctx), 0);
	ck_assert_ptr_null(be.ops);
	ck_assert_ptr_null(be.ctx);
}
END_TEST

START_TEST(test_f405_lists_its_four_alts_with_exact_names)
{
	add_sim("stm32f405", NULL);
	simtest_start();
	do_list();

	ck_assert_uint_eq(n_list, 4);
	ck_assert_str_eq(list[0].name, F4_FLASH);
	ck_assert_str_eq(list[1].name, F4_OB);
	ck_assert_str_eq(list[2].name, F4_OTP);
	ck_assert_str_eq(list[3].name, F4_FEATURE);
	for (unsigned a = 0; a < 4; a++) {
		ck_assert_uint_eq(list[a].alt, a);
		ck_assert_uint_eq(list[a].interface, 0);
		ck_assert_str_eq(list[a].path, "1-1");
		ck_assert(list[a].dfu_mode);
	}
}
END_TEST

START_TEST(test_f405_lists_identity_strings_and_functional_descriptor)
{
	add_sim("stm32f405", NULL);
	simtest_start();
	do_list();

	ck_assert_uint_eq(n_list, 4);
	ck_assert_uint_eq(list[0].vid, 0x0483);
	ck_assert_uint_eq(list[0].pid, 0xdf11);
	ck_assert_uint_eq(list[0].bcd_device, 0x2200);
	ck_assert_uint_eq(list[0].config, 1);
	ck_assert_str_eq(list[0].serial, F4_SERIAL);
	ck_assert_str_eq(list[0].product, "STM32  BOOTLOADER");
	ck_assert_str_eq(list[0].manufacturer, "STMicroelectronics");
	ck_assert_str_eq(list[0].strings_state, "ok");
	ck_assert_int_eq(list[0].open_err, 0);
	/* one functional descriptor after the last alt serves them all */
	for (unsigned a = 0; a < 4; a++) {
		ck_assert_uint_eq(list[a].attributes, 0x0b);
		ck_assert_uint_eq(list[a].detach_timeout_ms, 255);
		ck_assert_uint_eq(list[a].transfer_size, 2048);
		ck_assert_uint_eq(list[a].bcd_dfu, 0x011a);
	}
}
END_TEST

START_TEST(test_f405_alts_carry_their_parsed_layouts)
{
	add_sim("stm32f405", NULL);
	simtest_start();
	do_list();

	ck_assert_ptr_nonnull(list[0].layout);
	ck_assert_str_eq(list[0].layout->name, "Internal Flash");
	ck_assert_uint_eq(list[0].layout->n_segments, 3);
	ck_assert_uint_eq(list[0].layout->segments[0].start, 0x08000000);
	ck_assert_uint_eq(list[0].layout->segments[0].count, 4);
	ck_assert_uint_eq(list[0].layout->segments[0].size, 16 * 1024);
	ck_assert_uint_eq(list[0].layout->segments[2].count, 7);
	ck_assert_uint_eq(list[0].layout->segments[2].size, 128 * 1024);
	ck_assert_ptr_nonnull(list[1].layout);
	ck_assert_str_eq(list[1].layout->name, "Option Bytes");
	ck_assert_uint_eq(list[1].layout->segments[0].start, 0x1fffc000);
	ck_assert_uint_eq(list[1].layout->segments[0].size, 16);
	ck_assert_ptr_nonnull(list[3].layout);
	ck_assert_str_eq(list[3].layout->name, "Device Feature");
}
END_TEST

START_TEST(test_list_line_is_dfu_util_format_byte_for_byte)
{
	char line[512];
	int len;

	add_sim("stm32f405", NULL);
	simtest_start();
	do_list();

	len = dfu_if_info_format_line(&list[0], line, sizeof(line));
	ck_assert_str_eq(line,
			 "Found DFU: [0483:df11] ver=2200, devnum=2, cfg=1, intf=0, "
			 "path=\"1-1\", alt=0, name=\"" F4_FLASH "\", serial=\"" F4_SERIAL "\"");
	ck_assert_int_eq(len, (int)strlen(line));
	dfu_if_info_format_line(&list[1], line, sizeof(line));
	ck_assert_str_eq(line, "Found DFU: [0483:df11] ver=2200, devnum=2, cfg=1, intf=0, "
			       "path=\"1-1\", alt=1, name=\"" F4_OB "\", serial=\"" F4_SERIAL "\"");
}
END_TEST

START_TEST(test_generic_application_lists_as_runtime)
{
	char line[512];

	add_sim("generic", NULL);
	simtest_start();
	do_list();

	ck_assert_uint_eq(n_list, 1);
	ck_assert(!list[0].dfu_mode);
	ck_assert_uint_eq(list[0].pid, 0x4001);
	ck_assert_ptr_null(list[0].layout);
	dfu_if_info_format_line(&list[0], line, sizeof(line));
	ck_assert_str_eq(line, "Found Runtime: [cafe:4001] ver=0100, devnum=2, cfg=1, intf=0, "
			       "path=\"1-1\", alt=0, name=\"DFU Runtime\", serial=\"123456\"");
}
END_TEST

START_TEST(test_list_line_says_unknown_for_unread_strings)
{
	struct dfu_if_info i = { .vid = 0x1209,
				 .pid = 0xdb42,
				 .bcd_device = 0x0100,
				 .devnum = 7,
				 .config = 1,
				 .path = "3-2",
				 .dfu_mode = true };
	char line[256];

	dfu_if_info_format_line(&i, line, sizeof(line));
	ck_assert_str_eq(line, "Found DFU: [1209:db42] ver=0100, devnum=7, cfg=1, intf=0, "
			       "path=\"3-2\", alt=0, name=\"UNKNOWN\", serial=\"UNKNOWN\"");
}
END_TEST

START_TEST(test_empty_bus_lists_nothing_and_succeeds)
{
	simtest_start();
	do_list();
	ck_assert_uint_eq(n_list, 0);
}
END_TEST

/* ---- string faults ------------------------------------------------------------------- */

START_TEST(test_empty_langid_table_still_lists_with_0409)
{
	add_sim("stm32f405", "no-langid");
	simtest_start();
	do_list();

	ck_assert_uint_eq(n_list, 4);
	ck_assert_str_eq(list[0].strings_state, "no LANGID (used 0x0409)");
	ck_assert_str_eq(list[0].name, F4_FLASH);
	ck_assert_str_eq(list[0].serial, F4_SERIAL);
	ck_assert_ptr_nonnull(list[0].layout);
}
END_TEST

START_TEST(test_stalled_langid_table_still_lists_with_0409)
{
	add_sim("stm32f405", "no-langid=stall");
	simtest_start();
	do_list();

	ck_assert_uint_eq(n_list, 4);
	ck_assert_str_eq(list[0].strings_state, "no LANGID (used 0x0409)");
	ck_assert_str_eq(list[2].name, F4_OTP);
}
END_TEST

START_TEST(test_langid_failing_once_is_read_on_retry)
{
	add_sim("stm32f405", "no-langid=fail-first");
	simtest_start();
	do_list();

	ck_assert_str_eq(list[0].strings_state, "ok");
	ck_assert_str_eq(list[0].name, F4_FLASH);
}
END_TEST

START_TEST(test_wrong_langid_falls_back_to_0409)
{
	add_sim("stm32f405", "wrong-langid");
	simtest_start();
	do_list();

	ck_assert_uint_eq(n_list, 4);
	ck_assert_str_eq(list[0].strings_state, "wrong LANGID (used 0x0409)");
	ck_assert_str_eq(list[0].name, F4_FLASH);
	ck_assert_str_eq(list[3].name, F4_FEATURE);
	ck_assert_str_eq(list[0].serial, F4_SERIAL);
}
END_TEST

START_TEST(test_string_claiming_more_than_sent_is_kept_and_flagged)
{
	add_sim("stm32f405", "bad-strings");
	simtest_start();
	do_list();

	ck_assert_uint_eq(n_list, 4);
	ck_assert_ptr_nonnull(strstr(list[0].strings_state, "truncated"));
	ck_assert_str_eq(list[0].name, F4_FLASH);
	ck_assert_str_eq(list[0].serial, F4_SERIAL);
	ck_assert_ptr_nonnull(list[0].layout);
}
END_TEST

START_TEST(test_identical_alt_names_still_give_distinct_alts)
{
	add_sim("stm32g0b1", "identical-alt-names");
	simtest_start();
	do_list();

	ck_assert_uint_ge(n_list, 2);
	for (size_t i = 0; i < n_list; i++) {
		ck_assert_uint_eq(list[i].alt, i);
		ck_assert_str_eq(list[i].name, list[0].name);
	}
	m.alt = 1;
	do_list();
	ck_assert_uint_eq(n_list, 1);
	ck_assert_uint_eq(list[0].alt, 1);
}
END_TEST

START_TEST(test_gd32_serial_is_read_as_utf8)
{
	add_sim("gd32vf103", NULL);
	simtest_start();
	do_list();

	ck_assert_uint_ge(n_list, 1);
	ck_assert_str_eq(list[0].serial, "3CBJ");
}
END_TEST

/* A backend that enumerates the sim devices but refuses every open. */
struct refusing {
	struct dfu_backend inner;
	int err;
};

static int refusing_enumerate(void *c, struct dfu_usb_device **out, size_t *n, struct dfu_error *e)
{
	struct refusing *r = c;

	return r->inner.ops->enumerate(r->inner.ctx, out, n, e);
}

static int refusing_open(void *c, const struct dfu_usb_device *udev, struct dfu_handle **out,
			 struct dfu_error *e)
{
	struct refusing *r = c;

	(void)udev;
	*out = NULL;
	return dfu_error_set(e, r->err, "usb.open", NULL, "refused");
}

static void refusing_free(void *c)
{
	struct refusing *r = c;

	r->inner.ops->free(r->inner.ctx);
	free(r);
}

static const struct dfu_backend_ops refusing_ops = {
	.enumerate = refusing_enumerate,
	.open = refusing_open,
	.free = refusing_free,
};

static void start_refusing(int code)
{
	struct refusing *r = calloc(1, sizeof(*r));
	struct dfu_backend be = { 0 };

	ck_assert_ptr_nonnull(r);
	r->err = code;
	ck_assert_int_eq(dfu_backend_sim_new(&vc, sims, n_sims, &r->inner, NULL), 0);
	be.ops = &refusing_ops;
	be.ctx = r;
	be.clock = r->inner.clock;
	ck_assert_int_eq(dfu_ctx_new(&be, &ctx), 0);
}

START_TEST(test_device_without_permission_is_listed_with_the_reason)
{
	char line[512];

	add_sim("stm32f405", NULL);
	start_refusing(DFU_E_USB_ACCESS);
	do_list();

	ck_assert_uint_eq(n_list, 4);
	ck_assert_int_eq(list[0].open_err, DFU_E_USB_ACCESS);
	ck_assert_ptr_nonnull(strstr(list[0].open_error, "permission denied"));
	ck_assert_ptr_nonnull(strstr(list[0].open_error, "udev rule"));
	ck_assert_str_eq(list[0].strings_state, "no permission to read");
	dfu_if_info_format_line(&list[0], line, sizeof(line));
	ck_assert_ptr_nonnull(strstr(line, "name=\"UNKNOWN\", serial=\"UNKNOWN\""));
}
END_TEST

START_TEST(test_busy_device_is_listed_with_the_reason)
{
	add_sim("stm32f405", NULL);
	start_refusing(DFU_E_USB_BUSY);
	do_list();

	ck_assert_uint_eq(n_list, 4);
	ck_assert_int_eq(list[0].open_err, DFU_E_USB_BUSY);
	ck_assert_str_eq(list[0].open_error, "busy: claimed by another program");
}
END_TEST

START_TEST(test_unreadable_device_passes_string_filters)
{
	add_sim("stm32f405", NULL);
	start_refusing(DFU_E_USB_ACCESS);
	m.alt_name = "Internal Flash";
	m.serial_dfu = "nonesuch";
	do_list();

	/* the caller must be able to say why it cannot be used */
	ck_assert_uint_eq(n_list, 4);
}
END_TEST

START_TEST(test_open_without_permission_names_the_udev_rule)
{
	struct dfu_error e = { 0 };

	add_sim("stm32f405", NULL);
	start_refusing(DFU_E_USB_ACCESS);
	do_list();
	ck_assert_int_eq(dfu_dev_open(ctx, &list[0], &dev, &e), DFU_E_USB_ACCESS);
	ck_assert_ptr_null(dev);
	ck_assert_int_eq(e.err, DFU_E_USB_ACCESS);
	ck_assert_ptr_nonnull(e.hint);
	ck_assert_ptr_nonnull(strstr(e.hint, "udev rule"));
}
END_TEST

/* ---- matching: dfu-util's filters -d, -S, -p, -n, -c, -i, -a (dfu-util(1)) -------------- */

START_TEST(test_no_filter_lists_every_alt_of_every_device)
{
	three_devices();
	do_list();
	ck_assert_str_eq(listed(), "1-1/0,1-1/1,1-1/2,1-1/3,1-2/0,1-3/0,1-3/1,1-3/2");
}
END_TEST

START_TEST(test_runtime_ids_alone_still_match_any_dfu_device)
{
	three_devices();
	set_id(&m.runtime, false, 0x0483, false, 0xdf11); /* -d 0483:df11 */
	do_list();
	ck_assert_str_eq(listed(), "1-1/0,1-1/1,1-1/2,1-1/3,1-3/0,1-3/1,1-3/2");
}
END_TEST

START_TEST(test_runtime_ids_match_the_runtime_device)
{
	three_devices();
	set_id(&m.runtime, false, 0xcafe, false, 0x4001); /* -d cafe:4001,- */
	set_none(&m.dfu);
	do_list();
	ck_assert_str_eq(listed(), "1-2/0");
}
END_TEST

START_TEST(test_dfu_only_ids_exclude_runtime_devices)
{
	three_devices();
	set_none(&m.runtime); /* -d ,0483:df11 */
	set_id(&m.dfu, false, 0x0483, false, 0xdf11);
	do_list();
	ck_assert_str_eq(listed(), "1-1/0,1-1/1,1-1/2,1-1/3,1-3/0,1-3/1,1-3/2");
}
END_TEST

START_TEST(test_wildcard_vendor_matches_by_product)
{
	three_devices();
	set_id(&m.runtime, true, 0, false, 0x4001); /* -d *:4001,- */
	set_none(&m.dfu);
	do_list();
	ck_assert_str_eq(listed(), "1-2/0");
}
END_TEST

START_TEST(test_wildcard_product_matches_by_vendor)
{
	three_devices();
	set_none(&m.runtime); /* -d ,0483:* */
	set_id(&m.dfu, false, 0x0483, true, 0);
	do_list();
	ck_assert_uint_eq(n_list, 7);
}
END_TEST

START_TEST(test_wrong_dfu_ids_match_nothing_in_dfu_mode)
{
	three_devices();
	set_id(&m.dfu, false, 0xcafe, false, 0x4000); /* -d ,cafe:4000 with runtime any */
	do_list();
	ck_assert_str_eq(listed(), "1-2/0");
}
END_TEST

START_TEST(test_none_on_both_halves_matches_nothing)
{
	three_devices();
	set_none(&m.runtime);
	set_none(&m.dfu);
	do_list();
	ck_assert_uint_eq(n_list, 0);
}
END_TEST

START_TEST(test_serial_selects_the_device_in_its_mode)
{
	three_devices();
	m.serial_runtime = F4_SERIAL; /* -S 3574364C3034 */
	m.serial_dfu = F4_SERIAL;
	do_list();
	ck_assert_str_eq(listed(), "1-1/0,1-1/1,1-1/2,1-1/3");
}
END_TEST

START_TEST(test_dfu_serial_leaves_runtime_devices_alone)
{
	three_devices();
	m.serial_dfu = "2059346B5744"; /* -S ,2059346B5744 */
	do_list();
	ck_assert_str_eq(listed(), "1-2/0,1-3/0,1-3/1,1-3/2");
}
END_TEST

START_TEST(test_empty_serial_matches_anything)
{
	three_devices();
	m.serial_runtime = "";
	m.serial_dfu = "";
	do_list();
	ck_assert_uint_eq(n_list, 8);
}
END_TEST

START_TEST(test_path_selects_one_device)
{
	three_devices();
	m.path = "1-3";
	do_list();
	ck_assert_str_eq(listed(), "1-3/0,1-3/1,1-3/2");
}
END_TEST

START_TEST(test_path_picks_one_of_two_identical_devices)
{
	add_sim("stm32f405", NULL);
	add_sim("stm32f405", NULL);
	simtest_start();
	m.path = "1-2";
	do_list();
	ck_assert_str_eq(listed(), "1-2/0,1-2/1,1-2/2,1-2/3");
	ck_assert_str_eq(list[0].serial, F4_SERIAL);
}
END_TEST

START_TEST(test_devnum_selects_one_device)
{
	three_devices();
	do_list();
	m.devnum = list[4].devnum; /* the run-time device */
	do_list();
	ck_assert_str_eq(listed(), "1-2/0");
}
END_TEST

START_TEST(test_config_value_filters)
{
	three_devices();
	m.config = 2;
	do_list();
	ck_assert_uint_eq(n_list, 0);
	m.config = 1;
	do_list();
	ck_assert_uint_eq(n_list, 8);
}
END_TEST

START_TEST(test_interface_position_filters)
{
	three_devices();
	m.interface = 1;
	do_list();
	ck_assert_uint_eq(n_list, 0);
	m.interface = 0;
	do_list();
	ck_assert_uint_eq(n_list, 8);
}
END_TEST

START_TEST(test_alt_number_applies_to_dfu_mode_only)
{
	three_devices();
	m.alt = 1;
	do_list();
	ck_assert_str_eq(listed(), "1-1/1,1-2/0,1-3/1");
}
END_TEST

START_TEST(test_alt_region_name_selects_internal_flash)
{
	three_devices();
	set_none(&m.runtime);
	m.alt_name = "Internal Flash";
	do_list();
	ck_assert_str_eq(listed(), "1-1/0,1-3/0");
}
END_TEST

START_TEST(test_alt_whole_string_selects_that_alt)
{
	three_devices();
	set_none(&m.runtime);
	m.alt_name = F4_OB;
	do_list();
	ck_assert_str_eq(listed(), "1-1/1");
}
END_TEST

START_TEST(test_alt_name_is_exact_and_case_sensitive)
{
	three_devices();
	set_none(&m.runtime);
	m.alt_name = "internal flash";
	do_list();
	ck_assert_uint_eq(n_list, 0);
	m.alt_name = "Internal";
	do_list();
	ck_assert_uint_eq(n_list, 0);
	m.alt_name = "Option Bytes";
	do_list();
	ck_assert_str_eq(listed(), "1-1/1,1-3/1");
}
END_TEST

/* ---- open, detach, reset, wait --------------------------------------------------------- */

START_TEST(test_open_selects_the_alt_on_the_device)
{
	struct sim_state st;

	add_sim("stm32f405", NULL);
	simtest_start();
	do_list();
	ck_assert_int_eq(dfu_dev_open(ctx, &list[2], &dev, NULL), 0);
	ck_assert_int_eq(sim_device_get_state(sims[0], &st), 0);
	ck_assert_uint_eq(st.alt, 2);
	ck_assert_uint_eq(dev->transfer_size, 2048);
	ck_assert(dev->dfuse);
	ck_assert_ptr_eq(dev->alt, &dev->usb.alts[2]);
}
END_TEST

START_TEST(test_open_keeps_its_own_layout_after_the_list_is_freed)
{
	add_sim("stm32f405", NULL);
	simtest_start();
	do_list();
	ck_assert_int_eq(dfu_dev_open(ctx, &list[0], &dev, NULL), 0);
	dfu_if_info_free(list, n_list);
	list = NULL;
	n_list = 0;
	ck_assert_ptr_nonnull(dev->info.layout);
	ck_assert_str_eq(dev->info.layout->name, "Internal Flash");
	ck_assert_uint_eq(dev->info.layout->n_segments, 3);
}
END_TEST

START_TEST(test_open_of_a_device_that_left_is_nodev)
{
	struct dfu_error e = { 0 };
	struct dfu_if_info gone;

	add_sim("stm32f405", NULL);
	simtest_start();
	do_list();
	gone = list[0];
	gone.devnum = 99; /* an enumeration that no longer exists */
	ck_assert_int_eq(dfu_dev_open(ctx, &gone, &dev, &e), DFU_E_USB_NODEV);
	ck_assert_ptr_null(dev);
	ck_assert_int_eq(e.err, DFU_E_USB_NODEV);
}
END_TEST

/* Detach the run-time device at @path (1-based index) and wait for it in DFU mode. */
static void detach_and_wait(size_t index, uint32_t timeout_ms, int expect)
{
	struct dfu_dev *rt = NULL;
	struct dfu_if_info same;
	struct dfu_if_info *back = NULL;
	size_t n_back = 0;
	char path[16];

	snprintf(path, sizeof(path), "1-%zu", index);
	m.path = path;
	do_list();
	ck_assert_uint_eq(n_list, 1);
	ck_assert(!list[0].dfu_mode);
	same = list[0];
	same.layout = NULL;
	ck_assert_int_eq(dfu_dev_open(ctx, &list[0], &rt, NULL), 0);
	ck_assert_int_eq(dfu_dev_detach(rt, NULL), 0);
	dfu_dev_close(rt);

	dfu_match_init(&m);
	set_none(&m.runtime); /* DFU mode only */
	ck_assert_int_eq(dfu_wait_for(ctx, &m, &same, timeout_ms, &back, &n_back, NULL), expect);
	if (expect == 0) {
		ck_assert_uint_eq(n_back, 1);
		ck_assert_str_eq(back[0].path, path);
		ck_assert(back[0].dfu_mode);
		ck_assert_uint_eq(back[0].vid, 0xcafe);
		ck_assert_uint_eq(back[0].pid, 0x4000);
		ck_assert_uint_ne(back[0].devnum, same.devnum);
	}
	dfu_if_info_free(back, n_back);
}

START_TEST(test_detach_with_will_detach_comes_back_in_dfu_mode_at_the_same_path)
{
	double t0 = real_seconds();

	add_sim("stm32f405", NULL); /* another DFU device that must not be taken */
	add_sim("generic", NULL);
	simtest_start();
	detach_and_wait(2, 5000, 0);
	ck_assert_double_lt(real_seconds() - t0, 1.0);
}
END_TEST

START_TEST(test_detach_without_will_detach_resets_and_comes_back_in_dfu_mode)
{
	add_sim("stm32f405", NULL);
	add_sim("generic-intolerant", NULL);
	simtest_start();
	detach_and_wait(2, 5000, 0);
}
END_TEST

START_TEST(test_detach_of_a_dfuse_rom_in_dfu_mode_is_not_an_error)
{
	add_sim("stm32f405", NULL);
	simtest_start();
	do_list();
	ck_assert_int_eq(dfu_dev_open(ctx, &list[0], &dev, NULL), 0);
	ck_assert_int_eq(dfu_dev_detach(dev, NULL), 0);
}
END_TEST

START_TEST(test_detach_stalled_in_dfu_mode_is_not_an_error)
{
	add_sim("generic-intolerant", NULL);
	simtest_start();
	detach_and_wait(1, 5000, 0);
	/* now in DFU mode, where a generic device stalls DETACH (DFU 1.1 §6.1) */
	dfu_match_init(&m);
	do_list();
	ck_assert(list[0].dfu_mode);
	ck_assert_int_eq(dfu_dev_open(ctx, &list[0], &dev, NULL), 0);
	logged[0] = '\0';
	ck_assert_int_eq(dfu_dev_detach(dev, NULL), 0);
	ck_assert_ptr_nonnull(strstr(logged, "1:DETACH stalled"));
}
END_TEST

START_TEST(test_reset_of_a_dfuse_rom_succeeds)
{
	struct dfu_error e = { 0 };

	add_sim("stm32f405", NULL);
	simtest_start();
	do_list();
	ck_assert_int_eq(dfu_dev_open(ctx, &list[0], &dev, NULL), 0);
	ck_assert_int_eq(dfu_dev_reset(dev, &e), 0);
	ck_assert_int_eq(e.err, 0);
}
END_TEST

START_TEST(test_reset_of_a_device_that_re_enumerates_succeeds)
{
	struct dfu_error e = { 0 };

	add_sim("generic", NULL);
	simtest_start();
	detach_and_wait(1, 5000, 0);
	dfu_match_init(&m);
	do_list();
	ck_assert(list[0].dfu_mode);
	ck_assert_int_eq(dfu_dev_open(ctx, &list[0], &dev, NULL), 0);
	/* valid firmware: the reset starts the application (NODEV, dfu-util's exit 251) */
	ck_assert_int_eq(dfu_dev_reset(dev, &e), 0);
	ck_assert_int_eq(e.err, 0);
	dfu_dev_close(dev);
	dev = NULL;
	do_list();
	ck_assert_uint_eq(n_list, 1);
	ck_assert(!list[0].dfu_mode);
}
END_TEST

START_TEST(test_wait_for_a_present_device_returns_at_once)
{
	struct dfu_if_info *back = NULL;
	size_t n_back = 0;
	uint64_t t0;

	three_devices();
	t0 = vc.now_us;
	m.path = "1-3";
	ck_assert_int_eq(dfu_wait_for(ctx, &m, NULL, 0, &back, &n_back, NULL), 0);
	ck_assert_uint_eq(n_back, 3);
	ck_assert_uint_eq(vc.now_us, t0);
	dfu_if_info_free(back, n_back);
}
END_TEST

START_TEST(test_wait_for_times_out_with_nodevice_on_virtual_time)
{
	struct dfu_if_info *back = NULL;
	struct dfu_error e = { 0 };
	size_t n_back = 0;
	uint64_t t0;
	double r0 = real_seconds();

	three_devices();
	t0 = vc.now_us;
	set_none(&m.runtime);
	set_id(&m.dfu, false, 0xdead, false, 0xbeef);
	ck_assert_int_eq(dfu_wait_for(ctx, &m, NULL, 30000, &back, &n_back, &e), DFU_E_NODEVICE);
	ck_assert_int_eq(e.err, DFU_E_NODEVICE);
	ck_assert_ptr_null(back);
	ck_assert_uint_eq(n_back, 0);
	ck_assert_uint_ge(vc.now_us - t0, 30000 * 1000ull);
	ck_assert_uint_lt(vc.now_us - t0, 31000 * 1000ull);
	ck_assert_double_lt(real_seconds() - r0, 1.0);
}
END_TEST

START_TEST(test_wait_for_same_does_not_take_the_old_enumeration)
{
	struct dfu_if_info *back = NULL;
	struct dfu_error e = { 0 };
	size_t n_back = 0;

	add_sim("stm32f405", NULL);
	simtest_start();
	do_list();
	/* nothing re-enumerated: the device still there is not "back" */
	ck_assert_int_eq(dfu_wait_for(ctx, NULL, &list[0], 1000, &back, &n_back, &e),
			 DFU_E_NODEVICE);
	ck_assert_str_eq(e.code, "device.did_not_return");
}
END_TEST

START_TEST(test_wait_for_same_needs_a_path_or_serial)
{
	struct dfu_if_info anon = { .dfu_mode = true };
	struct dfu_if_info *back = NULL;
	size_t n_back = 0;

	simtest_start();
	ck_assert_int_eq(dfu_wait_for(ctx, NULL, &anon, 1000, &back, &n_back, NULL), DFU_E_INVAL);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("device");
	TCase *tl = simtest_tcase(s, "list", setup, teardown, 30);
	TCase *ts = simtest_tcase(s, "strings", setup, teardown, 30);
	TCase *tm = simtest_tcase(s, "match", setup, teardown, 30);
	TCase *tdev = simtest_tcase(s, "open-detach-wait", setup, teardown, 30);

	tcase_add_test(tl, test_ctx_takes_the_backend_and_clears_the_callers_copy);
	tcase_add_test(tl, test_f405_lists_its_four_alts_with_exact_names);
	tcase_add_test(tl, test_f405_lists_identity_strings_and_functional_descriptor);
	tcase_add_test(tl, test_f405_alts_carry_their_parsed_layouts);
	tcase_add_test(tl, test_list_line_is_dfu_util_format_byte_for_byte);
	tcase_add_test(tl, test_generic_application_lists_as_runtime);
	tcase_add_test(tl, test_list_line_says_unknown_for_unread_strings);
	tcase_add_test(tl, test_empty_bus_lists_nothing_and_succeeds);

	tcase_add_test(ts, test_empty_langid_table_still_lists_with_0409);
	tcase_add_test(ts, test_stalled_langid_table_still_lists_with_0409);
	tcase_add_test(ts, test_langid_failing_once_is_read_on_retry);
	tcase_add_test(ts, test_wrong_langid_falls_back_to_0409);
	tcase_add_test(ts, test_string_claiming_more_than_sent_is_kept_and_flagged);
	tcase_add_test(ts, test_identical_alt_names_still_give_distinct_alts);
	tcase_add_test(ts, test_gd32_serial_is_read_as_utf8);
	tcase_add_test(ts, test_device_without_permission_is_listed_with_the_reason);
	tcase_add_test(ts, test_busy_device_is_listed_with_the_reason);
	tcase_add_test(ts, test_unreadable_device_passes_string_filters);
	tcase_add_test(ts, test_open_without_permission_names_the_udev_rule);

	tcase_add_test(tm, test_no_filter_lists_every_alt_of_every_device);
	tcase_add_test(tm, test_runtime_ids_alone_still_match_any_dfu_device);
	tcase_add_test(tm, test_runtime_ids_match_the_runtime_device);
	tcase_add_test(tm, test_dfu_only_ids_exclude_runtime_devices);
	tcase_add_test(tm, test_wildcard_vendor_matches_by_product);
	tcase_add_test(tm, test_wildcard_product_matches_by_vendor);
	tcase_add_test(tm, test_wrong_dfu_ids_match_nothing_in_dfu_mode);
	tcase_add_test(tm, test_none_on_both_halves_matches_nothing);
	tcase_add_test(tm, test_serial_selects_the_device_in_its_mode);
	tcase_add_test(tm, test_dfu_serial_leaves_runtime_devices_alone);
	tcase_add_test(tm, test_empty_serial_matches_anything);
	tcase_add_test(tm, test_path_selects_one_device);
	tcase_add_test(tm, test_path_picks_one_of_two_identical_devices);
	tcase_add_test(tm, test_devnum_selects_one_device);
	tcase_add_test(tm, test_config_value_filters);
	tcase_add_test(tm, test_interface_position_filters);
	tcase_add_test(tm, test_alt_number_applies_to_dfu_mode_only);
	tcase_add_test(tm, test_alt_region_name_selects_internal_flash);
	tcase_add_test(tm, test_alt_whole_string_selects_that_alt);
	tcase_add_test(tm, test_alt_name_is_exact_and_case_sensitive);

	tcase_add_test(tdev, test_open_selects_the_alt_on_the_device);
	tcase_add_test(tdev, test_open_keeps_its_own_layout_after_the_list_is_freed);
	tcase_add_test(tdev, test_open_of_a_device_that_left_is_nodev);
	tcase_add_test(tdev, test_detach_with_will_detach_comes_back_in_dfu_mode_at_the_same_path);
	tcase_add_test(tdev, test_detach_without_will_detach_resets_and_comes_back_in_dfu_mode);
	tcase_add_test(tdev, test_detach_of_a_dfuse_rom_in_dfu_mode_is_not_an_error);
	tcase_add_test(tdev, test_detach_stalled_in_dfu_mode_is_not_an_error);
	tcase_add_test(tdev, test_reset_of_a_dfuse_rom_succeeds);
	tcase_add_test(tdev, test_reset_of_a_device_that_re_enumerates_succeeds);
	tcase_add_test(tdev, test_wait_for_a_present_device_returns_at_once);
	tcase_add_test(tdev, test_wait_for_times_out_with_nodevice_on_virtual_time);
	tcase_add_test(tdev, test_wait_for_same_does_not_take_the_old_enumeration);
	tcase_add_test(tdev, test_wait_for_same_needs_a_path_or_serial);
	return test_run_suite(s);
}
