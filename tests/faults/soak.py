#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""The soak test (`make check-soak`, not part of `make check`): SOAK_RUNS (500)
flashes, one after another, each on a fresh dfuflash-sim with a fault drawn at
random (seed SOAK_SEED, default 1) from the whole catalogue of the fault matrix
(tests/faults/matrix.py) on a random profile it applies to, through the real
binaries.  Every run is judged by the matrix's invariant only:

  * it ends within its bound (else: a hang);
  * exit 0 (or 81: flashed, the application not started) only when the flash the
    simulator dumps holds exactly the image (else: a false success);
  * any other exit is documented and its message names the state of the device
    and what completes the job, and the flash holds only old, new or erased
    bytes (else: a failure without a stated cause).

It prints

    soak: N runs, S succeeded byte-exact, F failed with a stated cause, 0 false successes, 0 hangs

with the real counts, lists every run that broke the invariant with the command
that reproduces it, and fails when any did.  Faults the matrix marks PENDING
(known to fail until another change lands) are left out and named.

Environment: DFUFLASH_BUILDDIR, SOAK_RUNS, SOAK_SEED, SOAK_JOBS (runs at once,
default 2), SOAK_TIME_SCALE (the datasheet time scale of the runs that use 0 in
the matrix, default 0.01: small but not instantaneous).
"""
import concurrent.futures
import importlib.util
import os
import random
import shlex
import shutil
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
_spec = importlib.util.spec_from_file_location("matrix", os.path.join(HERE, "matrix.py"))
matrix = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(matrix)

RUNS = int(os.environ.get("SOAK_RUNS", "500"))
SEED = int(os.environ.get("SOAK_SEED", "1"))
JOBS = int(os.environ.get("SOAK_JOBS", "2"))
TIME_SCALE = os.environ.get("SOAK_TIME_SCALE", "0.01")

FLASH_OPS = ("download", "leave")  # the two ways to run `dfuflash flash`


def catalogue():
    """Every flash cell of the full matrix but the PENDING ones and the ones that
    need a clean run first (DNLOAD:LAST); the names of the faults left out."""
    cells, left_out = [], set()
    for c in matrix.build_cells():
        if c.op not in FLASH_OPS:
            continue
        if c.pending or "DNLOAD:LAST" in c.token:
            left_out.add(c.token)
            continue
        if c.time_scale == "0":
            c.time_scale = TIME_SCALE
        cells.append(c)
    return cells, sorted(left_out)


def judge(cell, d):
    """One run: ('exact'|'stated'|'false'|'hang'|'unstated', reasons, repro)."""
    new = matrix.image_bytes(cell.base, cell.size, 1)
    old = matrix.image_bytes(cell.base, cell.size, 2)
    for name, data in (("image.bin", new), ("new.bin", new), ("old.bin", old)):
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)
    sim, df = matrix.command(cell, d)
    argv = sim + df
    repro = " ".join(shlex.quote(a) for a in argv)
    out, rc = matrix.run_bounded(argv, cell.timeout)
    if rc == "timeout":
        return "hang", ["no exit within %d s" % cell.timeout], repro
    try:
        dump = open(os.path.join(d, "dump.bin"), "rb").read()
    except OSError:
        dump = b""
    if not dump:
        return "unstated", ["exit %s and no flash dump" % rc], repro
    why = matrix.invariant(cell, [rc], out, dump, new, d)
    if any(w.startswith("FALSE SUCCESS") for w in why):
        return "false", why, repro
    if rc in (0, 81):
        return "exact", [], repro
    if rc not in matrix.DOCUMENTED_EXITS:
        why.append("exit %s is not documented" % rc)
    _, bad = matrix.classify(dump, cell, old, new)
    if bad:
        why.append("the flash holds bytes that are neither old, new nor erased")
    if why:
        return "unstated", why + ["last line: %s" % out.rstrip().splitlines()[-1:]], repro
    return "stated", [], repro


def run_one(i, cell):
    d = tempfile.mkdtemp(prefix="soak-")
    try:
        kind, why, repro = judge(cell, d)
    except (OSError, ValueError) as ex:
        kind, why, repro = "unstated", ["the run could not be made: %s" % ex], ""
    finally:
        shutil.rmtree(d, ignore_errors=True)
    return i, cell, kind, why, repro


def main():
    if not (os.access(matrix.SIM, os.X_OK) and os.access(matrix.DFUFLASH, os.X_OK)):
        print("SKIP: %s or %s not built (umockdev missing?)" % (matrix.SIM, matrix.DFUFLASH))
        return 77
    cells, left_out = catalogue()
    rng = random.Random(SEED)
    picks = [rng.choice(cells) for _ in range(RUNS)]
    print("# soak: %d flashes, seed %d, %d at a time, drawn from %d cells" % (
        RUNS, SEED, JOBS, len(cells)))
    if left_out:
        print("# left out (PENDING in the matrix, or needing a counting run): %s"
              % ", ".join(left_out))
    counts = {"exact": 0, "stated": 0, "false": 0, "hang": 0, "unstated": 0}
    bad = []
    t0 = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(max_workers=JOBS) as ex:
        futures = [ex.submit(run_one, i, c) for i, c in enumerate(picks)]
        for n, fut in enumerate(concurrent.futures.as_completed(futures), 1):
            i, cell, kind, why, repro = fut.result()
            counts[kind] += 1
            if kind in ("false", "hang", "unstated"):
                bad.append((i, cell, kind, why, repro))
                print("BAD  run %d: %s: %s" % (i + 1, cell.name, kind))
                for w in why:
                    print("     - %s" % w)
                print("     $ %s" % repro)
            if n % 50 == 0:
                print("# %d of %d runs done (%.0f s)" % (n, RUNS, time.monotonic() - t0))
            sys.stdout.flush()
    if counts["unstated"]:
        print("soak: %d failed without a stated cause" % counts["unstated"])
    print("soak: %d runs, %d succeeded byte-exact, %d failed with a stated cause, "
          "%d false successes, %d hangs" % (RUNS, counts["exact"], counts["stated"],
                                            counts["false"], counts["hang"]))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
