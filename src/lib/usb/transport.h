/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * usb/: the transport seam and the libusb backend.  Knows USB (control
 * transfers, descriptors, claims, resets) and, to enumerate, the DFU
 * interface and functional descriptors; nothing of the DFU protocol.  May use
 * core/ and src/util only.
 *
 * The transport seam: what the DFU protocol code may ask of USB.  A backend
 * enumerates devices and opens them; an open handle does control transfers,
 * interface claims and resets.  Two backends exist: libusb
 * (transport-libusb.c, the only file that includes <libusb.h>) and, in the
 * tests only, the in-process virtual device (tests/support/transport-sim.c).
 * Both return negative enum dfu_err values; a libusb failure keeps its name.
 */
#pragma once

#include "core.h"

/* The DFU functional descriptor (type 0x21, 7 or 9 bytes). */
struct dfu_func_desc {
	bool present;
	uint8_t attributes;
	uint16_t detach_timeout_ms;
	uint16_t transfer_size; /* wTransferSize (the 7-byte DFU 1.0 form has it too) */
	uint16_t bcd_dfu;	/* 0x0100 when absent (7-byte form); 0x011a marks DfuSe */
};

#define USB_DT_DFU_FUNCTIONAL 0x21

/* GET_DESCRIPTOR of a string (USB 2.0 9.4.3, 9.6.7). */
#define USB_RT_DEVICE_IN 0x80
#define USB_REQ_GET_DESCRIPTOR 0x06
#define USB_DT_STRING 0x03

/*
 * Decode one functional descriptor of @len bytes (DFU 1.1 section 4.1.3).
 * A 7-byte descriptor is DFU 1.0's: wTransferSize but no bcdDFUVersion, which
 * dfu-util then takes as 1.0 (Particle bootloaders).  Shorter ones are
 * unusable: returns false and leaves @f alone.
 */
static inline bool dfu_func_desc_decode(const uint8_t *p, size_t len, struct dfu_func_desc *f)
{
	if (len < 7)
		return false;
	f->present = true;
	f->attributes = p[2];
	f->detach_timeout_ms = (uint16_t)(p[3] | (p[4] << 8));
	f->transfer_size = (uint16_t)(p[5] | (p[6] << 8));
	f->bcd_dfu = len >= 9 ? (uint16_t)(p[7] | (p[8] << 8)) : 0x0100;
	return true;
}

/* One alternate setting of a DFU interface (class 0xfe, subclass 1). */
struct dfu_usb_alt {
	uint8_t interface;	   /* bInterfaceNumber */
	uint8_t interface_pos;	   /* index of the interface in the configuration (dfu-util's -i) */
	uint8_t alt;		   /* bAlternateSetting */
	uint8_t protocol;	   /* bInterfaceProtocol: 1 run-time, 2 DFU mode */
	uint8_t i_interface;	   /* string index of the interface name / DfuSe layout */
	struct dfu_func_desc func; /* from this interface's extra descriptors */
};

#define DFU_MAX_ALTS 32
#define DFU_MAX_PATH 64

/* A USB device that has at least one DFU interface, as enumeration sees it. */
struct dfu_usb_device {
	uint8_t bus;
	uint8_t devnum;
	char path[DFU_MAX_PATH]; /* "1-1.3": bus, then port numbers (dfu-util's -p) */
	uint16_t vid, pid, bcd_device;
	uint8_t i_manufacturer, i_product, i_serial;
	uint8_t config_value; /* bConfigurationValue of the configuration holding the alts */
	uint8_t max_packet0;  /* bMaxPacketSize0 */
	size_t n_alts;
	struct dfu_usb_alt alts[DFU_MAX_ALTS];
	void *backend_ref; /* the backend's own reference (libusb_device *, ...) */
};

struct dfu_handle;

/*
 * Operations on an open device.  Every op returns >= 0 on success and a
 * negative enum dfu_err (DFU_E_USB_* for transfer failures) otherwise; the
 * name of the underlying error goes to *usb_name when that is not NULL.
 */
struct dfu_handle_ops {
	/*
	 * One control transfer.  Direction from bit 7 of @request_type.  OUT:
	 * @data holds @length bytes; IN: @data has room for @length bytes.
	 * Returns the number of bytes transferred (IN may be short).
	 * @timeout_ms 0 means the backend default (5000 ms).
	 */
	int (*control)(struct dfu_handle *h, uint8_t request_type, uint8_t request, uint16_t value,
		       uint16_t index, uint8_t *data, uint16_t length, unsigned timeout_ms,
		       const char **usb_name);
	/* Claim @interface (detaching a kernel driver if one is bound). */
	int (*claim)(struct dfu_handle *h, uint8_t interface, const char **usb_name);
	/* SET_INTERFACE. */
	int (*set_alt)(struct dfu_handle *h, uint8_t interface, uint8_t alt, const char **usb_name);
	/* USB bus reset.  DFU_E_USB_NODEV when the device re-enumerated or left,
	 * which after a DETACH or leave is the expected outcome. */
	int (*reset)(struct dfu_handle *h, const char **usb_name);
	/* Release and close; the handle is freed.  Never fails. */
	void (*close)(struct dfu_handle *h);
};

/* Every handle starts with this; backends embed it first. */
struct dfu_handle {
	const struct dfu_handle_ops *ops;
};

/* The clock the protocol waits with: the real one, or virtual time in tests. */
struct dfu_clock {
	uint64_t (*now_ms)(void *ctx);
	void (*sleep_ms)(void *ctx, uint32_t ms);
	void *ctx;
};

/*
 * A backend.  enumerate: every device with a DFU interface (run-time or DFU
 * mode); *out is an array the caller frees with free().  A device the
 * backend cannot read is still returned (open will then say why).
 * open: open @dev; *out is closed with (*out)->ops->close().
 * Errors: DFU_E_NOMEM, DFU_E_USB_* (ACCESS: permissions; BUSY: claimed).
 * wait_change (may be NULL): wait up to @timeout_ms for any USB device to
 * arrive or leave; 1 when one did, 0 after the timeout, DFU_E_UNSUPPORTED
 * when the platform reports no such events (then enumerate again instead).
 */
struct dfu_backend_ops {
	int (*enumerate)(void *ctx, struct dfu_usb_device **out, size_t *n, struct dfu_error *e);
	int (*open)(void *ctx, const struct dfu_usb_device *dev, struct dfu_handle **out,
		    struct dfu_error *e);
	int (*wait_change)(void *ctx, uint32_t timeout_ms);
	void (*free)(void *ctx);
};

struct dfu_backend {
	const struct dfu_backend_ops *ops;
	void *ctx;
	struct dfu_clock clock;
};

/* transport-libusb.c: the libusb backend and the real clock.
 * Returns 0, DFU_E_NOMEM or DFU_E_USB_OTHER (libusb_init failed). */
int dfu_backend_libusb_new(struct dfu_backend *out, struct dfu_error *e);
