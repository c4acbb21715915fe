// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The cause table: what a failure most likely means and what to do, from
 * the operation (the op name of the error), bState/bStatus, the libusb
 * error, the deadline facts and the device quirks.  One row per cause, the
 * first match wins; every row has a test that triggers it on a virtual
 * device (tests/check-recovery.c).  Sources: AN3156 and AN2662 (the DfuSe
 * command flow, the ST ROM's status codes), public reports of the devices the
 * rows name, and dfu-util 0.11's src/dfuse.c for what the same failures look
 * like there ("Error during special command ... get_status", "... not
 * correctly executed").
 */
#include "config.h"

#include <string.h>

#include "macro.h"
#include "proto.h"

/* Operation kinds, from the op names request.c, plain.c and dfuse.c give (dfu_op_init). */
enum {
	OP_ERASE = 1u << 0,	  /* "DfuSe erase page 0x..." */
	OP_MASS_ERASE = 1u << 1,  /* "DfuSe mass erase" */
	OP_SET_ADDRESS = 1u << 2, /* "DfuSe Set Address 0x..." */
	OP_WRITE = 1u << 3,	  /* "DfuSe write block", "download block" */
	OP_READ = 1u << 4,	  /* "DfuSe read block", "upload block" */
	OP_LEAVE = 1u << 5,	  /* "... leave ..." */
	OP_MANIFEST = 1u << 6,	  /* "manifestation", "zero-length DNLOAD" */
	OP_START = 1u << 7,	  /* "GET_STATUS at start", "CLRSTATUS at start" */
	OP_OTHER = 1u << 8,
};
#define OP_COMMAND (OP_ERASE | OP_MASS_ERASE | OP_SET_ADDRESS)
#define OP_FLASH (OP_COMMAND | OP_WRITE)

static bool has(const char *s, const char *word)
{
	return strstr(s, word) != NULL;
}

static unsigned op_kind(const char *op)
{
	if (has(op, "leave") || has(op, "Leave"))
		return OP_LEAVE;
	if (has(op, "mass erase"))
		return OP_MASS_ERASE;
	if (has(op, "erase"))
		return OP_ERASE;
	if (has(op, "Set Address"))
		return OP_SET_ADDRESS;
	if (has(op, "write block") || has(op, "download block"))
		return OP_WRITE;
	if (has(op, "read block") || has(op, "upload block") || has(op, "read-back"))
		return OP_READ;
	if (has(op, "manifest"))
		return OP_MANIFEST;
	if (has(op, "at start"))
		return OP_START;
	return OP_OTHER;
}

/* Extra conditions of a row. */
enum {
	C_DFUSE = 1u << 0,     /* the device speaks DfuSe */
	C_PLAIN = 1u << 1,     /* the device speaks plain DFU 1.1 */
	C_ZERO_POLL = 1u << 2, /* every busy reply announced bwPollTimeout 0 */
	C_BANK2 = 1u << 3,     /* the address is in STM32H7 flash bank 2 */
	C_RETRIED = 1u << 4,   /* the request was retried and failed every time */
	C_FIRST = 1u << 5,     /* on the first block of a plain download or upload */
};

#define ANY (-1)

struct cause {
	const char *id;
	unsigned ops;	 /* OP_* mask, 0 = any */
	int err;	 /* enum dfu_err, 0 = any */
	int usb_err;	 /* DFU_E_USB_* of the failed transfer, 0 = any */
	int status;	 /* bStatus when the device is in dfuERROR, ANY = not checked */
	uint32_t quirks; /* DFU_QUIRK_* that must all be set */
	unsigned cond;	 /* C_* */
	const char *hint;
};

#define H7_BANK2 0x08100000u

#ifdef DFU_HINT_READ_PROTECTED
#define RDP_HINT DFU_HINT_READ_PROTECTED
#else
#define RDP_HINT                                                                                   \
	"the chip is read-protected (RDP level 1); `--unprotect` removes the protection by "       \
	"mass-erasing the whole flash"
#endif

static const struct cause causes[] = {
	/* ---- deadlines: busy far longer than bwPollTimeout says (F4 ROMs announce
	 * 100 ms for a 128 KiB sector erase of 1-2 s and a mass erase of up to
	 * 32 s; the STM32H743 rev V stays in dfuDNBUSY after a bank-2 erase,
	 * betaflight-configurator PR 1861), or bwPollTimeout 0 forever (Black
	 * Magic Probe) ---- */
	{ "h7-bank2-erase", OP_ERASE, DFU_E_DEADLINE, 0, ANY, DFU_QUIRK_JUMP_TO_RESET_VECTOR,
	  C_BANK2,
	  "a known STM32H743/H753 ROM erratum (rev V): erasing a sector of flash bank 2 "
	  "(0x08100000 and up) never leaves dfuDNBUSY; the erase itself is done and the device "
	  "was brought back to dfuIDLE with two CLRSTATUS, as STM32CubeProgrammer does; "
	  "erase bank 2 with --mass-erase, or flash bank 2 with STM32CubeProgrammer" },
	{ "zero-poll-stuck", 0, DFU_E_DEADLINE, 0, ANY, 0, C_ZERO_POLL,
	  "the device announced bwPollTimeout 0 on every reply and never finished (a firmware bug "
	  "of some DFU bootloaders, e.g. older Black Magic Probe ones): update the bootloader; "
	  "check the power supply if it worked before" },
	{ "mass-erase-slow", OP_MASS_ERASE, DFU_E_DEADLINE, 0, ANY, DFU_QUIRK_MASS_ERASE_SLOW, 0,
	  "an F2/F4/F7 mass erase takes up to 32 s although the ROM announces 100 ms, and longer "
	  "at a low supply voltage: give it more time with --timeout 60000" },
	{ "busy-longer", 0, DFU_E_DEADLINE, 0, ANY, 0, 0,
	  "the device stayed busy far longer than it announced: a low or noisy supply voltage "
	  "(power the board properly, not from a weak hub), a worn flash sector, or a bootloader "
	  "that never finishes this operation; it was brought back to dfuIDLE with CLRSTATUS; "
	  "a longer --timeout helps only if it is merely slow" },

	/* ---- device verdicts: bStatus (DFU 1.1 6.1.2); ST ROMs answer errTARGET for
	 * an address they refuse and errVENDOR for an erase, write or read under
	 * read-out protection (AN2662, AN3156) ---- */
	{ "rdp", OP_FLASH | OP_READ | OP_START, 0, 0, DFU_STATUS_ERR_VENDOR, 0, C_DFUSE, RDP_HINT },
	{ "vendor", 0, 0, 0, DFU_STATUS_ERR_VENDOR, 0, 0,
	  "the device reports a vendor-specific error (see its iString)" },
	{ "target-dfuse", 0, 0, 0, DFU_STATUS_ERR_TARGET, 0, C_DFUSE,
	  "the bootloader refused the address: check the base address (-s) and the memory map "
	  "(dfuflash list -v)" },
	{ "target", 0, 0, 0, DFU_STATUS_ERR_TARGET, 0, 0, "the file is not meant for this device" },
	{ "erase-failed", 0, 0, 0, DFU_STATUS_ERR_ERASE, 0, 0,
	  "the sector could not be erased: a worn or damaged flash page, or write protection "
	  "(WRP option bytes); if it fails again on the same address the chip is damaged" },
	{ "erase-check", 0, 0, 0, DFU_STATUS_ERR_CHECK_ERASED, 0, 0,
	  "the sector is not blank after the erase: a worn or damaged flash page, or write "
	  "protection (WRP option bytes)" },
	/* the STM32duino bootloader's alt 0 answers every DNLOAD and UPLOAD with errWRITE */
	{ "alt-refuses", OP_WRITE | OP_READ, 0, 0, DFU_STATUS_ERR_WRITE, 0, C_PLAIN | C_FIRST,
	  "the device refused the very first block through this alt setting: some take no "
	  "transfers at all (the STM32duino bootloader's alt 0, \"ERROR. Upload to RAM not "
	  "supported.\"); `dfuflash list` shows each alt's name: pick the right one with -a" },
	{ "write-failed", 0, 0, 0, DFU_STATUS_ERR_WRITE, 0, 0,
	  "the flash could not be programmed: write protection or a worn sector" },
	{ "prog-failed", 0, 0, 0, DFU_STATUS_ERR_PROG, 0, 0,
	  "the flash could not be programmed: write protection, a worn sector, or a flash word "
	  "written twice without an erase (ECC flash)" },
	{ "verify-failed", 0, 0, 0, DFU_STATUS_ERR_VERIFY, 0, 0,
	  "the device's own read-back differs: write protection or a worn sector" },
	{ "address", 0, 0, 0, DFU_STATUS_ERR_ADDRESS, 0, 0,
	  "the device refused the address as out of range: check -s and the memory map" },
	{ "notdone", 0, 0, 0, DFU_STATUS_ERR_NOTDONE, 0, 0,
	  "the device considers the firmware incomplete" },
	{ "firmware", 0, 0, 0, DFU_STATUS_ERR_FIRMWARE, 0, 0,
	  "the device holds no valid firmware: flash a complete image" },
	{ "stalledpkt-command", OP_COMMAND, 0, 0, DFU_STATUS_ERR_STALLEDPKT, 0, C_DFUSE,
	  "the bootloader does not support this DfuSe command" },
	{ "stalledpkt", 0, 0, 0, DFU_STATUS_ERR_STALLEDPKT, 0, 0,
	  "the device stalled a request it did not expect (transfer size too large? give the "
	  "device's wTransferSize with -t)" },
	{ "unknown-status", 0, 0, 0, DFU_STATUS_ERR_UNKNOWN, 0, 0,
	  "the device failed without knowing why; some fail every second run until they are "
	  "re-plugged: a USB reset or a replug clears it (dfuflash resets the device and tries "
	  "once more by itself)" },
	{ "usb-reset-seen", 0, 0, 0, DFU_STATUS_ERR_USBR, 0, 0,
	  "the device saw an unexpected USB reset: another program reset it, or the cable or hub "
	  "dropped the connection" },
	{ "power-on-reset", 0, 0, 0, DFU_STATUS_ERR_POR, 0, 0,
	  "the device saw an unexpected power-on reset: check the power supply and the cable" },

	/* ---- the link (dfu-util 0.11, src/dfuse.c: "Error during special command
	 * ... get_status") ---- */
	{ "gone-mid-download", OP_FLASH, 0, DFU_E_USB_NODEV, ANY, 0, 0,
	  "the device left the bus in the middle of the download: a loose cable, an unpowered "
	  "hub, a brown-out, or something reset the board; the state of its flash is described "
	  "above" },
	{ "gone", 0, 0, DFU_E_USB_NODEV, ANY, 0, 0,
	  "the device left the bus: it was unplugged, reset, or re-enumerated" },
	{ "command-to-plain-dfu", OP_COMMAND, 0, DFU_E_USB_PIPE, ANY, 0, C_PLAIN,
	  "a DfuSe command was sent to a plain DFU bootloader (e.g. dapboot with -s ADDRESS): "
	  "drop -s and the DfuSe modifiers" },
	{ "timeout", 0, 0, DFU_E_USB_TIMEOUT, ANY, 0, 0,
	  "the device did not answer, also when asked again: it may hold the bus while its flash "
	  "is busy (a longer --timeout helps then), or the link is bad: use a short cable on a "
	  "port of the computer itself, no hub" },
	{ "pipe", 0, 0, DFU_E_USB_PIPE, ANY, 0, C_RETRIED,
	  "the device stalled the request every time: a bootloader that cannot take it in this "
	  "state, or a marginal cable or hub (ground noise: try without the laptop's charger)" },
	{ "io", 0, 0, DFU_E_USB_IO, ANY, 0, 0,
	  "USB transfer errors, also when retried: a marginal cable, hub or ground noise; use a "
	  "short cable on a port of the computer itself" },
	{ "overflow", 0, 0, DFU_E_USB_OVERFLOW, ANY, 0, 0,
	  "the device sent more data than asked for: a wrong transfer size (-t) or a broken "
	  "device firmware" },
};

static const struct cause *find(const struct dfu_error *e, uint32_t quirks)
{
	unsigned kind;

	if (!e || !e->err)
		return NULL;
	kind = op_kind(e->op);
	for (size_t i = 0; i < ARRAY_SIZE(causes); i++) {
		const struct cause *c = &causes[i];

		if (c->ops && !(c->ops & kind))
			continue;
		if (c->err && c->err != e->err)
			continue;
		if (c->usb_err && c->usb_err != e->usb_err)
			continue;
		if (c->status != ANY &&
		    (!e->have_state || e->state != DFU_STATE_DFU_ERROR || e->status != c->status))
			continue;
		if ((quirks & c->quirks) != c->quirks)
			continue;
		if ((c->cond & C_DFUSE) && !(quirks & DFU_QUIRK_DFUSE_PROTOCOL))
			continue;
		if ((c->cond & C_PLAIN) && (quirks & DFU_QUIRK_DFUSE_PROTOCOL))
			continue;
		if ((c->cond & C_ZERO_POLL) && !e->zero_poll)
			continue;
		if ((c->cond & C_BANK2) && (!e->have_address || e->address < H7_BANK2))
			continue;
		if ((c->cond & C_RETRIED) && e->attempts < 2)
			continue;
		if ((c->cond & C_FIRST) && !has(e->op, "block 0 "))
			continue;
		return c;
	}
	return NULL;
}

const char *dfu_cause_hint(const struct dfu_error *e, uint32_t quirks)
{
	const struct cause *c = find(e, quirks);

	return c ? c->hint : NULL;
}

const char *dfu_cause_id(const struct dfu_error *e, uint32_t quirks)
{
	const struct cause *c = find(e, quirks);

	return c ? c->id : NULL;
}

bool dfu_error_wants_reset(const struct dfu_error *e)
{
	if (!e || !e->err)
		return false;
	switch (e->err) {
	case DFU_E_USB_PIPE:
	case DFU_E_USB_TIMEOUT:
	case DFU_E_USB_IO:
	case DFU_E_USB_OVERFLOW:
		return true;
	case DFU_E_DEVSTATUS:
		return e->have_state &&
		       (e->status == DFU_STATUS_ERR_UNKNOWN || e->status == DFU_STATUS_ERR_USBR ||
			e->status == DFU_STATUS_ERR_POR || e->status == DFU_STATUS_ERR_STALLEDPKT);
	case DFU_E_PROTOCOL:
		/* a state only a reset leaves (dfuMANIFEST-WAIT-RESET, one that does
		 * not clear); never run-time mode */
		return strcmp(e->code, "dfu.not_idle") == 0 ||
		       (strcmp(e->code, "dfu.wrong_state") == 0 && e->have_state &&
			e->state == DFU_STATE_DFU_MANIFEST_WAIT_RESET);
	default:
		return false;
	}
}
