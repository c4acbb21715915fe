// SPDX-License-Identifier: GPL-2.0-or-later
/* Strict number parsing for option values and descriptor strings. */
#include "config.h"

#include <errno.h>

#include "util.h"

int util_parse_u64_radix(const char *s, int radix, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;
	const char *p = s;

	if (!s || !*s)
		return -EINVAL;
	if (radix == 16 && p[0] == '0' && (p[1] == 'x' || p[1] == 'X'))
		p += 2;
	if (!*p)
		return -EINVAL;
	for (; *p; p++) {
		int d = hexval((unsigned char)*p);

		if (d < 0 || d >= radix)
			return -EINVAL;
		if (v > (UINT64_MAX - (uint64_t)d) / (uint64_t)radix)
			return -ERANGE;
		v = v * (uint64_t)radix + (uint64_t)d;
	}
	if (v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

int util_parse_u64(const char *s, uint64_t max, uint64_t *out)
{
	if (s && s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
		return util_parse_u64_radix(s, 16, max, out);
	return util_parse_u64_radix(s, 10, max, out);
}

int util_parse_u32(const char *s, uint32_t *out)
{
	uint64_t v;
	int r = util_parse_u64(s, UINT32_MAX, &v);

	if (r == 0)
		*out = (uint32_t)v;
	return r;
}

int util_parse_u16(const char *s, uint16_t *out)
{
	uint64_t v;
	int r = util_parse_u64(s, UINT16_MAX, &v);

	if (r == 0)
		*out = (uint16_t)v;
	return r;
}

size_t util_utf8_len(const uint8_t *p, size_t avail)
{
	uint8_t lo = 0x80, hi = 0xbf; /* range of the second byte */
	size_t n;

	if (avail == 0)
		return 0;
	if (p[0] < 0x80)
		return 1;
	if (p[0] < 0xc2 || p[0] > 0xf4)
		return 0; /* continuation, overlong lead (C0, C1) or past U+10FFFF */
	n = p[0] < 0xe0 ? 2 : p[0] < 0xf0 ? 3 : 4;
	if (p[0] == 0xe0)
		lo = 0xa0; /* overlong */
	else if (p[0] == 0xed)
		hi = 0x9f; /* U+D800..U+DFFF */
	else if (p[0] == 0xf0)
		lo = 0x90; /* overlong */
	else if (p[0] == 0xf4)
		hi = 0x8f; /* above U+10FFFF */
	if (avail < n || p[1] < lo || p[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if ((p[i] & 0xc0) != 0x80)
			return 0;
	return n;
}
