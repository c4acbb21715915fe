#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""The library's objects form no cycle, and no layer calls one above it.

Reads the symbols of every object in the product library (nm over
src/lib/.libs/libdfuflash.a), links each undefined symbol to the object that
defines it, and fails
  - when two or more objects reach each other (a strongly connected component
    of the object graph): a file either dispatches or implements, and never
    calls back up;
  - when an object calls into a layer above its own.  The layers, bottom up:
    core (libcore), image (libimage) and usb (libusbseam) beside each other,
    dfu (libengine) on top of both.
Each failure names the objects and the symbols of the offending edges.
"""
import collections
import os
import shutil
import subprocess
import sys

# layer of each convenience library (its objects are named LIB_la-FILE.o)
# (src/util's objects carry no prefix: "util.o")
LAYERS = {"util": 0, "libcore": 1, "libimage": 2, "libusbseam": 2, "libengine": 3}
# which layers each layer may call (besides itself)
MAY_USE = {"util": set(), "libcore": {"util"}, "libimage": {"util", "libcore"},
           "libusbseam": {"util", "libcore"},
           "libengine": {"util", "libcore", "libimage", "libusbseam"}}


def skip(why):
    print("SKIP: " + why)
    sys.exit(77)


def read_archive(path):
    """{member: (defined symbols, undefined symbols)} of an ar archive."""
    out = subprocess.run(["nm", "-A", path], capture_output=True, text=True, check=True).stdout
    objs = collections.defaultdict(lambda: (set(), set()))
    for line in out.splitlines():
        # "archive:member.o:0000000000000000 T name" or "archive:member.o:   U name"
        head, _, rest = line.rpartition(":")
        member = head.rsplit(":", 1)[-1]
        parts = rest.split()
        if len(parts) == 3 and parts[1] in "TDBRCVW":
            objs[member][0].add(parts[2])
        elif len(parts) == 2 and parts[0] == "U":
            objs[member][1].add(parts[1])
    return objs


def short(member):
    lib, sep, name = member.partition("_la-")
    if not sep:
        lib, name = "util", member
    return (lib, name[:-2] if name.endswith(".o") else name)


def sccs(nodes, edges):
    """Tarjan's strongly connected components, iteratively."""
    index, low, on, stack, result, counter = {}, {}, set(), [], [], [0]
    for root in sorted(nodes):
        if root in index:
            continue
        work = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = counter[0]
        counter[0] += 1
        stack.append(root)
        on.add(root)
        while work:
            v, it = work[-1]
            for w in it:
                if w not in index:
                    index[w] = low[w] = counter[0]
                    counter[0] += 1
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(sorted(edges[w]))))
                    break
                if w in on:
                    low[v] = min(low[v], index[w])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[v])
                if low[v] == index[v]:
                    comp = []
                    while True:
                        w = stack.pop()
                        on.discard(w)
                        comp.append(w)
                        if w == v:
                            break
                    result.append(sorted(comp))
    return result


def main():
    build = os.environ.get("DFUFLASH_BUILDDIR", ".")
    archive = os.path.join(build, "src", "lib", ".libs", "libdfuflash.a")
    if not os.path.exists(archive):
        skip(f"{archive} not built")
    if not shutil.which("nm"):
        skip("nm not found")
    objs = read_archive(archive)
    unknown = sorted(m for m in objs if short(m)[0] not in LAYERS)
    if unknown:
        print(f"FAIL: objects of no known layer in {archive}: {', '.join(unknown)}")
        return 1
    defined = {}
    for m, (defs, _) in objs.items():
        for s in defs:
            defined[s] = m
    edges = collections.defaultdict(dict)
    for m, (_, undef) in objs.items():
        for s in undef:
            d = defined.get(s)
            if d and d != m:
                edges[m].setdefault(d, set()).add(s)
    bad = 0
    for comp in sccs(objs.keys(), edges):
        if len(comp) < 2:
            continue
        bad += 1
        names = ", ".join("/".join(short(m)) for m in comp)
        print(f"FAIL: import cycle between {names}:")
        for a in comp:
            for b in comp:
                if b in edges[a]:
                    syms = ", ".join(sorted(edges[a][b]))
                    print(f"    {'/'.join(short(a))} -> {'/'.join(short(b))}: {syms}")
    for a in sorted(objs):
        la = short(a)[0]
        for b, syms in sorted(edges[a].items()):
            lb = short(b)[0]
            if lb != la and lb not in MAY_USE[la]:
                bad += 1
                print(f"FAIL: {'/'.join(short(a))} calls up into {'/'.join(short(b))}: "
                      f"{', '.join(sorted(syms))}")
    n_edges = sum(len(v) for v in edges.values())
    if bad:
        return 1
    print(f"no-cycles: {len(objs)} objects, {n_edges} edges, no cycle, no call upwards")
    return 0


if __name__ == "__main__":
    sys.exit(main())
