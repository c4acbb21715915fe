/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Engine tests on a virtual device: one dfuflash-sim device model on a
 * virtual clock, its in-process backend and a context; and opening a
 * DFU-mode alt, waiting (in virtual time) for a re-enumeration to finish.
 */
#pragma once

#include "engine.h"
#include "sim-api.h"
#include "testutil.h"
#include "transport-sim.h"

/* Create *sim from @profile with @faults (NULL: none) on @vc, and *ctx over it. */
static inline void simtest_new(struct dfu_vclock *vc, struct sim_device **sim,
			       struct dfu_ctx **ctx, const char *profile, const char *faults)
{
	struct sim_options o = {
		.time_scale = 1.0,
		.faults = faults,
		.clock = { dfu_vclock_now_us, vc },
	};
	struct dfu_backend be = { 0 };

	ck_assert_int_eq(sim_device_new(profile, &o, sim), 0);
	ck_assert_int_eq(dfu_backend_sim_new(vc, sim, 1, &be, NULL), 0);
	ck_assert_int_eq(dfu_ctx_new(&be, ctx), 0);
}

/* Open alt @alt in DFU mode; up to 10 s of virtual time for it to appear. */
static inline struct dfu_dev *simtest_open_alt(struct dfu_ctx *ctx, struct dfu_vclock *vc, int alt)
{
	struct dfu_match m;

	dfu_match_init(&m);
	for (int tries = 0; tries < 100; tries++) {
		struct dfu_if_info *list = NULL;
		struct dfu_dev *dev = NULL;
		size_t n = 0;

		ck_assert_int_eq(dfu_list(ctx, &m, &list, &n, NULL), 0);
		for (size_t i = 0; i < n; i++) {
			if (list[i].dfu_mode && list[i].alt == alt) {
				ck_assert_int_eq(dfu_dev_open(ctx, &list[i], &dev, NULL), 0);
				dfu_if_info_free(list, n);
				return dev;
			}
		}
		dfu_if_info_free(list, n);
		vc->now_us += 100000;
	}
	ck_abort_msg("no DFU-mode alt %d", alt);
	return NULL;
}

/* The device of @ctx starts in run-time mode (generic profiles): detach it into
 * DFU mode; simtest_open_alt() then waits for the re-enumeration. */
static inline void simtest_detach(struct dfu_ctx *ctx)
{
	struct dfu_if_info *list = NULL;
	struct dfu_dev *rt = NULL;
	struct dfu_match m;
	size_t n = 0;

	dfu_match_init(&m);
	ck_assert_int_eq(dfu_list(ctx, &m, &list, &n, NULL), 0);
	ck_assert_uint_ge(n, 1);
	ck_assert(!list[0].dfu_mode);
	ck_assert_int_eq(dfu_dev_open(ctx, &list[0], &rt, NULL), 0);
	ck_assert_int_eq(dfu_dev_detach(rt, NULL), 0);
	dfu_dev_close(rt);
	dfu_if_info_free(list, n);
}

/* What the device model says of itself. */
static inline struct sim_state simtest_state(struct sim_device *sim)
{
	struct sim_state st;

	ck_assert_int_eq(sim_device_get_state(sim, &st), 0);
	return st;
}
