/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The usbfs front end of dfuflash-sim: serves sim_device models to unmodified libusb
 * programs through a umockdev testbed (sysfs/udev records, usbfs ioctls, re-enumeration).
 * It knows USB and umockdev, not DFU: every control transfer goes to the model.
 * The process must run under the umockdev preload (libumockdev-preload.so.0) before
 * calling sim_usbfs_new(): umockdev resolves the uevents it sends with libudev in the
 * calling process. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "sim-api.h"

struct sim_usbfs;

/*
 * Create a umockdev testbed with a root hub on bus 1 and one port per device, and plug
 * in every device that is connected.  It sets UMOCKDEV_DIR in the environment, so child
 * processes started afterwards (under the preload) see the virtual bus.  Timers and
 * re-enumeration run on the default GMainContext, which the caller iterates (e.g. with
 * a GMainLoop); ioctls are answered on umockdev's own worker thread.
 *
 * @devs: @n devices; borrowed (the caller frees them after sim_usbfs_free()).
 * Returns 0 and stores the front end in *out (free with sim_usbfs_free()), or a
 * negative errno with a message in @errbuf.
 */
int sim_usbfs_new(struct sim_device *const *devs, size_t n, struct sim_usbfs **out, char *errbuf,
		  size_t errbuf_size);
/* Remove the testbed (its directory goes too); NULL is fine. */
void sim_usbfs_free(struct sim_usbfs *u);

/* The testbed root, for UMOCKDEV_DIR in other shells.  Owned by @u. */
const char *sim_usbfs_root(struct sim_usbfs *u);

/* The device models are not thread-safe: hold this (recursive) lock around any direct
 * use of them while the front end runs (e.g. sim_device_mem_read for a dump). */
void sim_usbfs_lock(struct sim_usbfs *u);
void sim_usbfs_unlock(struct sim_usbfs *u);

/* CLOCK_MONOTONIC in microseconds: the clock the front end schedules with; give it to
 * the models (struct sim_clock) so that their event times compare with it. */
uint64_t sim_usbfs_clock_us(void *ctx);

/* Main thread: plug device @index (0-based, as given to sim_usbfs_new()) in again after
 * sim_device_unplug(): it powers on and enumerates at a new address.  0, or -EINVAL. */
int sim_usbfs_replug(struct sim_usbfs *u, size_t index);

/* Main thread: send a "change" uevent for every device on the bus (hotplug stress). */
void sim_usbfs_announce_change(struct sim_usbfs *u);

/* Counters, for benchmarks and tests. */
struct sim_usbfs_stats {
	unsigned long ioctls;
	unsigned long control_transfers;
	unsigned long stalls;
	unsigned long removals;
	unsigned long additions;
};
void sim_usbfs_get_stats(struct sim_usbfs *u, struct sim_usbfs_stats *st);
