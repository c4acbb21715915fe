// SPDX-License-Identifier: GPL-2.0-or-later
/* The fixture of the engine tests on virtual devices: see simtest.h. */
#include "config.h"

#include "macro.h"
#include "proto.h"
#include "simtest.h"
#include "util.h"

struct dfu_vclock vc;
struct sim_device *sims[SIMTEST_MAX_SIMS];
size_t n_sims;
struct sim_device *sim;
struct dfu_ctx *ctx;
char logged[65536];
struct dfu_dev *dev;
struct dfu_image *img;
struct dfu_error err;
struct dfu_flash_opts opts;
struct dfu_flash_result res;

unsigned n_requests;
unsigned n_req[8];
unsigned n_writes;
unsigned n_erases;
uint32_t set_addresses[512];
size_t n_set_addresses;
struct simtest_block blocks_sent[4096];
size_t n_blocks_sent;
unsigned early_polls;
unsigned idle_sleeps;
uint64_t host_sleep_ms;
uint64_t busy_poll_ms;
simtest_control_fn *simtest_control;

/* The spy: the sim handle's operations with control replaced, the sim clock
 * with sleep_ms replaced. */
static struct dfu_handle_ops wrapped_ops;
static const struct dfu_handle_ops *real_ops;
static struct dfu_clock real_clock;
static bool last_busy;	       /* the last class request got a busy GET_STATUS reply */
static uint64_t busy_until_us; /* when its bwPollTimeout ends */

/* ---- the spy -------------------------------------------------------------------------------- */

static void reset_request_counts(void)
{
	n_requests = n_writes = n_erases = 0;
	memset(n_req, 0, sizeof(n_req));
	n_set_addresses = 0;
	n_blocks_sent = 0;
}

uint32_t simtest_block_address(size_t i, uint16_t tsize)
{
	ck_assert_uint_lt(i, n_blocks_sent);
	return blocks_sent[i].pointer + (uint32_t)(blocks_sent[i].block - 2) * tsize;
}

static void count_request(uint8_t req, uint16_t value, const uint8_t *data, uint16_t len)
{
	n_requests++;
	if (req < ARRAY_SIZE(n_req))
		n_req[req]++;
	if (req == DFU_REQ_GETSTATUS && last_busy && vc.now_us < busy_until_us)
		early_polls++;
	if (req != DFU_REQ_DNLOAD)
		return;
	if (value >= 2 && len > 0) {
		n_writes++;
		if (n_set_addresses && n_blocks_sent < ARRAY_SIZE(blocks_sent))
			blocks_sent[n_blocks_sent++] =
			    (struct simtest_block){ set_addresses[n_set_addresses - 1], value,
						    len };
	}
	if (value == 0 && len == 5 && data[0] == 0x21 &&
	    n_set_addresses < ARRAY_SIZE(set_addresses))
		set_addresses[n_set_addresses++] = le32_get(data + 1);
	if (value == 0 && len >= 1 && data[0] == 0x41)
		n_erases++;
}

/* A busy GET_STATUS reply announces how long the host must wait (bwPollTimeout). */
static void track_polling(uint8_t req, const uint8_t *data, int r)
{
	if (req == DFU_REQ_GETSTATUS && r == 6) {
		uint32_t poll =
		    (uint32_t)data[1] | (uint32_t)data[2] << 8 | (uint32_t)data[3] << 16;

		last_busy = data[4] == DFU_STATE_DFU_DNBUSY || data[4] == DFU_STATE_DFU_MANIFEST ||
			    data[4] == DFU_STATE_DFU_DNLOAD_SYNC ||
			    data[4] == DFU_STATE_DFU_MANIFEST_SYNC;
		if (last_busy) {
			busy_until_us = vc.now_us + (uint64_t)poll * 1000;
			busy_poll_ms += poll;
		}
	} else if (req != DFU_REQ_GETSTATE) {
		last_busy = false;
	}
}

int simtest_control_real(struct dfu_handle *h, uint8_t rt, uint8_t req, uint16_t value,
			 uint16_t index, uint8_t *data, uint16_t len, unsigned timeout_ms,
			 const char **usb_name)
{
	return real_ops->control(h, rt, req, value, index, data, len, timeout_ms, usb_name);
}

static int spy_control(struct dfu_handle *h, uint8_t rt, uint8_t req, uint16_t value,
		       uint16_t index, uint8_t *data, uint16_t len, unsigned timeout_ms,
		       const char **usb_name)
{
	simtest_control_fn *control = simtest_control ? simtest_control : simtest_control_real;
	bool class_req = (rt & 0x60) == 0x20;
	int r;

	if (class_req)
		count_request(req, value, data, len);
	r = control(h, rt, req, value, index, data, len, timeout_ms, usb_name);
	if (class_req)
		track_polling(req, data, r);
	return r;
}

static void spy_sleep(void *c, uint32_t ms)
{
	if (!last_busy)
		idle_sleeps++;
	host_sleep_ms += ms;
	real_clock.sleep_ms(c, ms);
}

static void log_cb(void *ud, enum dfu_log_level level, const char *msg)
{
	size_t used = strlen(logged);

	(void)ud;
	snprintf(logged + used, sizeof(logged) - used, "%d:%s\n", (int)level, msg);
}

/* ---- the fixture ---------------------------------------------------------------------------- */

void simtest_setup(void)
{
	vc.now_us = 1000000;
	memset(sims, 0, sizeof(sims));
	n_sims = 0;
	sim = NULL;
	ctx = NULL;
	dev = NULL;
	img = NULL;
	logged[0] = '\0';
	dfu_error_clear(&err);
	memset(&opts, 0, sizeof(opts));
	/* the engine tests pin the requests of the erase-and-write download; the
	 * differential re-flash (reads first) is tested where it is cleared */
	opts.full = true;
	memset(&res, 0, sizeof(res));
	reset_request_counts();
	early_polls = idle_sleeps = 0;
	host_sleep_ms = busy_poll_ms = 0;
	last_busy = false;
	busy_until_us = 0;
	simtest_control = NULL;
	new_image();
}

void simtest_teardown(void)
{
	dfu_dev_close(dev);
	dfu_ctx_free(ctx); /* before the devices: the backend does not own them */
	for (size_t i = 0; i < n_sims; i++)
		sim_device_free(sims[i]);
	dfu_image_free(img);
}

TCase *simtest_tcase(Suite *s, const char *name, SFun setup, SFun teardown, double timeout)
{
	TCase *t = test_tcase(s, name, simtest_setup, simtest_teardown, timeout);

	if (setup || teardown)
		tcase_add_checked_fixture(t, setup, teardown);
	return t;
}

void simtest_add_sim(const char *profile, const char *faults, double time_scale)
{
	struct sim_options o = {
		.time_scale = time_scale,
		.faults = faults,
		.clock = { dfu_vclock_now_us, &vc },
	};

	ck_assert_ptr_null(ctx); /* the backend takes the devices there are at the start */
	ck_assert_uint_lt(n_sims, SIMTEST_MAX_SIMS);
	ck_assert_int_eq(sim_device_new(profile, &o, &sims[n_sims]), 0);
	n_sims++;
	sim = sims[0];
}

void simtest_start(void)
{
	struct dfu_backend be = { 0 };

	ck_assert_ptr_null(ctx);
	ck_assert_int_eq(dfu_backend_sim_new(&vc, sims, n_sims, &be, NULL), 0);
	ck_assert_int_eq(dfu_ctx_new(&be, &ctx), 0);
	dfu_ctx_set_log_fn(ctx, log_cb, NULL);
	real_clock = ctx->backend.clock;
	ctx->backend.clock.sleep_ms = spy_sleep;
}

void new_sim(const char *profile, const char *faults)
{
	simtest_add_sim(profile, faults, 1.0);
	simtest_start();
}

void open_alt(int alt)
{
	struct dfu_match m;

	dfu_match_init(&m);
	dev = NULL;
	for (int tries = 0; tries < 100 && !dev; tries++) {
		struct dfu_if_info *list = NULL;
		size_t n = 0;

		ck_assert_int_eq(dfu_list(ctx, &m, &list, &n, NULL), 0);
		for (size_t i = 0; i < n && !dev; i++)
			if (list[i].dfu_mode && list[i].alt == alt)
				ck_assert_int_eq(dfu_dev_open(ctx, &list[i], &dev, NULL), 0);
		dfu_if_info_free(list, n);
		if (!dev)
			vc.now_us += 100000;
	}
	ck_assert_msg(dev != NULL, "no DFU-mode alt %d", alt);
	real_ops = dev->h->ops;
	wrapped_ops = *real_ops;
	wrapped_ops.control = spy_control;
	dev->h->ops = &wrapped_ops;
	reset_request_counts();
}

void open_dfuse(const char *profile, const char *faults, int alt)
{
	new_sim(profile, faults);
	open_alt(alt);
}

void open_generic(const char *profile, const char *faults)
{
	new_sim(profile, faults);
	simtest_detach(ctx);
	open_alt(0);
}

void simtest_detach(struct dfu_ctx *c)
{
	struct dfu_if_info *list = NULL;
	struct dfu_dev *rt = NULL;
	struct dfu_match m;
	size_t n = 0;

	dfu_match_init(&m);
	ck_assert_int_eq(dfu_list(c, &m, &list, &n, NULL), 0);
	ck_assert_uint_ge(n, 1);
	ck_assert(!list[0].dfu_mode);
	ck_assert_int_eq(dfu_dev_open(c, &list[0], &rt, NULL), 0);
	ck_assert_int_eq(dfu_dev_detach(rt, NULL), 0);
	dfu_dev_close(rt);
	dfu_if_info_free(list, n);
}

struct sim_state simtest_state(struct sim_device *d)
{
	struct sim_state st;

	ck_assert_int_eq(sim_device_get_state(d, &st), 0);
	return st;
}

/* ---- the image and the download ------------------------------------------------------------ */

void new_image(void)
{
	dfu_image_free(img);
	img = NULL;
	ck_assert_int_eq(dfu_image_new(DFU_FORMAT_IHEX, &img), 0);
	img->address_from_file = true;
}

void add(uint32_t address, const uint8_t *data, size_t len)
{
	ck_assert_int_eq(dfu_image_add(img, DFU_ALT_NONE, address, data, len, NULL, NULL, NULL), 0);
}

void add_pattern(uint32_t address, size_t len, uint32_t seed)
{
	uint8_t *b = malloc(len);

	ck_assert_ptr_nonnull(b);
	test_pattern(b, len, seed);
	add(address, b, len);
	free(b);
}

void add_app_entry(uint32_t base, uint32_t entry, size_t len)
{
	uint8_t *b = malloc(len);

	ck_assert_ptr_nonnull(b);
	test_pattern(b, len, base);
	le32_put(b, 0x20010000u);
	le32_put(b + 4, entry);
	add(base, b, len);
	free(b);
}

void add_app(uint32_t base, size_t len)
{
	add_app_entry(base, base + 0x101, len);
}

int download(void)
{
	dfu_error_clear(&err);
	return dfu_dev_download(dev, img, &opts, &res, &err);
}

void set_upload_range(uint32_t address, uint32_t length)
{
	opts.have_address = true;
	opts.address = address;
	opts.have_length = true;
	opts.length = length;
}

void assert_mem_is_image(void)
{
	for (size_t i = 0; i < img->n_segments; i++) {
		const struct dfu_segment *s = &img->segments[i];
		uint8_t *got = malloc(s->length);

		ck_assert_ptr_nonnull(got);
		ck_assert_int_eq(sim_device_mem_read(sim, s->address, got, s->length), 0);
		ck_assert_mem_eq(got, s->data, s->length);
		free(got);
	}
}

bool log_has(const char *s)
{
	return strstr(logged, s) != NULL;
}
