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
