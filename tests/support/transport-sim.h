/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Test support: the transport backend of the in-process virtual devices
 * (src/sim) on a virtual clock.  Only the tests link it; the product library
 * knows nothing of the simulator.
 */
#pragma once

#include "transport.h"

/*
 * transport-sim.c: in-process virtual devices (src/sim) on a virtual clock,
 * for tests.  The clock's sleep_ms advances virtual time and never blocks;
 * create the sim devices with sim_options.clock = { dfu_vclock_now_us, vc }
 * so that both sides share it.  The backend does not own the devices.
 * Bus events of the devices (disconnect, re-enumeration) are applied at each
 * enumerate and each transfer: a handle to an old enumeration gets
 * DFU_E_USB_NODEV.  Paths are "1-N" for device N (from 1).
 */
struct sim_device;
struct dfu_vclock {
	uint64_t now_us;
};
uint64_t dfu_vclock_now_us(void *vclock);
int dfu_backend_sim_new(struct dfu_vclock *vc, struct sim_device *const *devs, size_t n,
			struct dfu_backend *out, struct dfu_error *e);
