/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * src/util/: the bottom room, under the library, the CLI and the simulator:
 * byte-order helpers and strict number parsing (util.h), macros (macro.h).
 * No DFU knowledge; uses only the C library.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

static inline uint16_t le16_get(const uint8_t *p)
{
	return (uint16_t)(p[0] | (p[1] << 8));
}
static inline uint32_t le32_get(const uint8_t *p)
{
	return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
	       ((uint32_t)p[3] << 24);
}
static inline uint64_t le64_get(const uint8_t *p)
{
	return (uint64_t)le32_get(p) | ((uint64_t)le32_get(p + 4) << 32);
}
static inline uint16_t be16_get(const uint8_t *p)
{
	return (uint16_t)((p[0] << 8) | p[1]);
}
static inline uint32_t be32_get(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) |
	       (uint32_t)p[3];
}
static inline uint64_t be64_get(const uint8_t *p)
{
	return ((uint64_t)be32_get(p) << 32) | (uint64_t)be32_get(p + 4);
}
static inline void le16_put(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}
static inline void le32_put(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}
static inline void be32_put(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* Value of one hex digit, or -1. */
static inline int hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/*
 * Strict unsigned parse of a whole string: decimal, or hexadecimal with a 0x/0X
 * prefix.  A leading 0 does NOT mean octal ("010" is ten).  No sign, no
 * whitespace, no trailing characters, no overflow past @max.
 * Returns 0 on success, -EINVAL on syntax, -ERANGE when above @max.
 */
int util_parse_u64(const char *s, uint64_t max, uint64_t *out);
int util_parse_u32(const char *s, uint32_t *out);
int util_parse_u16(const char *s, uint16_t *out);

/* Same, but with a mandatory radix (16 accepts an optional 0x prefix). */
int util_parse_u64_radix(const char *s, int radix, uint64_t max, uint64_t *out);

/*
 * The length (1 to 4) of the well-formed UTF-8 sequence at @p, of which
 * @avail bytes may be read, or 0 when it is not one: a stray continuation
 * byte, a truncated sequence, an overlong form, a UTF-16 surrogate or a
 * code point above U+10FFFF (RFC 3629).
 */
size_t util_utf8_len(const uint8_t *p, size_t avail);
