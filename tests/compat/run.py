#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""The dfu-util compatibility suite.

Every row of tests/compat/table runs three times against the same
dfuflash-sim profile: stock dfu-util 0.11 (the reference), dfuflash under its
own name, and dfuflash linked as dfu-util.  What a script can see is compared:
the exit status, the flash afterwards (--flash-out), the device's mode
afterwards (DFU, run-time or gone), the upload file and the lines scripts grep.
Differences the table marks as deliberate must be real; every key it uses must
be an entry of the man page's "Differences from dfu-util" section and the
other way round.

Exit status: 0 all rows agree, 1 a difference, 77 skipped (no dfu-util 0.11,
no dfuflash-sim or no umockdev test bed), 99 a broken set-up.

Environment: DFUFLASH_BIN, DFUFLASH_SIM, DFU_UTIL (default dfu-util),
DFUSE_PACK (default dfuse-pack), COMPAT_FILTER (a regular expression of row ids).
"""
import concurrent.futures
import os
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
ASPECTS = ("rc", "flash", "mode", "upload", "lines")

# The lines scripts grep (shared/docs/user-needs.md 5.2), per stream.
GREPPED = (
    "Download done.",
    "File downloaded successfully",
    "Submitting leave request...",
    "Upload done.",
    "No DFU capable USB device available",
    "More than one DFU capable USB device found!",
    "Cannot open DFU device",
)


def skip(why):
    print("SKIP: " + why)
    sys.exit(77)


def which(name):
    path = shutil.which(name)
    return os.path.abspath(path) if path else None


def read(path, mode="r"):
    try:
        with open(path, mode) as f:
            return f.read()
    except FileNotFoundError:
        return None


def load_table(path):
    rows = []
    for n, line in enumerate(open(path), 1):
        if not line.strip() or line.startswith("#"):
            continue
        f = [x.strip() for x in line.rstrip("\n").split("|")]
        if len(f) != 5:
            sys.exit("%s:%d: expected 5 fields, found %d" % (path, n, len(f)))
        key, differ = None, set()
        if f[4]:
            parts = f[4].split()
            key = parts[0]
            differ = set(parts[1].split(",")) if len(parts) > 1 else set()
            if not differ or differ - set(ASPECTS):
                sys.exit("%s:%d: DIFFERENCE needs KEY ASPECT[,ASPECT] of %s"
                         % (path, n, ",".join(ASPECTS)))
        rows.append(dict(id=f[0], profile=f[1], opts=f[2].split(), args=f[3],
                         key=key, differ=differ, line=n))
    return rows


def man_keys(path):
    """The bold entry names of the man page's "Differences from dfu-util"."""
    text = read(path) or ""
    m = re.search(r'^\.SH "?DIFFERENCES FROM DFU-UTIL"?$(.*?)^\.SH ', text, re.M | re.S)
    if not m:
        return None
    return set(re.findall(r"^\.TP\n\.B ([a-z0-9-]+)$", m.group(1), re.M))


# ---- inputs --------------------------------------------------------------------------

# the Cortex-M image generator of the fault matrix (SP in RAM, a Thumb reset
# handler inside the image, then pseudo-random bytes): one copy for both
sys.path.insert(0, os.path.join(TOP, "tests", "faults"))
from matrix import image_bytes as cortex_image  # noqa: E402


def noise(size, seed):
    x, b = seed, bytearray()
    while len(b) < size:
        x = (x * 69069 + 1) & 0xFFFFFFFF
        b.append(x >> 24)
    return bytes(b)


def make_inputs(d, dfuse_pack):
    files = {
        "firmware.bin": cortex_image(0x08000000, 6000, 41),
        "blackmagic.bin": cortex_image(0x08002000, 4096, 42),
        "maple.bin": cortex_image(0x08002000, 5000, 47),
        "app4000.bin": cortex_image(0x08004000, 4096, 46),
        "tinker.bin": cortex_image(0x080A0000, 5000, 43),
        "gd.bin": cortex_image(0x08000000, 8192, 44),
        "junk.bin": noise(8192, 45),
        "g.bin": noise(3000, 31),
        # STM32F405 option bytes as the ROM reads them back: RDP level 0, no WRP
        "option.bin": bytes.fromhex("aaed5500ffff0000aaed5500ffff0000")[:16],
    }
    for name, data in files.items():
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)
    # .dfu files as dfu-util's own dfuse-pack writes them (DFUImageSize with the suffix)
    for out, src, dev in (("firmware.dfu", "firmware.bin", "0x0483:0xdf11"),
                          ("pinecil.dfu", "gd.bin", "0x28e9:0x0189")):
        subprocess.run([dfuse_pack, "-b", "0x08000000:" + src, "-D", dev, out], cwd=d,
                       check=True, stdout=subprocess.DEVNULL)


# ---- one run -------------------------------------------------------------------------

PROBE = r'''
import subprocess, sys, time
def look():
    out = subprocess.run([sys.argv[1], "list"], capture_output=True, text=True).stdout
    if "Found DFU: [" in out:
        return "dfu"
    return "runtime" if "Found Runtime: [" in out else ""
last, stable, deadline = None, 0, time.time() + 3
while time.time() < deadline:
    now = look()
    stable = stable + 1 if now == last else 0
    last = now
    if now and stable >= 2:
        break
    time.sleep(0.05)
print(last or "gone")
'''


def run_one(row, tool, work, inputs, sim, dfuflash):
    d = os.path.join(work, row["id"], os.path.basename(os.path.dirname(tool)) or "x")
    os.makedirs(d)
    for name in os.listdir(inputs):
        shutil.copy(os.path.join(inputs, name), d)
    with open(os.path.join(d, "probe.py"), "w") as f:
        f.write(PROBE)
    stdin = "< firmware.bin" if row["args"].endswith("-D -") else "< /dev/null"
    script = ('cd "$1" && "$2" %s > stdout 2> stderr %s; echo $? > rc; '
              'python3 probe.py "$3" > mode' % (row["args"], stdin))
    cmd = ([sim, "-p", row["profile"], "--time-scale", "0", "-f", "zero-poll-timeout"] +
           row["opts"] + ["--flash-out", os.path.join(d, "flash.out"), "--",
                          "sh", "-c", script, "sh", d, tool, dfuflash])
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=d)
    if read(os.path.join(d, "rc")) is None:
        sys.exit("%s: the simulator did not run the command (exit %d): %s"
                 % (row["id"], p.returncode, p.stderr.strip()[-500:]))
    # the command line ends with the probe, so the simulator itself must end with 0
    if p.returncode != 0:
        with open(os.path.join(d, "sim-failed"), "w") as f:
            f.write("the simulator ended with %d: %s" % (p.returncode, p.stderr.strip()[-500:]))
    return d


def seen(d):
    out = read(os.path.join(d, "stdout")) or ""
    err = read(os.path.join(d, "stderr")) or ""
    lines = []
    for name, text in (("stdout", out), ("stderr", err)):
        for g in GREPPED:
            if g in text:
                lines.append("%s has %r" % (name, g))
        found = [l for l in text.splitlines() if l.startswith(("Found DFU: [", "Found Runtime: ["))]
        if found:
            lines.append("%s lists:\n      %s" % (name, "\n      ".join(found)))
        # scripts grep ", alt=N," in the -l list on stdout
        alts = sorted(set(re.findall(r", alt=(\d+),", text)))
        if alts and name == "stdout":
            lines.append("%s has , alt=N, for N in %s" % (name, " ".join(alts)))
    first = out.splitlines()[0] if out else ""
    lines.append("stdout line 1 starts with 'dfu-util 0.11': %s" % first.startswith("dfu-util 0.11"))
    return {
        "rc": (read(os.path.join(d, "rc")) or "?").strip(),
        "flash": read(os.path.join(d, "flash.out"), "rb"),
        "mode": (read(os.path.join(d, "mode")) or "?").strip(),
        "upload": read(os.path.join(d, "up.bin"), "rb"),
        "lines": "\n    ".join(lines),
        "sim": read(os.path.join(d, "sim-failed")),
    }


def show(aspect, v):
    if aspect in ("flash", "upload"):
        return "absent" if v is None else "%d bytes" % len(v)
    return v


def compare(row, ref, got, variant):
    """Problems of one variant against dfu-util, as text lines."""
    bad = []
    for a in ASPECTS:
        same = ref[a] == got[a]
        # dfuflash under its own name prints its name on line 1, not dfu-util's
        if a == "lines" and variant == "dfuflash" and not same:
            same = (ref[a].replace("'dfu-util 0.11': True", "'dfu-util 0.11': False") ==
                    got[a])
        if a in row["differ"]:
            if not same:
                row.setdefault("differed", set()).add(a)
        elif not same:
            bad.append("%s differs:\n    dfu-util: %s\n    %s: %s"
                       % (a, show(a, ref[a]), variant, show(a, got[a])))
    return bad


def main():
    dfuflash = os.path.abspath(os.environ.get("DFUFLASH_BIN", "dfuflash"))
    sim = os.path.abspath(os.environ.get("DFUFLASH_SIM",
                                         os.path.join(os.path.dirname(dfuflash), "dfuflash-sim")))
    dfu_util = which(os.environ.get("DFU_UTIL", "dfu-util"))
    dfuse_pack = which(os.environ.get("DFUSE_PACK", "dfuse-pack"))
    filt = re.compile(os.environ.get("COMPAT_FILTER", ""))

    rows = load_table(os.path.join(HERE, "table"))
    keys = man_keys(os.path.join(TOP, "man", "dfuflash.1"))
    used = {r["key"] for r in rows if r["key"]}
    fails = 0
    if keys is None:
        print("FAIL man/dfuflash.1 has no \"Differences from dfu-util\" section")
        fails += 1
    else:
        for k in sorted(used - keys):
            print("FAIL table key '%s' is not in the man page's differences" % k)
            fails += 1
        for k in sorted(keys - used):
            print("FAIL man page difference '%s' is in no table row" % k)
            fails += 1

    if fails:  # the man page and the table disagree: no need for a device
        return 1
    if not os.access(dfuflash, os.X_OK):
        skip("%s not built" % dfuflash)
    if not os.access(sim, os.X_OK):
        skip("%s not built (umockdev missing?)" % sim)
    if not dfu_util or not dfuse_pack:
        skip("stock dfu-util 0.11 and dfuse-pack are needed as the reference")
    v = subprocess.run([dfu_util, "-V"], capture_output=True, text=True).stdout
    if not v.startswith("dfu-util 0.11\n"):
        skip("%s is not dfu-util 0.11" % dfu_util)
    if subprocess.run([sim, "--time-scale", "0", "--", "true"], capture_output=True).returncode:
        skip("dfuflash-sim cannot set up a umockdev test bed here")

    work = tempfile.mkdtemp(prefix="compat.")
    try:
        inputs = os.path.join(work, "inputs")
        os.makedirs(inputs)
        make_inputs(inputs, dfuse_pack)
        # the three tools, each in a folder named after the variant
        tools = {}
        for variant, target, name in (("dfu-util", dfu_util, "dfu-util"),
                                      ("dfuflash", dfuflash, "dfuflash"),
                                      ("as-dfu-util", dfuflash, "dfu-util")):
            os.makedirs(os.path.join(work, "bin", variant))
            tools[variant] = os.path.join(work, "bin", variant, name)
            os.symlink(target, tools[variant])
        def check_row(row):
            ref = seen(run_one(row, tools["dfu-util"], work, inputs, sim, dfuflash))
            # a broken run of the reference is no reference: say so, not "differs"
            problems = ["[dfu-util] " + ref["sim"]] if ref["sim"] else []
            for variant in ("dfuflash", "as-dfu-util"):
                got = seen(run_one(row, tools[variant], work, inputs, sim, dfuflash))
                if got["sim"]:
                    problems.append("[%s] %s" % (variant, got["sim"]))
                problems += ["[%s] %s" % (variant, p) for p in compare(row, ref, got, variant)]
            # a marked aspect must really differ (in one variant at least)
            for a in sorted(row["differ"] - row.get("differed", set())):
                problems.append("%s: marked '%s' but the same as dfu-util" % (a, row["key"]))
            return problems

        # rows are independent (one simulator each): two at a time
        chosen = [r for r in rows if filt.search(r["id"])]
        with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
            results = list(pool.map(check_row, chosen))
        for row, problems in zip(chosen, results):
            label = "%s: dfu-util %s" % (row["id"], row["args"])
            if problems:
                fails += 1
                print("FAIL " + label)
                for p in problems:
                    print("     " + p.replace("\n", "\n     "))
            else:
                print("ok   %s%s" % (label, " (differs: %s)" % row["key"] if row["key"] else ""))
    finally:
        if os.environ.get("COMPAT_KEEP"):
            print("kept " + work)
        else:
            shutil.rmtree(work, ignore_errors=True)
    print("%d row(s) failed" % fails if fails else "all rows agree")
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
