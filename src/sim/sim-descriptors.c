// SPDX-License-Identifier: GPL-2.0-or-later
/* USB descriptors of the simulated device, built from its profile for the current mode:
 * DFU mode (interface FE/01/02, one alt per memory, functional descriptor after the last
 * alt as on ST's ROM; DFU 1.1 §4.2) or the application's run-time mode (FE/01/01,
 * DFU 1.1 §4.1). */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "macro.h"
#include "sim-internal.h"
#include "util.h"

#define STR_MANUFACTURER 1
#define STR_PRODUCT 2
#define STR_SERIAL 3
#define STR_INTERFACE0 4

static bool dfu_mode(const struct sim_device *d)
{
	return d->mode != SIM_MODE_RUNTIME;
}

static size_t copy_out(uint8_t *buf, size_t cap, const uint8_t *src, size_t len)
{
	if (buf && cap)
		memcpy(buf, src, MIN(cap, len));
	return len;
}

int sim_descriptor_device(struct sim_device *d, uint8_t *buf, size_t cap)
{
	const struct sim_profile *p = d->p;
	bool dfu = dfu_mode(d);
	uint8_t desc[18] = { 18, 0x01 };

	le16_put(desc + 2, p->bcd_usb);
	desc[4] = 0x00; /* class per interface */
	desc[7] = 64;	/* bMaxPacketSize0 (full speed) */
	le16_put(desc + 8, dfu ? p->vid : p->app_vid);
	le16_put(desc + 10, dfu ? p->pid : p->app_pid);
	le16_put(desc + 12, dfu ? p->bcd_device : p->app_bcd_device);
	desc[14] = STR_MANUFACTURER;
	desc[15] = STR_PRODUCT;
	desc[16] = STR_SERIAL;
	desc[17] = 1;
	return (int)copy_out(buf, cap, desc, sizeof(desc));
}

int sim_descriptor_functional(struct sim_device *d, uint8_t *buf, size_t cap)
{
	bool dfu = dfu_mode(d);
	uint8_t fd[9] = { 9, 0x21 };
	uint8_t len = dfu ? d->cfg.fd_length : 9;

	/* DFU 1.1 §4.1.3; a 7-byte one lacks bcdDFUVersion (Particle; dfu-util then assumes
	 * DFU 1.0) */
	fd[0] = len;
	fd[2] = dfu ? d->cfg.fd_attributes : d->cfg.app_fd_attributes;
	le16_put(fd + 3, d->p->detach_timeout);
	le16_put(fd + 5, d->cfg.fd_transfer_size);
	le16_put(fd + 7, dfu ? d->p->bcd_dfu : d->p->app_bcd_dfu);
	return (int)copy_out(buf, cap, fd, len);
}

int sim_descriptor_config(struct sim_device *d, uint8_t *buf, size_t cap)
{
	uint8_t desc[9 + 9 * 255 + 9];
	unsigned n_alts = dfu_mode(d) ? d->p->n_alts : 1;
	size_t len = 9;

	memset(desc, 0, sizeof(desc));
	desc[0] = 9;
	desc[1] = 0x02;
	desc[4] = 1;	/* one interface */
	desc[5] = 1;	/* bConfigurationValue */
	desc[7] = 0xC0; /* self powered */
	desc[8] = 50;	/* 100 mA */
	for (unsigned alt = 0; alt < n_alts; alt++) {
		uint8_t *i = desc + len;

		i[0] = 9;
		i[1] = 0x04;
		i[2] = 0; /* interface 0 */
		i[3] = (uint8_t)alt;
		i[4] = 0; /* no endpoints */
		i[5] = 0xFE;
		i[6] = 0x01;
		i[7] = dfu_mode(d) ? 0x02 : 0x01;
		i[8] = (uint8_t)(STR_INTERFACE0 + alt);
		len += 9;
	}
	/* after the last alternate setting, as the ST ROM and HAL place it */
	len += (size_t)sim_descriptor_functional(d, desc + len, 9);
	le16_put(desc + 2, (uint16_t)len);
	return (int)copy_out(buf, cap, desc, len);
}

int sim_string_text(struct sim_device *d, uint8_t index, char *buf, size_t cap)
{
	const struct sim_profile *p = d->p;
	char layout[256];
	const char *s = NULL;

	switch (index) {
	case STR_MANUFACTURER:
		s = p->manufacturer;
		break;
	case STR_PRODUCT:
		s = dfu_mode(d) ? p->product : p->app_product;
		break;
	case STR_SERIAL:
		s = d->cfg.serial[0] ? d->cfg.serial : p->serial;
		break;
	default:
		if (index < STR_INTERFACE0)
			return -ENOENT;
		if (!dfu_mode(d)) {
			if (index != STR_INTERFACE0)
				return -ENOENT;
			s = "DFU Runtime";
			break;
		}
		if (index - STR_INTERFACE0 >= p->n_alts)
			return -ENOENT;
		/* the STM32G0B1 bug: every alt names the flash (ST community, 2025) */
		sim_alt_format(&p->alts[d->cfg.identical_alt_names ? 0 : index - STR_INTERFACE0],
			       layout, sizeof(layout));
		s = layout;
		break;
	}
	if (cap)
		snprintf(buf, cap, "%s", s);
	return (int)strlen(s);
}

int sim_descriptor_string(struct sim_device *d, uint8_t index, uint16_t langid, uint8_t *buf,
			  size_t cap)
{
	uint8_t desc[256];
	char text[256];
	size_t len;
	int n;

	if (index == 0) {
		/* broken LANGID tables make pyusb give up ("The device has no langid") */
		switch (d->cfg.langid) {
		case SIM_LANGID_EMPTY:
			desc[0] = 2;
			desc[1] = 0x03;
			return (int)copy_out(buf, cap, desc, 2);
		case SIM_LANGID_STALL:
			return SIM_STALL;
		case SIM_LANGID_FAIL_FIRST:
			if (d->langid_reads++ == 0)
				return SIM_STALL;
			break;
		default:
			break;
		}
		desc[0] = 4;
		desc[1] = 0x03;
		le16_put(desc + 2, d->cfg.wrong_langid ? 0x0407 : 0x0409);
		return (int)copy_out(buf, cap, desc, 4);
	}
	if (d->cfg.wrong_langid && langid != 0x0409)
		return SIM_STALL;
	n = sim_string_text(d, index, text, sizeof(text));
	if (n < 0)
		return n;
	desc[1] = 0x03;
	len = 2;
	if (index == STR_SERIAL && d->p->serial_utf8) {
		/* GD32VF103: serial in UTF-8 (dfu-util QUIRK_UTF8_SERIAL) */
		for (int i = 0; i < n && len < sizeof(desc); i++)
			desc[len++] = (uint8_t)text[i];
	} else {
		for (int i = 0; i < n && len + 1 < sizeof(desc); i++) {
			desc[len++] = (uint8_t)text[i];
			desc[len++] = 0;
		}
	}
	desc[0] = (uint8_t)len;
	if (d->cfg.bad_strings)
		desc[0] = (uint8_t)MIN(len + 1, 255u); /* claims one byte more than it sends */
	return (int)copy_out(buf, cap, desc, len);
}
