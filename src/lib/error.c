// SPDX-License-Identifier: GPL-2.0-or-later
/* struct dfu_error: filled once at the failure site, printed by the CLI. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "dfuflash-internal.h"

void dfu_error_clear(struct dfu_error *e)
{
	if (e)
		memset(e, 0, sizeof(*e));
}

int dfu_error_setv(struct dfu_error *e, int err, const char *code, const char *where,
		   const char *fmt, va_list ap)
{
	if (!e || e->err != 0)
		return err;
	e->err = err;
	snprintf(e->code, sizeof(e->code), "%s", code ? code : "");
	snprintf(e->where, sizeof(e->where), "%s", where ? where : "");
	vsnprintf(e->message, sizeof(e->message), fmt, ap);
	e->hint = NULL;
	return err;
}

int dfu_error_set(struct dfu_error *e, int err, const char *code, const char *where,
		  const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	dfu_error_setv(e, err, code, where, fmt, ap);
	va_end(ap);
	return err;
}

void dfu_error_hint(struct dfu_error *e, const char *hint)
{
	if (e)
		e->hint = hint;
}

const char *dfu_strerror(int err)
{
	switch (err) {
	case DFU_OK:
		return "success";
	case DFU_E_NOMEM:
		return "out of memory";
	case DFU_E_INVAL:
		return "invalid argument";
	case DFU_E_FORMAT:
		return "malformed data";
	case DFU_E_RANGE:
		return "out of range";
	case DFU_E_UNSUPPORTED:
		return "not supported";
	case DFU_E_CONFLICT:
		return "conflicting data";
	case DFU_E_IO:
		return "input/output error";
	case DFU_E_NOTFOUND:
		return "not found";
	case DFU_E_EXISTS:
		return "already exists";
	}
	return "unknown error";
}

void dfu_where_line(char buf[DFU_WHERE_LEN], unsigned long line)
{
	snprintf(buf, DFU_WHERE_LEN, "line %lu", line);
}

void dfu_where_offset(char buf[DFU_WHERE_LEN], uint64_t offset)
{
	snprintf(buf, DFU_WHERE_LEN, "offset %llu (0x%llx)", (unsigned long long)offset,
		 (unsigned long long)offset);
}
