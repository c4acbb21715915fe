// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Discovery: enumerating the backend's devices, reading their strings,
 * dfu-util's -l listing and its -d -S -p -n -c -i -a matching, and waiting for a
 * device to (re)appear.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "proto.h"
#include "util.h"

#define LANGID_EN_US 0x0409
/* A string read is tiny; a device that does not answer within a second is
 * reported as unreadable rather than holding up the whole listing. */
#define STRING_TIMEOUT_MS 1000

/* dfu_wait_for(same) with timeout 0: dfu-util's default --detach-delay. */
#define WAIT_SAME_DEFAULT_MS 5000

/* strings_state for a string that could not be read (static strings only). */
static const char *unreadable_state(int r)
{
	switch (r) {
	case DFU_E_USB_PIPE:
		return "unreadable: LIBUSB_ERROR_PIPE";
	case DFU_E_USB_TIMEOUT:
		return "unreadable: LIBUSB_ERROR_TIMEOUT";
	case DFU_E_USB_NODEV:
		return "unreadable: LIBUSB_ERROR_NO_DEVICE";
	case DFU_E_USB_IO:
		return "unreadable: LIBUSB_ERROR_IO";
	case DFU_E_USB_OVERFLOW:
		return "unreadable: LIBUSB_ERROR_OVERFLOW";
	case DFU_E_USB_ACCESS:
		return "unreadable: LIBUSB_ERROR_ACCESS";
	case DFU_E_USB_BUSY:
		return "unreadable: LIBUSB_ERROR_BUSY";
	default:
		return "unreadable: LIBUSB_ERROR_OTHER";
	}
}

#define STATE_OK "ok"
#define STATE_NONE "none"
#define STATE_NO_LANGID "no LANGID (used 0x0409)"
#define STATE_WRONG_LANGID "wrong LANGID (used 0x0409)"
#define STATE_TRUNCATED "truncated string descriptor (bLength beyond the data sent)"
#define STATE_ODD "malformed string descriptor (odd length)"
#define STATE_MALFORMED "malformed string descriptor"
#define STATE_NO_PERMISSION "no permission to read"
#define STATE_BUSY "not read: device busy"
#define STATE_NOT_OPENED "not read: device could not be opened"

static bool state_ok(const char *s)
{
	return !s || strcmp(s, STATE_OK) == 0;
}

/* Keep the first problem: later ones are usually consequences of it. */
static void state_note(const char **st, const char *s)
{
	if (state_ok(*st))
		*st = s;
}

/* Append @cp as UTF-8 to @out (@cap bytes with the NUL); never splits a
 * sequence, drops what does not fit. */
static void utf8_put(char *out, size_t cap, size_t *len, uint32_t cp)
{
	uint8_t b[4];
	size_t n;

	/* control characters would break the one-line -l format */
	if (cp < 0x20 || cp == 0x7f)
		cp = '?';
	if (cp < 0x80) {
		b[0] = (uint8_t)cp;
		n = 1;
	} else if (cp < 0x800) {
		b[0] = (uint8_t)(0xc0 | (cp >> 6));
		b[1] = (uint8_t)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		b[0] = (uint8_t)(0xe0 | (cp >> 12));
		b[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
		b[2] = (uint8_t)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		b[0] = (uint8_t)(0xf0 | (cp >> 18));
		b[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3f));
		b[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
		b[3] = (uint8_t)(0x80 | (cp & 0x3f));
		n = 4;
	}
	if (*len + n >= cap)
		return;
	memcpy(out + *len, b, n);
	*len += n;
	out[*len] = '\0';
}

/* UTF-16LE code units (USB 2.0 §9.6.7) to UTF-8; unpaired surrogates become U+FFFD. */
static void utf16le_to_utf8(const uint8_t *p, size_t units, char *out, size_t cap)
{
	size_t len = 0;

	out[0] = '\0';
	for (size_t i = 0; i < units; i++) {
		uint32_t c = le16_get(p + 2 * i);

		if (c >= 0xd800 && c < 0xdc00 && i + 1 < units) {
			uint32_t lo = le16_get(p + 2 * (i + 1));

			if (lo >= 0xdc00 && lo < 0xe000) {
				c = 0x10000 + ((c - 0xd800) << 10) + (lo - 0xdc00);
				i++;
			} else {
				c = 0xfffd;
			}
		} else if (c >= 0xd800 && c < 0xe000) {
			c = 0xfffd;
		}
		utf8_put(out, cap, &len, c);
	}
}

/* Raw bytes that should be UTF-8 (GD32VF103 serial); invalid bytes become '?'. */
static void utf8_copy(const uint8_t *p, size_t n, char *out, size_t cap)
{
	size_t len = 0;

	out[0] = '\0';
	for (size_t i = 0; i < n;) {
		uint32_t c = p[i];
		size_t need = c < 0x80		   ? 0
			      : (c & 0xe0) == 0xc0 ? 1
			      : (c & 0xf0) == 0xe0 ? 2
			      : (c & 0xf8) == 0xf0 ? 3
						   : 4;
		bool ok = need < 4 && i + need < n;

		if (c >= 0x80 && ok) {
			c &= 0x3fu >> need;
			for (size_t k = 1; k <= need; k++) {
				if ((p[i + k] & 0xc0) != 0x80) {
					ok = false;
					break;
				}
				c = (c << 6) | (p[i + k] & 0x3fu);
			}
		}
		if (!ok) {
			utf8_put(out, cap, &len, '?');
			i++;
			continue;
		}
		utf8_put(out, cap, &len, c);
		i += need + 1;
	}
}

/* How a string descriptor's bytes are encoded: UTF-16LE as USB 2.0 9.6.7
 * says, or UTF-8 on devices that get it wrong (serial_encoding()). */
enum str_encoding {
	STR_UTF16LE,
	STR_UTF8,
};

/*
 * Read string @index in @langid into @out as UTF-8.  Returns 0 (with *state
 * set when the descriptor was damaged but something could be kept) or the
 * negative dfu_err of the transfer.  Descriptors claiming more bytes than the
 * device sent are kept as far as they go (pyusb raises there, §5 item 9).
 */
static int read_string(struct dfu_ctx *ctx, struct dfu_handle *h, uint8_t index, uint16_t langid,
		       enum str_encoding enc, char *out, size_t cap, const char **state,
		       const char **usb_name)
{
	uint8_t buf[255];
	size_t use, payload;
	int r;

	out[0] = '\0';
	r = dfu_control_traced(ctx, h, "string descriptor", USB_RT_DEVICE_IN,
			       USB_REQ_GET_DESCRIPTOR, (uint16_t)(USB_DT_STRING << 8 | index),
			       langid, buf, sizeof(buf), STRING_TIMEOUT_MS, usb_name);
	if (r < 0)
		return r;
	if (r < 2 || buf[1] != USB_DT_STRING || buf[0] < 2) {
		state_note(state, STATE_MALFORMED);
		return 0;
	}
	use = buf[0];
	if (use > (size_t)r) {
		state_note(state, STATE_TRUNCATED);
		use = (size_t)r;
	}
	payload = use - 2;
	if (enc == STR_UTF8) {
		utf8_copy(buf + 2, payload, out, cap);
		return 0;
	}
	if (payload % 2) {
		state_note(state, STATE_ODD);
		payload--;
	}
	utf16le_to_utf8(buf + 2, payload / 2, out, cap);
	return 0;
}

/*
 * LANGID table (string 0, USB 2.0 §9.6.7): the first entry.  An empty,
 * stalled or malformed table falls back to 0x0409, as webdfu does and
 * Windows assumes; a STALL is retried once (some devices fail the first
 * access only).
 */
static uint16_t read_langid(struct dfu_ctx *ctx, struct dfu_handle *h, const char **state)
{
	uint8_t buf[255];
	const char *usb_name = NULL;
	int r = -1;

	for (int attempt = 0; attempt < 2 && r < 0; attempt++)
		r = dfu_control_traced(ctx, h, "LANGID table", USB_RT_DEVICE_IN,
				       USB_REQ_GET_DESCRIPTOR, USB_DT_STRING << 8, 0, buf,
				       sizeof(buf), STRING_TIMEOUT_MS, &usb_name);
	if (r < 0) {
		dfu_log(ctx, DFU_LOG_DEBUG, "LANGID table unreadable (%s): using 0x0409",
			usb_name ? usb_name : dfu_strerror(r));
	} else if (r < 4 || buf[0] < 4 || buf[1] != USB_DT_STRING || le16_get(buf + 2) == 0) {
		dfu_log(ctx, DFU_LOG_DEBUG,
			"LANGID table empty or malformed (%d bytes): using 0x0409", r);
	} else {
		return le16_get(buf + 2);
	}
	state_note(state, STATE_NO_LANGID);
	return LANGID_EN_US;
}

/* The strings of one device in one language. */
struct str_reader {
	struct dfu_ctx *ctx;
	struct dfu_handle *h;
	uint16_t langid;
	bool langid_checked; /* one string was read with it */
	const char *langid_state;
};

/*
 * Read one string; a table naming a language the strings do not exist in
 * (wrong-langid: STALL) is retried in 0x0409 and then used for the rest.
 * Returns the state of this string ("ok" or why not).
 */
static const char *str_read(struct str_reader *sr, uint8_t index, enum str_encoding enc, char *out,
			    size_t cap)
{
	const char *st = STATE_OK;
	const char *usb_name = NULL;
	int r;

	out[0] = '\0';
	if (index == 0)
		return STATE_OK;
	r = read_string(sr->ctx, sr->h, index, sr->langid, enc, out, cap, &st, &usb_name);
	if (r == DFU_E_USB_PIPE && !sr->langid_checked && sr->langid != LANGID_EN_US) {
		r = read_string(sr->ctx, sr->h, index, LANGID_EN_US, enc, out, cap, &st, &usb_name);
		if (r >= 0) {
			dfu_log(sr->ctx, DFU_LOG_DEBUG,
				"strings not available in LANGID 0x%04x: using 0x0409", sr->langid);
			sr->langid = LANGID_EN_US;
			state_note(&sr->langid_state, STATE_WRONG_LANGID);
		}
	}
	if (r < 0) {
		dfu_log(sr->ctx, DFU_LOG_DEBUG, "string %u unreadable: %s", index,
			usb_name ? usb_name : dfu_strerror(r));
		return unreadable_state(r);
	}
	sr->langid_checked = true;
	return st;
}

void dfu_match_init(struct dfu_match *m)
{
	if (!m)
		return;
	memset(m, 0, sizeof(*m));
	m->devnum = -1;
	m->config = -1;
	m->interface = -1;
	m->alt = -1;
}

/*
 * bInterfaceProtocol 2 is DFU mode (DFU 1.1 §4.2.3).  dfu-util's quirks kept:
 * DfuSe devices reporting protocol 0 (DSO Nano; bcdDFU 0x011a marks them) and
 * the NXP LPC ROM 1fc9:000c that reports the run-time protocol 1 in DFU mode.
 * dfu-util's Jabra rule (vid 0b0e, protocol 0, one interface) needs
 * bNumInterfaces, which enumeration does not keep: not applied.
 */
static bool alt_is_dfu_mode(const struct dfu_usb_device *d, const struct dfu_usb_alt *a,
			    uint16_t bcd_dfu)
{
	if (a->protocol == 2)
		return true;
	if (a->protocol == 0 && bcd_dfu == 0x011a)
		return true;
	if (a->protocol == 1 && d->vid == 0x1fc9 && d->pid == 0x000c)
		return true;
	return false;
}

static bool id_matches(const struct dfu_id_match *id, uint16_t vid, uint16_t pid)
{
	if (!id->set)
		return true; /* an unset half matches any id (dfu-util parse_vendprod) */
	if (id->none)
		return false;
	if (!id->any_vid && id->vid != vid)
		return false;
	if (!id->any_pid && id->pid != pid)
		return false;
	return true;
}

/* What can be decided before the device is opened. */
static bool match_before_open(const struct dfu_match *m, const struct dfu_if_info *i)
{
	if (m->path && strcmp(m->path, i->path) != 0)
		return false;
	if (m->devnum >= 0 && m->devnum != i->devnum)
		return false;
	/* bConfigurationValue 0 never exists: -c 0 means "any", as in dfu-util */
	if (m->config > 0 && m->config != i->config)
		return false;
	if (m->interface >= 0 && m->interface != i->interface_pos)
		return false;
	if (i->dfu_mode) {
		if (m->alt >= 0 && m->alt != i->alt)
			return false;
		return id_matches(&m->dfu, i->vid, i->pid);
	}
	return id_matches(&m->runtime, i->vid, i->pid);
}

/* The DfuSe region name: between '@' and the first '/', trimmed (§3.1). */
static bool region_name_is(const char *name, const char *want)
{
	const char *a, *b;
	size_t n;

	if (name[0] != '@')
		return false;
	a = name + 1;
	b = strchr(a, '/');
	if (!b)
		b = a + strlen(a);
	while (a < b && (*a == ' ' || *a == '\t'))
		a++;
	while (b > a && (b[-1] == ' ' || b[-1] == '\t'))
		b--;
	n = (size_t)(b - a);
	return strlen(want) == n && memcmp(a, want, n) == 0;
}

/*
 * What needs the strings.  As dfu-util, -a and the DFU half of -S apply to
 * DFU-mode interfaces, the first half of -S to run-time ones; an empty serial
 * matches anything.  A device whose strings could not be read (open_err)
 * passes: it is listed so that the caller can say why it cannot be used.
 */
static bool match_after_open(const struct dfu_match *m, const struct dfu_if_info *i)
{
	const char *serial = i->dfu_mode ? m->serial_dfu : m->serial_runtime;

	if (i->open_err)
		return true;
	if (serial && serial[0] && strcmp(serial, i->serial) != 0)
		return false;
	if (i->dfu_mode && m->alt_name && strcmp(m->alt_name, i->name) != 0 &&
	    !region_name_is(i->name, m->alt_name))
		return false;
	return true;
}

/* Identity and functional descriptor of alt @k of @d. */
static void info_fill_usb(struct dfu_if_info *i, const struct dfu_usb_device *d, size_t k,
			  size_t dev_index)
{
	const struct dfu_usb_alt *a = &d->alts[k];
	const struct dfu_func_desc *fd = &a->func;

	memset(i, 0, sizeof(*i));
	i->bus = d->bus;
	i->devnum = d->devnum;
	snprintf(i->path, sizeof(i->path), "%s", d->path);
	i->vid = d->vid;
	i->pid = d->pid;
	i->bcd_device = d->bcd_device;
	i->config = d->config_value;
	i->interface = a->interface;
	i->interface_pos = a->interface_pos;
	i->alt = a->alt;
	/* ST ROMs and the HAL (usbd_dfu.c) put one functional descriptor after the
	 * last alt: use the first one found on the interface. */
	if (!fd->present) {
		for (size_t j = 0; j < d->n_alts; j++) {
			if (d->alts[j].interface == a->interface && d->alts[j].func.present) {
				fd = &d->alts[j].func;
				break;
			}
		}
	}
	if (fd->present) {
		i->attributes = fd->attributes;
		i->detach_timeout_ms = fd->detach_timeout_ms;
		i->transfer_size = fd->transfer_size;
		i->bcd_dfu = fd->bcd_dfu ? fd->bcd_dfu : 0x0100;
	} else {
		i->bcd_dfu = 0x0100; /* dfu-util: no descriptor, assume DFU 1.0 */
	}
	i->dfu_mode = alt_is_dfu_mode(d, a, i->bcd_dfu);
	i->strings_state = STATE_OK;
	i->device_index = dev_index;
}

/* GD32VF103 sends its serial in UTF-8 (dfu-util QUIRK_UTF8_SERIAL): the
 * quirk by the ids alone (the layout is not known yet). */
static enum str_encoding serial_encoding(const struct dfu_ctx *ctx, const struct dfu_usb_device *d)
{
	struct dfu_if_info id = { .vid = d->vid, .pid = d->pid, .bcd_device = d->bcd_device };
	struct dfu_quirk_set q;

	dfu_quirks_resolve(ctx->quirk_rules, &id, &q, NULL, NULL);
	return q.bits & DFU_QUIRK_UTF8_SERIAL ? STR_UTF8 : STR_UTF16LE;
}

static void open_failed(struct dfu_if_info *infos, size_t n, int r, const char *usb_name,
			const struct dfu_error *oe)
{
	for (size_t k = 0; k < n; k++) {
		struct dfu_if_info *i = &infos[k];

		i->open_err = r;
		switch (r) {
		case DFU_E_USB_ACCESS:
			snprintf(i->open_error, sizeof(i->open_error),
				 "permission denied: install the udev rule (60-dfuflash.rules) "
				 "or run as root");
			i->strings_state = STATE_NO_PERMISSION;
			break;
		case DFU_E_USB_BUSY:
			snprintf(i->open_error, sizeof(i->open_error),
				 "busy: claimed by another program");
			i->strings_state = STATE_BUSY;
			break;
		case DFU_E_USB_NODEV:
			snprintf(i->open_error, sizeof(i->open_error),
				 "gone: the device left the bus while being listed");
			i->strings_state = STATE_NOT_OPENED;
			break;
		default:
			snprintf(i->open_error, sizeof(i->open_error), "cannot open: %.100s%s%s%s",
				 oe && oe->message[0] ? oe->message : dfu_strerror(r),
				 usb_name ? " (" : "", usb_name ? usb_name : "",
				 usb_name ? ")" : "");
			i->strings_state = STATE_NOT_OPENED;
			break;
		}
	}
}

/* Open @d once and read every string the @n alts in @infos need. */
static void read_strings(struct dfu_ctx *ctx, const struct dfu_usb_device *d,
			 struct dfu_if_info *infos, size_t n)
{
	struct dfu_error oe = { 0 };
	struct dfu_handle *h = NULL;
	struct str_reader sr = { .ctx = ctx, .langid_state = STATE_OK };
	char serial[sizeof(infos->serial)], product[sizeof(infos->product)];
	char manufacturer[sizeof(infos->manufacturer)];
	uint8_t i_interface[DFU_MAX_ALTS] = { 0 };
	const char *dev_state = STATE_OK;
	int r;

	r = ctx->backend.ops->open(ctx->backend.ctx, d, &h, &oe);
	if (r < 0) {
		dfu_log(ctx, DFU_LOG_VERBOSE, "cannot open %04x:%04x at %s: %s", d->vid, d->pid,
			d->path, oe.message[0] ? oe.message : dfu_strerror(r));
		open_failed(infos, n, r, oe.usb_name, &oe);
		return;
	}
	sr.h = h;
	sr.langid = read_langid(ctx, h, &sr.langid_state);

	/* iInterface first: it is what -a NAME and the DfuSe layout need */
	for (size_t k = 0; k < n; k++) {
		for (size_t j = 0; j < d->n_alts; j++)
			if (d->alts[j].interface == infos[k].interface &&
			    d->alts[j].alt == infos[k].alt)
				i_interface[k] = d->alts[j].i_interface;
		infos[k].strings_state = str_read(&sr, i_interface[k], STR_UTF16LE, infos[k].name,
						  sizeof(infos[k].name));
	}
	state_note(&dev_state,
		   str_read(&sr, d->i_serial, serial_encoding(ctx, d), serial, sizeof(serial)));
	state_note(&dev_state, str_read(&sr, d->i_product, STR_UTF16LE, product, sizeof(product)));
	state_note(&dev_state, str_read(&sr, d->i_manufacturer, STR_UTF16LE, manufacturer,
					sizeof(manufacturer)));
	h->ops->close(h);

	for (size_t k = 0; k < n; k++) {
		struct dfu_if_info *i = &infos[k];
		const char *st = sr.langid_state;

		state_note(&st, i->strings_state);
		state_note(&st, dev_state);
		if (state_ok(st) && !d->i_serial && !d->i_product && !d->i_manufacturer &&
		    !i_interface[k])
			st = STATE_NONE;
		i->strings_state = st;
		memcpy(i->serial, serial, sizeof(i->serial));
		memcpy(i->product, product, sizeof(i->product));
		memcpy(i->manufacturer, manufacturer, sizeof(i->manufacturer));
	}
}

/* Parse the DfuSe layout of @i; failure is noted in the log, not fatal. */
int dfu_info_parse_layout(struct dfu_ctx *ctx, struct dfu_if_info *i)
{
	struct dfu_error le = { 0 };
	int r;

	i->layout = NULL;
	if (i->name[0] != '@')
		return 0;
	r = dfuse_layout_parse(i->name, strlen(i->name), &i->layout, &le);
	if (r == DFU_E_NOMEM)
		return r;
	if (r < 0) {
		i->layout = NULL;
		snprintf(i->layout_error, sizeof(i->layout_error), "%s%s%s", le.message,
			 le.where[0] ? " at " : "", le.where);
		dfu_log(ctx, DFU_LOG_VERBOSE,
			"%04x:%04x alt %u: DfuSe layout not understood (%s%s%s): \"%s\"", i->vid,
			i->pid, i->alt, le.message, le.where[0] ? " at " : "", le.where, i->name);
	}
	if (i->layout && dfu_quirk_fix_layout(ctx->quirk_rules, i, i->layout))
		dfu_log(
		    ctx, DFU_LOG_VERBOSE,
		    "%04x:%04x alt %u: the announced layout is wrong for this chip; using %u pages "
		    "of %u bytes (flash size code '%c' in serial \"%s\")",
		    i->vid, i->pid, i->alt, i->layout->segments[0].count,
		    i->layout->segments[0].size, i->serial[2], i->serial);
	return 0;
}

bool dfu_if_name_unread(const struct dfu_if_info *info)
{
	const char *st = info->strings_state;

	return !info->name[0] && st && strcmp(st, STATE_OK) != 0 && strcmp(st, STATE_NONE) != 0;
}

void dfu_if_info_free(struct dfu_if_info *list, size_t n)
{
	if (!list)
		return;
	for (size_t k = 0; k < n; k++)
		dfuse_layout_free(list[k].layout);
	free(list);
}

int dfu_list(struct dfu_ctx *ctx, const struct dfu_match *m, struct dfu_if_info **out, size_t *n,
	     struct dfu_error *e)
{
	struct dfu_usb_device *devs = NULL;
	struct dfu_if_info *list = NULL;
	size_t n_devs = 0, count = 0, cap = 0;
	struct dfu_match any;
	int r;

	if (out)
		*out = NULL;
	if (n)
		*n = 0;
	if (!ctx || !out || !n)
		return dfu_error_set(e, DFU_E_INVAL, "device.inval", NULL,
				     "dfu_list: missing argument");
	if (!m) {
		dfu_match_init(&any);
		m = &any;
	}
	r = ctx->backend.ops->enumerate(ctx->backend.ctx, &devs, &n_devs, e);
	if (r < 0) {
		dfu_usb_fail(e, r, NULL, "device.enumerate", "enumerate USB devices",
			     "cannot enumerate USB devices: %s", dfu_strerror(r));
		return r;
	}
	free(ctx->devs);
	ctx->devs = devs;
	ctx->n_devs = n_devs;

	for (size_t di = 0; di < n_devs; di++) {
		const struct dfu_usb_device *d = &devs[di];
		struct dfu_if_info infos[DFU_MAX_ALTS];
		size_t k = 0;

		for (size_t a = 0; a < d->n_alts && a < DFU_MAX_ALTS; a++) {
			info_fill_usb(&infos[k], d, a, di);
			if (match_before_open(m, &infos[k]))
				k++;
		}
		if (k == 0)
			continue;
		read_strings(ctx, d, infos, k);
		for (size_t a = 0; a < k; a++) {
			if (!match_after_open(m, &infos[a]))
				continue;
			if (count == cap) {
				size_t nc = cap ? cap * 2 : 8;
				struct dfu_if_info *nl = realloc(list, nc * sizeof(*nl));

				if (!nl) {
					dfu_if_info_free(list, count);
					return dfu_error_set(e, DFU_E_NOMEM, "device.nomem", NULL,
							     "out of memory while listing devices");
				}
				list = nl;
				cap = nc;
			}
			list[count] = infos[a];
			if (dfu_info_parse_layout(ctx, &list[count]) < 0) {
				dfu_if_info_free(list, count);
				return dfu_error_set(e, DFU_E_NOMEM, "device.nomem", NULL,
						     "out of memory while listing devices");
			}
			count++;
		}
	}
	*out = list;
	*n = count;
	return 0;
}

int dfu_if_info_format_line(const struct dfu_if_info *i, char *buf, size_t len)
{
	if (!i || (!buf && len))
		return DFU_E_INVAL;
	/* dfu-util 0.11 list_dfu_interfaces(), byte for byte; "UNKNOWN" is what it
	 * prints for a string it could not read */
	return snprintf(buf, len,
			"Found %s: [%04x:%04x] ver=%04x, devnum=%u, cfg=%u, intf=%u, path=\"%s\", "
			"alt=%u, name=\"%s\", serial=\"%s\"",
			i->dfu_mode ? "DFU" : "Runtime", i->vid, i->pid, i->bcd_device, i->devnum,
			i->config, i->interface, i->path, i->alt, i->name[0] ? i->name : "UNKNOWN",
			i->serial[0] ? i->serial : "UNKNOWN");
}

/* The physical device of @same: by path when it has one, else by serial. */
static bool is_same_device(const struct dfu_if_info *same, const struct dfu_if_info *i)
{
	if (same->path[0])
		return strcmp(same->path, i->path) == 0;
	return same->serial[0] && strcmp(same->serial, i->serial) == 0;
}

/* The device of @same is on the bus (raw enumeration, no strings needed). */
static bool path_present(const struct dfu_ctx *ctx, const char *path)
{
	for (size_t k = 0; k < ctx->n_devs; k++)
		if (strcmp(ctx->devs[k].path, path) == 0)
			return true;
	return false;
}

/*
 * Keep the entries of @list, just enumerated, that are the device of @same
 * come back (all of them without @same); the others are freed.  *@gone_seen
 * records that the device was seen off the bus.  Returns how many were kept.
 */
static size_t keep_returned(const struct dfu_ctx *ctx, const struct dfu_if_info *same,
			    bool *gone_seen, struct dfu_if_info *list, size_t cnt)
{
	size_t kept = 0;

	if (same && same->path[0] && !path_present(ctx, same->path))
		*gone_seen = true;
	for (size_t k = 0; k < cnt; k++) {
		bool keep = true;

		if (same) {
			/*
			 * Only a re-enumeration counts: the device was seen gone, or
			 * it now shows another mode or USB address.  Otherwise the
			 * old enumeration, still there for a moment after DETACH,
			 * would be taken for the new one.
			 */
			keep = is_same_device(same, &list[k]) &&
			       (*gone_seen || list[k].dfu_mode != same->dfu_mode ||
				list[k].devnum != same->devnum);
		}
		if (!keep) {
			dfuse_layout_free(list[k].layout);
			continue;
		}
		list[kept++] = list[k];
	}
	return kept;
}

/* The error of a wait that ended without the device. */
static int wait_timed_out(const struct dfu_if_info *same, uint32_t timeout_ms, struct dfu_error *e)
{
	if (same)
		return dfu_error_set(e, DFU_E_NODEVICE, "device.did_not_return", NULL,
				     "%04x:%04x at %s did not come back within %u ms", same->vid,
				     same->pid, same->path[0] ? same->path : same->serial,
				     timeout_ms);
	return dfu_error_set(e, DFU_E_NODEVICE, "device.wait_timeout", NULL,
			     "no matching DFU device appeared within %u ms", timeout_ms);
}

int dfu_wait_for(struct dfu_ctx *ctx, const struct dfu_match *m, const struct dfu_if_info *same,
		 uint32_t timeout_ms, struct dfu_if_info **out, size_t *n, struct dfu_error *e)
{
	struct dfu_match narrowed;
	uint64_t start, now;
	bool forever, gone_seen = false;
	int r;

	if (out)
		*out = NULL;
	if (n)
		*n = 0;
	if (!ctx || !out || !n)
		return dfu_error_set(e, DFU_E_INVAL, "device.inval", NULL,
				     "dfu_wait_for: missing argument");
	if (same && !same->path[0] && !same->serial[0])
		return dfu_error_set(
		    e, DFU_E_INVAL, "device.no_identity", NULL,
		    "cannot recognise the device again: it has neither a port path "
		    "nor a serial number");
	/* only the device at that path can be it: open nothing else while polling */
	if (same && same->path[0] && !(m && m->path)) {
		if (m)
			narrowed = *m;
		else
			dfu_match_init(&narrowed);
		narrowed.path = same->path;
		m = &narrowed;
	}
	forever = timeout_ms == 0 && !same;
	if (same && timeout_ms == 0)
		timeout_ms = WAIT_SAME_DEFAULT_MS;
	start = dfu_now_ms(ctx);

	for (;;) {
		struct dfu_if_info *list = NULL;
		size_t cnt = 0, kept;
		uint32_t step;

		r = dfu_list(ctx, m, &list, &cnt, e);
		if (r < 0)
			return r;
		kept = keep_returned(ctx, same, &gone_seen, list, cnt);
		if (kept) {
			*out = list;
			*n = kept;
			dfu_log(ctx, DFU_LOG_DEBUG, "device found after %llu ms",
				(unsigned long long)(dfu_now_ms(ctx) - start));
			return 0;
		}
		free(list);

		now = dfu_now_ms(ctx);
		step = DFU_WAIT_POLL_MS;
		if (!forever) {
			if (now - start >= timeout_ms)
				break;
			step = (uint32_t)MIN((uint64_t)step, timeout_ms - (now - start));
		}
		dfu_sleep_ms(ctx, step);
	}
	return wait_timed_out(same, timeout_ms, e);
}
