// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * DFU 1.0/1.1 file suffix (DFU 1.1 spec, appendix B): the last bLength bytes
 * of a .dfu file, read backwards from the end.  Parsing and building only;
 * what a missing suffix means is the reader's decision.
 */
#include "config.h"

#include <string.h>

#include "image.h"
#include "util.h"

/*
 * Offsets from the end of the file (appendix B, table B-1, stored in reverse
 * order so that a suffix can be found without knowing the payload length).
 */
#define SFX_CRC 4	/* dwCRC, LE32 */
#define SFX_LENGTH 5	/* bLength */
#define SFX_SIGNATURE 8 /* ucDfuSignature "UFD" at len-8..len-6 */
#define SFX_BCD_DFU 10	/* bcdDFU, LE16 */
#define SFX_VENDOR 12	/* idVendor */
#define SFX_PRODUCT 14	/* idProduct */
#define SFX_DEVICE 16	/* bcdDevice */

static bool is_signature(const uint8_t *p)
{
	return p[0] == 'U' && p[1] == 'F' && p[2] == 'D';
}

/* dwCRC: CRC-32 over everything before it, without the final XOR (B.1). */
static uint32_t suffix_crc(const uint8_t *buf, size_t len)
{
	return ~dfu_crc32(0, buf, len);
}

int dfu_suffix_parse(const uint8_t *buf, size_t len, struct dfu_suffix *s, struct dfu_error *e)
{
	char where[DFU_WHERE_LEN];
	uint32_t stored, computed;
	uint8_t blength;

	memset(s, 0, sizeof(*s));

	if (len < SFX_SIGNATURE || !is_signature(buf + len - SFX_SIGNATURE)) {
		/* A signature nearer the end than len-8 means the tail of a
		 * suffix was cut off: say so rather than treat the file as raw
		 * data that happens to end in "UFD". */
		for (size_t back = SFX_SIGNATURE - 1; back >= 3; back--) {
			if (len >= back && is_signature(buf + len - back)) {
				dfu_where_offset(where, len - back);
				return dfu_error_set(
				    e, DFU_E_FORMAT, "dfu.truncated_suffix", where,
				    "DFU signature 'UFD' found %zu bytes before the end, expected "
				    "%d: the suffix is cut short",
				    back, SFX_SIGNATURE);
			}
		}
		return 0;
	}

	if (len < DFU_SUFFIX_LEN) {
		dfu_where_offset(where, len - SFX_SIGNATURE);
		return dfu_error_set(
		    e, DFU_E_FORMAT, "dfu.truncated_suffix", where,
		    "file of %zu bytes has a DFU signature but is shorter than a %d-byte suffix",
		    len, DFU_SUFFIX_LEN);
	}

	blength = buf[len - SFX_LENGTH];
	if (blength < DFU_SUFFIX_LEN || blength > len) {
		dfu_where_offset(where, len - SFX_LENGTH);
		return dfu_error_set(e, DFU_E_FORMAT, "dfu.bad_suffix_length", where,
				     "bLength %u is invalid (must be >= %d and <= file size)",
				     (unsigned)blength, DFU_SUFFIX_LEN);
	}

	stored = le32_get(buf + len - SFX_CRC);
	computed = suffix_crc(buf, len - SFX_CRC);
	if (stored != computed) {
		dfu_where_offset(where, len - SFX_CRC);
		return dfu_error_set(e, DFU_E_FORMAT, "dfu.crc_mismatch", where,
				     "suffix dwCRC is 0x%08x but the file gives 0x%08x", stored,
				     computed);
	}

	/* bcdDFU 0x0100 (DFU 1.0/1.1) and 0x011a (DfuSe) are the values in the
	 * wild; anything else is informational only, so it is kept as is. */
	s->present = true;
	s->bcd_device = le16_get(buf + len - SFX_DEVICE);
	s->id_product = le16_get(buf + len - SFX_PRODUCT);
	s->id_vendor = le16_get(buf + len - SFX_VENDOR);
	s->bcd_dfu = le16_get(buf + len - SFX_BCD_DFU);
	s->length = blength;
	s->crc = stored;
	return 1;
}

void dfu_suffix_build(const uint8_t *payload, size_t len, uint16_t bcd_device, uint16_t id_product,
		      uint16_t id_vendor, uint16_t bcd_dfu, uint8_t out[DFU_SUFFIX_LEN])
{
	uint32_t crc;

	le16_put(out + DFU_SUFFIX_LEN - SFX_DEVICE, bcd_device);
	le16_put(out + DFU_SUFFIX_LEN - SFX_PRODUCT, id_product);
	le16_put(out + DFU_SUFFIX_LEN - SFX_VENDOR, id_vendor);
	le16_put(out + DFU_SUFFIX_LEN - SFX_BCD_DFU, bcd_dfu);
	memcpy(out + DFU_SUFFIX_LEN - SFX_SIGNATURE, "UFD", 3);
	out[DFU_SUFFIX_LEN - SFX_LENGTH] = DFU_SUFFIX_LEN;

	/* The CRC covers the payload and the first 12 suffix bytes; continue
	 * the running CRC instead of copying them together. */
	crc = dfu_crc32(0, payload, len);
	crc = dfu_crc32(crc, out, DFU_SUFFIX_LEN - SFX_CRC);
	le32_put(out + DFU_SUFFIX_LEN - SFX_CRC, ~crc);
}
