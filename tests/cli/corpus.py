#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Run `dfuflash image info --json` on every file of the shared corpus and
compare with expected.json: segments, start address, DFU suffix, DfuSe
targets, vector table for valid files; the error code (or an acceptable one)
for malformed files.  Exit 77 (automake SKIP) when the corpus directory is
absent, never 0: no file was checked.  A corpus directory without its
expected.json is broken, not absent: exit 99 (hard error), as check-corpus."""
import json
import os
import subprocess
import sys

corpus = os.environ.get("DFUFLASH_CORPUS", "")
binary = os.environ["DFUFLASH_BIN"]
if not corpus or not os.path.isdir(corpus):
    print(f"SKIP: shared corpus not found (DFUFLASH_CORPUS={corpus or 'unset'}); corpus cases skipped")
    sys.exit(77)
if not os.path.isfile(os.path.join(corpus, "expected.json")):
    print(f"ERROR: {corpus}/expected.json not found: the corpus is incomplete")
    sys.exit(99)

expected = json.load(open(os.path.join(corpus, "expected.json")))["files"]
failures = []


def info(name, exp):
    cmd = [binary, "image", "info", "--json"]
    if exp.get("format") in ("bin", "dfu") and exp.get("segments"):
        # raw payloads carry no address: the user gives it, as with --address
        cmd += ["--address", hex(exp["segments"][0]["address"])]
    cmd.append(os.path.join(corpus, name))
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    return p.returncode, json.loads(p.stdout)["files"][0], p.stderr.decode()


def seg_key(s):
    return (s.get("alt", -1), s["address"], s["length"], s["crc32"])


def check(name, exp):
    rc, got, err = info(name, exp)
    where = name
    if not exp["valid"]:
        if got["valid"]:
            if exp.get("lenient_ok") and got["warnings"]:
                return
            return f"{where}: accepted, expected error {exp['error']['code']}"
        codes = [exp["error"]["code"]] + exp.get("acceptable_errors", [])
        if got["error"]["code"] not in codes:
            return f"{where}: error {got['error']['code']}, expected one of {codes}"
        if rc != 65:
            return f"{where}: exit {rc}, expected 65"
        ew = exp["error"].get("where", "")
        if ew.startswith("line ") and got["error"]["where"] != ew:
            return f"{where}: error at {got['error']['where']!r}, expected {ew!r}"
        if name not in err:
            return f"{where}: stderr does not name the file: {err!r}"
        return
    if not got["valid"]:
        if got["error"]["code"] in exp.get("acceptable_errors", []):
            return
        return f"{where}: rejected ({got['error']['code']}: {got['error']['message']})"
    if rc != 0:
        return f"{where}: exit {rc}"
    if sorted(map(seg_key, got["segments"])) != sorted(map(seg_key, exp["segments"])):
        return f"{where}: segments {got['segments']} != {exp['segments']}"
    es, gs = exp.get("start_address"), got.get("start_address")
    if (es is None) != (gs is None) or (es and (es["type"] != gs["type"] or es["linear"] != gs["linear"]
                                               or es.get("cs") != gs.get("cs") or es.get("ip") != gs.get("ip"))):
        return f"{where}: start address {gs} != {es}"
    ed, gd = exp.get("dfu_suffix"), got.get("dfu_suffix")
    if ed:
        for k in ("bLength", "bcdDFU", "bcdDevice", "idProduct", "idVendor", "dwCRC"):
            if not gd or gd[k] != ed[k]:
                return f"{where}: dfu_suffix.{k} {gd and gd[k]} != {ed[k]}"
    ex = exp.get("dfuse")
    if ex:
        gx = got.get("dfuse")
        if not gx or gx["bVersion"] != ex["bVersion"] or gx["image_size"] != ex["image_size"] \
                or len(gx["targets"]) != len(ex["targets"]):
            return f"{where}: dfuse header {gx} != {ex}"
        for gt, et in zip(gx["targets"], ex["targets"]):
            for k in ("alt", "named", "name", "target_size"):
                if gt[k] != et[k]:
                    return f"{where}: dfuse target {k} {gt[k]!r} != {et[k]!r}"
            if [(e["address"], e["length"], e["crc32"]) for e in gt["elements"]] != \
                    [(e["address"], e["length"], e["crc32"]) for e in et["elements"]]:
                return f"{where}: dfuse elements differ"
    ev = exp.get("vector_table")
    if ev:
        gv = got.get("vector_table")
        for k in ("address", "initial_sp", "reset_vector", "reset_thumb_bit", "reset_in_image"):
            if not gv or gv[k] != ev[k]:
                return f"{where}: vector_table.{k} {gv and gv.get(k)} != {ev[k]}"
    if exp.get("warnings") and not got["warnings"]:
        return f"{where}: expected a warning ({exp['warnings'][0]})"


def round_trips(name, exp):
    """Parse -> write -> parse is the identity wherever the target format can
    carry the information: segments always; the start address in hex/srec
    (srec has no way to say "none": its termination record holds 0)."""
    global trips
    if not exp["valid"] or exp["format"] in ("bin", "dfu"):
        return
    trips += 1
    src = os.path.join(corpus, name)
    rc, orig, _ = info(name, exp)
    if rc != 0:
        return  # a tolerated rejection, reported by check() if wrong
    alts = {s.get("alt", -1) for s in orig["segments"]}
    for to in ("hex", "srec", "dfuse"):
        if to != "dfuse" and len(alts) > 1:
            continue  # several alt settings: only DfuSe holds them
        out = os.path.join(tmp, f"{name}.{to}")
        p = subprocess.run([binary, "image", "convert", "--force", "--to", to, src, out],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
        if p.returncode != 0:
            return f"{name}: convert to {to} failed: {p.stderr.decode().strip()}"
        q = subprocess.run([binary, "image", "info", "--json", out], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=60)
        back = json.loads(q.stdout)["files"][0]
        if not back["valid"]:
            return f"{name}: {to} output does not parse: {back['error']}"
        strip = lambda s: (s["address"], s["length"], s["crc32"])  # noqa: E731
        want = sorted(map(strip, orig["segments"]))
        got = sorted(map(strip, back["segments"]))
        if want != got:
            return f"{name}: segments changed through {to}: {got} != {want}"
        if to == "dfuse" and orig["format"] == "dfuse":
            if sorted(seg_key(s) for s in back["segments"]) != sorted(seg_key(s) for s in orig["segments"]):
                return f"{name}: alts changed through dfuse"
        if to in ("hex", "srec"):
            o, b = orig.get("start_address"), back.get("start_address")
            if o is None and to == "srec":
                continue
            if (o is None) != (b is None) or (o and o["linear"] != b["linear"]):
                return f"{name}: start address changed through {to}: {b} != {o}"


import tempfile
tmp = tempfile.mkdtemp(prefix="dfuflash-corpus-")
n = 0
trips = 0
for name, exp in sorted(expected.items()):
    n += 1
    try:
        msg = check(name, exp)
    except Exception as e:  # a crash or bad JSON is a failure too
        msg = f"{name}: {type(e).__name__}: {e}"
    if msg:
        failures.append(msg)
        print("FAIL:", msg)
        continue
    try:
        msg = round_trips(name, exp)
    except Exception as e:
        msg = f"{name}: round trip: {type(e).__name__}: {e}"
    if msg:
        failures.append(msg)
        print("FAIL:", msg)
import shutil
shutil.rmtree(tmp, ignore_errors=True)
print(f"corpus (CLI): {n} files, {trips} round-tripped through hex/srec/dfuse")
print(f"corpus (CLI): {n - len(failures)} passed, {len(failures)} failed")
sys.exit(1 if failures else 0)
