// SPDX-License-Identifier: GPL-2.0-or-later
/* Unit tests of dfu_dev_plan() (src/lib/dfu/ops.c, dfuse.c), the plan behind --dry-run,
 * against the in-process sim devices: it lists what the download then does, refuses
 * what the download refuses, and sends the device nothing. */
#include "config.h"

#include "engine.h"
#include "simtest.h"
#include "testutil.h"

static struct dfu_plan *plan;

static void plan_teardown(void)
{
	dfu_plan_free(plan);
	plan = NULL;
}

START_TEST(test_plan_lists_the_sectors_and_runs_the_download_uses)
{
	open_dfuse("stm32f405", NULL, 0);
	add_app(0x08000000, 3000);
	add_pattern(0x08004103, 501, 7);  /* sector 1 */
	add_pattern(0x08020010, 5000, 9); /* sector 5 (128 KiB) */
	ck_assert_int_eq(dfu_dev_plan(dev, img, &opts, &plan, &err), 0);
	ck_assert(plan->dfuse);
	ck_assert_uint_eq(plan->n_sectors, 3);
	ck_assert_uint_eq(plan->sectors[0].start, 0x08000000);
	ck_assert_uint_eq(plan->sectors[1].start, 0x08004000);
	ck_assert_uint_eq(plan->sectors[2].start, 0x08020000);
	ck_assert_uint_eq(plan->sectors[2].size, 128 * 1024);
	for (size_t i = 0; i < plan->n_sectors; i++)
		ck_assert_int_eq(plan->sectors[i].action, DFU_PLAN_ERASE);
	/* the vector-table sector is written last */
	ck_assert(plan->writes[plan->n_writes - 1].vector_table);
	ck_assert_uint_eq(plan->writes[plan->n_writes - 1].address, 0x08000000);
	ck_assert(!plan->leave);

	ck_assert_int_eq(download(), 0);
	ck_assert_uint_eq(res.sectors_erased, plan->n_sectors);
	ck_assert_uint_eq(n_erases, plan->n_sectors);
	/* each planned write is sent in plan order: a block lands at its start
	 * (the F405 ROM places block n at pointer + (n - 2) * 2048) */
	for (size_t i = 0, k = 0; i < plan->n_writes; i++, k++) {
		while (k < n_blocks_sent &&
		       simtest_block_address(k, 2048) != plan->writes[i].address)
			k++;
		ck_assert_msg(k < n_blocks_sent, "write %zu at 0x%08x not sent in order", i,
			      plan->writes[i].address);
	}
}
END_TEST

START_TEST(test_plan_sends_the_device_nothing)
{
	unsigned before;

	open_dfuse("stm32f405", NULL, 0);
	add_app(0x08000000, 20000);
	opts.leave = true;
	before = n_requests;
	ck_assert_int_eq(dfu_dev_plan(dev, img, &opts, &plan, &err), 0);
	ck_assert_uint_eq(n_requests, before);
	ck_assert(plan->leave);
	ck_assert(plan->have_jump);
	ck_assert_uint_eq(plan->jump, 0x08000000);
	ck_assert_uint_eq(plan->bytes, 20000);
}
END_TEST

START_TEST(test_plan_compares_as_the_download_does_and_writes_nothing)
{
	unsigned erases, writes;

	/* the chip holds the image already (a first, full download): the plan of
	 * the differential re-flash reads it and skips every sector */
	open_dfuse("stm32f405", NULL, 0);
	add_app(0x08000000, 3000);
	add_pattern(0x08020010, 5000, 9);
	ck_assert_int_eq(download(), 0);
	erases = n_erases;
	writes = n_writes;
	opts.full = false;
	ck_assert_int_eq(dfu_dev_plan(dev, img, &opts, &plan, &err), 0);
	ck_assert_uint_eq(plan->n_sectors, 2);
	for (size_t i = 0; i < plan->n_sectors; i++)
		ck_assert_int_eq(plan->sectors[i].action, DFU_PLAN_SKIP);
	ck_assert_uint_eq(plan->n_writes, 0);
	ck_assert_uint_eq(n_erases, erases);
	ck_assert_uint_eq(n_writes, writes);
}
END_TEST

START_TEST(test_plan_refuses_data_outside_the_memory_map)
{
	unsigned before;

	open_dfuse("stm32f405", NULL, 0);
	add_pattern(0x08100000, 16, 1); /* just past the 1 MiB of flash */
	before = n_requests;
	ck_assert_int_eq(dfu_dev_plan(dev, img, &opts, &plan, &err), DFU_E_MEMMAP);
	ck_assert_ptr_null(plan);
	ck_assert_uint_eq(n_requests, before);
}
END_TEST

START_TEST(test_plan_of_a_mass_erase_has_no_sector_list)
{
	open_dfuse("stm32f405", NULL, 0);
	new_image();
	img->address_from_file = true;
	opts.mass_erase = true;
	ck_assert_int_eq(dfu_dev_plan(dev, img, &opts, &plan, &err), 0);
	ck_assert(plan->mass_erase);
	ck_assert_uint_eq(plan->n_sectors, 0);
	ck_assert_uint_eq(plan->n_writes, 0);
}
END_TEST

START_TEST(test_plain_dfu_plan_is_one_stream_from_block_0)
{
	open_generic("generic", NULL);
	img->address_from_file = false;
	add_pattern(0, 1000, 5);
	ck_assert_int_eq(dfu_dev_plan(dev, img, &opts, &plan, &err), 0);
	ck_assert(!plan->dfuse);
	ck_assert_uint_eq(plan->n_sectors, 0);
	ck_assert_uint_eq(plan->n_writes, 1);
	ck_assert_uint_eq(plan->writes[0].length, 1000);
	ck_assert_uint_eq(plan->bytes, 1000);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("plan");
	TCase *t = simtest_tcase(s, "plan", NULL, plan_teardown, 10);

	tcase_add_test(t, test_plan_lists_the_sectors_and_runs_the_download_uses);
	tcase_add_test(t, test_plan_sends_the_device_nothing);
	tcase_add_test(t, test_plan_compares_as_the_download_does_and_writes_nothing);
	tcase_add_test(t, test_plan_refuses_data_outside_the_memory_map);
	tcase_add_test(t, test_plan_of_a_mass_erase_has_no_sector_list);
	tcase_add_test(t, test_plain_dfu_plan_is_one_stream_from_block_0);
	return test_run_suite(s);
}
