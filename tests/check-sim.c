// SPDX-License-Identifier: GPL-2.0-or-later
/* Unit tests for the dfuflash-sim device model (src/sim), driven through its in-process
 * API on a virtual clock: descriptors, the DFU 1.1 / DfuSe state machine, memory rules,
 * protection, leave and jump, the generic run-time device and every fault. */
#include "config.h"

#include <errno.h>

#include "sim-api.h"
#include "testutil.h"

/* ---- fixture ------------------------------------------------------------------------- */

static uint64_t vnow;
static struct sim_device *dev;
static char errbuf[160];
static unsigned n_log;
static char last_log[1024];
static char log_all[16384];
static uint8_t st[6]; /* last GET_STATUS reply */

static uint64_t vclock(void *ctx)
{
	(void)ctx;
	return vnow;
}

static void logcb(void *ctx, const char *line)
{
	size_t used = strlen(log_all);

	(void)ctx;
	n_log++;
	snprintf(last_log, sizeof(last_log), "%s", line);
	if (used + strlen(line) + 2 < sizeof(log_all)) {
		strcat(log_all, line);
		strcat(log_all, "\n");
	}
}

static int open_dev(const char *profile, const char *faults)
{
	struct sim_options o = {
		.time_scale = 1.0,
		.faults = faults,
		.clock = { vclock, NULL },
		.log_fn = logcb,
		.errbuf = errbuf,
		.errbuf_size = sizeof(errbuf),
	};

	sim_device_free(dev);
	dev = NULL;
	return sim_device_new(profile, &o, &dev);
}
#define OPEN(p, f) ck_assert_int_eq(open_dev((p), (f)), 0)

static void setup(void)
{
	vnow = 1000000;
	n_log = 0;
	log_all[0] = '\0';
	errbuf[0] = '\0';
}

static void teardown(void)
{
	sim_device_free(dev);
	dev = NULL;
}

/* ---- request helpers ------------------------------------------------------------------ */

enum { DETACH, DNLOAD, UPLOAD, GETSTATUS, CLRSTATUS, GETSTATE, ABORT };
enum {
	APP_IDLE,
	APP_DETACH,
	DFU_IDLE,
	DNLOAD_SYNC,
	DNBUSY,
	DNLOAD_IDLE,
	MANIFEST_SYNC,
	MANIFEST,
	MANIFEST_WAIT_RESET,
	UPLOAD_IDLE,
	DFU_ERROR
};
enum {
	ERR_TARGET = 1,
	ERR_ERASE = 4,
	ERR_PROG = 6,
	ERR_FIRMWARE = 10,
	ERR_VENDOR = 11,
	ERR_UNKNOWN = 14,
	ERR_STALLEDPKT = 15
};

static int req_out(uint8_t breq, uint16_t wvalue, const void *data, uint16_t len)
{
	struct sim_setup s = {
		.bmRequestType = 0x21, .bRequest = breq, .wValue = wvalue, .wLength = len
	};

	return sim_device_control(dev, &s, data, NULL, 0, NULL);
}

static int req_in(uint8_t breq, uint16_t wvalue, uint8_t *buf, uint16_t len, size_t *got)
{
	struct sim_setup s = {
		.bmRequestType = 0xA1, .bRequest = breq, .wValue = wvalue, .wLength = len
	};

	return sim_device_control(dev, &s, NULL, buf, len, got);
}

static int getstatus(void)
{
	size_t n = 0;
	int r;

	memset(st, 0xEE, sizeof(st));
	r = req_in(GETSTATUS, 0, st, 6, &n);
	if (r == SIM_OK)
		ck_assert_uint_eq(n, 6);
	return r;
}

static unsigned poll_ms(void)
{
	return st[1] | st[2] << 8 | st[3] << 16;
}

static uint8_t getstate(void)
{
	uint8_t s = 0xEE;
	size_t n = 0;

	ck_assert_int_eq(req_in(GETSTATE, 0, &s, 1, &n), SIM_OK);
	ck_assert_uint_eq(n, 1);
	return s;
}

/* Move the virtual clock to the next timed transition of the device. */
static void settle(void)
{
	uint64_t t = sim_device_next_deadline(dev);

	if (t != UINT64_MAX && t > vnow)
		vnow = t;
}

/* DNLOAD, GET_STATUS #1 (dfuDNBUSY), wait the real time, GET_STATUS #2: the final bState. */
static int dfuse(uint16_t block, const void *data, uint16_t len)
{
	ck_assert_int_eq(req_out(DNLOAD, block, data, len), SIM_OK);
	ck_assert_int_eq(getstatus(), SIM_OK);
	ck_assert_uint_eq(st[4], DNBUSY);
	settle();
	ck_assert_int_eq(getstatus(), SIM_OK);
	return st[4];
}

static int set_address(uint32_t a)
{
	uint8_t c[5] = { 0x21, (uint8_t)a, (uint8_t)(a >> 8), (uint8_t)(a >> 16),
			 (uint8_t)(a >> 24) };

	return dfuse(0, c, 5);
}

static int erase_page(uint32_t a)
{
	uint8_t c[5] = { 0x41, (uint8_t)a, (uint8_t)(a >> 8), (uint8_t)(a >> 16),
			 (uint8_t)(a >> 24) };

	return dfuse(0, c, 5);
}

static int write_at(uint32_t a, const void *data, uint16_t len)
{
	ck_assert_int_eq(set_address(a), DNLOAD_IDLE);
	return dfuse(2, data, len);
}

static int read_at(uint32_t a, uint8_t *buf, uint16_t len, size_t *got)
{
	ck_assert_int_eq(set_address(a), DNLOAD_IDLE);
	ck_assert_int_eq(req_out(ABORT, 0, NULL, 0), SIM_OK);
	return req_in(UPLOAD, 2, buf, len, got);
}

static uint8_t mem8(uint32_t a)
{
	uint8_t v = 0;

	ck_assert_int_eq(sim_device_mem_read(dev, a, &v, 1), 0);
	return v;
}

static struct sim_state state_now(void)
{
	struct sim_state s;

	ck_assert_int_eq(sim_device_get_state(dev, &s), 0);
	return s;
}

/* A plausible Cortex-M image: vector table at @base with SP and reset handler @entry. */
static void load_app(uint32_t base, uint32_t sp, uint32_t entry)
{
	uint8_t vt[8] = { (uint8_t)sp,
			  (uint8_t)(sp >> 8),
			  (uint8_t)(sp >> 16),
			  (uint8_t)(sp >> 24),
			  (uint8_t)entry,
			  (uint8_t)(entry >> 8),
			  (uint8_t)(entry >> 16),
			  (uint8_t)(entry >> 24) };
	static const uint8_t code[4] = { 0x00, 0xBF, 0xFE, 0xE7 }; /* nop; b . */

	ck_assert_int_eq(sim_device_mem_write(dev, base, vt, sizeof(vt)), 0);
	ck_assert_int_eq(sim_device_mem_write(dev, entry & ~1u, code, sizeof(code)), 0);
}

/* Zero-length DNLOAD + GET_STATUS; returns the GET_STATUS result. */
static int leave(void)
{
	ck_assert_int_eq(req_out(DNLOAD, 2, NULL, 0), SIM_OK);
	return getstatus();
}

/* Drain events; return the last CONNECT's mode, or -1. */
static int last_connect_mode(void)
{
	struct sim_event ev;
	int mode = -1;

	while (sim_device_next_event(dev, &ev) == 1)
		if (ev.type == SIM_EVENT_CONNECT)
			mode = (int)ev.mode;
	return mode;
}

/* String descriptor @index decoded from UTF-16LE into ASCII. */
static void get_string(uint8_t index, char *out, size_t cap)
{
	struct sim_setup s = { .bmRequestType = 0x80,
			       .bRequest = 6,
			       .wValue = (uint16_t)(0x0300 | index),
			       .wIndex = 0x0409,
			       .wLength = 255 };
	uint8_t buf[255];
	size_t n = 0, k = 0;

	ck_assert_int_eq(sim_device_control(dev, &s, NULL, buf, sizeof(buf), &n), SIM_OK);
	ck_assert_uint_ge(n, 2);
	ck_assert_uint_eq(buf[0], n);
	ck_assert_uint_eq(buf[1], 3);
	for (size_t i = 2; i + 1 < n && k + 1 < cap; i += 2)
		out[k++] = (char)buf[i];
	out[k] = '\0';
}

static int get_descriptor(uint16_t wvalue, uint16_t windex, uint8_t *buf, uint16_t len, size_t *got)
{
	struct sim_setup s = { .bmRequestType = 0x80,
			       .bRequest = 6,
			       .wValue = wvalue,
			       .wIndex = windex,
			       .wLength = len };

	return sim_device_control(dev, &s, NULL, buf, len, got);
}

/* ---- profiles and options ------------------------------------------------------------------ */

START_TEST(test_profile_list_names_and_describes_every_profile)
{
	const char *const *names = sim_profile_names();
	size_t n = 0;

	for (; names[n]; n++)
		ck_assert_ptr_nonnull(sim_profile_description(names[n]));
	ck_assert_uint_ge(n, 15);
	ck_assert_ptr_null(sim_profile_description("stm32f999"));
}
END_TEST

START_TEST(test_every_profile_can_be_created)
{
	const char *const *names = sim_profile_names();

	for (size_t i = 0; names[i]; i++)
		ck_assert_msg(open_dev(names[i], NULL) == 0, "profile %s: %s", names[i], errbuf);
}
END_TEST

START_TEST(test_unknown_profile_is_refused)
{
	ck_assert_int_eq(open_dev("stm32f999", NULL), -ENOENT);
	ck_assert_ptr_null(dev);
}
END_TEST

START_TEST(test_unknown_fault_token_is_named_in_the_error)
{
	ck_assert_int_eq(open_dev("stm32f405", "stall-on=3,frobnicate"), -EINVAL);
	ck_assert_ptr_nonnull(strstr(errbuf, "'frobnicate'"));
	ck_assert_int_eq(sim_faults_check("busy-longer,no-such=1", errbuf, sizeof(errbuf)),
			 -EINVAL);
	ck_assert_ptr_nonnull(strstr(errbuf, "'no-such=1'"));
}
END_TEST

START_TEST(test_bad_fault_value_is_refused_by_name)
{
	ck_assert_int_eq(open_dev("stm32f405", "stall-on=abc"), -EINVAL);
	ck_assert_ptr_nonnull(strstr(errbuf, "stall-on=abc"));
	ck_assert_int_eq(sim_faults_check("leave=sideways", errbuf, sizeof(errbuf)), -EINVAL);
	ck_assert_int_eq(sim_faults_check("stall-on-request=FROB", errbuf, sizeof(errbuf)),
			 -EINVAL);
}
END_TEST

START_TEST(test_all_documented_fault_tokens_parse)
{
	ck_assert_int_eq(
	    sim_faults_check(
		"stall-on=1,stall-on-request=DNLOAD:2,timeout-on=4,"
		"timeout-on-request=getstatus,disconnect-at-byte=100,busy-longer=3,"
		"zero-poll-timeout,stuck-dnbusy=0x08100000,busy=repeat,skip-dnbusy,"
		"faulty-page=0x08020000:4,wrp=0x08004000,rdp=1,set-address-rdp=ok,"
		"unprotect-fails,prog-fail-status=6,block-size=wlength,start-in-error=10,"
		"start-in-state=dnload-idle,fail-every-second-run,clrstatus=lenient,"
		"no-langid=stall,wrong-langid,bad-strings,identical-alt-names,"
		"transfer-size=4096,oversize-wlength=truncate,functional-descriptor=7,"
		"leave=stay,jump=entry-point,app=gone,boot0=0,reenum-delay-ms=5,"
		"manifest-tolerant=0,will-detach=1,status-on-request=DNLOAD:3=3,"
		"disconnect-on-erase=2,disconnect-on-upload,disconnect-on-manifest,replug=50,"
		"replug-serial=X1,short-status=0:3,bad-state=11,poll-timeout=0xFFFFFF,slow=10",
		errbuf, sizeof(errbuf)),
	    0);
}
END_TEST

/* ---- descriptors -------------------------------------------------------------------------- */

START_TEST(test_f405_device_descriptor_has_the_st_rom_identity)
{
	uint8_t d[18];
	size_t n = 0;

	OPEN("stm32f405", NULL);
	ck_assert_int_eq(get_descriptor(0x0100, 0, d, sizeof(d), &n), SIM_OK);
	ck_assert_uint_eq(n, 18);
	ck_assert_uint_eq(d[7], 64);
	ck_assert_uint_eq(d[8] | d[9] << 8, 0x0483);
	ck_assert_uint_eq(d[10] | d[11] << 8, 0xDF11);
	ck_assert_uint_eq(d[12] | d[13] << 8, 0x2200);
}
END_TEST

START_TEST(test_f405_config_has_four_alts_then_the_functional_descriptor)
{
	static const uint8_t fd[9] = { 0x09, 0x21, 0x0b, 0xff, 0x00, 0x00, 0x08, 0x1a, 0x01 };
	uint8_t c[128];
	size_t n = 0;

	OPEN("stm32f405", NULL);
	ck_assert_int_eq(get_descriptor(0x0200, 0, c, sizeof(c), &n), SIM_OK);
	ck_assert_uint_eq(n, 9 + 4 * 9 + 9);
	ck_assert_uint_eq(c[2] | c[3] << 8, n);
	for (unsigned alt = 0; alt < 4; alt++) {
		const uint8_t *i = c + 9 + 9 * alt;

		ck_assert_uint_eq(i[1], 0x04);
		ck_assert_uint_eq(i[3], alt);
		ck_assert_uint_eq(i[5], 0xFE);
		ck_assert_uint_eq(i[6], 0x01);
		ck_assert_uint_eq(i[7], 0x02);
		ck_assert_uint_eq(i[8], 4 + alt);
	}
	ck_assert_mem_eq(c + 45, fd, sizeof(fd));
}
END_TEST

static const struct {
	const char *profile;
	uint8_t alt;
	const char *layout;
} layouts[] = {
	{ "stm32f405", 0, "@Internal Flash  /0x08000000/04*016Kg,01*064Kg,07*128Kg" },
	{ "stm32f405", 1, "@Option Bytes  /0x1FFFC000/01*016 e" },
	{ "stm32f405", 2, "@OTP Memory /0x1FFF7800/01*512 e,01*016 e" },
	{ "stm32f405", 3, "@Device Feature/0xFFFF0000/01*004 e" },
	{ "stm32f407-oldrom", 1, "@Option Bytes  /0x1FFFC000/01*016 g" },
	{ "stm32f407-oldrom", 2, "@OTP Memory /0x1FFF7800/01*512 g,01*016 g" },
	{ "stm32f107", 0, "@Internal Flash  /0x08000000/128*002Kg" },
	{ "stm32f107", 1, "@Option Bytes  /0x1FFFF800/01*016 g" },
	{ "stm32f072", 0, "@Internal Flash  /0x08000000/064*0002Kg" },
	{ "stm32f072", 1, "@Option Bytes  /0x1FFFF800/01*016 e" },
	{ "stm32l476", 0, "@Internal Flash  /0x08000000/0256*0002Kg" },
	{ "stm32l476", 1, "@Option Bytes  /0x1FFF7800/01*040 e" },
	{ "stm32l476", 2, "@OTP Memory /0x1FFF7000/01*0001Ke" },
	{ "stm32l476", 3, "@Device Feature/0xFFFF0000/01*004 e" },
	{ "stm32g474", 0, "@Internal Flash   /0x08000000/256*02Kg" },
	{ "stm32g474", 1, "@Option Bytes   /0x1FFF7800/01*048 e/0x1FFFF800/01*048 e" },
	{ "stm32g474", 2, "@OTP Memory   /0x1FFF7000/01*1024 e" },
	{ "stm32g0b1", 0, "@Internal Flash /0x08000000/256*02Kg" },
	{ "stm32g0b1", 1, "@Internal Flash /0x08000000/256*02Kg" },
	{ "stm32g0b1", 2, "@Internal Flash /0x08000000/256*02Kg" },
	{ "stm32h743", 0, "@Internal Flash   /0x08000000/16*128Kg" },
	{ "stm32h743", 1, "@Option Bytes   /0x5200201C/01*128 e" },
	{ "gd32vf103", 0, "@Internal Flash  /0x08000000/512*002Kg" },
	{ "gd32vf103", 1, "@Option Bytes  /0x1FFFF800/01*016 g" },
	{ "particle-photon", 0,
	  "@Internal Flash   /0x08000000/03*016Ka,01*016Kg,01*064Kg,07*128Kg" },
	{ "particle-photon", 1, "@DCT Flash   /0x00000000/01*016Kg" },
};

START_TEST(test_layout_strings_are_byte_exact)
{
	char s[256];

	OPEN(layouts[_i].profile, NULL);
	get_string((uint8_t)(4 + layouts[_i].alt), s, sizeof(s));
	ck_assert_str_eq(s, layouts[_i].layout);
}
END_TEST

START_TEST(test_string_zero_is_langid_0409)
{
	uint8_t b[4];
	size_t n = 0;

	OPEN("stm32f405", NULL);
	ck_assert_int_eq(get_descriptor(0x0300, 0, b, sizeof(b), &n), SIM_OK);
	ck_assert_uint_eq(n, 4);
	ck_assert_uint_eq(b[2] | b[3] << 8, 0x0409);
}
END_TEST

START_TEST(test_identity_strings_are_utf16)
{
	char s[128];

	OPEN("stm32f405", NULL);
	get_string(1, s, sizeof(s));
	ck_assert_str_eq(s, "STMicroelectronics");
	get_string(2, s, sizeof(s));
	ck_assert_str_eq(s, "STM32  BOOTLOADER");
	get_string(3, s, sizeof(s));
	ck_assert_str_eq(s, "3574364C3034");
}
END_TEST

START_TEST(test_gd32_serial_is_utf8)
{
	uint8_t b[64];
	size_t n = 0;

	OPEN("gd32vf103", NULL);
	ck_assert_int_eq(get_descriptor(0x0303, 0x0409, b, sizeof(b), &n), SIM_OK);
	ck_assert_uint_eq(n, 2 + 4);
	ck_assert_mem_eq(b + 2, "3CBJ", 4);
}
END_TEST

START_TEST(test_serial_can_be_chosen)
{
	char s[160];
	char long_serial[128];

	OPEN("stm32f405", "serial=BOARD#2");
	get_string(3, s, sizeof(s));
	ck_assert_str_eq(s, "BOARD#2");
	ck_assert_int_eq(sim_device_string(dev, 3, s, sizeof(s)), 7);
	ck_assert_str_eq(s, "BOARD#2");
	/* the longest a string descriptor carries */
	memset(long_serial, 'A', 126);
	snprintf(s, sizeof(s), "serial=%.126s", long_serial);
	ck_assert_int_eq(sim_faults_check(s, errbuf, sizeof(errbuf)), 0);
	snprintf(s, sizeof(s), "serial=%.126sB", long_serial);
	ck_assert_int_eq(sim_faults_check(s, errbuf, sizeof(errbuf)), -EINVAL);
	ck_assert_int_eq(sim_faults_check("serial=", errbuf, sizeof(errbuf)), -EINVAL);
	ck_assert_int_eq(sim_faults_check("serial=caf\xc3\xa9", errbuf, sizeof(errbuf)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(errbuf, "serial"));
}
END_TEST

START_TEST(test_particle_has_a_seven_byte_functional_descriptor)
{
	uint8_t c[64];
	size_t n = 0;

	OPEN("particle-photon", NULL);
	ck_assert_int_eq(get_descriptor(0x0200, 0, c, sizeof(c), &n), SIM_OK);
	ck_assert_uint_eq(n, 9 + 2 * 9 + 7);
	ck_assert_uint_eq(c[27], 7);
	ck_assert_uint_eq(c[28], 0x21);
	ck_assert_uint_eq(c[32] | c[33] << 8, 4096);
}
END_TEST

START_TEST(test_no_langid_returns_an_empty_string_zero)
{
	uint8_t b[4];
	size_t n = 0;

	OPEN("stm32f405", "no-langid");
	ck_assert_int_eq(get_descriptor(0x0300, 0, b, sizeof(b), &n), SIM_OK);
	ck_assert_uint_eq(n, 2);
	ck_assert_uint_eq(b[0], 2);
}
END_TEST

START_TEST(test_no_langid_stall_stalls_string_zero)
{
	uint8_t b[4];
	size_t n = 0;

	OPEN("stm32f405", "no-langid=stall");
	ck_assert_int_eq(get_descriptor(0x0300, 0, b, sizeof(b), &n), SIM_STALL);
}
END_TEST

START_TEST(test_no_langid_fail_first_stalls_only_the_first_read)
{
	uint8_t b[4];
	size_t n = 0;

	OPEN("stm32f405", "no-langid=fail-first");
	ck_assert_int_eq(get_descriptor(0x0300, 0, b, sizeof(b), &n), SIM_STALL);
	ck_assert_int_eq(get_descriptor(0x0300, 0, b, sizeof(b), &n), SIM_OK);
	ck_assert_uint_eq(n, 4);
}
END_TEST

START_TEST(test_wrong_langid_announces_0407_but_answers_only_0409)
{
	uint8_t b[64];
	size_t n = 0;

	OPEN("stm32f405", "wrong-langid");
	ck_assert_int_eq(get_descriptor(0x0300, 0, b, sizeof(b), &n), SIM_OK);
	ck_assert_uint_eq(b[2] | b[3] << 8, 0x0407);
	ck_assert_int_eq(get_descriptor(0x0301, 0x0407, b, sizeof(b), &n), SIM_STALL);
	ck_assert_int_eq(get_descriptor(0x0301, 0x0409, b, sizeof(b), &n), SIM_OK);
}
END_TEST

START_TEST(test_bad_strings_claim_one_byte_more_than_sent)
{
	uint8_t b[255];
	size_t n = 0;

	OPEN("stm32f405", "bad-strings");
	ck_assert_int_eq(get_descriptor(0x0301, 0x0409, b, sizeof(b), &n), SIM_OK);
	ck_assert_uint_eq(b[0], n + 1);
}
END_TEST

START_TEST(test_identical_alt_names_copies_alt_zero)
{
	char s[256];

	OPEN("stm32f405", "identical-alt-names");
	get_string(5, s, sizeof(s));
	ck_assert_str_eq(s, "@Internal Flash  /0x08000000/04*016Kg,01*064Kg,07*128Kg");
}
END_TEST

START_TEST(test_transfer_size_fault_changes_the_functional_descriptor)
{
	uint8_t f[9];
	size_t n = 0;
	struct sim_setup s = {
		.bmRequestType = 0x81, .bRequest = 6, .wValue = 0x2100, .wLength = 9
	};

	OPEN("stm32f405", "transfer-size=0");
	ck_assert_int_eq(sim_device_control(dev, &s, NULL, f, sizeof(f), &n), SIM_OK);
	ck_assert_uint_eq(n, 9);
	ck_assert_uint_eq(f[5] | f[6] << 8, 0);
}
END_TEST

START_TEST(test_set_interface_selects_an_alt_and_refuses_a_missing_one)
{
	struct sim_setup s = { .bmRequestType = 0x01, .bRequest = 11, .wValue = 3 };

	OPEN("stm32f405", NULL);
	ck_assert_int_eq(sim_device_control(dev, &s, NULL, NULL, 0, NULL), SIM_OK);
	ck_assert_uint_eq(state_now().alt, 3);
	s.wValue = 4;
	ck_assert_int_eq(sim_device_control(dev, &s, NULL, NULL, 0, NULL), SIM_STALL);
}
END_TEST

START_TEST(test_sysfs_descriptors_are_device_then_config)
{
	uint8_t b[256];

	OPEN("stm32h743", NULL);
	ck_assert_int_eq(sim_device_descriptors(dev, b, sizeof(b)), 18 + 9 + 2 * 9 + 9);
	ck_assert_uint_eq(b[1], 1);
	ck_assert_uint_eq(b[18 + 1], 2);
}
END_TEST

/* ---- DFU state machine (ST ROM) ----------------------------------------------------------- */

START_TEST(test_rom_starts_in_dfu_idle_with_status_ok)
{
	OPEN("stm32f405", NULL);
	ck_assert_int_eq(getstatus(), SIM_OK);
	ck_assert_uint_eq(st[0], 0);
	ck_assert_uint_eq(st[4], DFU_IDLE);
	ck_assert_uint_eq(st[5], 0);
}
END_TEST

START_TEST(test_get_state_reports_the_state_without_changing_it)
{
	static const uint8_t c[5] = { 0x21, 0, 0, 0, 0x08 };

	OPEN("stm32f405", NULL);
	ck_assert_int_eq(req_out(DNLOAD, 0, c, 5), SIM_OK);
	ck_assert_uint_eq(getstate(), DNLOAD_SYNC);
	ck_assert_uint_eq(getstate(), DNLOAD_SYNC);
	ck_assert_int_eq(getstatus(), SIM_OK);
	ck_assert_uint_eq(st[4], DNBUSY);
}
END_TEST

START_TEST(test_get_state_reports_dnload_sync_between_completion_and_second_status)
{
	static const uint8_t c[5] = { 0x21, 0, 0, 0, 0x08 };

	OPEN("stm32f405", NULL);
	ck_assert_int_eq(req_out(DNLOAD, 0, c, 5), SIM_OK);
	ck_assert_int_eq(getstatus(), SIM_OK);
	vnow += 200000;
	ck_assert_uint_eq(getstate(), DNLOAD_SYNC);
}
END_TEST

START_TEST(test_st_clrstatus_outside_error_gives_err_unknown_then_idle)
{
	OPEN("stm32f405", NULL);
	ck_assert_int_eq(req_out(CLRSTATUS, 0, NULL, 0), SIM_OK);
	ck_assert_int_eq(getstatus(), SIM_OK);
	ck_assert_uint_eq(st[4], DFU_ERROR);
	ck_assert_uint_eq(st[0], ERR_UNKNOWN);
	ck_assert_int_eq(req_out(CLRSTATUS, 0, NULL, 0), SIM_OK);
	ck_assert_int_eq(getstatus(), SIM_OK);
	ck_assert_uint_eq(st[4], DFU_IDLE);
	ck_assert_uint_eq(st[0], 0);
}
END_TEST

START_TEST(test_strict_clrstatus_outside_error_stalls)
{
	OPEN("stm32f405", "clrstatus=strict");
	ck_assert_int_eq(req_out(CLRSTATUS, 0, NULL, 0), SIM_STALL);
	ck_assert_uint_eq(getstate(), DFU_IDLE);
}
END_TEST

START_TEST(test_lenient_clrstatus_outside_error_goes_idle)
{
	OPEN("stm32f405", "clrstatus=lenient,start-in-state=upload-idle");
	ck_assert_int_eq(req_out(CLRSTATUS, 0, NULL, 0), SIM_OK);
	ck_assert_uint_eq(getstate(), DFU_IDLE);
}
END_TEST

START_TEST(test_abort_returns_from_dnload_idle_to_idle)
{
	OPEN("stm32f405", NULL);
	ck_assert_int_eq(set_address(0x08000000), DNLOAD_IDLE);
	ck_assert_int_eq(req_out(ABORT, 0, NULL, 0), SIM_OK);
	ck_assert_uint_eq(getstate(), DFU_IDLE);
}
END_TEST

START_TEST(test_upload_in_dnload_idle_stalls_and_keeps_the_state)
{
	uint8_t b[16];
	size_t n = 0;

	OPEN("stm32f405", NULL);
	ck_assert_int_eq(set_address(0x08000000), DNLOAD_IDLE);
	ck_assert_int_eq(req_in(UPLOAD, 2, b, sizeof(b), &n), SIM_STALL);
	ck_assert_uint_eq(getstate(), DNLOAD_IDLE);
}
END_TEST

START_TEST(test_dnload_in_upload_idle_stalls_and_keeps_the_state)
{
	static const uint8_t c[5] = { 0x21, 0, 0, 0, 0x08 };

	OPEN("stm32f405", "start-in-state=upload-idle");
	ck_assert_int_eq(req_out(DNLOAD, 0, c, 5), SIM_STALL);
	ck_assert_uint_eq(getstate(), UPLOAD_IDLE);
}
END_TEST

START_TEST(test_get_commands_returns_the_rom_list_and_a_short_reply_ends_the_upload)
{
	static const uint8_t want[4] = { 0x00, 0x21, 0x41, 0x92 };
	uint8_t b[64];
	size_t n = 0;

	OPEN("stm32f405", NULL);
	ck_assert_int_eq(req_in(UPLOAD, 0, b, sizeof(b), &n), SIM_OK);
	ck_assert_uint_eq(n, 4);
	ck_assert_mem_eq(b, want, 4);
	ck_assert_uint_eq(getstate(), DFU_IDLE);
}
END_TEST

START_TEST(test_get_commands_of_exact_length_stays_in_upload_idle)
{
	uint8_t b[4];
	size_t n = 0;

	OPEN("stm32f405", NULL);
	ck_assert_int_eq(req_in(UPLOAD, 0, b, sizeof(b), &n), SIM_OK);
	ck_assert_uint_eq(getstate(), UPLOAD_IDLE);
}
END_TEST

START_TEST(test_hal_get_commands_omits_read_unprotect)
{
	uint8_t b[64];
	size_t n = 0;

	OPEN("stm32-hal-iap", NULL);
	ck_assert_int_eq(req_in(UPLOAD, 0, b, sizeof(b), &n), SIM_OK);
	ck_assert_uint_eq(n, 3);
}
END_TEST

START_TEST(test_set_address_executes_only_at_the_first_get_status)
{
	static const uint8_t c[5] = { 0x21, 0x00, 0x40, 0x00, 0x08 };

	OPEN("stm32f405", NULL);
	ck_assert_int_eq(req_out(DNLOAD, 0, c, 5), SIM_OK);
	ck_assert_uint_eq(state_now().address_pointer, 0x08000000);
	ck_assert_int_eq(getstatus(), SIM_OK);
	ck_assert_uint_eq(st[4], DNBUSY);
	ck_assert_uint_eq(poll_ms(), 104);
	ck_assert_uint_eq(state_now().address_pointer, 0x08004000);
	ck_assert_int_eq(getstatus(), SIM_OK);
	ck_assert_uint_eq(st[4], DNLOAD_IDLE);
	ck_assert_uint_eq(poll_ms(), 0);
}
END_TEST

START_TEST(test_set_address_to_an_unmapped_address_ends_in_err_target)
{
	OPEN("stm32f407", NULL);
	ck_assert_int_eq(set_address(0x00000000), DFU_ERROR);
	ck_assert_uint_eq(st[0], ERR_TARGET);
}
END_TEST

START_TEST(test_erase_announces_100_ms_but_takes_the_sector_time)
{
	static const uint8_t c[5] = { 0x41, 0x00, 0x00, 0x02, 0x08 }; /* 128 KiB sector 5 */

	OPEN("stm32f405", "busy=repeat");
	ck_assert_int_eq(req_out(DNLOAD, 0, c, 5), SIM_OK);
	ck_assert_int_eq(getstatus(), SIM_OK);
	ck_assert_uint_eq(st[4], DNBUSY);
	ck_assert_uint_eq(poll_ms(), 100);
	vnow += 999999;
	ck_assert_int_eq(getstatus(), SIM_OK);
	ck_assert_uint_eq(st[4], DNBUSY);
	vnow += 1;
	ck_assert_int_eq(getstatus(), SIM_OK);
	ck_assert_uint_eq(st[4], DNLOAD_IDLE);
}
END_TEST

START_TEST(test_nak_mode_holds_an_early_poll_until_the_erase_ends)
{
	static const uint8_t c[5] = { 0x41, 0x00, 0x00, 0x00, 0x08 }; /* 16 KiB: 250 ms */
	struct sim_transfer t = {
		.setup = { .bmRequestType = 0xA1, .bRequest = GETSTATUS, .wLength = 6 },
		.in_buf = st,
		.in_cap = 6
	};

	OPEN("stm32f405", NULL);
	ck_assert_int_eq(req_out(DNLOAD, 0, c, 5), SIM_OK);
	ck_assert_int_eq(getstatus(), SIM_OK);
	vnow += 100000;
	ck_assert_int_eq(sim_device_submit(dev, &t), SIM_OK);
	ck_assert_uint_eq(t.delay_us, 150000);
	ck_assert_uint_eq(st[4], DNLOAD_IDLE);
}
END_TEST

START_TEST(test_page_erase_erases_the_sector_holding_an_unaligned_address)
{
	static const uint8_t z[4] = { 0 };

	OPEN("stm32f405", NULL);
	ck_assert_int_eq(sim_device_mem_write(dev, 0x08004000, z, 4), 0);
	ck_assert_int_eq(sim_device_mem_write(dev, 0x08007FFC, z, 4), 0);
	ck_assert_int_eq(sim_device_mem_write(dev, 0x08008000, z, 4), 0);
	ck_assert_int_eq(erase_page(0x08005123), DNLOAD_IDLE);
	ck_assert_uint_eq(mem8(0x08004000), 0xFF);
	ck_assert_uint_eq(mem8(0x08007FFF), 0xFF);
	ck_assert_uint_eq(mem8(0x08008000), 0x00);
}
END_TEST

START_TEST(test_erase_outside_internal_flash_ends_in_err_target)
{
	OPEN("stm32f405", NULL);
	ck_assert_int_eq(erase_page(0x20000000), DFU_ERROR);
	ck_assert_uint_eq(st[0], ERR_TARGET);
}
END_TEST

START_TEST(test_mass_erase_takes_eight_seconds_on_f4)
{
	static const uint8_t c[1] = { 0x41 };

	OPEN("stm32f405", "busy=repeat");
	ck_assert_int_eq(req_out(DNLOAD, 0, c, 1), SIM_OK);
	ck_assert_int_eq(getstatus(), SIM_OK);
	ck_assert_uint_eq(poll_ms(), 100);
	vnow += 7999999;
	ck_assert_int_eq(getstatus(), SIM_OK);
	ck_assert_uint_eq(st[4], DNBUSY);
	vnow += 1;
	ck_assert_int_eq(getstatus(), SIM_OK);
	ck_assert_uint_eq(st[4], DNLOAD_IDLE);
}
END_TEST

START_TEST(test_mass_erase_clears_flash_but_not_otp)
{
	static const uint8_t c[1] = { 0x41 };
	static const uint8_t z[1] = { 0 };

	OPEN("stm32f405", NULL);
	ck_assert_int_eq(sim_device_mem_write(dev, 0x080E0000, z, 1), 0);
	ck_assert_int_eq(sim_device_mem_write(dev, 0x1FFF7800, z, 1), 0);
	ck_assert_int_eq(dfuse(0, c, 1), DNLOAD_IDLE);
	ck_assert_uint_eq(mem8(0x080E0000), 0xFF);
	ck_assert_uint_eq(mem8(0x1FFF7800), 0x00);
}
END_TEST

START_TEST(test_mass_erase_with_a_wrp_sector_erases_nothing_and_reports_ok)
{
	static const uint8_t c[1] = { 0x41 };
	static const uint8_t z[1] = { 0 };

	OPEN("stm32f405", "wrp=0x08040000");
	ck_assert_int_eq(sim_device_mem_write(dev, 0x08000000, z, 1), 0);
	ck_assert_int_eq(sim_device_mem_write(dev, 0x080E0000, z, 1), 0);
	ck_assert_int_eq(dfuse(0, c, 1), DNLOAD_IDLE);
	ck_assert_uint_eq(st[0], 0);
	ck_assert_uint_eq(mem8(0x08000000), 0x00);
	ck_assert_uint_eq(mem8(0x080E0000), 0x00);
}
END_TEST

START_TEST(test_unsupported_command_byte_gives_dnbusy_then_err_stalledpkt)
{
	static const uint8_t c[3] = { 0x55, 1, 2 };

	OPEN("stm32f405", NULL);
	ck_assert_int_eq(dfuse(0, c, 3), DFU_ERROR);
	ck_assert_uint_eq(st[0], ERR_STALLEDPKT);
}
END_TEST

START_TEST(test_dnload_block_one_stalls_the_next_request)
{
	static const uint8_t c[4] = { 1, 2, 3, 4 };

	OPEN("stm32f405", NULL);
	ck_assert_int_eq(req_out(DNLOAD, 1, c, 4), SIM_OK);
	ck_assert_int_eq(getstatus(), SIM_OK);
	ck_assert_uint_eq(st[4], DNBUSY);
	ck_assert_int_eq(getstatus(), SIM_STALL);
	ck_assert_int_eq(getstatus(), SIM_OK);
	ck_assert_uint_eq(st[4], DFU_ERROR);
	ck_assert_uint_eq(st[0], ERR_STALLEDPKT);
}
END_TEST

START_TEST(test_upload_block_one_stalls_with_err_stalledpkt)
{
	uint8_t b[16];
	size_t n = 0;

	OPEN("stm32f405", NULL);
	ck_assert_int_eq(req_in(UPLOAD, 1, b, sizeof(b), &n), SIM_STALL);
	ck_assert_int_eq(getstatus(), SIM_OK);
	ck_assert_uint_eq(st[4], DFU_ERROR);
	ck_assert_uint_eq(st[0], ERR_STALLEDPKT);
}
END_TEST

START_TEST(test_write_address_is_pointer_plus_block_offset_times_transfer_size)
{
	static const uint8_t d[4] = { 0x11, 0x22, 0x33, 0x44 };

	OPEN("stm32f405", NULL);
	ck_assert_int_eq(set_address(0x08010000), DNLOAD_IDLE);
	ck_assert_int_eq(dfuse(4, d, 4), DNLOAD_IDLE);
	ck_assert_uint_eq(mem8(0x08010000 + 2 * 2048), 0x11);
	ck_assert_uint_eq(mem8(0x08010000 + 2 * 2048 + 3), 0x44);
}
END_TEST

START_TEST(test_block_size_wlength_uses_the_request_length_in_the_formula)
{
	static const uint8_t d[16] = { 0x5A };

	OPEN("stm32f405", "block-size=wlength");
	ck_assert_int_eq(set_address(0x08010000), DNLOAD_IDLE);
	ck_assert_int_eq(dfuse(3, d, 16), DNLOAD_IDLE);
	ck_assert_uint_eq(mem8(0x08010010), 0x5A);
}
END_TEST

START_TEST(test_upload_reads_memory_at_the_pointer)
{
	static const uint8_t d[4] = { 0xDE, 0xAD, 0xBE, 0xEF };
	uint8_t b[2048];
	size_t n = 0;

	OPEN("stm32f405", NULL);
	ck_assert_int_eq(sim_device_mem_write(dev, 0x08000800, d, 4), 0);
	ck_assert_int_eq(read_at(0x08000000, b, 2048, &n), SIM_OK);
	ck_assert_uint_eq(n, 2048);
	ck_assert_int_eq(req_in(UPLOAD, 2, b, 2048, &n), SIM_OK);
	ck_assert_uint_eq(getstate(), UPLOAD_IDLE);
	ck_assert_int_eq(req_in(UPLOAD, 3, b, 2048, &n), SIM_OK);
	ck_assert_mem_eq(b, d, 4);
}
END_TEST

START_TEST(test_upload_past_the_end_of_a_region_stalls_with_err_target)
{
	uint8_t b[32];
	size_t n = 0;

	OPEN("stm32f405", NULL);
	ck_assert_int_eq(read_at(0xFFFF0000, b, 32, &n), SIM_STALL);
	ck_assert_int_eq(getstatus(), SIM_OK);
	ck_assert_uint_eq(st[0], ERR_TARGET);
}
END_TEST

START_TEST(test_g474_stalls_a_2048_byte_block)
{
	static uint8_t d[2048];

	OPEN("stm32g474", NULL);
	ck_assert_int_eq(set_address(0x08000000), DNLOAD_IDLE);
	ck_assert_int_eq(req_out(DNLOAD, 2, d, 2048), SIM_STALL);
	ck_assert_int_eq(getstatus(), SIM_OK);
	ck_assert_uint_eq(st[4], DFU_ERROR);
	ck_assert_uint_eq(st[0], ERR_STALLEDPKT);
}
END_TEST

START_TEST(test_hal_truncates_an_oversize_block)
{
	static uint8_t d[2048];

	memset(d, 0, sizeof(d));
	OPEN("stm32-hal-iap", NULL);
	ck_assert_int_eq(erase_page(0x0800C000), DNLOAD_IDLE);
	ck_assert_int_eq(write_at(0x0800C000, d, 2048), DNLOAD_IDLE);
	ck_assert_uint_eq(mem8(0x0800C000 + 1023), 0x00);
	ck_assert_uint_eq(mem8(0x0800C000 + 1024), 0xFF);
}
END_TEST

START_TEST(test_write_to_system_memory_ends_in_err_target)
{
	static const uint8_t d[4] = { 0 };

	OPEN("stm32f405", NULL);
	ck_assert_int_eq(write_at(0x1FFF0000, d, 4), DFU_ERROR);
	ck_assert_uint_eq(st[0], ERR_TARGET);
}
END_TEST

START_TEST(test_write_to_ram_is_allowed)
{
	static const uint8_t d[4] = { 1, 2, 3, 4 };

	OPEN("stm32f405", NULL);
	ck_assert_int_eq(write_at(0x20000100, d, 4), DNLOAD_IDLE);
	ck_assert_uint_eq(mem8(0x20000103), 4);
}
END_TEST

START_TEST(test_particle_read_only_bootloader_sectors_refuse_writes)
{
	static const uint8_t d[4] = { 0 };

	OPEN("particle-photon", NULL);
	ck_assert_int_eq(write_at(0x08000000, d, 4), DFU_ERROR);
	ck_assert_uint_eq(st[0], ERR_TARGET);
}
END_TEST

START_TEST(test_dfu_state_persists_between_host_runs)
{
	OPEN("stm32f405", NULL);
	sim_device_session_begin(dev);
	ck_assert_int_eq(set_address(0x08000000), DNLOAD_IDLE);
	sim_device_session_begin(dev);
	ck_assert_int_eq(getstatus(), SIM_OK);
	ck_assert_uint_eq(st[4], DNLOAD_IDLE);
}
END_TEST

START_TEST(test_usb_reset_keeps_the_st_rom_in_dfu_idle)
{
	OPEN("stm32f405", NULL);
	ck_assert_int_eq(set_address(0x08000000), DNLOAD_IDLE);
	ck_assert_int_eq(sim_device_usb_reset(dev), 0);
	ck_assert_uint_eq(getstate(), DFU_IDLE);
	ck_assert_uint_eq(state_now().generation, 1);
}
END_TEST

/* ---- memory rules --------------------------------------------------------------------------- */

START_TEST(test_f4_programming_over_data_ands_the_bits_without_error)
{
	static const uint8_t a[1] = { 0xF0 }, b[1] = { 0x3C };

	OPEN("stm32f405", NULL);
	ck_assert_int_eq(write_at(0x08004000, a, 1), DNLOAD_IDLE);
	ck_assert_int_eq(write_at(0x08004000, b, 1), DNLOAD_IDLE);
	ck_assert_uint_eq(mem8(0x08004000), 0x30);
}
END_TEST

START_TEST(test_l4_second_write_to_a_double_word_is_refused)
{
	static const uint8_t a[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };

	OPEN("stm32l476", NULL);
	ck_assert_int_eq(write_at(0x08000800, a, 8), DNLOAD_IDLE);
	ck_assert_int_eq(write_at(0x08000800, a, 8), DFU_ERROR);
	ck_assert_uint_eq(st[0], ERR_TARGET);
}
END_TEST

START_TEST(test_l4_completing_a_padded_double_word_is_refused)
{
	static const uint8_t a[4] = { 1, 2, 3, 4 };

	OPEN("stm32l476", NULL);
	ck_assert_int_eq(write_at(0x08000800, a, 4), DNLOAD_IDLE);
	ck_assert_uint_eq(mem8(0x08000804), 0xFF);
	ck_assert_int_eq(write_at(0x08000804, a, 4), DFU_ERROR);
	ck_assert_uint_eq(mem8(0x08000804), 0xFF);
}
END_TEST

START_TEST(test_l4_all_zero_double_word_may_overwrite)
{
	static const uint8_t a[8] = { 1, 2, 3, 4, 5, 6, 7, 8 }, z[8] = { 0 };

	OPEN("stm32l476", NULL);
	ck_assert_int_eq(write_at(0x08000800, a, 8), DNLOAD_IDLE);
	ck_assert_int_eq(write_at(0x08000800, z, 8), DNLOAD_IDLE);
	ck_assert_uint_eq(mem8(0x08000800), 0);
}
END_TEST

START_TEST(test_l4_erase_allows_programming_again)
{
	static const uint8_t a[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };

	OPEN("stm32l476", NULL);
	ck_assert_int_eq(write_at(0x08000800, a, 8), DNLOAD_IDLE);
	ck_assert_int_eq(erase_page(0x08000800), DNLOAD_IDLE);
	ck_assert_int_eq(write_at(0x08000800, a, 8), DNLOAD_IDLE);
}
END_TEST

START_TEST(test_h7_flash_word_is_programmed_once_per_32_bytes)
{
	static const uint8_t a[16] = { 1 };

	OPEN("stm32h743", NULL);
	ck_assert_int_eq(write_at(0x08020000, a, 16), DNLOAD_IDLE);
	/* the other half of the same 256-bit word */
	ck_assert_int_eq(write_at(0x08020010, a, 16), DFU_ERROR);
	ck_assert_int_eq(req_out(CLRSTATUS, 0, NULL, 0), SIM_OK);
	/* the next flash word is still blank */
	ck_assert_int_eq(write_at(0x08020020, a, 16), DNLOAD_IDLE);
}
END_TEST

START_TEST(test_f1_half_word_over_data_is_refused)
{
	static const uint8_t a[2] = { 0x12, 0x34 }, b[2] = { 0x02, 0x04 };

	OPEN("stm32f107", NULL);
	ck_assert_int_eq(write_at(0x08000800, a, 2), DNLOAD_IDLE);
	ck_assert_int_eq(write_at(0x08000800, b, 2), DFU_ERROR);
	ck_assert_uint_eq(mem8(0x08000800), 0x12);
}
END_TEST

START_TEST(test_prog_fail_status_selects_the_reported_status)
{
	static const uint8_t a[8] = { 1 };

	OPEN("stm32l476", "prog-fail-status=6");
	ck_assert_int_eq(write_at(0x08000800, a, 8), DNLOAD_IDLE);
	ck_assert_int_eq(write_at(0x08000800, a, 8), DFU_ERROR);
	ck_assert_uint_eq(st[0], ERR_PROG);
}
END_TEST

START_TEST(test_memory_access_outside_regions_is_refused)
{
	uint8_t b[4];
	struct sim_region_info ri;

	OPEN("stm32f405", NULL);
	ck_assert_int_eq(sim_device_mem_read(dev, 0x40000000, b, 4), -ERANGE);
	ck_assert_int_eq(sim_device_mem_write(dev, 0x080FFFFE, b, 4), -ERANGE);
	ck_assert_int_eq(sim_device_region(dev, 0, &ri), 0);
	ck_assert_uint_eq(ri.base, 0x08000000);
	ck_assert_uint_eq(ri.size, 1024 * 1024);
	ck_assert_int_eq(ri.kind, SIM_REGION_FLASH);
	ck_assert_int_eq(sim_device_region(dev, 99, &ri), -ENOENT);
}
END_TEST

/* ---- protection ------------------------------------------------------------------------------ */

START_TEST(test_rdp1_erase_fails_with_err_vendor_and_erases_nothing)
{
	static const uint8_t z[1] = { 0 };

	OPEN("stm32f405", "rdp=1");
	ck_assert_int_eq(sim_device_mem_write(dev, 0x08000000, z, 1), 0);
	ck_assert_int_eq(erase_page(0x08000000), DFU_ERROR);
	ck_assert_uint_eq(st[0], ERR_VENDOR);
	ck_assert_uint_eq(mem8(0x08000000), 0);
}
END_TEST

START_TEST(test_rdp1_upload_stalls_then_reports_err_vendor)
{
	uint8_t b[16];
	size_t n = 0;

	OPEN("stm32f405", "rdp=1,set-address-rdp=ok");
	ck_assert_int_eq(read_at(0x08000000, b, 16, &n), SIM_STALL);
	ck_assert_int_eq(getstatus(), SIM_OK);
	ck_assert_uint_eq(st[4], DFU_ERROR);
	ck_assert_uint_eq(st[0], ERR_VENDOR);
}
END_TEST

START_TEST(test_rdp1_set_address_fails_on_f4_unless_configured_ok)
{
	OPEN("stm32f405", "rdp=1");
	ck_assert_int_eq(set_address(0x08000000), DFU_ERROR);
	ck_assert_uint_eq(st[0], ERR_VENDOR);
	OPEN("stm32f405", "rdp=1,set-address-rdp=ok");
	ck_assert_int_eq(set_address(0x08000000), DNLOAD_IDLE);
}
END_TEST

START_TEST(test_start_in_error_11_is_cleared_but_rdp_refuses_again)
{
	OPEN("stm32f405", "rdp=1,start-in-error=11");
	ck_assert_int_eq(getstatus(), SIM_OK);
	ck_assert_uint_eq(st[4], DFU_ERROR);
	ck_assert_uint_eq(st[0], ERR_VENDOR);
	ck_assert_int_eq(req_out(CLRSTATUS, 0, NULL, 0), SIM_OK);
	ck_assert_uint_eq(getstate(), DFU_IDLE);
	ck_assert_int_eq(erase_page(0x08000000), DFU_ERROR);
	ck_assert_uint_eq(st[0], ERR_VENDOR);
}
END_TEST

START_TEST(test_read_unprotect_mass_erases_clears_rdp_and_reenumerates)
{
	static const uint8_t c[1] = { 0x92 }, z[1] = { 0 };
	struct sim_event ev;

	OPEN("stm32f405", "rdp=1");
	ck_assert_uint_eq(state_now().rdp_level, 1);
	ck_assert_int_eq(sim_device_mem_write(dev, 0x08000000, z, 1), 0);
	ck_assert_int_eq(sim_device_mem_write(dev, 0x1FFF7800, z, 1), 0);
	while (sim_device_next_event(dev, &ev) == 1)
		;
	ck_assert_int_eq(req_out(DNLOAD, 0, c, 1), SIM_OK);
	ck_assert_int_eq(getstatus(), SIM_OK);
	ck_assert_uint_eq(st[4], DNBUSY);
	ck_assert_int_eq(getstatus(), SIM_GONE);
	ck_assert_int_eq(sim_device_next_event(dev, &ev), 1);
	ck_assert_int_eq(ev.type, SIM_EVENT_DISCONNECT);
	settle();
	ck_assert_int_eq(sim_device_next_event(dev, &ev), 1);
	ck_assert_int_eq(ev.type, SIM_EVENT_CONNECT);
	ck_assert_int_eq(ev.mode, SIM_MODE_DFU);
	ck_assert_uint_eq(state_now().rdp_level, 0);
	ck_assert_uint_eq(mem8(0x08000000), 0xFF);
	ck_assert_uint_eq(mem8(0x1FFF7800), 0x00);
	ck_assert_int_eq(getstatus(), SIM_OK);
	ck_assert_uint_eq(st[4], DFU_IDLE);
}
END_TEST

START_TEST(test_failed_read_unprotect_reports_err_unknown)
{
	static const uint8_t c[1] = { 0x92 };

	OPEN("stm32f405", "rdp=1,unprotect-fails");
	ck_assert_int_eq(dfuse(0, c, 1), DFU_ERROR);
	ck_assert_uint_eq(st[0], ERR_UNKNOWN);
	ck_assert_uint_eq(state_now().rdp_level, 1);
}
END_TEST

START_TEST(test_rdp2_device_never_enumerates)
{
	OPEN("stm32f405", "rdp=2");
	ck_assert(!state_now().connected);
	ck_assert_int_eq(getstatus(), SIM_GONE);
}
END_TEST

START_TEST(test_wrp_sector_erase_and_write_report_ok_and_change_nothing)
{
	static const uint8_t z[4] = { 0 }, d[4] = { 0x12, 0x34, 0x56, 0x78 };

	OPEN("stm32g0b1", "wrp=0x08001000");
	ck_assert_int_eq(sim_device_mem_write(dev, 0x08001000, z, 4), 0);
	ck_assert_int_eq(erase_page(0x08001000), DNLOAD_IDLE);
	ck_assert_uint_eq(st[0], 0);
	ck_assert_uint_eq(mem8(0x08001000), 0x00);
	ck_assert_int_eq(write_at(0x08001400, d, 4), DNLOAD_IDLE);
	ck_assert_uint_eq(mem8(0x08001400), 0xFF);
	ck_assert_int_eq(write_at(0x08000800, d, 4), DNLOAD_IDLE);
	ck_assert_uint_eq(mem8(0x08000800), 0x12);
}
END_TEST

START_TEST(test_wrp_comes_from_the_f4_option_bytes)
{
	static const uint8_t d[1] = { 0x00 };
	uint8_t ob[16];

	OPEN("stm32f405", NULL);
	ck_assert_int_eq(sim_device_mem_read(dev, 0x1FFFC000, ob, 16), 0);
	ob[8] = 0xFD; /* nWRP1 = 0: sector 1 protected */
	ck_assert_int_eq(sim_device_mem_write(dev, 0x1FFFC000, ob, 16), 0);
	ck_assert_int_eq(sim_device_replug(dev), 0);
	ck_assert_int_eq(write_at(0x08004000, d, 1), DNLOAD_IDLE);
	ck_assert_uint_eq(mem8(0x08004000), 0xFF);
}
END_TEST

START_TEST(test_option_byte_write_resets_without_a_second_status)
{
	uint8_t ob[16];
	struct sim_event ev;

	OPEN("stm32f405", NULL);
	ck_assert_int_eq(sim_device_mem_read(dev, 0x1FFFC000, ob, 16), 0);
	ob[1] = 0x55; /* RDP level 1 */
	ck_assert_int_eq(set_address(0x1FFFC000), DNLOAD_IDLE);
	ck_assert_int_eq(req_out(DNLOAD, 2, ob, 16), SIM_OK);
	ck_assert_int_eq(getstatus(), SIM_OK);
	ck_assert_uint_eq(st[4], DNBUSY);
	ck_assert_int_eq(getstatus(), SIM_GONE);
	settle();
	ck_assert_int_eq(last_connect_mode(), SIM_MODE_DFU);
	ck_assert_uint_eq(state_now().rdp_level, 1);
	ck_assert_uint_eq(state_now().generation, 2);
	(void)ev;
}
END_TEST

START_TEST(test_option_byte_write_not_covering_the_block_ends_in_err_target)
{
	static const uint8_t d[4] = { 0xFF, 0xAA, 0xFF, 0x55 };

	OPEN("stm32f405", NULL);
	ck_assert_int_eq(write_at(0x1FFFC000, d, 4), DFU_ERROR);
	ck_assert_uint_eq(st[0], ERR_TARGET);
}
END_TEST

START_TEST(test_otp_is_never_erasable)
{
	OPEN("stm32f407-oldrom", NULL);
	ck_assert_int_eq(erase_page(0x1FFF7800), DFU_ERROR);
	ck_assert_uint_eq(st[0], ERR_TARGET);
}
END_TEST

START_TEST(test_otp_programs_only_one_to_zero)
{
	static const uint8_t a[1] = { 0x0F }, b[1] = { 0xF3 };

	OPEN("stm32f405", NULL);
	ck_assert_int_eq(write_at(0x1FFF7800, a, 1), DNLOAD_IDLE);
	ck_assert_int_eq(write_at(0x1FFF7800, b, 1), DNLOAD_IDLE);
	ck_assert_uint_eq(mem8(0x1FFF7800), 0x03);
}
END_TEST

START_TEST(test_otp_lock_byte_locks_only_its_block)
{
	static const uint8_t lock[1] = { 0x00 }, d[4] = { 0x11, 0x22, 0x33, 0x44 };

	OPEN("stm32f405", NULL);
	/* a single-byte write to LOCKB0, without erase */
	ck_assert_int_eq(write_at(0x1FFF7A00, lock, 1), DNLOAD_IDLE);
	ck_assert_uint_eq(mem8(0x1FFF7A00), 0x00);
	ck_assert_uint_eq(mem8(0x1FFF7A01), 0xFF);
	ck_assert_int_eq(write_at(0x1FFF7800, d, 4), DFU_ERROR);
	ck_assert_uint_eq(st[0], ERR_TARGET);
	ck_assert_uint_eq(mem8(0x1FFF7800), 0xFF);
	ck_assert_int_eq(req_out(CLRSTATUS, 0, NULL, 0), SIM_OK);
	ck_assert_int_eq(write_at(0x1FFF7820, d, 4), DNLOAD_IDLE);
	ck_assert_uint_eq(mem8(0x1FFF7820), 0x11);
}
END_TEST

START_TEST(test_otp_lock_byte_with_an_odd_value_is_logged)
{
	static const uint8_t lock[1] = { 0x5A };

	OPEN("stm32f405", NULL);
	ck_assert_int_eq(write_at(0x1FFF7A03, lock, 1), DNLOAD_IDLE);
	ck_assert_ptr_nonnull(strstr(log_all, "OTP lock byte 3"));
}
END_TEST

/* ---- leave and jump ----------------------------------------------------------------------------
 */

START_TEST(test_leave_at_a_valid_vector_table_starts_the_app_as_runtime_device)
{
	struct sim_state s;

	OPEN("stm32f405", NULL);
	load_app(0x08000000, 0x20020000, 0x080001C5);
	ck_assert_int_eq(set_address(0x08000000), DNLOAD_IDLE);
	ck_assert_int_eq(leave(), SIM_OK);
	ck_assert_uint_eq(st[4], MANIFEST);
	ck_assert_int_eq(getstatus(), SIM_GONE);
	settle();
	ck_assert_int_eq(last_connect_mode(), SIM_MODE_RUNTIME);
	s = state_now();
	ck_assert(s.app_running);
	ck_assert_uint_eq(s.app_vector, 0x08000000);
	ck_assert_uint_eq(s.app_entry, 0x080001C5);
	ck_assert_uint_eq(s.pid, 0x5740);
}
END_TEST

START_TEST(test_app_written_through_the_protocol_starts_after_leave)
{
	uint8_t img[512];

	memset(img, 0xFF, sizeof(img));
	img[0] = 0x00, img[1] = 0x00, img[2] = 0x02, img[3] = 0x20; /* SP 0x20020000 */
	img[4] = 0x01, img[5] = 0x01, img[6] = 0x00, img[7] = 0x08; /* reset 0x08000101 */
	img[0x100] = 0x00, img[0x101] = 0xBF, img[0x102] = 0xFE, img[0x103] = 0xE7;
	OPEN("stm32f407", NULL);
	ck_assert_int_eq(erase_page(0x08000000), DNLOAD_IDLE);
	ck_assert_int_eq(write_at(0x08000000, img, sizeof(img)), DNLOAD_IDLE);
	ck_assert_int_eq(set_address(0x08000000), DNLOAD_IDLE);
	ck_assert_int_eq(leave(), SIM_OK);
	settle();
	ck_assert_int_eq(last_connect_mode(), SIM_MODE_RUNTIME);
	ck_assert_uint_eq(state_now().app_entry, 0x08000101);
}
END_TEST

START_TEST(test_leave_at_a_wrong_address_resets_into_the_rom)
{
	struct sim_state s;

	OPEN("stm32f405", NULL);
	load_app(0x08000000, 0x20020000, 0x080001C5);
	ck_assert_int_eq(set_address(0x08000004), DNLOAD_IDLE);
	ck_assert_int_eq(leave(), SIM_OK);
	ck_assert_uint_eq(st[4], MANIFEST);
	settle();
	ck_assert_int_eq(last_connect_mode(), SIM_MODE_DFU);
	s = state_now();
	ck_assert(!s.app_running);
	ck_assert_uint_eq(s.pid, 0xDF11);
	ck_assert_uint_eq(s.dfu_state, DFU_IDLE);
}
END_TEST

START_TEST(test_leave_with_an_erased_flash_resets_into_the_rom)
{
	OPEN("stm32f405", NULL);
	ck_assert_int_eq(leave(), SIM_OK);
	settle();
	ck_assert_int_eq(last_connect_mode(), SIM_MODE_DFU);
}
END_TEST

START_TEST(test_leave_without_set_address_jumps_to_the_last_write)
{
	static const uint8_t d[4] = { 1, 2, 3, 4 };

	OPEN("stm32f405", NULL);
	load_app(0x08000000, 0x20020000, 0x080001C5);
	ck_assert_int_eq(write_at(0x08010000, d, 4), DNLOAD_IDLE);
	ck_assert_int_eq(leave(), SIM_OK);
	settle();
	/* the pointer was the write at 0x08010000, which holds no vector table */
	ck_assert_int_eq(last_connect_mode(), SIM_MODE_DFU);
}
END_TEST

START_TEST(test_zero_length_dnload_in_upload_idle_stalls)
{
	OPEN("stm32f405", "start-in-state=upload-idle");
	ck_assert_int_eq(req_out(DNLOAD, 0, NULL, 0), SIM_STALL);
	ck_assert_uint_eq(getstate(), UPLOAD_IDLE);
}
END_TEST

START_TEST(test_leave_vanish_during_status_sends_the_data_then_vanishes)
{
	uint8_t b[6];
	size_t n = 0;

	OPEN("stm32g474", NULL);
	load_app(0x08000000, 0x20008000, 0x08000201);
	ck_assert_int_eq(set_address(0x08000000), DNLOAD_IDLE);
	ck_assert_int_eq(req_out(DNLOAD, 0, NULL, 0), SIM_OK);
	ck_assert_int_eq(req_in(GETSTATUS, 0, b, 6, &n), SIM_GONE_AFTER_DATA);
	ck_assert_uint_eq(n, 6);
	ck_assert_uint_eq(b[4], MANIFEST);
	settle();
	ck_assert_int_eq(last_connect_mode(), SIM_MODE_RUNTIME);
}
END_TEST

START_TEST(test_leave_vanish_before_status_vanishes_on_the_dnload)
{
	static const uint8_t code[4] = { 0x97, 0x01, 0x00, 0x00 };

	OPEN("gd32vf103", NULL);
	ck_assert_int_eq(sim_device_mem_write(dev, 0x08000000, code, 4), 0);
	ck_assert_int_eq(req_out(CLRSTATUS, 0, NULL, 0), SIM_OK);
	ck_assert_int_eq(req_out(DNLOAD, 2, NULL, 0), SIM_OK);
	ck_assert_int_eq(getstatus(), SIM_GONE);
	settle();
	ck_assert_int_eq(last_connect_mode(), SIM_MODE_RUNTIME);
	ck_assert_uint_eq(state_now().app_entry, 0x08000000);
}
END_TEST

START_TEST(test_leave_stay_comes_back_as_the_rom)
{
	OPEN("stm32h753", "leave=stay");
	load_app(0x08000000, 0x24080000, 0x08000299);
	ck_assert_int_eq(set_address(0x08000299), DNLOAD_IDLE);
	ck_assert_int_eq(req_out(DNLOAD, 2, NULL, 0), SIM_OK);
	ck_assert_int_eq(getstatus(), SIM_OK);
	ck_assert_uint_eq(st[4], MANIFEST);
	settle();
	ck_assert_int_eq(last_connect_mode(), SIM_MODE_DFU);
	ck_assert(!state_now().app_running);
}
END_TEST

START_TEST(test_leave_needs_set_address_fails_without_one)
{
	OPEN("stm32f405", "leave=needs-set-address");
	ck_assert_int_eq(leave(), SIM_OK);
	ck_assert_uint_eq(st[4], DFU_ERROR);
	ck_assert(state_now().connected);
}
END_TEST

START_TEST(test_leave_needs_set_address_works_after_one)
{
	OPEN("stm32f405", "leave=needs-set-address");
	load_app(0x08000000, 0x20020000, 0x080001C5);
	ck_assert_int_eq(set_address(0x08000000), DNLOAD_IDLE);
	ck_assert_int_eq(leave(), SIM_OK);
	ck_assert_uint_eq(st[4], MANIFEST);
	settle();
	ck_assert_int_eq(last_connect_mode(), SIM_MODE_RUNTIME);
}
END_TEST

START_TEST(test_h7_entry_point_jump_starts_the_app_at_its_reset_handler)
{
	uint8_t b[6];
	size_t n = 0;

	OPEN("stm32h743", NULL);
	load_app(0x08000000, 0x24080000, 0x08000299);
	ck_assert_int_eq(set_address(0x08000299), DNLOAD_IDLE);
	ck_assert_int_eq(req_out(DNLOAD, 2, NULL, 0), SIM_OK);
	ck_assert_int_eq(req_in(GETSTATUS, 0, b, 6, &n), SIM_GONE_AFTER_DATA);
	settle();
	ck_assert_int_eq(last_connect_mode(), SIM_MODE_RUNTIME);
	ck_assert_uint_eq(state_now().app_vector, 0x08000000);
	ck_assert_uint_eq(state_now().app_entry, 0x08000299);
}
END_TEST

START_TEST(test_h7_entry_point_jump_to_the_vector_table_comes_back_as_rom)
{
	uint8_t b[6];
	size_t n = 0;

	OPEN("stm32h743", NULL);
	load_app(0x08000000, 0x24080000, 0x08000299);
	ck_assert_int_eq(set_address(0x08000000), DNLOAD_IDLE);
	ck_assert_int_eq(req_out(DNLOAD, 2, NULL, 0), SIM_OK);
	ck_assert_int_eq(req_in(GETSTATUS, 0, b, 6, &n), SIM_GONE_AFTER_DATA);
	settle();
	ck_assert_int_eq(last_connect_mode(), SIM_MODE_DFU);
	ck_assert(!state_now().app_running);
}
END_TEST

START_TEST(test_vector_table_jump_to_a_reset_handler_address_comes_back_as_rom)
{
	OPEN("stm32f405", NULL);
	load_app(0x08000000, 0x20020000, 0x080001C5);
	ck_assert_int_eq(set_address(0x080001C5), DNLOAD_IDLE);
	ck_assert_int_eq(leave(), SIM_OK);
	settle();
	ck_assert_int_eq(last_connect_mode(), SIM_MODE_DFU);
}
END_TEST

START_TEST(test_system_reset_jump_boots_the_app_at_its_base)
{
	uint8_t b[6];
	size_t n = 0;

	OPEN("stm32-hal-iap", NULL);
	load_app(0x08008000, 0x20020000, 0x080081C5);
	ck_assert_int_eq(set_address(0x12345678 & 0), DFU_ERROR);
	ck_assert_int_eq(req_out(CLRSTATUS, 0, NULL, 0), SIM_OK);
	ck_assert_int_eq(req_out(DNLOAD, 0, NULL, 0), SIM_OK);
	ck_assert_int_eq(req_in(GETSTATUS, 0, b, 6, &n), SIM_GONE_AFTER_DATA);
	settle();
	ck_assert_int_eq(last_connect_mode(), SIM_MODE_RUNTIME);
	ck_assert_uint_eq(state_now().app_vector, 0x08008000);
}
END_TEST

START_TEST(test_app_gone_never_enumerates)
{
	OPEN("stm32f405", "app=gone");
	load_app(0x08000000, 0x20020000, 0x080001C5);
	ck_assert_int_eq(last_connect_mode(), SIM_MODE_DFU); /* power-on */
	ck_assert_int_eq(set_address(0x08000000), DNLOAD_IDLE);
	ck_assert_int_eq(leave(), SIM_OK);
	settle();
	ck_assert_int_eq(last_connect_mode(), -1);
	ck_assert(!state_now().connected);
	ck_assert(state_now().app_running);
}
END_TEST

START_TEST(test_st_app_detach_reenumerates_as_the_rom)
{
	OPEN("stm32f405", NULL);
	load_app(0x08000000, 0x20020000, 0x080001C5);
	ck_assert_int_eq(set_address(0x08000000), DNLOAD_IDLE);
	ck_assert_int_eq(leave(), SIM_OK);
	settle();
	ck_assert_int_eq(last_connect_mode(), SIM_MODE_RUNTIME);
	ck_assert_int_eq(req_out(DETACH, 1000, NULL, 0), SIM_OK);
	settle();
	ck_assert_int_eq(last_connect_mode(), SIM_MODE_DFU);
	ck_assert_uint_eq(state_now().pid, 0xDF11);
}
END_TEST

START_TEST(test_stale_generation_request_is_gone)
{
	struct sim_transfer t = {
		.setup = { .bmRequestType = 0xA1, .bRequest = GETSTATE, .wLength = 1 },
		.in_buf = st,
		.in_cap = 1,
		.generation = 1
	};

	OPEN("stm32f405", NULL);
	ck_assert_int_eq(sim_device_submit(dev, &t), SIM_OK);
	ck_assert_int_eq(sim_device_replug(dev), 0);
	ck_assert_int_eq(sim_device_submit(dev, &t), SIM_GONE);
	t.generation = 0;
	ck_assert_int_eq(sim_device_submit(dev, &t), SIM_OK);
}
END_TEST

START_TEST(test_boot0_low_replug_starts_a_valid_app)
{
	OPEN("stm32f405", "boot0=0");
	load_app(0x08000000, 0x20020000, 0x080001C5);
	ck_assert_int_eq(sim_device_replug(dev), 0);
	ck_assert_int_eq(state_now().mode, SIM_MODE_RUNTIME);
}
END_TEST

/* ---- generic DFU 1.1
 * ------------------------------------------------------------------------------ */

START_TEST(test_generic_starts_as_a_runtime_interface)
{
	uint8_t c[64];
	size_t n = 0;

	OPEN("generic", NULL);
	ck_assert_int_eq(state_now().mode, SIM_MODE_RUNTIME);
	ck_assert_uint_eq(state_now().pid, 0x4001);
	ck_assert_int_eq(get_descriptor(0x0200, 0, c, sizeof(c), &n), SIM_OK);
	ck_assert_uint_eq(n, 27);
	ck_assert_uint_eq(c[9 + 7], 0x01);
	ck_assert_int_eq(getstatus(), SIM_OK);
	ck_assert_uint_eq(st[4], APP_IDLE);
}
END_TEST

START_TEST(test_generic_detach_with_will_detach_reenumerates_with_the_dfu_pid)
{
	OPEN("generic", NULL);
	ck_assert_int_eq(req_out(DETACH, 1000, NULL, 0), SIM_OK);
	ck_assert(!state_now().connected);
	settle();
	ck_assert_int_eq(last_connect_mode(), SIM_MODE_DFU);
	ck_assert_uint_eq(state_now().pid, 0x4000);
	ck_assert_uint_eq(getstate(), DFU_IDLE);
}
END_TEST

START_TEST(test_generic_detach_without_will_detach_waits_for_a_usb_reset)
{
	OPEN("generic-intolerant", NULL);
	ck_assert_int_eq(req_out(DETACH, 500, NULL, 0), SIM_OK);
	ck_assert_uint_eq(getstate(), APP_DETACH);
	vnow += 100000;
	ck_assert_int_eq(sim_device_usb_reset(dev), 1);
	ck_assert_int_eq(state_now().mode, SIM_MODE_DFU);
	ck_assert_uint_eq(state_now().pid, 0x4000);
}
END_TEST

START_TEST(test_generic_detach_times_out_back_to_app_idle)
{
	OPEN("generic-intolerant", NULL);
	ck_assert_int_eq(req_out(DETACH, 500, NULL, 0), SIM_OK);
	vnow += 500000;
	ck_assert_uint_eq(getstate(), APP_IDLE);
	ck_assert_int_eq(sim_device_usb_reset(dev), 0);
}
END_TEST

static void generic_to_dfu(void)
{
	ck_assert_int_eq(req_out(DETACH, 1000, NULL, 0), SIM_OK);
	if (!state_now().connected)
		settle();
	else
		ck_assert_int_eq(sim_device_usb_reset(dev), 1);
	ck_assert_int_eq(state_now().mode, SIM_MODE_DFU);
}

/* Download @len bytes in 64-byte blocks from wBlockNum 0; returns the last bState. */
static int generic_download(const uint8_t *img, size_t len)
{
	uint16_t block = 0;

	for (size_t off = 0; off < len; off += 64, block++) {
		ck_assert_int_eq(
		    req_out(DNLOAD, block, img + off, (uint16_t)(len - off < 64 ? len - off : 64)),
		    SIM_OK);
		ck_assert_int_eq(getstatus(), SIM_OK);
		ck_assert_uint_eq(st[4], DNBUSY);
		vnow += poll_ms() * 1000u;
		ck_assert_int_eq(getstatus(), SIM_OK);
		ck_assert_uint_eq(st[4], DNLOAD_IDLE);
	}
	ck_assert_int_eq(req_out(DNLOAD, block, NULL, 0), SIM_OK);
	ck_assert_int_eq(getstatus(), SIM_OK);
	return st[4];
}

START_TEST(test_generic_tolerant_download_manifests_back_to_idle)
{
	static uint8_t img[200];

	memset(img, 0xA5, sizeof(img));
	OPEN("generic", NULL);
	generic_to_dfu();
	ck_assert_int_eq(generic_download(img, sizeof(img)), MANIFEST);
	vnow += poll_ms() * 1000u;
	ck_assert_int_eq(getstatus(), SIM_OK);
	ck_assert_uint_eq(st[4], DFU_IDLE);
	ck_assert_uint_eq(mem8(199), 0xA5);
	ck_assert_uint_eq(mem8(200), 0xFF);
	ck_assert_int_eq(sim_device_usb_reset(dev), 1);
	ck_assert_int_eq(state_now().mode, SIM_MODE_RUNTIME);
}
END_TEST

START_TEST(test_generic_intolerant_download_waits_for_reset_after_manifest)
{
	static uint8_t img[64];

	OPEN("generic-intolerant", NULL);
	generic_to_dfu();
	ck_assert_int_eq(generic_download(img, sizeof(img)), MANIFEST);
	vnow += poll_ms() * 1000u;
	ck_assert_int_eq(getstatus(), SIM_OK);
	ck_assert_uint_eq(st[4], MANIFEST_WAIT_RESET);
	ck_assert_int_eq(sim_device_usb_reset(dev), 1);
	ck_assert_int_eq(state_now().mode, SIM_MODE_RUNTIME);
	ck_assert_uint_eq(state_now().pid, 0x4001);
}
END_TEST

START_TEST(test_generic_zero_length_dnload_in_idle_stalls_into_error)
{
	OPEN("generic", NULL);
	generic_to_dfu();
	ck_assert_int_eq(req_out(DNLOAD, 0, NULL, 0), SIM_STALL);
	ck_assert_uint_eq(getstate(), DFU_ERROR);
}
END_TEST

START_TEST(test_generic_upload_ends_with_a_short_frame)
{
	static uint8_t img[100];
	uint8_t b[64];
	size_t n = 0;

	memset(img, 0x3C, sizeof(img));
	OPEN("generic", NULL);
	generic_to_dfu();
	ck_assert_int_eq(generic_download(img, sizeof(img)), MANIFEST);
	vnow += poll_ms() * 1000u;
	ck_assert_int_eq(getstatus(), SIM_OK);
	ck_assert_int_eq(req_in(UPLOAD, 0, b, 64, &n), SIM_OK);
	ck_assert_uint_eq(n, 64);
	ck_assert_uint_eq(getstate(), UPLOAD_IDLE);
	ck_assert_int_eq(req_in(UPLOAD, 1, b, 64, &n), SIM_OK);
	ck_assert_uint_eq(n, 36);
	ck_assert_uint_eq(b[35], 0x3C);
	ck_assert_uint_eq(getstate(), DFU_IDLE);
}
END_TEST

START_TEST(test_generic_poll_before_the_announced_time_stalls_into_error)
{
	static uint8_t img[64];

	OPEN("generic", NULL);
	generic_to_dfu();
	ck_assert_int_eq(req_out(DNLOAD, 0, img, 64), SIM_OK);
	ck_assert_int_eq(getstatus(), SIM_OK);
	ck_assert_uint_eq(st[4], DNBUSY);
	ck_assert_uint_gt(poll_ms(), 0);
	ck_assert_int_eq(getstatus(), SIM_STALL);
	ck_assert_uint_eq(getstate(), DFU_ERROR);
}
END_TEST

START_TEST(test_generic_clrstatus_in_idle_stalls_into_error)
{
	OPEN("generic", NULL);
	generic_to_dfu();
	ck_assert_int_eq(req_out(CLRSTATUS, 0, NULL, 0), SIM_STALL);
	ck_assert_uint_eq(getstate(), DFU_ERROR);
	ck_assert_int_eq(req_out(CLRSTATUS, 0, NULL, 0), SIM_OK);
	ck_assert_uint_eq(getstate(), DFU_IDLE);
}
END_TEST

START_TEST(test_generic_usb_reset_without_firmware_gives_err_firmware)
{
	static uint8_t img[64];

	OPEN("generic-intolerant", NULL);
	generic_to_dfu();
	/* an interrupted download invalidates the application */
	ck_assert_int_eq(req_out(DNLOAD, 0, img, 64), SIM_OK);
	ck_assert_int_eq(sim_device_usb_reset(dev), 0);
	ck_assert_int_eq(getstatus(), SIM_OK);
	ck_assert_uint_eq(st[4], DFU_ERROR);
	ck_assert_uint_eq(st[0], ERR_FIRMWARE);
}
END_TEST

START_TEST(test_manifest_tolerant_setting_changes_the_attributes)
{
	uint8_t f[9];
	size_t n = 0;
	struct sim_setup s = {
		.bmRequestType = 0x81, .bRequest = 6, .wValue = 0x2100, .wLength = 9
	};

	OPEN("generic", "manifest-tolerant=0,will-detach=0");
	ck_assert_int_eq(sim_device_control(dev, &s, NULL, f, sizeof(f), &n), SIM_OK);
	ck_assert_uint_eq(f[2], 0x03);
}
END_TEST

/* ---- STM32duino (Maple) bootloader
 * ------------------------------------------------------------------------------ */

static void maple_alt(uint16_t alt)
{
	struct sim_setup s = { .bmRequestType = 0x01, .bRequest = 11, .wValue = alt };

	ck_assert_int_eq(sim_device_control(dev, &s, NULL, NULL, 0, NULL), SIM_OK);
}

/* One 1 KiB block: written inside the GET_STATUS, no dfuDNBUSY, bwPollTimeout 0. */
static void maple_block(uint16_t block, const uint8_t *data, uint16_t len)
{
	ck_assert_int_eq(req_out(DNLOAD, block, data, len), SIM_OK);
	ck_assert_int_eq(getstatus(), SIM_OK);
	ck_assert_uint_eq(st[4], DNLOAD_IDLE);
	ck_assert_uint_eq(poll_ms(), 0);
}

START_TEST(test_maple_alt2_writes_0x08002000_and_a_reset_starts_the_sketch)
{
	static uint8_t img[1500];

	memset(img, 0x5A, sizeof(img));
	/* SP in SRAM, reset handler in the sketch */
	memcpy(img, "\x00\x50\x00\x20\x01\x21\x00\x08", 8);
	OPEN("maple", NULL);
	ck_assert_int_eq(state_now().mode, SIM_MODE_DFU);
	maple_alt(2);
	maple_block(0, img, 1024);
	maple_block(1, img + 1024, sizeof(img) - 1024);
	ck_assert_int_eq(req_out(DNLOAD, 2, NULL, 0), SIM_OK);
	ck_assert_int_eq(getstatus(), SIM_OK);
	ck_assert_uint_eq(st[4], MANIFEST_WAIT_RESET);
	ck_assert_uint_eq(mem8(0x08002000 + 8), 0x5A);
	ck_assert_uint_eq(mem8(0x08002000 + 1499), 0x5A);
	ck_assert_uint_eq(mem8(0x08002000 + 1500), 0xFF);
	ck_assert_uint_eq(mem8(0x08001FFF), 0xFF);
	ck_assert_int_eq(sim_device_usb_reset(dev), 1);
	settle();
	/* the sketch has no DFU interface */
	ck_assert_int_eq(state_now().mode, SIM_MODE_ABSENT);
}
END_TEST

START_TEST(test_maple_alt0_refuses_with_err_write)
{
	static uint8_t img[64];
	uint8_t b[64];
	size_t n = 0;

	OPEN("maple", NULL);
	ck_assert_int_eq(req_out(DNLOAD, 0, img, sizeof(img)), SIM_STALL);
	ck_assert_int_eq(getstatus(), SIM_OK);
	ck_assert_uint_eq(st[4], DFU_ERROR);
	ck_assert_uint_eq(st[0], 0x03); /* errWRITE */
	ck_assert_int_eq(req_out(CLRSTATUS, 0, NULL, 0), SIM_OK);
	ck_assert_int_eq(req_in(UPLOAD, 0, b, sizeof(b), &n), SIM_STALL);
	ck_assert_uint_eq(getstate(), DFU_ERROR);
}
END_TEST

START_TEST(test_maple_usb_reset_in_idle_is_ignored)
{
	OPEN("maple", NULL);
	load_app(0x08002000, 0x20005000, 0x08002101);
	ck_assert_int_eq(sim_device_usb_reset(dev), 0);
	ck_assert_int_eq(state_now().mode, SIM_MODE_DFU);
	ck_assert_uint_eq(getstate(), DFU_IDLE);
}
END_TEST

START_TEST(test_maple_alt1_erases_the_0x08002000_page_and_boots_0x08005000)
{
	static uint8_t img[1024];

	memcpy(img, "\x00\x50\x00\x20\x01\x51\x00\x08", 8);
	OPEN("maple", NULL);
	load_app(0x08002000, 0x20005000, 0x08002101);
	maple_alt(1);
	maple_block(0, img, sizeof(img));
	ck_assert_uint_eq(mem8(0x08002000), 0xFF);
	ck_assert_uint_eq(mem8(0x08005002), 0x00);
	ck_assert_int_eq(req_out(DNLOAD, 1, NULL, 0), SIM_OK);
	ck_assert_int_eq(getstatus(), SIM_OK);
	ck_assert_int_eq(sim_device_usb_reset(dev), 1);
	settle();
	ck_assert_int_eq(state_now().mode, SIM_MODE_ABSENT);
}
END_TEST

START_TEST(test_maple_upload_reads_to_the_end_of_flash)
{
	uint8_t b[1024];
	size_t n = 0, total = 0;
	uint16_t block = 0;

	OPEN("maple", NULL);
	maple_alt(2);
	do {
		ck_assert_int_eq(req_in(UPLOAD, block++, b, sizeof(b), &n), SIM_OK);
		total += n;
	} while (n == sizeof(b) && block < 100);
	/* 64 KiB of flash less the 8 KiB bootloader, as whole blocks, then an empty one */
	ck_assert_uint_eq(total, 0x10000 - 0x2000);
	ck_assert_uint_eq(n, 0);
	ck_assert_uint_eq(getstate(), DFU_IDLE);
}
END_TEST

/* ---- faults
 * ------------------------------------------------------------------------------------------ */

START_TEST(test_stall_on_stalls_the_nth_class_request_only)
{
	OPEN("stm32f405", "stall-on=2");
	ck_assert_int_eq(getstatus(), SIM_OK);
	ck_assert_int_eq(getstatus(), SIM_STALL);
	ck_assert_int_eq(getstatus(), SIM_OK);
}
END_TEST

START_TEST(test_stall_on_request_stalls_its_kth_occurrence)
{
	static const uint8_t c[5] = { 0x21, 0, 0, 0, 0x08 };

	OPEN("stm32f405", "stall-on-request=GETSTATUS:2");
	ck_assert_int_eq(req_out(DNLOAD, 0, c, 5), SIM_OK);
	ck_assert_int_eq(getstatus(), SIM_OK);
	ck_assert_uint_eq(st[4], DNBUSY);
	settle();
	ck_assert_int_eq(getstatus(), SIM_STALL);
	ck_assert_int_eq(getstatus(), SIM_OK);
	ck_assert_uint_eq(st[4], DNLOAD_IDLE);
}
END_TEST

START_TEST(test_timeout_on_never_answers_and_processes_nothing)
{
	static const uint8_t c[5] = { 0x21, 0, 0, 0, 0x08 };

	OPEN("stm32f405", "timeout-on=1");
	ck_assert_int_eq(req_out(DNLOAD, 0, c, 5), SIM_TIMEOUT);
	ck_assert_uint_eq(getstate(), DFU_IDLE);
}
END_TEST

START_TEST(test_timeout_on_request_picks_the_request)
{
	OPEN("stm32f405", "timeout-on-request=abort");
	ck_assert_int_eq(getstatus(), SIM_OK);
	ck_assert_int_eq(req_out(ABORT, 0, NULL, 0), SIM_TIMEOUT);
	ck_assert_int_eq(req_out(ABORT, 0, NULL, 0), SIM_OK);
}
END_TEST

START_TEST(test_disconnect_at_byte_leaves_the_earlier_blocks_in_flash)
{
	static uint8_t d[2048];
	struct sim_event ev;
	int disconnects = 0;

	memset(d, 0x00, sizeof(d));
	OPEN("stm32f405", "disconnect-at-byte=3000");
	ck_assert_int_eq(erase_page(0x08000000), DNLOAD_IDLE);
	ck_assert_int_eq(write_at(0x08000000, d, 2048), DNLOAD_IDLE);
	ck_assert_int_eq(set_address(0x08000800), DNLOAD_IDLE);
	ck_assert_int_eq(req_out(DNLOAD, 2, d, 2048), SIM_GONE);
	ck_assert_uint_eq(mem8(0x080007FF), 0x00);
	ck_assert_uint_eq(mem8(0x08000800), 0xFF);
	settle();
	ck_assert(!state_now().connected);
	while (sim_device_next_event(dev, &ev) == 1)
		disconnects += ev.type == SIM_EVENT_DISCONNECT;
	ck_assert_int_eq(disconnects, 1);
	ck_assert_int_eq(sim_device_replug(dev), 0);
	ck_assert_uint_eq(getstate(), DFU_IDLE);
}
END_TEST

START_TEST(test_generic_disconnect_mid_download_comes_back_without_firmware)
{
	static uint8_t img[64];

	OPEN("generic", "disconnect-at-byte=100");
	generic_to_dfu();
	ck_assert_int_eq(req_out(DNLOAD, 0, img, 64), SIM_OK);
	ck_assert_int_eq(getstatus(), SIM_OK);
	vnow += poll_ms() * 1000u;
	ck_assert_int_eq(getstatus(), SIM_OK);
	ck_assert_int_eq(req_out(DNLOAD, 1, img, 64), SIM_GONE);
	ck_assert_int_eq(sim_device_replug(dev), 0);
	ck_assert_int_eq(state_now().mode, SIM_MODE_DFU);
	ck_assert_int_eq(getstatus(), SIM_OK);
	ck_assert_uint_eq(st[4], DFU_ERROR);
	ck_assert_uint_eq(st[0], ERR_FIRMWARE);
}
END_TEST

START_TEST(test_disconnect_on_erase_answers_dnbusy_then_vanishes_with_the_sector_erased)
{
	uint8_t c[5] = { 0x41, 0x00, 0x40, 0x00, 0x08 };
	uint8_t old = 0x5A;

	OPEN("stm32f405", "disconnect-on-erase=2");
	ck_assert_int_eq(sim_device_mem_write(dev, 0x08004000, &old, 1), 0);
	ck_assert_int_eq(erase_page(0x08000000), DNLOAD_IDLE);
	ck_assert_int_eq(req_out(DNLOAD, 0, c, 5), SIM_OK);
	ck_assert_int_eq(getstatus(), SIM_OK);
	ck_assert_uint_eq(st[4], DNBUSY);
	ck_assert(!state_now().connected);
	ck_assert_int_eq(getstatus(), SIM_GONE);
	ck_assert_uint_eq(mem8(0x08004000), 0xFF);
	/* no replug= given: it stays away */
	vnow += 60000000;
	ck_assert(!state_now().connected);
}
END_TEST

START_TEST(test_disconnect_on_upload_vanishes_on_the_kth_data_upload)
{
	uint8_t buf[256];
	size_t got = 0;

	OPEN("stm32f405", "disconnect-on-upload=2");
	ck_assert_int_eq(read_at(0x08000000, buf, 256, &got), SIM_OK);
	ck_assert_uint_eq(got, 256);
	ck_assert_int_eq(req_in(UPLOAD, 3, buf, 256, &got), SIM_GONE);
	ck_assert(!state_now().connected);
}
END_TEST

START_TEST(test_generic_disconnect_on_manifest_comes_back_without_firmware)
{
	static uint8_t img[64];

	OPEN("generic", "disconnect-on-manifest,replug=200");
	generic_to_dfu();
	ck_assert_int_eq(req_out(DNLOAD, 0, img, 64), SIM_OK);
	ck_assert_int_eq(getstatus(), SIM_OK);
	vnow += poll_ms() * 1000u;
	ck_assert_int_eq(getstatus(), SIM_OK);
	ck_assert_uint_eq(st[4], DNLOAD_IDLE);
	ck_assert_int_eq(req_out(DNLOAD, 1, NULL, 0), SIM_OK);
	ck_assert_int_eq(getstatus(), SIM_OK);
	ck_assert_uint_eq(st[4], MANIFEST);
	ck_assert(!state_now().connected);
	vnow += 200000;
	ck_assert(state_now().connected);
	ck_assert_int_eq(state_now().mode, SIM_MODE_DFU);
	ck_assert_int_eq(getstatus(), SIM_OK);
	ck_assert_uint_eq(st[4], DFU_ERROR);
	ck_assert_uint_eq(st[0], ERR_FIRMWARE);
}
END_TEST

START_TEST(test_replug_comes_back_later_at_a_new_generation_with_a_fresh_rom)
{
	static uint8_t d[2048];
	uint64_t gen;
	char serial[64];

	OPEN("stm32f405", "disconnect-at-byte=10,replug-serial=OTHERBOARD1");
	gen = state_now().generation;
	ck_assert_int_eq(erase_page(0x08000000), DNLOAD_IDLE);
	ck_assert_int_eq(set_address(0x08000000), DNLOAD_IDLE);
	ck_assert_int_eq(req_out(DNLOAD, 2, d, 2048), SIM_GONE);
	vnow += 999000;
	ck_assert(!state_now().connected);
	vnow += 1000;
	ck_assert(state_now().connected);
	ck_assert_uint_gt(state_now().generation, gen);
	ck_assert_uint_eq(getstate(), DFU_IDLE);
	get_string(3, serial, sizeof(serial));
	ck_assert_str_eq(serial, "OTHERBOARD1");
}
END_TEST

START_TEST(test_short_status_cuts_the_reply_but_the_request_takes_effect)
{
	uint8_t c[5] = { 0x41, 0x00, 0x00, 0x00, 0x08 };
	uint8_t b[6], old = 0x5A;
	size_t n = 99;

	OPEN("stm32f405", "short-status=0:1");
	ck_assert_int_eq(sim_device_mem_write(dev, 0x08000000, &old, 1), 0);
	ck_assert_int_eq(req_out(DNLOAD, 0, c, 5), SIM_OK);
	ck_assert_int_eq(req_in(GETSTATUS, 0, b, 6, &n), SIM_OK);
	ck_assert_uint_eq(n, 0);
	ck_assert_uint_eq(mem8(0x08000000), 0xFF);
	settle();
	ck_assert_int_eq(getstatus(), SIM_OK);
	ck_assert_uint_eq(st[4], DNLOAD_IDLE);
}
END_TEST

START_TEST(test_short_status_every_reply)
{
	uint8_t b[6];
	size_t n = 99;

	OPEN("stm32f405", "short-status=3");
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(req_in(GETSTATUS, 0, b, 6, &n), SIM_OK);
		ck_assert_uint_eq(n, 3);
	}
}
END_TEST

START_TEST(test_bad_state_reports_an_undefined_state_once)
{
	OPEN("stm32f405", "bad-state=200:2");
	ck_assert_int_eq(getstatus(), SIM_OK);
	ck_assert_uint_eq(st[4], DFU_IDLE);
	ck_assert_int_eq(getstatus(), SIM_OK);
	ck_assert_uint_eq(st[4], 200);
	ck_assert_int_eq(getstatus(), SIM_OK);
	ck_assert_uint_eq(st[4], DFU_IDLE);
	ck_assert_uint_eq(getstate(), DFU_IDLE);
}
END_TEST

START_TEST(test_slow_holds_every_request)
{
	uint8_t dd[18];
	struct sim_transfer t = {
		.setup = { .bmRequestType = 0xA1, .bRequest = GETSTATUS, .wLength = 6 },
		.in_buf = st,
		.in_cap = 6,
	};
	struct sim_transfer std = {
		.setup = { .bmRequestType = 0x80, .bRequest = 6, .wValue = 0x0100, .wLength = 18 },
		.in_buf = dd,
		.in_cap = 18,
	};

	OPEN("stm32f405", "slow=4900");
	ck_assert_int_eq(sim_device_submit(dev, &t), SIM_OK);
	ck_assert_uint_eq(t.delay_us, 4900000);
	ck_assert_int_eq(sim_device_submit(dev, &std), SIM_OK);
	ck_assert_uint_eq(std.delay_us, 4900000);
}
END_TEST

START_TEST(test_hostile_fault_values_are_checked)
{
	const char *bad[] = { "short-status=6",
			      "bad-state=10",
			      "bad-state=256",
			      "poll-timeout=0x1000000",
			      "replug-serial=a b",
			      "disconnect-on-erase=0",
			      "disconnect-on-manifest=1",
			      "slow=x" };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_int_eq(sim_faults_check(bad[i], errbuf, sizeof(errbuf)), -EINVAL);
}
END_TEST

START_TEST(test_events_carry_generation_reason_and_time)
{
	struct sim_event ev;

	OPEN("stm32f405", "reenum-delay-ms=5");
	ck_assert_int_eq(sim_device_next_event(dev, &ev), 1);
	ck_assert_int_eq(ev.type, SIM_EVENT_CONNECT);
	ck_assert_uint_eq(ev.generation, 1);
	ck_assert_int_eq(leave(), SIM_OK);
	ck_assert_int_eq(sim_device_next_event(dev, &ev), 1);
	ck_assert_int_eq(ev.type, SIM_EVENT_DISCONNECT);
	ck_assert_str_eq(ev.reason, "leave");
	ck_assert_uint_eq(ev.at_us, vnow);
	ck_assert_int_eq(sim_device_next_event(dev, &ev), 0);
	ck_assert_uint_eq(sim_device_next_deadline(dev), vnow + 5000);
	vnow += 5000;
	ck_assert_int_eq(sim_device_next_event(dev, &ev), 1);
	ck_assert_int_eq(ev.type, SIM_EVENT_CONNECT);
	ck_assert_uint_eq(ev.generation, 2);
	ck_assert_uint_eq(ev.at_us, vnow);
}
END_TEST

START_TEST(test_busy_longer_stretches_the_real_duration)
{
	static const uint8_t c[5] = { 0x41, 0x00, 0x00, 0x00, 0x08 };

	OPEN("stm32f405", "busy=repeat,busy-longer=4");
	ck_assert_int_eq(req_out(DNLOAD, 0, c, 5), SIM_OK);
	ck_assert_int_eq(getstatus(), SIM_OK);
	ck_assert_uint_eq(poll_ms(), 100);
	vnow += 999999;
	ck_assert_int_eq(getstatus(), SIM_OK);
	ck_assert_uint_eq(st[4], DNBUSY);
	vnow += 1;
	ck_assert_int_eq(getstatus(), SIM_OK);
	ck_assert_uint_eq(st[4], DNLOAD_IDLE);
}
END_TEST

START_TEST(test_zero_poll_timeout_announces_zero)
{
	static const uint8_t c[5] = { 0x41, 0x00, 0x00, 0x00, 0x08 };

	OPEN("stm32f405", "zero-poll-timeout");
	ck_assert_int_eq(req_out(DNLOAD, 0, c, 5), SIM_OK);
	ck_assert_int_eq(getstatus(), SIM_OK);
	ck_assert_uint_eq(st[4], DNBUSY);
	ck_assert_uint_eq(poll_ms(), 0);
}
END_TEST

START_TEST(test_stuck_dnbusy_needs_the_clrstatus_pair)
{
	static const uint8_t c[5] = { 0x41, 0x00, 0x00, 0x10, 0x08 }; /* bank 2 */

	OPEN("stm32h743", "stuck-dnbusy=0x08100000");
	ck_assert_int_eq(erase_page(0x08000000), DNLOAD_IDLE); /* bank 1 is fine */
	ck_assert_int_eq(req_out(DNLOAD, 0, c, 5), SIM_OK);
	ck_assert_int_eq(getstatus(), SIM_OK);
	vnow += 60000000;
	ck_assert_int_eq(getstatus(), SIM_OK);
	ck_assert_uint_eq(st[4], DNBUSY);
	ck_assert_uint_eq(poll_ms(), 100);
	ck_assert_int_eq(req_out(CLRSTATUS, 0, NULL, 0), SIM_OK);
	ck_assert_int_eq(getstatus(), SIM_OK);
	ck_assert_uint_eq(st[4], DFU_ERROR);
	ck_assert_uint_eq(st[0], ERR_UNKNOWN);
	ck_assert_int_eq(req_out(CLRSTATUS, 0, NULL, 0), SIM_OK);
	ck_assert_int_eq(getstatus(), SIM_OK);
	ck_assert_uint_eq(st[4], DFU_IDLE);
}
END_TEST

START_TEST(test_faulty_page_fails_the_erase_and_keeps_the_data)
{
	static const uint8_t z[1] = { 0 };

	OPEN("stm32f405", "faulty-page=0x08020000");
	ck_assert_int_eq(sim_device_mem_write(dev, 0x08020010, z, 1), 0);
	ck_assert_int_eq(erase_page(0x08020000), DFU_ERROR);
	ck_assert_uint_eq(st[0], ERR_VENDOR);
	ck_assert_uint_eq(mem8(0x08020010), 0x00);
}
END_TEST

START_TEST(test_faulty_page_status_can_be_chosen)
{
	OPEN("stm32f405", "faulty-page=0x08020000:4");
	ck_assert_int_eq(erase_page(0x08020000), DFU_ERROR);
	ck_assert_uint_eq(st[0], ERR_ERASE);
}
END_TEST

START_TEST(test_status_on_request_fails_the_dnload_operation)
{
	static const uint8_t data[16] = { 1, 2, 3, 4 };

	/* DNLOAD 1: erase, 2: Set Address, 3: the write; it fails with errWRITE and
	 * writes nothing */
	OPEN("stm32f405", "status-on-request=DNLOAD:3=3");
	ck_assert_int_eq(erase_page(0x08000000), DNLOAD_IDLE);
	ck_assert_int_eq(set_address(0x08000000), DNLOAD_IDLE);
	ck_assert_int_eq(dfuse(2, data, sizeof(data)), DFU_ERROR);
	ck_assert_uint_eq(st[0], 3);
	ck_assert_uint_eq(mem8(0x08000000), 0xFF);
	/* cleared, the same write works: the fault hits one request only */
	ck_assert_int_eq(req_out(CLRSTATUS, 0, NULL, 0), SIM_OK);
	ck_assert_int_eq(write_at(0x08000000, data, sizeof(data)), DNLOAD_IDLE);
	ck_assert_uint_eq(mem8(0x08000000), 1);
}
END_TEST

START_TEST(test_status_on_request_fails_an_erase_without_erasing)
{
	static const uint8_t data[4] = { 0x11, 0x22, 0x33, 0x44 };

	OPEN("stm32f405", "status-on-request=DNLOAD:1=5");
	ck_assert_int_eq(sim_device_mem_write(dev, 0x08004000, data, sizeof(data)), 0);
	ck_assert_int_eq(erase_page(0x08004000), DFU_ERROR);
	ck_assert_uint_eq(st[0], 5);
	ck_assert_uint_eq(mem8(0x08004000), 0x11);
}
END_TEST

START_TEST(test_status_on_request_fails_the_leave)
{
	/* errNOTDONE at the leave: the device stays, in dfuERROR */
	OPEN("stm32f405", "status-on-request=DNLOAD:1=9");
	load_app(0x08000000, 0x20001000, 0x08000101);
	ck_assert_int_eq(leave(), SIM_OK);
	ck_assert_uint_eq(st[4], DFU_ERROR);
	ck_assert_uint_eq(st[0], 9);
	ck_assert(state_now().connected);
	ck_assert(!state_now().app_running);
}
END_TEST

START_TEST(test_status_on_request_stalls_other_requests_into_error)
{
	uint8_t buf[64];
	size_t got = 0;

	OPEN("stm32f405", "status-on-request=UPLOAD:1=7,status-on-request=GETSTATUS:1=13");
	/* the last token of a kind wins: GETSTATUS:1=13 */
	ck_assert_int_eq(getstatus(), SIM_STALL);
	ck_assert_int_eq(getstatus(), SIM_OK);
	ck_assert_uint_eq(st[4], DFU_ERROR);
	ck_assert_uint_eq(st[0], 13);
	ck_assert_int_eq(req_out(CLRSTATUS, 0, NULL, 0), SIM_OK);
	ck_assert_int_eq(read_at(0x08000000, buf, sizeof(buf), &got), SIM_OK);
	ck_assert_uint_eq(got, sizeof(buf));
}
END_TEST

START_TEST(test_status_on_request_fails_a_generic_block_and_the_manifestation)
{
	static uint8_t img[64];

	memset(img, 0x5A, sizeof(img));
	/* DNLOAD counts from the first one in DFU mode: 1 = block 0, 2 = block 1 */
	OPEN("generic", "status-on-request=DNLOAD:2=6");
	generic_to_dfu();
	ck_assert_int_eq(req_out(DNLOAD, 0, img, sizeof(img)), SIM_OK);
	ck_assert_int_eq(getstatus(), SIM_OK);
	vnow += poll_ms() * 1000u;
	ck_assert_int_eq(getstatus(), SIM_OK);
	ck_assert_uint_eq(st[4], DNLOAD_IDLE);
	ck_assert_int_eq(req_out(DNLOAD, 1, img, sizeof(img)), SIM_OK);
	ck_assert_int_eq(getstatus(), SIM_OK);
	ck_assert_uint_eq(st[4], DNBUSY);
	vnow += poll_ms() * 1000u;
	ck_assert_int_eq(getstatus(), SIM_OK);
	ck_assert_uint_eq(st[4], DFU_ERROR);
	ck_assert_uint_eq(st[0], ERR_PROG);
	ck_assert_uint_eq(mem8(64), 0xFF);

	OPEN("generic", "status-on-request=DNLOAD:2=9");
	generic_to_dfu();
	ck_assert_int_eq(req_out(DNLOAD, 0, img, sizeof(img)), SIM_OK);
	ck_assert_int_eq(getstatus(), SIM_OK);
	vnow += poll_ms() * 1000u;
	ck_assert_int_eq(getstatus(), SIM_OK);
	ck_assert_int_eq(req_out(DNLOAD, 1, NULL, 0), SIM_OK);
	ck_assert_int_eq(getstatus(), SIM_OK);
	ck_assert_uint_eq(st[4], DFU_ERROR);
	ck_assert_uint_eq(st[0], 9);
}
END_TEST

START_TEST(test_status_on_request_bad_values_are_refused)
{
	ck_assert_int_eq(sim_faults_check("status-on-request=DNLOAD:3=0", errbuf, sizeof(errbuf)),
			 -EINVAL);
	ck_assert_int_eq(sim_faults_check("status-on-request=DNLOAD:3=16", errbuf, sizeof(errbuf)),
			 -EINVAL);
	ck_assert_int_eq(sim_faults_check("status-on-request=DNLOAD:3", errbuf, sizeof(errbuf)),
			 -EINVAL);
	ck_assert_int_eq(sim_faults_check("status-on-request=FROB=3", errbuf, sizeof(errbuf)),
			 -EINVAL);
	ck_assert_int_eq(sim_faults_check("status-on-request==3", errbuf, sizeof(errbuf)), -EINVAL);
	ck_assert_int_eq(sim_faults_check("status-on-request=upload=7", errbuf, sizeof(errbuf)), 0);
}
END_TEST

START_TEST(test_faulty_page_outside_memory_is_refused)
{
	ck_assert_int_eq(open_dev("stm32f405", "faulty-page=0x40000000"), -EINVAL);
	ck_assert_ptr_nonnull(strstr(errbuf, "0x40000000"));
}
END_TEST

START_TEST(test_start_in_error_10_is_the_initial_state)
{
	OPEN("stm32f405", "start-in-error=10");
	ck_assert_int_eq(getstatus(), SIM_OK);
	ck_assert_uint_eq(st[4], DFU_ERROR);
	ck_assert_uint_eq(st[0], ERR_FIRMWARE);
}
END_TEST

START_TEST(test_gd32_starts_in_err_firmware)
{
	OPEN("gd32vf103", NULL);
	ck_assert_int_eq(getstatus(), SIM_OK);
	ck_assert_uint_eq(st[4], DFU_ERROR);
	ck_assert_uint_eq(st[0], ERR_FIRMWARE);
}
END_TEST

START_TEST(test_start_in_state_dnload_idle_is_left_over)
{
	OPEN("stm32f405", "start-in-state=dnload-idle");
	ck_assert_uint_eq(getstate(), DNLOAD_IDLE);
}
END_TEST

START_TEST(test_start_in_state_dnbusy_finishes_later)
{
	OPEN("stm32f405", "start-in-state=dnbusy,busy=repeat");
	ck_assert_uint_eq(getstate(), DNBUSY);
	settle();
	ck_assert_int_eq(getstatus(), SIM_OK);
	ck_assert_uint_eq(st[4], DNLOAD_IDLE);
}
END_TEST

START_TEST(test_fail_every_second_run_alternates)
{
	OPEN("stm32f405", "fail-every-second-run");
	sim_device_session_begin(dev);
	ck_assert_int_eq(set_address(0x08000000), DNLOAD_IDLE);
	sim_device_session_begin(dev);
	ck_assert_int_eq(req_out(ABORT, 0, NULL, 0), SIM_OK);
	ck_assert_int_eq(set_address(0x08000000), DFU_ERROR);
	ck_assert_uint_eq(st[0], ERR_UNKNOWN);
	ck_assert_int_eq(req_out(CLRSTATUS, 0, NULL, 0), SIM_OK);
	ck_assert_int_eq(set_address(0x08000000), DNLOAD_IDLE);
	sim_device_session_begin(dev);
	ck_assert_int_eq(set_address(0x08000000), DNLOAD_IDLE);
}
END_TEST

START_TEST(test_replug_restarts_the_run_count)
{
	OPEN("stm32f405", "fail-every-second-run");
	sim_device_session_begin(dev);
	ck_assert_int_eq(sim_device_replug(dev), 0);
	sim_device_session_begin(dev);
	ck_assert_int_eq(set_address(0x08000000), DNLOAD_IDLE);
}
END_TEST

START_TEST(test_u5_skips_dnbusy_after_set_address)
{
	static const uint8_t c[5] = { 0x21, 0, 0, 0, 0x08 };

	OPEN("stm32u5", NULL);
	ck_assert_int_eq(req_out(DNLOAD, 0, c, 5), SIM_OK);
	ck_assert_int_eq(getstatus(), SIM_OK);
	ck_assert_uint_eq(st[4], DNLOAD_IDLE);
}
END_TEST

START_TEST(test_u5_stuck_erase_holds_every_request_until_a_usb_reset)
{
	static const uint8_t c[5] = { 0x41, 0x00, 0x00, 0x00, 0x08 };
	uint8_t s;
	size_t n;

	OPEN("stm32u5", "stuck-dnbusy");
	ck_assert_int_eq(req_out(DNLOAD, 0, c, 5), SIM_OK);
	/* it runs the erase inside the GET_STATUS, which never ends */
	ck_assert_int_eq(getstatus(), SIM_TIMEOUT);
	vnow += 100000000;
	ck_assert_int_eq(getstatus(), SIM_TIMEOUT);
	ck_assert_int_eq(req_out(CLRSTATUS, 0, NULL, 0), SIM_TIMEOUT);
	ck_assert_int_eq(req_out(ABORT, 0, NULL, 0), SIM_TIMEOUT);
	ck_assert_int_eq(req_in(GETSTATE, 0, &s, 1, &n), SIM_TIMEOUT);
	/* a bus reset brings the ROM back to dfuIDLE; the same erase hangs again */
	ck_assert_int_eq(sim_device_usb_reset(dev), 0);
	ck_assert_int_eq(getstatus(), SIM_OK);
	ck_assert_uint_eq(st[4], DFU_IDLE);
	ck_assert_int_eq(req_out(DNLOAD, 0, c, 5), SIM_OK);
	ck_assert_int_eq(getstatus(), SIM_TIMEOUT);
}
END_TEST

START_TEST(test_f072_stalls_a_poll_before_the_erase_ends)
{
	static const uint8_t c[5] = { 0x41, 0x00, 0x00, 0x00, 0x08 };

	OPEN("stm32f072", NULL);
	ck_assert_int_eq(req_out(DNLOAD, 0, c, 5), SIM_OK);
	ck_assert_int_eq(getstatus(), SIM_OK);
	ck_assert_int_eq(getstatus(), SIM_STALL);
	vnow += 20000;
	ck_assert_int_eq(getstatus(), SIM_OK);
	ck_assert_uint_eq(st[4], DNLOAD_IDLE);
}
END_TEST

START_TEST(test_strict_busy_mode_stalls_into_error)
{
	static const uint8_t c[5] = { 0x41, 0x00, 0x00, 0x00, 0x08 };

	OPEN("stm32f405", "busy=strict");
	ck_assert_int_eq(req_out(DNLOAD, 0, c, 5), SIM_OK);
	ck_assert_int_eq(getstatus(), SIM_OK);
	ck_assert_int_eq(getstatus(), SIM_STALL);
	ck_assert_uint_eq(getstate(), DFU_ERROR);
}
END_TEST

START_TEST(test_stuck_dnbusy_answers_dnbusy_even_in_nak_mode)
{
	static const uint8_t c[1] = { 0x41 };

	OPEN("stm32f405", "stuck-dnbusy");
	ck_assert_int_eq(req_out(DNLOAD, 0, c, 1), SIM_OK);
	ck_assert_int_eq(getstatus(), SIM_OK);
	vnow += 100000000;
	ck_assert_int_eq(getstatus(), SIM_OK);
	ck_assert_uint_eq(st[4], DNBUSY);
}
END_TEST

/* ---- observability
 * -------------------------------------------------------------------------------------- */

START_TEST(test_every_transfer_is_logged_as_a_json_line)
{
	static const uint8_t c[5] = { 0x21, 0, 0, 0, 0x08 };

	OPEN("stm32f405", NULL);
	n_log = 0;
	ck_assert_int_eq(req_out(DNLOAD, 0, c, 5), SIM_OK);
	ck_assert_uint_eq(n_log, 1);
	ck_assert_ptr_nonnull(strstr(last_log, "\"req\":\"DNLOAD\""));
	ck_assert_ptr_nonnull(strstr(last_log, "\"data\":\"2100000008\""));
	ck_assert_ptr_nonnull(strstr(last_log, "\"state_before\":\"dfuIDLE\""));
	ck_assert_ptr_nonnull(strstr(last_log, "\"state_after\":\"dfuDNLOAD-SYNC\""));
	ck_assert_ptr_nonnull(strstr(last_log, "\"t_us\":1000000"));
	ck_assert_int_eq(getstatus(), SIM_OK);
	ck_assert_ptr_nonnull(strstr(last_log, "\"reply\":\"006800000400\""));
	ck_assert_uint_eq(last_log[0], '{');
	ck_assert_uint_eq(last_log[strlen(last_log) - 1], '}');
}
END_TEST

START_TEST(test_long_data_is_truncated_in_the_log)
{
	static uint8_t d[2048];

	OPEN("stm32f405", NULL);
	ck_assert_int_eq(req_out(DNLOAD, 2, d, 2048), SIM_OK);
	ck_assert_ptr_nonnull(strstr(last_log, "\"data_len\":2048"));
	ck_assert_uint_lt(strlen(last_log), 512);
}
END_TEST

START_TEST(test_log_to_file_writes_one_line_per_entry)
{
	FILE *f = tmpfile();
	char line[1024];
	int lines = 0;

	ck_assert_ptr_nonnull(f);
	sim_log_to_file(f, "{\"a\":1}");
	sim_log_to_file(f, "{\"b\":2}");
	rewind(f);
	while (fgets(line, sizeof(line), f))
		lines++;
	ck_assert_int_eq(lines, 2);
	fclose(f);
}
END_TEST

START_TEST(test_stall_is_logged)
{
	OPEN("stm32f405", "stall-on=1");
	ck_assert_int_eq(getstatus(), SIM_STALL);
	ck_assert_ptr_nonnull(strstr(last_log, "\"result\":\"stall\""));
}
END_TEST

START_TEST(test_control_rejects_bad_arguments)
{
	struct sim_setup s = { .bmRequestType = 0xA1, .bRequest = GETSTATUS, .wLength = 6 };
	uint8_t b[2];

	OPEN("stm32f405", NULL);
	ck_assert_int_eq(sim_device_control(dev, &s, NULL, b, sizeof(b), NULL), -EINVAL);
	s.bmRequestType = 0x21;
	s.bRequest = DNLOAD;
	ck_assert_int_eq(sim_device_control(dev, &s, NULL, NULL, 0, NULL), -EINVAL);
}
END_TEST

START_TEST(test_short_get_status_returns_only_wlength_bytes)
{
	uint8_t b[2] = { 0xEE, 0xEE };
	size_t n = 9;

	OPEN("stm32f405", NULL);
	ck_assert_int_eq(req_in(GETSTATUS, 0, b, 1, &n), SIM_OK);
	ck_assert_uint_eq(n, 1);
	ck_assert_uint_eq(b[0], 0);
	ck_assert_uint_eq(b[1], 0xEE);
	ck_assert_int_eq(req_in(GETSTATUS, 0, NULL, 0, &n), SIM_OK);
	ck_assert_uint_eq(n, 0);
}
END_TEST

static TCase *tc(Suite *s, const char *name)
{
	return test_tcase(s, name, setup, teardown, 10);
}

int main(void)
{
	Suite *s = suite_create("sim");
	TCase *t;

	t = tc(s, "profiles");
	tcase_add_test(t, test_profile_list_names_and_describes_every_profile);
	tcase_add_test(t, test_every_profile_can_be_created);
	tcase_add_test(t, test_unknown_profile_is_refused);
	tcase_add_test(t, test_unknown_fault_token_is_named_in_the_error);
	tcase_add_test(t, test_bad_fault_value_is_refused_by_name);
	tcase_add_test(t, test_all_documented_fault_tokens_parse);

	t = tc(s, "descriptors");
	tcase_add_test(t, test_f405_device_descriptor_has_the_st_rom_identity);
	tcase_add_test(t, test_f405_config_has_four_alts_then_the_functional_descriptor);
	tcase_add_loop_test(t, test_layout_strings_are_byte_exact, 0,
			    (int)(sizeof(layouts) / sizeof(layouts[0])));
	tcase_add_test(t, test_string_zero_is_langid_0409);
	tcase_add_test(t, test_identity_strings_are_utf16);
	tcase_add_test(t, test_serial_can_be_chosen);
	tcase_add_test(t, test_gd32_serial_is_utf8);
	tcase_add_test(t, test_particle_has_a_seven_byte_functional_descriptor);
	tcase_add_test(t, test_no_langid_returns_an_empty_string_zero);
	tcase_add_test(t, test_no_langid_stall_stalls_string_zero);
	tcase_add_test(t, test_no_langid_fail_first_stalls_only_the_first_read);
	tcase_add_test(t, test_wrong_langid_announces_0407_but_answers_only_0409);
	tcase_add_test(t, test_bad_strings_claim_one_byte_more_than_sent);
	tcase_add_test(t, test_identical_alt_names_copies_alt_zero);
	tcase_add_test(t, test_transfer_size_fault_changes_the_functional_descriptor);
	tcase_add_test(t, test_set_interface_selects_an_alt_and_refuses_a_missing_one);
	tcase_add_test(t, test_sysfs_descriptors_are_device_then_config);

	t = tc(s, "state-machine");
	tcase_add_test(t, test_rom_starts_in_dfu_idle_with_status_ok);
	tcase_add_test(t, test_get_state_reports_the_state_without_changing_it);
	tcase_add_test(t, test_get_state_reports_dnload_sync_between_completion_and_second_status);
	tcase_add_test(t, test_st_clrstatus_outside_error_gives_err_unknown_then_idle);
	tcase_add_test(t, test_strict_clrstatus_outside_error_stalls);
	tcase_add_test(t, test_lenient_clrstatus_outside_error_goes_idle);
	tcase_add_test(t, test_abort_returns_from_dnload_idle_to_idle);
	tcase_add_test(t, test_upload_in_dnload_idle_stalls_and_keeps_the_state);
	tcase_add_test(t, test_dnload_in_upload_idle_stalls_and_keeps_the_state);
	tcase_add_test(t, test_dfu_state_persists_between_host_runs);
	tcase_add_test(t, test_usb_reset_keeps_the_st_rom_in_dfu_idle);
	tcase_add_test(t, test_control_rejects_bad_arguments);
	tcase_add_test(t, test_short_get_status_returns_only_wlength_bytes);

	t = tc(s, "dfuse-commands");
	tcase_add_test(t, test_get_commands_returns_the_rom_list_and_a_short_reply_ends_the_upload);
	tcase_add_test(t, test_get_commands_of_exact_length_stays_in_upload_idle);
	tcase_add_test(t, test_hal_get_commands_omits_read_unprotect);
	tcase_add_test(t, test_set_address_executes_only_at_the_first_get_status);
	tcase_add_test(t, test_set_address_to_an_unmapped_address_ends_in_err_target);
	tcase_add_test(t, test_erase_announces_100_ms_but_takes_the_sector_time);
	tcase_add_test(t, test_nak_mode_holds_an_early_poll_until_the_erase_ends);
	tcase_add_test(t, test_page_erase_erases_the_sector_holding_an_unaligned_address);
	tcase_add_test(t, test_erase_outside_internal_flash_ends_in_err_target);
	tcase_add_test(t, test_mass_erase_takes_eight_seconds_on_f4);
	tcase_add_test(t, test_mass_erase_clears_flash_but_not_otp);
	tcase_add_test(t, test_mass_erase_with_a_wrp_sector_erases_nothing_and_reports_ok);
	tcase_add_test(t, test_unsupported_command_byte_gives_dnbusy_then_err_stalledpkt);
	tcase_add_test(t, test_dnload_block_one_stalls_the_next_request);
	tcase_add_test(t, test_upload_block_one_stalls_with_err_stalledpkt);
	tcase_add_test(t, test_write_address_is_pointer_plus_block_offset_times_transfer_size);
	tcase_add_test(t, test_block_size_wlength_uses_the_request_length_in_the_formula);
	tcase_add_test(t, test_upload_reads_memory_at_the_pointer);
	tcase_add_test(t, test_upload_past_the_end_of_a_region_stalls_with_err_target);
	tcase_add_test(t, test_g474_stalls_a_2048_byte_block);
	tcase_add_test(t, test_hal_truncates_an_oversize_block);
	tcase_add_test(t, test_write_to_system_memory_ends_in_err_target);
	tcase_add_test(t, test_write_to_ram_is_allowed);
	tcase_add_test(t, test_particle_read_only_bootloader_sectors_refuse_writes);

	t = tc(s, "memory");
	tcase_add_test(t, test_f4_programming_over_data_ands_the_bits_without_error);
	tcase_add_test(t, test_l4_second_write_to_a_double_word_is_refused);
	tcase_add_test(t, test_l4_completing_a_padded_double_word_is_refused);
	tcase_add_test(t, test_l4_all_zero_double_word_may_overwrite);
	tcase_add_test(t, test_l4_erase_allows_programming_again);
	tcase_add_test(t, test_h7_flash_word_is_programmed_once_per_32_bytes);
	tcase_add_test(t, test_f1_half_word_over_data_is_refused);
	tcase_add_test(t, test_prog_fail_status_selects_the_reported_status);
	tcase_add_test(t, test_memory_access_outside_regions_is_refused);

	t = tc(s, "protection");
	tcase_add_test(t, test_rdp1_erase_fails_with_err_vendor_and_erases_nothing);
	tcase_add_test(t, test_rdp1_upload_stalls_then_reports_err_vendor);
	tcase_add_test(t, test_rdp1_set_address_fails_on_f4_unless_configured_ok);
	tcase_add_test(t, test_start_in_error_11_is_cleared_but_rdp_refuses_again);
	tcase_add_test(t, test_read_unprotect_mass_erases_clears_rdp_and_reenumerates);
	tcase_add_test(t, test_failed_read_unprotect_reports_err_unknown);
	tcase_add_test(t, test_rdp2_device_never_enumerates);
	tcase_add_test(t, test_wrp_sector_erase_and_write_report_ok_and_change_nothing);
	tcase_add_test(t, test_wrp_comes_from_the_f4_option_bytes);
	tcase_add_test(t, test_option_byte_write_resets_without_a_second_status);
	tcase_add_test(t, test_option_byte_write_not_covering_the_block_ends_in_err_target);
	tcase_add_test(t, test_otp_is_never_erasable);
	tcase_add_test(t, test_otp_programs_only_one_to_zero);
	tcase_add_test(t, test_otp_lock_byte_locks_only_its_block);
	tcase_add_test(t, test_otp_lock_byte_with_an_odd_value_is_logged);

	t = tc(s, "leave");
	tcase_add_test(t, test_leave_at_a_valid_vector_table_starts_the_app_as_runtime_device);
	tcase_add_test(t, test_app_written_through_the_protocol_starts_after_leave);
	tcase_add_test(t, test_leave_at_a_wrong_address_resets_into_the_rom);
	tcase_add_test(t, test_leave_with_an_erased_flash_resets_into_the_rom);
	tcase_add_test(t, test_leave_without_set_address_jumps_to_the_last_write);
	tcase_add_test(t, test_zero_length_dnload_in_upload_idle_stalls);
	tcase_add_test(t, test_leave_vanish_during_status_sends_the_data_then_vanishes);
	tcase_add_test(t, test_leave_vanish_before_status_vanishes_on_the_dnload);
	tcase_add_test(t, test_leave_stay_comes_back_as_the_rom);
	tcase_add_test(t, test_leave_needs_set_address_fails_without_one);
	tcase_add_test(t, test_leave_needs_set_address_works_after_one);
	tcase_add_test(t, test_h7_entry_point_jump_starts_the_app_at_its_reset_handler);
	tcase_add_test(t, test_h7_entry_point_jump_to_the_vector_table_comes_back_as_rom);
	tcase_add_test(t, test_vector_table_jump_to_a_reset_handler_address_comes_back_as_rom);
	tcase_add_test(t, test_system_reset_jump_boots_the_app_at_its_base);
	tcase_add_test(t, test_app_gone_never_enumerates);
	tcase_add_test(t, test_st_app_detach_reenumerates_as_the_rom);
	tcase_add_test(t, test_stale_generation_request_is_gone);
	tcase_add_test(t, test_boot0_low_replug_starts_a_valid_app);

	t = tc(s, "generic");
	tcase_add_test(t, test_generic_starts_as_a_runtime_interface);
	tcase_add_test(t, test_generic_detach_with_will_detach_reenumerates_with_the_dfu_pid);
	tcase_add_test(t, test_generic_detach_without_will_detach_waits_for_a_usb_reset);
	tcase_add_test(t, test_generic_detach_times_out_back_to_app_idle);
	tcase_add_test(t, test_generic_tolerant_download_manifests_back_to_idle);
	tcase_add_test(t, test_generic_intolerant_download_waits_for_reset_after_manifest);
	tcase_add_test(t, test_generic_zero_length_dnload_in_idle_stalls_into_error);
	tcase_add_test(t, test_generic_upload_ends_with_a_short_frame);
	tcase_add_test(t, test_generic_poll_before_the_announced_time_stalls_into_error);
	tcase_add_test(t, test_generic_clrstatus_in_idle_stalls_into_error);
	tcase_add_test(t, test_generic_usb_reset_without_firmware_gives_err_firmware);
	tcase_add_test(t, test_manifest_tolerant_setting_changes_the_attributes);

	t = tc(s, "maple");
	tcase_add_test(t, test_maple_alt2_writes_0x08002000_and_a_reset_starts_the_sketch);
	tcase_add_test(t, test_maple_alt0_refuses_with_err_write);
	tcase_add_test(t, test_maple_usb_reset_in_idle_is_ignored);
	tcase_add_test(t, test_maple_alt1_erases_the_0x08002000_page_and_boots_0x08005000);
	tcase_add_test(t, test_maple_upload_reads_to_the_end_of_flash);

	t = tc(s, "faults");
	tcase_add_test(t, test_stall_on_stalls_the_nth_class_request_only);
	tcase_add_test(t, test_stall_on_request_stalls_its_kth_occurrence);
	tcase_add_test(t, test_timeout_on_never_answers_and_processes_nothing);
	tcase_add_test(t, test_timeout_on_request_picks_the_request);
	tcase_add_test(t, test_disconnect_at_byte_leaves_the_earlier_blocks_in_flash);
	tcase_add_test(t, test_generic_disconnect_mid_download_comes_back_without_firmware);
	tcase_add_test(
	    t, test_disconnect_on_erase_answers_dnbusy_then_vanishes_with_the_sector_erased);
	tcase_add_test(t, test_disconnect_on_upload_vanishes_on_the_kth_data_upload);
	tcase_add_test(t, test_generic_disconnect_on_manifest_comes_back_without_firmware);
	tcase_add_test(t, test_replug_comes_back_later_at_a_new_generation_with_a_fresh_rom);
	tcase_add_test(t, test_short_status_cuts_the_reply_but_the_request_takes_effect);
	tcase_add_test(t, test_short_status_every_reply);
	tcase_add_test(t, test_bad_state_reports_an_undefined_state_once);
	tcase_add_test(t, test_slow_holds_every_request);
	tcase_add_test(t, test_hostile_fault_values_are_checked);
	tcase_add_test(t, test_events_carry_generation_reason_and_time);
	tcase_add_test(t, test_busy_longer_stretches_the_real_duration);
	tcase_add_test(t, test_zero_poll_timeout_announces_zero);
	tcase_add_test(t, test_stuck_dnbusy_needs_the_clrstatus_pair);
	tcase_add_test(t, test_faulty_page_fails_the_erase_and_keeps_the_data);
	tcase_add_test(t, test_faulty_page_status_can_be_chosen);
	tcase_add_test(t, test_faulty_page_outside_memory_is_refused);
	tcase_add_test(t, test_status_on_request_fails_the_dnload_operation);
	tcase_add_test(t, test_status_on_request_fails_an_erase_without_erasing);
	tcase_add_test(t, test_status_on_request_fails_the_leave);
	tcase_add_test(t, test_status_on_request_stalls_other_requests_into_error);
	tcase_add_test(t, test_status_on_request_fails_a_generic_block_and_the_manifestation);
	tcase_add_test(t, test_status_on_request_bad_values_are_refused);
	tcase_add_test(t, test_start_in_error_10_is_the_initial_state);
	tcase_add_test(t, test_gd32_starts_in_err_firmware);
	tcase_add_test(t, test_start_in_state_dnload_idle_is_left_over);
	tcase_add_test(t, test_start_in_state_dnbusy_finishes_later);
	tcase_add_test(t, test_fail_every_second_run_alternates);
	tcase_add_test(t, test_replug_restarts_the_run_count);
	tcase_add_test(t, test_u5_skips_dnbusy_after_set_address);
	tcase_add_test(t, test_f072_stalls_a_poll_before_the_erase_ends);
	tcase_add_test(t, test_strict_busy_mode_stalls_into_error);
	tcase_add_test(t, test_stuck_dnbusy_answers_dnbusy_even_in_nak_mode);
	tcase_add_test(t, test_u5_stuck_erase_holds_every_request_until_a_usb_reset);

	t = tc(s, "log");
	tcase_add_test(t, test_every_transfer_is_logged_as_a_json_line);
	tcase_add_test(t, test_long_data_is_truncated_in_the_log);
	tcase_add_test(t, test_stall_is_logged);
	tcase_add_test(t, test_log_to_file_writes_one_line_per_entry);
	return test_run_suite(s);
}
