// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Adaptive polling and quirks as data: the quirk-file parser (quirk-rules.c),
 * how the built-in table and the files combine (quirks.c), the poll plan a
 * device gets, and what the engine does with it on the simulator's busy
 * behaviours (request.c): byte-exact flashes, early polls only where the
 * device allows them, every wait within the operation's deadline.
 */
#include "config.h"

#include <string.h>

#include "macro.h"
#include "proto.h"
#include "simtest.h"

/* ---- the quirk-file parser ------------------------------------------------------------------ */

static struct dfu_quirk_rules *rules;

static void rules_setup(void)
{
	ck_assert_int_eq(dfu_quirk_rules_new(&rules), 0);
}

static void rules_teardown(void)
{
	dfu_quirk_rules_free(rules);
	rules = NULL;
}

static int parse(const char *text)
{
	return dfu_quirk_rules_parse(rules, "test.conf", text, strlen(text));
}

START_TEST(test_quirk_file_good_entries_become_rules)
{
	const struct dfu_quirk_rule *r;

	ck_assert_int_eq(parse("# site quirks\n"
			       "\n"
			       "   # indented comment\n"
			       "0483:df11 busy=nak # our F4 boards\n"
			       "1234:ABCD:0100\tlayout=small-pages mass-erase-ms=40000 "
			       "leave-ignore-errors no-mass-erase-slow\r\n"
			       "28e9:0189 no-no-vector-table no-vector-table"),
			 3);
	ck_assert_uint_eq(dfu_quirk_rules_n_warnings(rules), 0);
	ck_assert_uint_eq(rules->n_rules, 3);
	r = &rules->rules[0];
	ck_assert_uint_eq(r->vid, 0x0483);
	ck_assert_uint_eq(r->pid, 0xdf11);
	ck_assert_int_eq(r->bcd_device, -1);
	ck_assert_int_eq(r->busy, DFU_BUSY_NAK);
	ck_assert_str_eq(r->source, "test.conf:4");
	ck_assert_str_eq(r->reason, "our F4 boards");
	r = &rules->rules[1];
	ck_assert_uint_eq(r->pid, 0xabcd);
	ck_assert_int_eq(r->bcd_device, 0x0100);
	ck_assert_int_eq(r->layout, DFU_LAYOUT_SMALL_PAGES);
	ck_assert_uint_eq(r->mass_erase_ms, 40000);
	ck_assert_uint_eq(r->set, DFU_QUIRK_LEAVE_IGNORE_ERRORS);
	ck_assert_uint_eq(r->clear, DFU_QUIRK_MASS_ERASE_SLOW);
	ck_assert_int_eq(r->busy, DFU_BUSY_UNKNOWN);
	ck_assert_str_eq(r->source, "test.conf:5");
	/* the last word wins: no-vector-table is a quirk of its own name */
	r = &rules->rules[2];
	ck_assert_uint_eq(r->set, DFU_QUIRK_NO_VECTOR_TABLE);
	ck_assert_uint_eq(r->clear, 0);
}
END_TEST

static const struct {
	const char *line;
	const char *reason;
} bad_lines[] = {
	{ "zz:df11 busy=nak", "expected VID:PID[:bcdDevice] in hexadecimal, found 'zz:df11'" },
	{ "0483 busy=nak", "found '0483'" },
	{ "0483:df11:2200:1 busy=nak", "found '0483:df11:2200:1'" },
	{ "12345:df11 busy=nak", "found '12345:df11'" },
	{ "0483::2200 busy=nak", "found '0483::2200'" },
	{ "0483:df11 busy=fast", "busy='fast': expected nak, stall, repeat or strict" },
	{ "0483:df11 mass-erase-ms=0",
	  "mass-erase-ms='0': expected milliseconds from 1 to 600000" },
	{ "0483:df11 mass-erase-ms=9000000", "mass-erase-ms='9000000'" },
	{ "0483:df11 mass-erase-ms=2s", "mass-erase-ms='2s'" },
	{ "0483:df11 layout=round busy=nak", "layout='round': expected any, f4-sectors" },
	{ "0483:df11 speed=1", "unknown setting 'speed=1'" },
	{ "0483:df11 go-faster", "unknown quirk 'go-faster'" },
	{ "0483:df11 no-such", "unknown quirk 'no-such'" },
	{ "0483:df11", "nothing to apply after '0483:df11'" },
	{ "0483:df11 layout=f4-sectors # only a layout", "nothing to apply after '0483:df11'" },
};

START_TEST(test_quirk_file_bad_line_is_named_and_ignored)
{
	char text[256];

	snprintf(text, sizeof(text), "0483:df11 busy=nak\n%s\n0483:df11 busy=stall\n",
		 bad_lines[_i].line);
	ck_assert_int_eq(parse(text), 2);
	ck_assert_uint_eq(rules->n_rules, 2);
	ck_assert_str_eq(rules->rules[1].source, "test.conf:3");
	ck_assert_uint_eq(dfu_quirk_rules_n_warnings(rules), 1);
	ck_assert_msg(strncmp(dfu_quirk_rules_warning(rules, 0), "test.conf:2: ", 13) == 0, "%s",
		      dfu_quirk_rules_warning(rules, 0));
	ck_assert_msg(strstr(dfu_quirk_rules_warning(rules, 0), bad_lines[_i].reason), "%s",
		      dfu_quirk_rules_warning(rules, 0));
	ck_assert_ptr_nonnull(strstr(dfu_quirk_rules_warning(rules, 0), "line ignored"));
	ck_assert_ptr_null(dfu_quirk_rules_warning(rules, 1));
}
END_TEST

/* A warning quotes the whole word it rejects, however long, and still ends
 * with what happened to the line. */
START_TEST(test_quirk_file_warning_about_a_long_word_is_whole)
{
	char word[701], text[800];
	const char *w;

	memset(word, 'q', sizeof(word) - 1);
	word[sizeof(word) - 1] = '\0';
	snprintf(text, sizeof(text), "0483:df11 %s\n", word);
	ck_assert_int_eq(parse(text), 0);
	w = dfu_quirk_rules_warning(rules, 0);
	ck_assert_ptr_nonnull(w);
	ck_assert_ptr_nonnull(strstr(w, word));
	ck_assert_ptr_nonnull(
	    strstr(w, "sequential-blocks; no-NAME takes one back); line ignored"));
}
END_TEST

START_TEST(test_quirk_file_binary_and_overlong_lines_are_named)
{
	char text[2100];

	memcpy(text, "0483:df11 busy=nak\n\0\x01\x02\n", 23);
	ck_assert_int_eq(dfu_quirk_rules_parse(rules, "bin.conf", text, 23), 1);
	ck_assert_uint_eq(dfu_quirk_rules_n_warnings(rules), 1);
	ck_assert_str_eq(dfu_quirk_rules_warning(rules, 0),
			 "bin.conf:2: NUL byte: not a text line");

	memset(text, 'a', sizeof(text));
	memcpy(text, "0483:df11 busy=nak\n", 19);
	text[sizeof(text) - 1] = '\0';
	ck_assert_int_eq(parse(text), 1);
	ck_assert_uint_eq(dfu_quirk_rules_n_warnings(rules), 2);
	ck_assert_str_eq(dfu_quirk_rules_warning(rules, 1),
			 "test.conf:2: line longer than 1023 bytes");
}
END_TEST

/* ---- built-in table and files combined --------------------------------------------------------
 */

static struct dfu_if_info info;

static void info_for(uint16_t vid, uint16_t pid, uint16_t bcd, const char *layout)
{
	memset(&info, 0, sizeof(info));
	info.vid = vid;
	info.pid = pid;
	info.bcd_device = bcd;
	if (layout)
		ck_assert_int_eq(dfuse_layout_parse(layout, strlen(layout), &info.layout, NULL), 0);
}

static void info_teardown(void)
{
	dfuse_layout_free(info.layout);
	info.layout = NULL;
	rules_teardown();
}

#define F4_LAYOUT "@Internal Flash  /0x08000000/04*016Kg,01*064Kg,07*128Kg"
#define L4_LAYOUT "@Internal Flash  /0x08000000/256*02Kg"

static char seen[1024];

static void note(void *ud, const char *what, const char *source, const char *reason)
{
	(void)ud;
	(void)reason;
	snprintf(seen + strlen(seen), sizeof(seen) - strlen(seen), "%s@%s;", what, source);
}

START_TEST(test_built_in_f4_rom_holds_get_status)
{
	struct dfu_quirk_set q;

	info_for(0x0483, 0xdf11, 0x2200, F4_LAYOUT);
	seen[0] = '\0';
	dfu_quirks_resolve(NULL, &info, &q, note, NULL);
	ck_assert_int_eq(q.busy, DFU_BUSY_NAK);
	ck_assert_str_eq(q.busy_source, "built-in");
	ck_assert_uint_eq(q.bits, DFU_QUIRK_MASS_ERASE_SLOW);
	ck_assert_str_eq(seen, "mass-erase-slow@built-in;busy=nak@built-in;");
}
END_TEST

START_TEST(test_built_in_l4_rom_stalls_early_polls)
{
	struct dfu_quirk_set q;

	info_for(0x0483, 0xdf11, 0x2200, L4_LAYOUT);
	dfu_quirks_resolve(NULL, &info, &q, NULL, NULL);
	ck_assert_int_eq(q.busy, DFU_BUSY_STALL);
	/* another release of the same ids: nothing known */
	info.bcd_device = 0x0200;
	dfu_quirks_resolve(NULL, &info, &q, NULL, NULL);
	ck_assert_int_eq(q.busy, DFU_BUSY_UNKNOWN);
}
END_TEST

START_TEST(test_file_entry_overrides_the_built_in_table)
{
	struct dfu_quirk_set q;

	info_for(0x0483, 0xdf11, 0x2200, F4_LAYOUT);
	ck_assert_int_eq(parse("0483:df11 busy=stall no-mass-erase-slow mass-erase-ms=45000\n"
			       "0483:df11:2100 busy=repeat\n"),
			 2);
	seen[0] = '\0';
	dfu_quirks_resolve(rules, &info, &q, note, NULL);
	ck_assert_int_eq(q.busy, DFU_BUSY_STALL);
	ck_assert_str_eq(q.busy_source, "test.conf:1");
	ck_assert_uint_eq(q.bits, 0);
	ck_assert_uint_eq(q.mass_erase_ms, 45000);
	ck_assert_str_eq(seen, "mass-erase-slow@built-in;busy=nak@built-in;"
			       "no-mass-erase-slow@test.conf:1;busy=stall@test.conf:1;"
			       "mass-erase-ms=45000@test.conf:1;");
}
END_TEST

START_TEST(test_file_entry_with_a_layout_matches_only_that_layout)
{
	struct dfu_quirk_set q;

	ck_assert_int_eq(parse("cafe:4000 layout=small-pages busy=nak\n"), 1);
	info_for(0xcafe, 0x4000, 0x0100, NULL);
	dfu_quirks_resolve(rules, &info, &q, NULL, NULL);
	ck_assert_int_eq(q.busy, DFU_BUSY_UNKNOWN);
	dfuse_layout_free(info.layout);
	info_for(0xcafe, 0x4000, 0x0100, L4_LAYOUT);
	dfu_quirks_resolve(rules, &info, &q, NULL, NULL);
	ck_assert_int_eq(q.busy, DFU_BUSY_NAK);
}
END_TEST

#define GD32_LAYOUT "@Internal Flash  /0x08000000/512*002Kg"

START_TEST(test_built_in_gd32_entry_gives_the_serial_and_layout_quirks)
{
	info_for(0x28e9, 0x0189, 0x1000, GD32_LAYOUT);
	snprintf(info.serial, sizeof(info.serial), "3CBJ");
	ck_assert_uint_eq(dfu_quirks_for(&info) &
			      (DFU_QUIRK_UTF8_SERIAL | DFU_QUIRK_LAYOUT_FROM_SERIAL),
			  DFU_QUIRK_UTF8_SERIAL | DFU_QUIRK_LAYOUT_FROM_SERIAL);
	/* 'B': 128 KiB of 1 KiB pages, not 512 of 2 KiB */
	ck_assert(dfu_quirk_fix_layout(NULL, &info, info.layout));
	ck_assert_uint_eq(info.layout->segments[0].count, 128);
	ck_assert_uint_eq(info.layout->segments[0].size, 1024);
}
END_TEST

START_TEST(test_file_entries_move_the_layout_fix_between_devices)
{
	ck_assert_int_eq(parse("28e9:0189 no-layout-from-serial # a board with a fixed ROM\n"
			       "1234:5678 layout-from-serial utf8-serial\n"),
			 2);
	info_for(0x28e9, 0x0189, 0x1000, GD32_LAYOUT);
	snprintf(info.serial, sizeof(info.serial), "3CBJ");
	ck_assert(!dfu_quirk_fix_layout(rules, &info, info.layout));
	ck_assert_uint_eq(info.layout->segments[0].count, 512);
	dfuse_layout_free(info.layout);
	info_for(0x1234, 0x5678, 0x0100, GD32_LAYOUT);
	snprintf(info.serial, sizeof(info.serial), "3C8J");
	ck_assert(dfu_quirk_fix_layout(rules, &info, info.layout));
	ck_assert_uint_eq(info.layout->segments[0].count, 64);
	ck_assert_uint_eq(info.layout->segments[0].size, 1024);
	/* without the file, the same device keeps its layout */
	dfuse_layout_free(info.layout);
	info_for(0x1234, 0x5678, 0x0100, GD32_LAYOUT);
	snprintf(info.serial, sizeof(info.serial), "3C8J");
	ck_assert(!dfu_quirk_fix_layout(NULL, &info, info.layout));
}
END_TEST

/* ---- the poll plan ----------------------------------------------------------------------------
 */

static const struct {
	enum dfu_poll_mode mode;
	uint32_t interval;
	enum dfu_busy busy;
	enum dfu_poll_how how;
	uint32_t every;
	bool at_least_announced;
	const char *why;
} plans[] = {
	{ DFU_POLL_AUTO, 0, DFU_BUSY_NAK, DFU_POLL_HOW_AT_ONCE, 0, false, "busy=nak (src)" },
	{ DFU_POLL_AUTO, 0, DFU_BUSY_UNKNOWN, DFU_POLL_HOW_ANNOUNCED, 0, false,
	  "busy behaviour unknown" },
	{ DFU_POLL_AUTO, 0, DFU_BUSY_STALL, DFU_POLL_HOW_ANNOUNCED, 0, false, "busy=stall (src)" },
	{ DFU_POLL_AUTO, 0, DFU_BUSY_STRICT, DFU_POLL_HOW_ANNOUNCED, 0, true, "busy=strict" },
	{ DFU_POLL_AUTO, 0, DFU_BUSY_REPEAT, DFU_POLL_HOW_INTERVAL, 20, false, "busy=repeat" },
	{ DFU_POLL_ANNOUNCED, 0, DFU_BUSY_NAK, DFU_POLL_HOW_ANNOUNCED, 0, false,
	  "--poll=announced" },
	{ DFU_POLL_INTERVAL, 7, DFU_BUSY_NAK, DFU_POLL_HOW_INTERVAL, 7, false, "--poll=7" },
	{ DFU_POLL_INTERVAL, 7, DFU_BUSY_UNKNOWN, DFU_POLL_HOW_INTERVAL, 7, false, "--poll=7" },
	{ DFU_POLL_INTERVAL, 7, DFU_BUSY_STRICT, DFU_POLL_HOW_INTERVAL, 7, true,
	  "never before bwPollTimeout" },
};

START_TEST(test_poll_plan_follows_mode_and_busy_behaviour)
{
	struct dfu_quirk_set q = { .busy = plans[_i].busy };
	struct dfu_poll_plan plan;

	snprintf(q.busy_source, sizeof(q.busy_source), "src");
	dfu_poll_plan_choose(plans[_i].mode, plans[_i].interval, &q, &plan);
	ck_assert_int_eq(plan.how, plans[_i].how);
	ck_assert_uint_eq(plan.interval_ms, plans[_i].every);
	ck_assert_int_eq(plan.at_least_announced, plans[_i].at_least_announced);
	ck_assert_msg(strstr(plan.why, plans[_i].why), "%s", plan.why);
}
END_TEST

/* ---- the engine on the simulator's busy behaviours ---------------------------------------- */

/* A device of @profile with @faults, polled by @mode, alt 0 open. */
static void open_polled(const char *profile, const char *faults, enum dfu_poll_mode mode,
			uint32_t interval)
{
	new_sim(profile, faults);
	dfu_ctx_set_poll(ctx, mode, interval);
	open_alt(0);
}

START_TEST(test_nak_rom_is_polled_at_once_and_flashes_byte_exact)
{
	open_polled("stm32f405", NULL, DFU_POLL_AUTO, 0);
	ck_assert_int_eq(dev->poll.how, DFU_POLL_HOW_AT_ONCE);
	add_app(0x08000000, 40000);
	ck_assert_int_eq(download(), 0);
	assert_mem_is_image();
	ck_assert_uint_gt(early_polls, 0);
	/* no announced 104 ms per block: the held GET_STATUS does the waiting */
	ck_assert_uint_eq(host_sleep_ms, 0);
	ck_assert_uint_gt(busy_poll_ms, 0);
	ck_assert(log_has("poll at once after the first busy reply: busy=nak (built-in)"));
}
END_TEST

START_TEST(test_h743_rom_is_polled_at_once)
{
	open_polled("stm32h743", NULL, DFU_POLL_AUTO, 0);
	ck_assert_int_eq(dev->poll.how, DFU_POLL_HOW_AT_ONCE);
	add_app(0x08000000, 20000);
	ck_assert_int_eq(download(), 0);
	assert_mem_is_image();
	ck_assert_uint_eq(host_sleep_ms, 0);
}
END_TEST

START_TEST(test_stall_roms_are_polled_as_announced)
{
	const char *profile = _i ? "stm32f072" : "stm32l476";

	open_polled(profile, NULL, DFU_POLL_AUTO, 0);
	ck_assert_int_eq(dev->poll.how, DFU_POLL_HOW_ANNOUNCED);
	ck_assert(log_has("busy=stall (built-in), early polls stall"));
	add_app(0x08000000, 9000);
	ck_assert_int_eq(download(), 0);
	assert_mem_is_image();
	ck_assert_uint_eq(early_polls, 0);
	ck_assert_uint_eq(host_sleep_ms, busy_poll_ms);
}
END_TEST

START_TEST(test_wrong_nak_entry_is_demoted_after_one_stall)
{
	/* an F4 identity whose ROM stalls early polls: the quirk entry is wrong */
	open_polled("stm32f405", "busy=stall", DFU_POLL_AUTO, 0);
	add_app(0x08000000, 40000);
	ck_assert_int_eq(download(), 0);
	assert_mem_is_image();
	ck_assert_uint_eq(early_polls, 1);
	ck_assert_int_eq(dev->poll.how, DFU_POLL_HOW_ANNOUNCED);
	ck_assert(log_has("GET_STATUS sent before bwPollTimeout stalled: polling 0483:df11 as "
			  "announced from now on"));
	ck_assert_uint_eq(res.retries, 0);
}
END_TEST

START_TEST(test_strict_behaviour_on_an_early_poll_is_recovered)
{
	/* STALL and dfuERROR on the early poll: CLRSTATUS, the command again,
	 * then polled as announced (a strict device announces at least the real
	 * time, so the flash runs at a hundredth of the datasheet's) */
	simtest_add_sim("stm32f405", "busy=strict", 0.01);
	simtest_start();
	open_alt(0);
	add_app(0x08000000, 40000);
	ck_assert_int_eq(download(), 0);
	assert_mem_is_image();
	ck_assert_uint_eq(early_polls, 1);
	ck_assert_int_eq(dev->poll.how, DFU_POLL_HOW_ANNOUNCED);
	ck_assert(log_has("device in dfuERROR after the failed GET_STATUS: sending it again"));
	ck_assert_uint_eq(simtest_state(sim).dfu_state, DFU_STATE_DFU_IDLE);
}
END_TEST

START_TEST(test_plain_device_stalling_an_early_first_block_restarts_the_download)
{
	/* --poll=1 on a plain DFU 1.1 device that nobody declared strict: the
	 * early poll of block 0 stalls and the device drops to dfuERROR; block 0
	 * from dfuIDLE starts the download again, which is what it was */
	new_sim("generic", NULL);
	dfu_ctx_set_poll(ctx, DFU_POLL_INTERVAL, 1);
	simtest_detach(ctx);
	open_alt(0);
	img->address_from_file = false;
	add_pattern(0, 3000, 5);
	ck_assert_int_eq(download(), 0);
	assert_mem_is_image();
	ck_assert_uint_eq(early_polls, 1);
	ck_assert_int_eq(dev->poll.how, DFU_POLL_HOW_ANNOUNCED);
}
END_TEST

START_TEST(test_strict_entry_is_never_polled_early_even_with_an_interval)
{
	struct dfu_quirk_rules *q = NULL;
	const char *text = "cafe:4000 busy=strict # tinyusb\n";

	new_sim("generic", NULL);
	ck_assert_int_eq(dfu_quirk_rules_new(&q), 0);
	ck_assert_int_eq(dfu_quirk_rules_parse(q, "site.conf", text, strlen(text)), 1);
	dfu_ctx_set_quirk_rules(ctx, q);
	dfu_ctx_set_poll(ctx, DFU_POLL_INTERVAL, 1);
	simtest_detach(ctx);
	open_alt(0);
	ck_assert(dev->poll.at_least_announced);
	img->address_from_file = false;
	add_pattern(0, 3000, 5);
	ck_assert_int_eq(download(), 0);
	assert_mem_is_image();
	ck_assert_uint_eq(early_polls, 0);
	ck_assert(log_has("quirk: busy=strict (site.conf:1: tinyusb)"));
}
END_TEST

START_TEST(test_repeat_behaviour_is_polled_again_as_announced)
{
	open_polled("stm32f405", "busy=repeat", DFU_POLL_AUTO, 0);
	add_app(0x08000000, 40000);
	ck_assert_int_eq(download(), 0);
	assert_mem_is_image();
	ck_assert_int_eq(dev->poll.how, DFU_POLL_HOW_AT_ONCE);
}
END_TEST

/* Virtual time of a download of img with @mode on the open device. */
static uint64_t timed_download(enum dfu_poll_mode mode)
{
	uint64_t t0;

	dfu_dev_close(dev);
	dev = NULL;
	dfu_ctx_set_poll(ctx, mode, 0);
	open_alt(0);
	t0 = vc.now_us;
	ck_assert_int_eq(download(), 0);
	assert_mem_is_image();
	return vc.now_us - t0;
}

static const struct {
	const char *profile, *faults;
} slow_pollers[] = {
	{ "stm32f405", "busy=repeat" }, /* polled at once, answers dfuDNBUSY again */
	{ "stm32f405", "busy=stall" },	/* polled at once, stalls: demoted */
	{ "stm32l476", NULL },		/* STALL ROM: as announced */
	{ "stm32f072", NULL },
};

START_TEST(test_auto_is_never_slower_than_announced)
{
	uint64_t announced, automatic;

	/* the target for REPEAT, STALL and strict devices: byte-exact
	 * and never slower than honouring bwPollTimeout; the same image written
	 * twice on the same virtual clock */
	open_polled(slow_pollers[_i].profile, slow_pollers[_i].faults, DFU_POLL_AUTO, 0);
	add_app(0x08000000, 20000);
	announced = timed_download(DFU_POLL_ANNOUNCED);
	automatic = timed_download(DFU_POLL_AUTO);
	ck_assert_uint_le(automatic, announced);
}
END_TEST

START_TEST(test_interval_polls_every_n_ms)
{
	open_polled("stm32f405", NULL, DFU_POLL_INTERVAL, 3);
	add_app(0x08000000, 20000);
	ck_assert_int_eq(download(), 0);
	assert_mem_is_image();
	ck_assert_uint_gt(early_polls, 0);
	ck_assert_uint_lt(host_sleep_ms, busy_poll_ms);
}
END_TEST

/* ---- every wait within the deadline --------------------------------------------------------- */

/* 50 s: longer than every deadline below, short enough to be taken at its word */
#define HUGE_POLL "poll-timeout=50000"
/* 0xffffff ms, 4.7 hours: no flash operation takes that long */
#define ABSURD_POLL "poll-timeout=16777215"

START_TEST(test_huge_poll_timeout_is_cut_to_the_deadline)
{
	uint64_t t0;

	open_polled("stm32l476", HUGE_POLL, DFU_POLL_AUTO, 0);
	add_app(0x08000000, 4000);
	opts.timeout_ms = 1000;
	t0 = vc.now_us;
	ck_assert_int_eq(download(), 0);
	assert_mem_is_image();
	/* erase, Set Address, 2 blocks, a few commands: 1 s each at most */
	ck_assert_uint_lt(vc.now_us - t0, 20 * 1000000ull);
}
END_TEST

START_TEST(test_absurd_poll_timeout_is_replaced_by_a_short_interval)
{
	uint64_t t0;

	/* capped by the deadline alone, every block would cost the deadline:
	 * a station would wait 5 s a block; polled every 100 ms instead */
	open_polled("stm32l476", ABSURD_POLL, DFU_POLL_ANNOUNCED, 0);
	add_app(0x08000000, 20000);
	t0 = vc.now_us;
	ck_assert_int_eq(download(), 0);
	assert_mem_is_image();
	ck_assert(log_has("device announced bwPollTimeout 16777215 ms (4.7 hours), longer than "
			  "any flash operation takes: polling it every 100 ms instead"));
	/* an erase, Set Address, 10 blocks, the commands: 100 ms polls each */
	ck_assert_uint_lt(vc.now_us - t0, 5 * 1000000ull);
}
END_TEST

START_TEST(test_stall_after_a_demotion_waits_no_later_than_the_deadline)
{
	/* a 1 s erase of a 128 KiB sector announced as 900 ms, on a ROM that
	 * stalls every early poll: the early poll demotes it, the poll at 900 ms
	 * stalls again, and the wait after that ends at the 1000 ms deadline
	 * rather than 900 ms later */
	open_polled("stm32f405", "busy=stall,poll-timeout=900", DFU_POLL_AUTO, 0);
	add_pattern(0x08020000, 2048, 3);
	opts.timeout_ms = 1000;
	ck_assert_int_eq(download(), 0);
	assert_mem_is_image();
	ck_assert(log_has("polling 0483:df11 as announced from now on"));
	ck_assert(log_has("DfuSe erase page 0x08020000: GET_STATUS stalled while busy (2), "
			  "waiting 100 ms again"));
}
END_TEST

START_TEST(test_huge_poll_timeout_after_read_unprotect_is_capped)
{
	uint64_t t0;

	open_polled("stm32f405", "rdp=1," HUGE_POLL, DFU_POLL_ANNOUNCED, 0);
	t0 = vc.now_us;
	ck_assert_int_eq(dfu_dev_unprotect(dev, &err), 0);
	ck_assert_uint_le(vc.now_us - t0, (DFU_DEADLINE_COMMAND_MS + 6000) * 1000ull);
}
END_TEST

START_TEST(test_huge_poll_timeout_of_an_option_byte_write_is_capped)
{
	uint64_t t0;
	uint8_t d[16] = { 0xEF, 0xAA, 0x10, 0x55, 0xFF, 0xFF, 0xFF, 0xFF,
			  0xFF, 0x0F, 0x00, 0xF0, 0xFF, 0xFF, 0xFF, 0xFF };

	new_sim("stm32f405", HUGE_POLL);
	dfu_ctx_set_poll(ctx, DFU_POLL_ANNOUNCED, 0);
	open_alt(1);
	d[8] = 0xDF; /* write-protect sector 5 */
	d[10] = 0x20;
	add(0x1FFFC000, d, 16);
	opts.force = true;
	opts.timeout_ms = 2000;
	t0 = vc.now_us;
	ck_assert_int_eq(download(), 0);
	ck_assert(res.left);
	ck_assert_uint_le(vc.now_us - t0, 12 * 1000000ull);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("poll");
	TCase *t;

	t = tcase_create("quirk-files");
	tcase_add_checked_fixture(t, rules_setup, rules_teardown);
	tcase_add_test(t, test_quirk_file_good_entries_become_rules);
	tcase_add_loop_test(t, test_quirk_file_bad_line_is_named_and_ignored, 0,
			    (int)ARRAY_SIZE(bad_lines));
	tcase_add_test(t, test_quirk_file_warning_about_a_long_word_is_whole);
	tcase_add_test(t, test_quirk_file_binary_and_overlong_lines_are_named);
	suite_add_tcase(s, t);

	t = tcase_create("quirk-table");
	tcase_add_checked_fixture(t, rules_setup, info_teardown);
	tcase_add_test(t, test_built_in_f4_rom_holds_get_status);
	tcase_add_test(t, test_built_in_l4_rom_stalls_early_polls);
	tcase_add_test(t, test_file_entry_overrides_the_built_in_table);
	tcase_add_test(t, test_file_entry_with_a_layout_matches_only_that_layout);
	tcase_add_test(t, test_built_in_gd32_entry_gives_the_serial_and_layout_quirks);
	tcase_add_test(t, test_file_entries_move_the_layout_fix_between_devices);
	suite_add_tcase(s, t);

	t = tcase_create("poll-plan");
	tcase_add_loop_test(t, test_poll_plan_follows_mode_and_busy_behaviour, 0,
			    (int)ARRAY_SIZE(plans));
	suite_add_tcase(s, t);

	t = simtest_tcase(s, "adaptive", NULL, NULL, 60);
	tcase_add_test(t, test_nak_rom_is_polled_at_once_and_flashes_byte_exact);
	tcase_add_test(t, test_h743_rom_is_polled_at_once);
	tcase_add_loop_test(t, test_stall_roms_are_polled_as_announced, 0, 2);
	tcase_add_test(t, test_wrong_nak_entry_is_demoted_after_one_stall);
	tcase_add_test(t, test_strict_behaviour_on_an_early_poll_is_recovered);
	tcase_add_test(t, test_plain_device_stalling_an_early_first_block_restarts_the_download);
	tcase_add_test(t, test_strict_entry_is_never_polled_early_even_with_an_interval);
	tcase_add_test(t, test_repeat_behaviour_is_polled_again_as_announced);
	tcase_add_loop_test(t, test_auto_is_never_slower_than_announced, 0,
			    (int)ARRAY_SIZE(slow_pollers));
	tcase_add_test(t, test_interval_polls_every_n_ms);

	t = simtest_tcase(s, "deadline", NULL, NULL, 60);
	tcase_add_test(t, test_huge_poll_timeout_is_cut_to_the_deadline);
	tcase_add_test(t, test_absurd_poll_timeout_is_replaced_by_a_short_interval);
	tcase_add_test(t, test_stall_after_a_demotion_waits_no_later_than_the_deadline);
	tcase_add_test(t, test_huge_poll_timeout_after_read_unprotect_is_capped);
	tcase_add_test(t, test_huge_poll_timeout_of_an_option_byte_write_is_capped);

	return test_run_suite(s);
}
