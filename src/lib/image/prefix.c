// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The unencrypted NXP LPC DFU prefix: 16 bytes in front of the firmware that
 * the LPC18xx/43xx boot ROM reads, written and recognised the way dfu-util's
 * dfu-prefix does.  Parse and build only; what a file's DFU suffix becomes
 * when a prefix is added or removed is the caller's business.
 */
#include "config.h"

#include <string.h>

#include "image.h"
#include "util.h"

/*
 * Layout: byte 0 0x1a (unencrypted image), byte 1 0x3f, bytes 2-3 the
 * payload size in 512-byte blocks (little endian, rounded up), bytes 4-11
 * zero, bytes 12-15 0xff.  Recognised as dfu-util does: the low six bits of
 * bytes 0 and 1 only.
 */
#define LPC_FLAG_UNENCRYPTED 0x1a
#define LPC_RESERVED 0x3f
#define LPC_BLOCK 512u

int dfu_lpc_prefix_parse(const uint8_t *buf, size_t len, struct dfu_lpc_prefix *p,
			 struct dfu_error *e)
{
	memset(p, 0, sizeof(*p));
	if (len < DFU_LPC_PREFIX_LEN)
		return dfu_error_set(e, DFU_E_FORMAT, "lpc.no_prefix", NULL,
				     "file of %zu bytes is shorter than the %d-byte LPC prefix",
				     len, DFU_LPC_PREFIX_LEN);
	if ((buf[0] & 0x3f) != LPC_FLAG_UNENCRYPTED || (buf[1] & 0x3f) != LPC_RESERVED)
		return dfu_error_set(e, DFU_E_FORMAT, "lpc.no_prefix", "offset 0 (0x0)",
				     "no NXP LPC DFU prefix: the file starts %02x %02x, "
				     "expected 1a 3f",
				     buf[0], buf[1]);
	p->blocks = le16_get(buf + 2);
	return 0;
}

int dfu_lpc_prefix_build(size_t payload_len, uint8_t out[DFU_LPC_PREFIX_LEN], struct dfu_error *e)
{
	size_t blocks = (payload_len + LPC_BLOCK - 1) / LPC_BLOCK;

	if (blocks > 0xffff)
		return dfu_error_set(e, DFU_E_RANGE, "lpc.too_large", NULL,
				     "%zu bytes do not fit the LPC prefix's 16-bit count of "
				     "512-byte blocks (at most %u bytes)",
				     payload_len, 0xffffu * LPC_BLOCK);
	memset(out, 0, DFU_LPC_PREFIX_LEN);
	out[0] = LPC_FLAG_UNENCRYPTED;
	out[1] = LPC_RESERVED;
	le16_put(out + 2, (uint16_t)blocks);
	memset(out + 12, 0xff, 4);
	return 0;
}
