#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Write tiny seed files for fuzz-image (one per format) into DIR, default
# fuzz/seed/image beside this script.  Generated rather than copied from the
# corpus so the seeds stay small and their origin is plain.
set -eu

dir=${1:-$(dirname "$0")/seed/image}
mkdir -p "$dir"

# Raw binary: a Cortex-M vector table (SP, reset) and a few instructions.
printf '\000\020\000\040\011\000\000\010\376\347\376\347\000\277\000\277' >"$dir/vectors.bin"

python3 - "$dir" <<'PY'
import struct
import sys
import zlib

out = sys.argv[1]
payload = bytes.fromhex("00100020090000087047fee700bf00bf")


def write(name, data):
    with open(f"{out}/{name}", "wb") as f:
        f.write(data)


def suffix(body, bcd_dfu, vid=0x0483, pid=0xDF11, dev=0xFFFF):
    # DFU 1.1 appendix B: fields little-endian, "UFD", bLength, then the
    # CRC-32 of everything before it without the final XOR.
    s = struct.pack("<HHHH", dev, pid, vid, bcd_dfu) + b"UFD" + bytes([16])
    crc = zlib.crc32(body + s) ^ 0xFFFFFFFF
    return body + s + struct.pack("<I", crc)


# Intel HEX: extended linear address, two data records, start linear, EOF.
def ihex_rec(rtype, addr, data):
    rec = bytes([len(data), addr >> 8, addr & 0xFF, rtype]) + data
    return ":" + (rec + bytes([-sum(rec) & 0xFF])).hex().upper() + "\n"


hexfile = ihex_rec(4, 0, b"\x08\x00")
hexfile += ihex_rec(0, 0x0000, payload[:8])
hexfile += ihex_rec(0, 0x0008, payload[8:])
hexfile += ihex_rec(5, 0, struct.pack(">I", 0x08000009))
hexfile += ihex_rec(1, 0, b"")
write("tiny.hex", hexfile.encode())
# The same with CRLF and a segment gap, to reach the line-ending code.
hexgap = ihex_rec(0, 0x0100, payload[:4]) + ihex_rec(0, 0x0200, payload[4:8])
hexgap += ihex_rec(3, 0, b"\x00\x00\x01\x00") + ihex_rec(1, 0, b"")
write("gap-crlf.hex", hexgap.replace("\n", "\r\n").encode())


# S-record: S0 header, S3 data (32-bit addresses), S7 start.
def srec(rtype, addr, data, alen):
    body = bytes([alen + len(data) + 1]) + addr.to_bytes(alen, "big") + data
    return f"S{rtype}" + (body + bytes([~sum(body) & 0xFF])).hex().upper() + "\n"


s = srec(0, 0, b"fuzz", 2)
s += srec(3, 0x08000000, payload[:8], 4)
s += srec(3, 0x08000008, payload[8:], 4)
s += srec(5, 2, b"", 2)
s += srec(7, 0x08000009, b"", 4)
write("tiny.s37", s.encode())
write("tiny.s19", (srec(1, 0x1000, payload, 2) + srec(9, 0x1000, b"", 2)).encode())

# DFU 1.1 file: raw payload plus suffix.
write("tiny.dfu", suffix(payload, 0x0100))


# DfuSe (UM0391): prefix, one target of two elements, suffix with 0x011a.
def dfuse(targets):
    body = b""
    for alt, name, elements in targets:
        el = b"".join(struct.pack("<II", a, len(d)) + d for a, d in elements)
        tname = name.encode().ljust(255, b"\0")
        body += b"Target" + bytes([alt]) + struct.pack("<I", 1 if name else 0) + tname
        body += struct.pack("<II", len(el), len(elements)) + el
    total = 11 + len(body)
    pre = b"DfuSe" + bytes([1]) + struct.pack("<I", total) + bytes([len(targets)])
    return suffix(pre + body, 0x011A)


write("tiny-dfuse.dfu",
      dfuse([(0, "Internal Flash", [(0x08000000, payload[:8]), (0x08004000, payload[8:])])]))
write("two-alts-dfuse.dfu",
      dfuse([(0, "Internal Flash", [(0x08000000, payload)]),
             (1, "Option Bytes", [(0x1FFFC000, b"\xaa\xf8\xff\xff\x55\x07\x00\x00")])]))

# ELF32 little-endian ARM: one PT_LOAD and a .text section.
text = payload
shstr = b"\0.text\0.shstrtab\0"
ehsize, phsize, shsize = 52, 32, 40
text_off = ehsize + phsize
shstr_off = text_off + len(text)
sh_off = (shstr_off + len(shstr) + 3) & ~3
ident = b"\x7fELF" + bytes([1, 1, 1, 0]) + bytes(8)
eh = ident + struct.pack("<HHIIIIIHHHHHH", 2, 40, 1, 0x08000009, ehsize, sh_off, 0x05000200,
                         ehsize, phsize, 1, shsize, 3, 2)
ph = struct.pack("<IIIIIIII", 1, text_off, 0x08000000, 0x08000000, len(text), len(text), 5, 4)
sh = bytes(shsize)
sh += struct.pack("<IIIIIIIIII", 1, 1, 6, 0x08000000, text_off, len(text), 0, 0, 4, 0)
sh += struct.pack("<IIIIIIIIII", 7, 3, 0, 0, shstr_off, len(shstr), 0, 0, 1, 0)
elf = eh + ph + text + shstr
elf += bytes(sh_off - len(elf)) + sh
write("tiny.elf", elf)
PY
