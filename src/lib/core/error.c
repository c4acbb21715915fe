// SPDX-License-Identifier: GPL-2.0-or-later
/* struct dfu_error: filled once at the failure site, printed by the CLI. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "core.h"

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
	case DFU_E_USB_PIPE:
		return "request stalled by the device";
	case DFU_E_USB_TIMEOUT:
		return "USB transfer timed out";
	case DFU_E_USB_NODEV:
		return "device disconnected";
	case DFU_E_USB_IO:
		return "USB input/output error";
	case DFU_E_USB_OVERFLOW:
		return "device sent more data than requested";
	case DFU_E_USB_ACCESS:
		return "permission denied";
	case DFU_E_USB_BUSY:
		return "device busy (claimed by another program)";
	case DFU_E_USB_OTHER:
		return "USB error";
	case DFU_E_NODEVICE:
		return "no matching device";
	case DFU_E_AMBIGUOUS:
		return "more than one matching device";
	case DFU_E_DEVSTATUS:
		return "device reported an error";
	case DFU_E_PROTOCOL:
		return "DFU protocol error";
	case DFU_E_DEADLINE:
		return "operation did not finish in time";
	case DFU_E_VERIFY:
		return "verify mismatch";
	case DFU_E_NOAPP:
		return "application did not start";
	case DFU_E_MEMMAP:
		return "image does not fit the device's memory map";
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

void dfu_error_device(struct dfu_error *e, const char *op, int block)
{
	if (!e)
		return;
	snprintf(e->op, sizeof(e->op), "%s", op ? op : "");
	e->block = block;
	e->have_address = false;
	e->address = 0;
}

void dfu_error_device_at(struct dfu_error *e, const char *op, int block, uint32_t address)
{
	if (!e)
		return;
	dfu_error_device(e, op, block);
	e->have_address = true;
	e->address = address;
}

void dfu_error_state(struct dfu_error *e, uint8_t state, uint8_t status)
{
	if (!e)
		return;
	e->have_state = true;
	e->state = state;
	e->status = status;
}

/* DFU 1.1, section 6.1.2, table of bState values. */
static const char *const state_names[] = {
	"appIDLE",	    "appDETACH",   "dfuIDLE",
	"dfuDNLOAD-SYNC",   "dfuDNBUSY",   "dfuDNLOAD-IDLE",
	"dfuMANIFEST-SYNC", "dfuMANIFEST", "dfuMANIFEST-WAIT-RESET",
	"dfuUPLOAD-IDLE",   "dfuERROR",
};

/* DFU 1.1, section 6.1.2, bStatus values and their descriptions. */
static const struct {
	const char *name;
	const char *text;
} status_names[] = {
	{ "OK", "no error condition is present" },
	{ "errTARGET", "file is not targeted for use by this device" },
	{ "errFILE", "file is for this device but fails a verification test" },
	{ "errWRITE", "device is unable to write memory" },
	{ "errERASE", "memory erase function failed" },
	{ "errCHECK_ERASED", "memory erase check failed" },
	{ "errPROG", "program memory function failed" },
	{ "errVERIFY", "programmed memory failed verification" },
	{ "errADDRESS", "cannot program memory due to received address that is out of range" },
	{ "errNOTDONE", "received DFU_DNLOAD with wLength = 0, but the firmware is incomplete" },
	{ "errFIRMWARE", "device's firmware is corrupt; it cannot return to run-time operations" },
	{ "errVENDOR", "iString indicates a vendor-specific error" },
	{ "errUSBR", "device detected unexpected USB reset signaling" },
	{ "errPOR", "device detected unexpected power on reset" },
	{ "errUNKNOWN", "something went wrong, but the device does not know what it was" },
	{ "errSTALLEDPKT", "device stalled an unexpected request" },
};

const char *dfu_state_name(uint8_t state)
{
	return state < sizeof(state_names) / sizeof(state_names[0]) ? state_names[state]
								    : "unknown";
}

const char *dfu_status_name(uint8_t status)
{
	return status < sizeof(status_names) / sizeof(status_names[0]) ? status_names[status].name
								       : "unknown";
}

const char *dfu_status_text(uint8_t status)
{
	return status < sizeof(status_names) / sizeof(status_names[0])
		   ? status_names[status].text
		   : "status outside the DFU 1.1 table";
}
