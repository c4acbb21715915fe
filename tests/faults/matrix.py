#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""The fault matrix (issue 5, "Tests"): every fault of the virtual devices x every
profile it applies to x download / upload / leave, run through the real binaries:

    dfuflash-sim --profile P --fault F --time-scale 0 -f zero-poll-timeout \
        --flash-in OLD@BASE --flash-out DUMP -- dfuflash flash|read ...

For each cell:
  * the exit code is one `dfuflash --help` documents, and the one the expectation
    table below gives for that fault class;
  * the output names the cause (a regular expression per class; some classes also
    name what the message must NOT claim);
  * after a success the flash dump equals the image (upload: the file read equals
    the flashed content); outside the image nothing changed;
  * after a failure every byte of the image range holds the old content, the new
    content or 0xFF, sector by sector; unless the flash is all-old or all-new, the
    message must describe the state ("state of the device: ...") and, when it lists
    the erased sectors, every touched sector must be in that list.

A cell that fails is reported as FAIL with the reason, the reproduction command and
the tail of the output; the expectations are not relaxed to make a cell pass.

Environment: DFUFLASH_BUILDDIR (dfuflash and dfuflash-sim), FAULT_MATRIX=fast|full
(default fast: one profile per family, the key faults; `make check-faults` runs
full), FAULT_MATRIX_JOBS (parallel cells, default 4: most of a cell's time is
spent waiting), FAULT_MATRIX_FILTER (a regex on cell names), FAULT_MATRIX_VERBOSE=1
(print every cell's output).  Exits 77 without dfuflash-sim.
"""
import concurrent.futures
import os
import re
import shlex
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time

BUILDDIR = os.environ.get("DFUFLASH_BUILDDIR", ".")
SIM = os.environ.get("DFUFLASH_SIM", os.path.join(BUILDDIR, "dfuflash-sim"))
DFUFLASH = os.environ.get("DFUFLASH_BIN", os.path.join(BUILDDIR, "dfuflash"))
MODE = os.environ.get("FAULT_MATRIX", "fast")
JOBS = int(os.environ.get("FAULT_MATRIX_JOBS", "4"))
FILTER = re.compile(os.environ.get("FAULT_MATRIX_FILTER", ""))
VERBOSE = os.environ.get("FAULT_MATRIX_VERBOSE") == "1"
CELL_TIMEOUT = 180

# `dfuflash --help`, "Exit status"
DOCUMENTED_EXITS = {0, 1, 64, 65, 66, 69, 70, 73, 74, 75, 76, 77, 80, 81}

# ---- profiles ------------------------------------------------------------------------

F4_LAYOUT = "04*016Kg,01*064Kg,07*128Kg"


def sectors(base, layout):
    """[(start, size)] of a DfuSe layout string's sectors."""
    out, a = [], base
    for part in layout.split(","):
        n, size = part.split("*")
        m = re.match(r"(\d+)([KM ]?)", size)
        sz = int(m.group(1)) * {"K": 1024, "M": 1 << 20, " ": 1, "": 1}[m.group(2)]
        for _ in range(int(n)):
            out.append((a, sz))
            a += sz
    return out


class Profile:
    def __init__(self, name, family, dfuse=True, base=0x08000000, size=40000,
                 layout=F4_LAYOUT, flash_base=0x08000000, leave_code=0, fast=False,
                 tsize=2048, rom=True, skip_dnbusy=False):
        self.name, self.family, self.dfuse = name, family, dfuse
        self.base, self.size = base, size
        self.flash_base = flash_base
        self.sectors = sectors(flash_base, layout) if layout else [
            (flash_base + a, 1024) for a in range(0, 65536, 1024)]
        # what `flash --leave` ends in without a fault: 0, or 81 when the device
        # cannot start an application at that address (documented)
        self.leave_code = leave_code
        self.fast = fast
        self.tsize = tsize  # the device's real block size (for -t)
        self.rom = rom      # an ST/GD ROM bootloader (BOOT0, RDP), not a flash bootloader
        # answers a command's first GET_STATUS with its result, never dfuDNBUSY
        self.skip_dnbusy = skip_dnbusy

    def sector_of(self, addr):
        for s, sz in self.sectors:
            if s <= addr < s + sz:
                return s
        raise ValueError(hex(addr))

    @property
    def touched(self):
        """Sectors the image covers, in address order."""
        return [s for s, sz in self.sectors if s < self.base + self.size and s + sz > self.base]

    @property
    def inner_sector(self):
        """A sector of the image other than the vector-table one (erased later)."""
        t = self.touched
        return t[len(t) // 2] if len(t) > 1 else t[0]


PROFILES = [
    Profile("stm32f405", "F4", fast=True),
    Profile("stm32f407", "F4"),
    Profile("stm32f407-oldrom", "F4"),
    Profile("stm32f107", "F1", layout="128*002Kg"),
    Profile("stm32f072", "F0", layout="064*0002Kg"),
    Profile("stm32l476", "L4", layout="0256*0002Kg", fast=True),
    Profile("stm32g474", "G4", layout="256*02Kg", tsize=1024),
    Profile("stm32g0b1", "G0", layout="256*02Kg", tsize=1024),
    # two 128 KiB sectors, so that an inner sector exists
    Profile("stm32h743", "H7", layout="16*128Kg", size=200000, tsize=1024, fast=True),
    Profile("stm32h753", "H7", layout="16*128Kg", size=200000, tsize=1024),
    Profile("stm32u5", "U5", layout="256*08Kg", tsize=1024, skip_dnbusy=True),
    # its layout says 2 KiB pages; they are 1 KiB (dfuflash erases those)
    Profile("gd32vf103", "GD32", layout="128*001Kg", fast=True),
    # Particle's flash bootloader: no RDP handling of an ST ROM
    Profile("particle-photon", "Photon", base=0x08020000, size=200000,
            layout="03*016Ka,01*016Kg,01*064Kg,07*128Kg", tsize=4096, rom=False),
    # the IAP resets into its fixed 0x08008000, a sector its layout marks read-only:
    # an image at 0x0800C000 is flashed but never started (exit 81 after --leave)
    Profile("stm32-hal-iap", "HAL", base=0x0800C000,
            layout="03*016Ka,01*016Kg,01*064Kg,07*128Kg", leave_code=81, tsize=1024,
            rom=False),
    Profile("generic", "generic", dfuse=False, base=0, size=6000, layout=None,
            flash_base=0, tsize=64, rom=False, fast=True),
    Profile("generic-intolerant", "generic", dfuse=False, base=0, size=6000, layout=None,
            flash_base=0, tsize=64, rom=False),
]

# ---- expectations ----------------------------------------------------------------------


class E:
    """Expected outcome: exit code(s), regexes the output must / must not match, and
    the flash: "image" (a verified success), "old" (untouched), "state" (old, new, or
    a described mixture)."""

    def __init__(self, code, rx=(), rx_not=(), flash=None, note=None):
        self.codes = {code} if isinstance(code, int) else set(code)
        self.rx = [rx] if isinstance(rx, str) else list(rx)
        self.rx_not = [rx_not] if isinstance(rx_not, str) else list(rx_not)
        self.flash = flash or ("image" if self.codes <= {0, 81} else "state")
        self.note = note


def ok(op, p, rx=()):
    """The fault is survived: the usual result of the operation."""
    if op == "leave":
        return E(p.leave_code, rx)
    return E(0, rx)


def h(v):
    return "0x%08x" % v


RDP_RX = r"read-protected \(RDP level 1\)"


class Fault:
    def __init__(self, token, expect, applies=lambda p: True, ops=("download", "upload", "leave"),
                 sim=(), args=(), runs=1, fast=False, zero_poll=True, time_scale="0", image=None,
                 timeout=CELL_TIMEOUT, pending=None, label=None):
        self.token, self.expect, self.applies, self.ops = token, expect, applies, ops
        self.label = label  # the cell's name instead of the token
        self.sim, self.args, self.runs, self.fast = list(sim), list(args), runs, fast
        self.zero_poll, self.time_scale = zero_poll, time_scale
        self.image = image  # a function of the profile giving (base, size), or None
        self.timeout = timeout  # seconds before the cell counts as hung
        # a cell known to fail until another change lands: reported PENDING with this
        # text, never counted as passed
        self.pending = pending


def dfuse(p):
    return p.dfuse


def with_ob_rdp(p):
    # read-out protection of a DfuSe ROM (or the HAL IAP on an F4); the Particle
    # bootloader answers errVENDOR without meaning RDP
    return p.dfuse and p.name != "particle-photon"


FAULTS = []
ALL = ("download", "upload", "leave")
DL = ("download", "leave")  # the faults of a download
DU = ("download", "upload")  # faults of opening the device: the leave adds nothing
UP = ("upload",)
LEAVE = ("leave",)          # the faults of leaving DFU mode


def fault(*a, **kw):
    FAULTS.append(Fault(*a, **kw))


# -- no fault: the baseline
fault("", lambda op, p: ok(op, p), fast=True)

# -- request faults (a STALL or a timeout of a chosen request): retried
for tok, ops in (("stall-on=5", ALL), ("stall-on-request=GETSTATUS:3", ALL),
                 ("stall-on-request=DNLOAD:3", DL), ("stall-on-request=UPLOAD:2", UP),
                 ("stall-on-request=CLRSTATUS:1", ALL), ("stall-on-request=ABORT:1", ALL)):
    fault(tok, lambda op, p: ok(op, p), ops=ops,
          fast=tok in ("stall-on-request=GETSTATUS:3", "stall-on-request=DNLOAD:3",
                       "stall-on-request=UPLOAD:2"))
# the first GET_STATUS of a run, stalled once: a DFU-mode device is not in run-time mode
fault("stall-on-request=GETSTATUS:1", lambda op, p: ok(op, p), ops=DU, fast=True)
fault("stall-on-request=DETACH:1", lambda op, p: ok(op, p), ops=DU,
      applies=lambda p: not p.dfuse)
# never answered: the libusb timeout (5 s) and a retry
for tok, ops in (("timeout-on-request=GETSTATUS:3", DL), ("timeout-on-request=DNLOAD:3", DL),
                 ("timeout-on-request=UPLOAD:2", UP)):
    fault(tok, lambda op, p: ok(op, p), ops=ops)


# -- a disconnect in the middle of the download (item 13)
def disconnect(op, p):
    if op == "upload":
        return ok(op, p)
    return E(74, [r"LIBUSB_ERROR_NO_DEVICE|left the bus", r"state of the device:",
                  r"this completes the flash: dfuflash "], flash="state")


fault("disconnect-at-byte=HALF", disconnect, ops=DL, fast=True)
# ... and in the first and in the last block
fault("disconnect-at-byte=FIRSTBYTE", disconnect, ops=DL)
fault("disconnect-at-byte=LASTBYTE", disconnect, ops=DL)
# during an erase (the first: nothing written yet; the second: after a written or
# erased sector), during an upload, during a DFU 1.1 manifestation
fault("disconnect-on-erase", disconnect, ops=DL, fast=("stm32f405", "generic"))
fault("disconnect-on-erase=2", disconnect, ops=DL)


def disconnect_upload(op, p):
    return E(74, [r"LIBUSB_ERROR_NO_DEVICE|left the bus"], flash="old")


fault("disconnect-on-upload=2", disconnect_upload, ops=UP, fast=("stm32f405", "generic"))


def disconnect_manifest(op, p):
    if not p.dfuse:
        # the download is complete; a device that vanishes in dfuMANIFEST looks like
        # one that resets itself to run the new firmware: the flash holds the image
        # either way (the invariant), whether or not the host calls it a success
        return E((0, 74), flash="image")
    # a DfuSe leave: flashed; the device went away as a leaving one does
    return E((0, 74, 81), flash="image")


fault("disconnect-on-manifest", disconnect_manifest, applies=lambda p: not p.dfuse, ops=DL,
      fast=("generic",))
fault("disconnect-on-manifest", disconnect_manifest, applies=dfuse, ops=LEAVE)
# the device comes back after the disconnect (a replug, a power cycle) at a new address,
# or as a board with another serial: the state is told, or the job completed
for tok in ("disconnect-at-byte=HALF,replug=300", "disconnect-on-erase=2,replug=300",
            "disconnect-at-byte=HALF,replug-serial=REPLUGGED01"):
    fault(tok, lambda op, p: E((0, 74), flash="state"), ops=DL,
          fast=("stm32f405",) if "serial" in tok else False)
fault("disconnect-on-upload=2,replug=300", lambda op, p: E((0, 74), flash="old"), ops=UP)

# -- timing faults (items 5, 6)
# real durations 10 x longer than announced, the announced waits honoured
fault("busy-longer", lambda op, p: ok(op, p), time_scale="0.05", zero_poll=False, ops=DL,
      fast=("stm32f405", "generic"))
fault("zero-poll-timeout", lambda op, p: ok(op, p), time_scale="0.05", ops=DL)


def stuck(op, p):
    if op == "upload":
        return ok(op, p)
    if p.skip_dnbusy:
        # the U5 runs the erase inside the GET_STATUS: a stuck erase is never answered
        return E(74, [r"DfuSe erase page 0x[0-9a-f]{8}: DFU_GETSTATUS failed: "
                      r"LIBUSB_ERROR_TIMEOUT", r"state of the device: .*was being erased: "
                      r"the device stopped answering", r"hint: the device did not answer",
                      r"this completes the flash: dfuflash "], flash="state")
    return E(76, [r"DfuSe erase page 0x[0-9a-f]{8} did not finish within", r"hint: .*"
                  r"(power|bootloader|erratum)"], flash="state")


fault("stuck-dnbusy", stuck, applies=dfuse, ops=DL, fast=("stm32f405", "stm32l476"))
for mode in ("nak", "stall", "repeat", "strict"):
    # zero poll timeouts make the host poll while busy; a strict device punishes
    # that (dfuERROR), which a host honouring bwPollTimeout never sees
    fault("busy=" + mode, lambda op, p: ok(op, p), time_scale="0.05", ops=DL,
          zero_poll=mode != "strict", fast=("stm32l476",) if mode == "strict" else False)
fault("skip-dnbusy", lambda op, p: ok(op, p), applies=dfuse, ops=DL)


# early polls (issue 12): a ROM known to hold GET_STATUS until its flash is done
# (F2/F4/F7, H7) is asked again at once after dfuDNBUSY.  One that stalls that
# early poll instead -- in the middle of an erase (the 5th GET_STATUS of the run:
# one at the start, two for the compare's Set Address, then the first erase's
# two) or of the download (the 13th: the first data block's second, after three
# erases and the Set Address) --
# or that punishes it the strict way (STALL and dfuERROR) must still end in the
# image, polled as announced from then on, with real bwPollTimeouts
def early_poll_stall(op, p):
    return ok(op, p, r"GET_STATUS sent before bwPollTimeout stalled: polling "
                     r"0483:df11 as announced from now on")


def holds_get_status(p):
    return p.family in ("F4", "H7")


for tok in ("stall-on-request=GETSTATUS:5", "stall-on-request=GETSTATUS:13", "busy=stall",
            "busy=strict"):
    fault(tok, early_poll_stall, applies=holds_get_status, ops=DL, zero_poll=False,
          time_scale="0.05", args=["--poll=auto", "-v"],
          fast=("stm32f405",) if "GETSTATUS" in tok else False)



# -- an image that covers the whole flash of an STM32 ROM and changes every sector:
# one mass erase instead of the sector erases, then a blank read of each sector
def st_rom(p):
    return p.dfuse and p.rom and p.family != "GD32"


def whole_flash(p):
    return (p.sectors[0][0], sum(sz for _, sz in p.sectors))


MASS_RX = r"one mass erase instead of \d+ sector erases"
fault("", lambda op, p: ok(op, p, MASS_RX), applies=st_rom, ops=DL, args=["-v"],
      image=whole_flash, label="whole flash", fast=("stm32f405", "stm32l476"))
# an early poll that stalls in the middle of the mass erase (the 5th GET_STATUS:
# one at the start, two for the compare's Set Address, the mass erase's first);
# the F4s only: polled as announced after it, the 2048 blocks of an H7 take 213 s
fault("stall-on-request=GETSTATUS:5",
      lambda op, p: ok(op, p, [MASS_RX, early_poll_stall(op, p).rx[0]]),
      applies=lambda p: st_rom(p) and p.family == "F4", ops=DL, zero_poll=False,
      time_scale="0.05", args=["--poll=auto", "-v"], image=whole_flash,
      label="whole flash, early poll stalled in the mass erase")
# the device leaves the bus during the mass erase (or, on a ROM that answers
# without dfuDNBUSY, right after it): the state is described
fault("disconnect-on-erase", lambda op, p: E(74, [
    r"the whole flash (\(a mass erase\) was being erased|was mass-erased)",
    r"state of the device:",
    r"this completes the flash: dfuflash "], flash="state"), applies=st_rom, ops=DL,
    image=whole_flash, label="whole flash, disconnect in the mass erase")
# the mass erase answered with an error: the sectors are erased one by one
fault("status-on-request=DNLOAD:2=3", lambda op, p: ok(op, p, r"the mass erase failed"),
      applies=st_rom, ops=("download",), image=whole_flash,
      label="whole flash, mass erase answered errWRITE")
# a write-protected sector: the chip refuses the mass erase without an error; the
# blank reads see it, the sectors are erased one by one and all is read back
fault("wrp=INNER", lambda op, p: E(80, [r"still holds data after the mass erase",
                                         r"write.protect", h(p.inner_sector)], flash="state"),
      applies=lambda p: st_rom(p) and p.inner_sector != p.touched[0], ops=("download",),
      image=whole_flash, label="whole flash, wrp=INNER")


# -- reply faults: short, zero-length and nonsensical GET_STATUS replies
def garbled(op, p):
    # once: the host may retry or stop; always: it must stop; never a false success
    return E((0, 74, 76), flash="state")


for tok in ("short-status=0:3", "short-status=5:3", "short-status=0", "short-status=3",
            "bad-state=11:4", "bad-state=255:4", "bad-state=11"):
    fault(tok, garbled, fast=tok in ("short-status=0:3", "bad-state=255:4"))
# a huge announced poll timeout (about 4.7 hours): no deadline could honour it
# block after block; the host polls such a device at a short interval instead,
# and the flash goes through as usual, byte-exact
fault("poll-timeout=16777215", lambda op, p: ok(op, p), ops=DL, zero_poll=False,
      time_scale="0.05", timeout=120, fast=("stm32l476",))
# every request answered just under the host's shortest timeout (1 s for a string
# descriptor): slow, not broken; a small image keeps each cell within a minute
fault("slow=900", lambda op, p: ok(op, p), ops=DU, image=lambda p: (p.base, 1024),
      timeout=300)
# ... and just under the 5 s of the other requests: the strings (the DfuSe layout)
# are not read in time; the flash goes through or is refused naming that cause
fault("slow=4800", lambda op, p: ok(op, p) if not p.dfuse else E(
    (0, 65), r"could not be read", flash="old"), ops=("download",),
    applies=lambda p: p.name in ("stm32f405", "generic"), image=lambda p: (p.base, 1024),
    timeout=600)


# -- memory and protection
def faulty_page(status):
    def expect(op, p):
        if op == "upload":
            return ok(op, p)
        page = p.inner_sector
        rx = [h(page) if p.dfuse else r"download block", r"hint: "]
        rx_not = []
        if status == 4 or not p.dfuse:
            rx.append(r"could not be erased")
        else:
            # the Photon seed, rusefi #8803: a damaged page answers errVENDOR; the
            # vector-table sector was erased just before, so this is no read-out
            # protection (RDP 1 refuses every erase): the message must say damaged
            rx.append(r"damaged|worn|faulty")
            rx_not.append(r"read-protect|read-out protection")
        return E(76, rx, rx_not, flash="state")
    return expect


fault("faulty-page=INNER", faulty_page(None), ops=DL, fast=True)
fault("faulty-page=INNER:4", faulty_page(4), applies=dfuse, ops=DL)


def wrp(op, p):
    if op == "upload":
        return ok(op, p)
    return E(80, [r"write.protect", h(p.inner_sector)], flash="state")


# without --verify a write-protected sector other than the vector table's cannot
# be seen (the ROM reports success): the cells verify
fault("wrp=INNER", wrp, applies=lambda p: p.dfuse and p.inner_sector != p.touched[0],
      args=["--verify"], ops=DL, fast=True)


def wrp_vt(op, p):
    if op == "upload":
        return ok(op, p)
    return E(80, [r"write.protect", h(p.touched[0])], flash="state")


# the vector-table sector is always read back
fault("wrp=BASE", wrp_vt, applies=dfuse, ops=DL)


def rdp1(op, p):
    return E(76, [RDP_RX, r"--unprotect"], flash="old")


fault("rdp=1", rdp1, applies=with_ob_rdp, fast=True)
fault("rdp=1,set-address-rdp=fail", rdp1, applies=with_ob_rdp, ops=DU)
fault("rdp=1,set-address-rdp=ok", rdp1, applies=with_ob_rdp, ops=DU)
fault("rdp=2", lambda op, p: E(69, r"[Nn]o (matching )?(DFU )?device", flash="old"), ops=DU)
fault("rdp=0", lambda op, p: ok(op, p), applies=with_ob_rdp, ops=DU)


def unprotect(op, p):
    # Read Unprotect mass-erases, resets, and the download goes on
    return ok(op, p, r"read protection removed")


fault("rdp=1", unprotect, applies=with_ob_rdp, ops=("download", "leave"),
      args=["--unprotect", "--force"])
fault("rdp=1,unprotect-fails", lambda op, p: E(
    76, [r"Read Unprotect failed", r"read protection is still active"], flash="old"),
    applies=with_ob_rdp, ops=("download",), args=["--unprotect", "--force"])
for n in (1, 3, 6):
    fault("prog-fail-status=%d" % n, lambda op, p: ok(op, p), applies=dfuse, ops=DL)
for bs in ("descriptor", "wlength"):
    fault("block-size=" + bs, lambda op, p: ok(op, p), applies=dfuse, ops=DU)

# -- state and run faults (items 11, 15, 16)
for n in (10, 11, 14):
    fault("start-in-error=%d" % n, lambda op, p: ok(op, p), ops=DU, fast=n == 11)
for st in ("dnload-idle", "upload-idle", "dnbusy"):
    fault("start-in-state=" + st, lambda op, p: ok(op, p), ops=DU, fast=st == "dnbusy")
fault("fail-every-second-run", lambda op, p: ok(op, p), runs=2, fast=True)
for c in ("st", "strict", "lenient"):
    fault("clrstatus=" + c, lambda op, p: ok(op, p), ops=DU)

# -- descriptor faults (items 9, 10, 12, 19)
for tok in ("no-langid", "no-langid=stall", "no-langid=fail-first",
            "wrong-langid", "bad-strings", "identical-alt-names"):
    fault(tok, lambda op, p: ok(op, p), ops=DU, fast=tok == "no-langid")
for n in (64, 1024, 4096):
    fault("transfer-size=%d" % n, lambda op, p: ok(op, p), fast=n == 1024)
# a descriptor without a usable transfer size: a device error (76, not a usage error);
# the user gives one (-t), told so
for n in (0, 65535):
    # (the device's state may stand between the error and the hint)
    fault("transfer-size=%d" % n, lambda op, p: E(76, r"wTransferSize.*\n(.*\n)*?.*-t|"
                                                  r"-t.*wTransferSize", flash="old"), ops=DU)
    fault("transfer-size=%d" % n, lambda op, p: ok(op, p), args=["-t", "TSIZE"], ops=DU)
for o in ("stall", "truncate"):
    fault("oversize-wlength=" + o, lambda op, p: ok(op, p), ops=DU)
for n in (7, 9):
    fault("functional-descriptor=%d" % n, lambda op, p: ok(op, p), ops=DU)


# -- leave and boot (items 7, 17)
def leave_stay(op, p):
    if op != "leave":
        return ok(op, p)
    return E(81, r"came back as the DFU bootloader|did not start", flash="image")


for l in ("answer-then-vanish", "vanish-during-status", "vanish-before-status",
          "needs-set-address"):
    fault("leave=" + l, lambda op, p: ok(op, p), applies=dfuse, ops=LEAVE,
          fast=l == "vanish-during-status")
fault("leave=stay", leave_stay, applies=dfuse, ops=LEAVE)
NATIVE_JUMP = {"stm32h743": "entry-point", "stm32h753": "entry-point",
               "gd32vf103": "system-reset", "particle-photon": "system-reset",
               "stm32-hal-iap": "system-reset"}


def jump(j):
    def expect(op, p):
        if j == NATIVE_JUMP.get(p.name, "vector-table"):
            return ok(op, p)
        if j == "vector-table" and not p.rom:
            return E(0)  # the pointer is the application's vector table
        # dfuflash leaves the way this ROM is known to jump; another ROM revision
        # resets into the bootloader: flashed, the application not started, said so
        return E((0, 81), r"application started|came back as the DFU bootloader")
    return expect


for j in ("vector-table", "entry-point", "system-reset"):
    fault("jump=" + j, jump(j), applies=dfuse, ops=LEAVE)
for a in ("runtime", "gone"):
    fault("app=" + a, lambda op, p: ok(op, p), ops=LEAVE)
# BOOT0 low and a valid application in flash (the old content): the ROM never
# runs and no DFU device appears; flash bootloaders ignore the pin
fault("boot0=0", lambda op, p: E(69, r"no DFU device", flash="old") if p.rom and p.dfuse
      and p.name != "gd32vf103" else ok(op, p), applies=dfuse, ops=LEAVE)
fault("boot0=1", lambda op, p: ok(op, p), applies=dfuse, ops=LEAVE)
# a flash bootloader that resets into the ROM again, seen or not within the wait
fault("reenum-delay-ms=1500", lambda op, p: E((0, 81)) if p.leave_code else ok(op, p),
      ops=LEAVE)
for t in ("manifest-tolerant=0", "manifest-tolerant=1", "will-detach=0", "will-detach=1"):
    fault(t, lambda op, p: ok(op, p), applies=lambda p: not p.dfuse, fast=t == "will-detach=0")


# -- status-on-request: a request ends in a chosen bStatus (the cause table's rows)
def status_on(status):
    # verdicts are reported (exit 76, the cause's hint); errUSBR, errPOR, errUNKNOWN
    # and errSTALLEDPKT make dfuflash reset the device and try once more
    hints = {1: r"refused the address|not meant for this device",
             3: r"could not be programmed", 5: r"not blank after the erase",
             6: r"could not be programmed", 7: r"read-back differs",
             8: r"out of range", 9: r"firmware incomplete", 10: r"no valid firmware"}

    def expect(op, p):
        if op == "upload":
            return ok(op, p)
        if status in hints:
            return E(76, [r"status %d \(" % status, r"hint: .*(" + hints[status] + ")"],
                     flash="state")
        return ok(op, p, r"recovered: the device was reset")
    return expect


for st in (1, 3, 5, 6, 7, 8, 9, 10, 12, 13, 14, 15):
    fault("status-on-request=DNLOAD:3=%d" % st, status_on(st),
          ops=DL if st in (3, 12) else ("download",), fast=st in (3, 12))


def status_on_upload(op, p):
    # a device verdict on UPLOAD (STALL, then dfuERROR/errVERIFY): not retried
    # blindly, reported as the device's status
    return E(76, [r"errVERIFY", r"hint: .*read-back differs"], flash="old")


fault("status-on-request=UPLOAD:1=7", status_on_upload, ops=("upload",))


# the leave itself answers errNOTDONE / errFIRMWARE: flashed, the verdict shown
def status_on_leave(status):
    def expect(op, p):
        return E(76, r"status %d \(" % status, flash="image")
    return expect


fault("status-on-request=DNLOAD:LAST=9", status_on_leave(9), ops=("leave",))

# ---- special cells (seeds) ---------------------------------------------------------------
SPECIAL = []


def special(name, profile, token, op, expect, image=None, args=(), time_scale="0",
            zero_poll=True, fast=False):
    SPECIAL.append((name, profile, token, op, expect, image, list(args), time_scale,
                    zero_poll, fast))


# STM32H743 rev V: erasing a bank-2 sector never ends (betaflight-configurator PR 1861)
special("h7-bank2", "stm32h743", "stuck-dnbusy=0x08100000", "download",
        E(76, [r"erase page 0x08100000 did not finish", r"erratum"], flash="state"),
        image=(0x08100000, 40000), fast=True)
# the F4 with RDP 1 that starts in dfuERROR/errVENDOR (the ODrive seed)
special("rdp1-start-in-error-11", "stm32f405", "rdp=1,start-in-error=11", "download",
        E(76, [RDP_RX], flash="old"), fast=True)
# the Photon seed: ERASE_PAGE on a damaged page at 0x08020000 (errVENDOR)
special("photon-damaged-first-page", "particle-photon", "faulty-page=0x08020000", "download",
        E(76, [r"0x08020000", r"hint: "], flash="old"), fast=True)

# ---- running a cell ---------------------------------------------------------------------


def image_bytes(base, size, seed):
    b = bytearray(struct.pack("<II", 0x20004000, base + 0x201))
    b += b"".join(struct.pack("<I", base + 0x201) for _ in range(14))
    x = seed
    while len(b) < size:
        x = (x * 1103515245 + 12345) & 0x7FFFFFFF
        b.append((x >> 16) & 0xFF)
    return bytes(b[:size])


class Cell:
    def __init__(self, name, prof, token, op, expect, sim=(), args=(), runs=1,
                 time_scale="0", zero_poll=True, image=None, fast=False, timeout=CELL_TIMEOUT,
                 pending=None):
        self.name, self.p, self.token, self.op, self.e = name, prof, token, op, expect
        self.sim, self.args, self.runs = list(sim), list(args), runs
        self.time_scale, self.zero_poll = time_scale, zero_poll
        self.base, self.size = image or (prof.base, prof.size)
        self.fast = fast
        self.timeout, self.pending = timeout, pending


def resolve(token, p, base, size):
    t = token.replace("HALF", str(size // 2))
    t = t.replace("FIRSTBYTE", "0").replace("LASTBYTE", str(size - 1))
    t = t.replace("INNER", h(p.inner_sector)).replace("BASE", h(p.touched[0]))
    return t


def fast_cell(f, p, op):
    """The fast subset: the key faults on one profile per family; the faults
    that need real waits (announced poll timeouts, deadlines) on fewer."""
    if not f.fast or not p.fast:
        return False
    if f.fast is not True:
        return p.name in f.fast and op in ("download", "upload")
    return True


def build_cells():
    cells = []
    for f in FAULTS:
        for p in PROFILES:
            if not f.applies(p):
                continue
            for op in f.ops:
                image = f.image(p) if f.image else None
                base, size = image or (p.base, p.size)
                tok = resolve(f.token, p, base, size)
                label = f.label or f.token or "none"
                extra = (" " + " ".join(f.args)) if f.args else ""
                name = "%s | %s%s | %s" % (p.name, label, extra, op)
                cells.append(Cell(name, p, tok, op, f.expect(op, p), args=f.args, runs=f.runs,
                                  time_scale=f.time_scale, zero_poll=f.zero_poll, image=image,
                                  fast=fast_cell(f, p, op), timeout=f.timeout,
                                  pending=f.pending))
    for (name, pname, tok, op, e, image, args, ts, zp, fast) in SPECIAL:
        p = next(x for x in PROFILES if x.name == pname)
        cells.append(Cell("%s | %s | %s (%s)" % (pname, tok, op, name), p, tok, op, e,
                          args=args, time_scale=ts, zero_poll=zp, image=image, fast=fast))
    return cells


def command(cell, d):
    """(argv of the dfuflash-sim run, argv of one dfuflash run)."""
    p = cell.p
    img = os.path.join(d, "image.bin")
    if cell.op == "upload":
        df = [DFUFLASH, "read", os.path.join(d, "read.bin"), "--progress=none"]
        if p.dfuse:
            df += ["--address", h(cell.base), "--length", str(cell.size)]
    else:
        df = [DFUFLASH, "flash", img, "--progress=none"]
        if p.dfuse:
            df[2:2] = ["-s", h(cell.base)]
        if cell.op == "leave":
            df.append("--leave")
    df += [str(p.tsize) if a == "TSIZE" else a for a in cell.args]
    if cell.op == "upload" and cell.runs > 1:
        df.append("--force")
    sim = [SIM, "--profile", p.name, "--time-scale", cell.time_scale]
    if cell.zero_poll:
        sim += ["-f", "zero-poll-timeout"]
    tok = cell.token
    if "DNLOAD:LAST" in tok:
        tok = tok.replace("DNLOAD:LAST", "DNLOAD:%d" % cell.last_dnload)
    if tok:
        sim += ["-f", tok]
    content = os.path.join(d, "new.bin" if cell.op == "upload" else "old.bin")
    sim += ["--flash-in", "%s@%s" % (content, h(cell.base)),
            "--flash-out", os.path.join(d, "dump.bin"), "--log", os.path.join(d, "sim.log"),
            "--"]
    return sim, df


def classify(dump, cell, old, new):
    """Per sector of the image range: 'new', 'old', 'erased', 'mixed', or 'BAD' (a byte
    that is none of old, new, 0xFF).  Returns ([(sector, class)], bad_offsets)."""
    p = cell.p
    off0 = cell.base - p.flash_base
    out, bad = [], []
    for s, sz in p.sectors:
        lo, hi = max(s, cell.base), min(s + sz, cell.base + cell.size)
        if lo >= hi:
            continue
        a, b = lo - cell.base, hi - cell.base
        got = dump[off0 + a:off0 + b]
        if len(got) != b - a:
            out.append((s, "BAD"))
            bad.append(a)
            continue
        if got == new[a:b]:
            c = "new"
        elif got == old[a:b]:
            c = "old"
        elif got == b"\xff" * (b - a):
            c = "erased"
        else:
            c = "mixed"
            for i in range(b - a):
                g = got[i]
                if g != new[a + i] and g != old[a + i] and g != 0xFF:
                    c = "BAD"
                    bad.append(a + i)
                    break
        out.append((s, c))
    return out, bad


def run_cell(cell):
    d = tempfile.mkdtemp(prefix="fm-")
    t0 = time.monotonic()
    try:
        return evaluate(cell, d)
    except (OSError, subprocess.SubprocessError) as ex:
        return cell, ["the cell could not run: %s" % ex], "", ""
    finally:
        cell.elapsed = time.monotonic() - t0
        if not os.environ.get("FAULT_MATRIX_KEEP"):
            shutil.rmtree(d, ignore_errors=True)


def run_bounded(argv, timeout):
    """Run @argv (output and errors together) for at most @timeout seconds; on expiry
    its whole process group is killed (dfuflash runs below dfuflash-sim) and the
    exit status is "timeout".  Returns (output, status)."""
    pr = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          start_new_session=True)
    try:
        out, _ = pr.communicate(timeout=timeout)
        rc = pr.returncode
    except subprocess.TimeoutExpired:
        try:
            os.killpg(pr.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        out, _ = pr.communicate()
        rc = "timeout"
    return out.decode("utf-8", "replace"), rc


def evaluate(cell, d):
    new = image_bytes(cell.base, cell.size, 1)
    old = image_bytes(cell.base, cell.size, 2)
    with open(os.path.join(d, "image.bin"), "wb") as f:
        f.write(new)
    with open(os.path.join(d, "new.bin"), "wb") as f:
        f.write(new)
    with open(os.path.join(d, "old.bin"), "wb") as f:
        f.write(old)
    if "DNLOAD:LAST" in cell.token:
        # the leave is the last DNLOAD: count them in a clean run first
        sim, df = command_clean(cell, d)
        subprocess.run(sim + df, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       timeout=cell.timeout)
        n = 0
        for line in open(os.path.join(d, "sim.log")):
            if '"req":"DNLOAD"' in line:
                n += 1
        cell.last_dnload = n
    sim, df = command(cell, d)
    if cell.runs == 1:
        argv = sim + df
    else:
        script = "; ".join('"$@"; r=$?; echo "run%d=$r"' % (i + 1) for i in range(cell.runs))
        argv = sim + ["sh", "-c", script + "; exit $r", "sh"] + df
    repro = " ".join(shlex.quote(a) for a in argv)
    out, rc = run_bounded(argv, cell.timeout)
    why = []
    if rc == "timeout":
        why.append("HANG: no exit within %d s" % cell.timeout)
    e = cell.e
    codes = [rc]
    if cell.runs > 1:
        codes = [int(m) for m in re.findall(r"^run\d+=(\d+)$", out, re.M)]
        if len(codes) != cell.runs:
            why.append("expected %d runs, saw %s" % (cell.runs, codes))
    for c in codes:
        if c not in DOCUMENTED_EXITS:
            why.append("exit %s is not a documented exit status" % c)
        elif c not in e.codes:
            why.append("exit %s, expected %s" % (c, "/".join(map(str, sorted(e.codes)))))
    for rx in e.rx:
        if not re.search(rx, out):
            why.append("output does not match /%s/" % rx)
    for rx in e.rx_not:
        m = re.search(rx, out)
        if m:
            why.append("output wrongly says /%s/ (%r)" % (rx, m.group(0)))
    # the flash
    try:
        dump = open(os.path.join(d, "dump.bin"), "rb").read()
    except OSError:
        dump = b""
    if not dump:
        why.append("no flash dump")
    else:
        why += check_flash(cell, e, out, dump, old, new, d, codes)
    why += invariant(cell, codes, out, dump, new, d)
    return cell, why, out, repro


# ---- the invariant of every cell ---------------------------------------------------------
# Whatever the fault and whatever the table above expects: no hang (run_bounded), an
# exit 0 (or 81: flashed, application not started) only when the flash, as the simulator
# dumps it, holds exactly the image (a read: the file holds exactly the flash); any other
# exit names the state the device is left in and what completes the job.

# the device's state: the described flash, its DFU state, or why there is none
STATE_RX = re.compile(r"state of the device:|\(state [A-Za-z-]+|device reports (dfu|app)|"
                      r"\bin (dfu|app)[A-Z][A-Za-z-]*|[Nn]o (matching )?(DFU )?device|"
                      r"read-protected|flash (is |was )?(unchanged|untouched|not changed)|"
                      r"nothing (was )?(erased|written)")
# what completes the job: a hint, or the command to run again
DONE_RX = re.compile(r"^hint: |this completes the flash|the same command again|\breplug",
                     re.M)


def invariant(cell, codes, out, dump, new, d):
    why = []
    if "timeout" in codes or not codes:
        return why  # the hang is reported already
    off0 = cell.base - cell.p.flash_base
    if all(c in (0, 81) for c in codes):
        if cell.op == "upload":
            try:
                got = open(os.path.join(d, "read.bin"), "rb").read()
            except OSError:
                got = None
            if got != new:
                why.append("FALSE SUCCESS: exit %s but the file read is not the flash" % codes[-1])
        elif dump[off0:off0 + cell.size] != new:
            why.append("FALSE SUCCESS: exit %s but the flash does not hold the image"
                       % codes[-1])
        return why
    if not STATE_RX.search(out):
        why.append("exit %s: the message does not name the state of the device" % codes[-1])
    if not DONE_RX.search(out):
        why.append("exit %s: the message does not say what completes the job" % codes[-1])
    return why


def command_clean(cell, d):
    c = Cell(cell.name, cell.p, "", cell.op, cell.e, args=cell.args,
             time_scale=cell.time_scale, zero_poll=cell.zero_poll,
             image=(cell.base, cell.size))
    return command(c, d)


def check_flash(cell, e, out, dump, old, new, d, codes):
    why = []
    p = cell.p
    off0 = cell.base - p.flash_base
    # outside the image range nothing changes (it was erased before the run)
    outside = dump[:off0] + dump[off0 + cell.size:]
    if outside.count(0xFF) != len(outside):
        first = next(i for i, b in enumerate(dump) if b != 0xFF and not (off0 <= i < off0 + cell.size))
        why.append("flash outside the image changed (first at %s)" % h(p.flash_base + first))
    if cell.op == "upload":
        content = new
        if dump[off0:off0 + cell.size] != content:
            why.append("an upload changed the flash")
        if all(c == 0 for c in codes):
            try:
                got = open(os.path.join(d, "read.bin"), "rb").read()
            except OSError:
                got = None
            if got != content:
                why.append("the file read differs from the flash (%s bytes, expected %d)"
                           % (len(got) if got is not None else "no file", len(content)))
        return why
    secs, bad = classify(dump, cell, old, new)
    kinds = {c for _, c in secs}
    if bad:
        why.append("flash holds bytes that are neither old, new nor erased at %s"
                   % ", ".join(h(cell.base + b) for b in bad[:4]))
    success = all(c in (0, 81) for c in codes)
    if success:
        if kinds != {"new"}:
            why.append("after exit %s the flash is not the image: %s" % (
                "/".join(map(str, codes)), summary(secs)))
        return why
    if e.flash == "old" and kinds != {"old"}:
        why.append("the flash was expected untouched: %s" % summary(secs))
        return why
    if kinds <= {"old"} or kinds <= {"new"}:
        return why
    if not re.search(r"state of the device:", out):
        why.append("the flash changed (%s) and the message does not describe it"
                   % summary(secs))
        return why
    m = re.search(r"(\d+) sectors? erased \(([^)]*)\)", out)
    if m and "..." not in m.group(2):
        listed = {int(x, 16) for x in re.findall(r"0x[0-9a-fA-F]+", m.group(2))}
        # the sector an interrupted erase left undefined
        listed |= {int(x, 16) for x in re.findall(r"sector (0x[0-9a-fA-F]+) \([^)]*\) was "
                                                  r"being erased", out)}
        for s, c in secs:
            if c != "old" and s not in listed:
                why.append("sector %s is %s but not among the erased sectors the message lists"
                           % (h(s), c))
    return why


def summary(secs):
    runs, prev = [], None
    for s, c in secs:
        if runs and runs[-1][1] == c:
            runs[-1][2] += 1
        else:
            runs.append([s, c, 1])
    return ", ".join("%s%s %s" % (h(s), "" if n == 1 else " (+%d)" % (n - 1), c)
                     for s, c, n in runs)


def main():
    if not (os.access(SIM, os.X_OK) and os.access(DFUFLASH, os.X_OK)):
        print("SKIP: %s or %s not built (umockdev missing?)" % (SIM, DFUFLASH))
        return 77
    probe = subprocess.run([SIM, "--time-scale", "0", "--", "true"], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
    if probe.returncode != 0:
        print("SKIP: dfuflash-sim cannot set up a umockdev test bed here")
        return 77
    cells = [c for c in build_cells() if (MODE == "full" or c.fast) and FILTER.search(c.name)]
    print("# fault matrix (%s): %d cells, %d at a time" % (MODE, len(cells), JOBS))
    t0 = time.monotonic()
    passed = failed = pending = 0
    failures = []
    with concurrent.futures.ThreadPoolExecutor(max_workers=JOBS) as ex:
        futures = [ex.submit(run_cell, c) for c in cells]
        for fut in concurrent.futures.as_completed(futures):
            cell, why, out, repro = fut.result()
            if why and cell.pending:
                pending += 1
                print("PEND %s (%.1f s): %s" % (cell.name, cell.elapsed, cell.pending))
                for w in why:
                    print("     - %s" % w)
            elif why:
                failed += 1
                failures.append(cell.name)
                print("FAIL %s (%.1f s)" % (cell.name, cell.elapsed))
                for w in why:
                    print("     - %s" % w)
                print("     $ %s" % repro)
                for line in out.rstrip().splitlines()[-8:]:
                    print("     | %s" % line)
            else:
                passed += 1
                print("ok   %s (%.1f s)" % (cell.name, cell.elapsed))
                if VERBOSE:
                    for line in out.rstrip().splitlines():
                        print("     | %s" % line)
            sys.stdout.flush()
    if failures:
        print("# failing cells:")
        for n in sorted(failures):
            print("#   %s" % n)
    print("fault matrix: %d cells run, %d passed, %d failed, %d pending (%s, %.0f s)"
          % (passed + failed + pending, passed, failed, pending, MODE, time.monotonic() - t0))
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
