#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""dfuflash-json(5) against what dfuflash --json writes.

Reads the member paths the man page documents under each object heading
(".SS list", ".SS result event", ...), runs dfuflash on files made here and
against dfuflash-sim's devices so that every documented member shows up
once, and fails on a member written but not documented, on one documented
but never written, and on a top-level object without "schema".  Without
dfuflash-sim the device objects are skipped (the image ones still run)."""
import json
import os
import re
import struct
import subprocess
import sys
import tempfile
import zlib

BIN = os.environ['DFUFLASH_BIN']
SRC = os.environ['DFUFLASH_SRCDIR']
BUILD = os.environ.get('DFUFLASH_BUILDDIR', os.path.dirname(BIN))
SIM = os.path.join(BUILD, 'dfuflash-sim')
MAN = os.path.join(SRC, 'man', 'dfuflash-json.5')


def documented():
    """{section: {member path, ...}} from the .SS headings and .TP/.B entries."""
    doc, section, after_tp = {}, None, False
    for line in open(MAN, encoding='utf-8'):
        line = line.rstrip('\n')
        m = re.match(r'\.SS "?([^"]*)"?$', line)
        if m:
            section = m.group(1)
            doc[section] = set()
        elif line.startswith('.SH'):
            section = None
        elif section and after_tp and line.startswith('.B '):
            doc[section].add(line[3:].strip().replace('\\-', '-'))
        after_tp = line == '.TP'
    return doc


def paths(value, prefix, out):
    if isinstance(value, dict):
        for k, v in value.items():
            p = prefix + '.' + k if prefix else k
            out.add(p)
            paths(v, p, out)
    elif isinstance(value, list):
        for v in value:
            paths(v, prefix + '[]', out)
    return out


def section_of(obj, kind):
    if kind != 'events':
        return kind
    ev = obj.get('event')
    if ev == 'result':
        return 'result event (several boards)' if 'boards' in obj else 'result event'
    if ev in ('board', 'plan'):
        return ev + ' event'
    if ev == 'option_bytes':
        return 'option_bytes event'
    return 'progress events'


seen = {}
problems = []


def record(text, kind, what):
    for line in text.splitlines():
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except ValueError as e:
            problems.append('%s: not JSON (%s): %r' % (what, e, line[:120]))
            continue
        if obj.get('schema') != 1:
            problems.append('%s: top-level object without "schema": 1: %r' % (what, line[:120]))
        seen.setdefault(section_of(obj, kind), set()).update(paths(obj, '', set()))


def run(argv, kind, what, sim=None, expect=0, trace=None):
    if sim:
        argv = [SIM, '--time-scale', '0', '-f', 'zero-poll-timeout'] + sim + ['--'] + argv
    p = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    if p.returncode != expect:
        problems.append('%s: exit %d, expected %d: %s' % (what, p.returncode, expect,
                                                          p.stderr.strip()[-300:]))
    record(p.stdout, kind, what)
    if trace:
        with open(trace) as f:
            record(f.read(), 'trace records', what + ' --trace')


def ihex_record(rtype, addr, data):
    body = bytes([len(data), addr >> 8, addr & 0xff, rtype]) + data
    return ':%s%02X\n' % (body.hex().upper(), (-sum(body)) & 0xff)


def srec_record(rtype, addr, data):
    alen = {0: 2, 3: 4, 7: 4}[rtype]
    body = bytes([len(data) + alen + 1]) + addr.to_bytes(alen, 'big') + data
    return 'S%d%s%02X\n' % (rtype, body.hex().upper(), (~sum(body)) & 0xff)


def elf32_arm(data, addr):
    """A little-endian ARM executable with one PT_LOAD of @data at @addr."""
    ehdr = struct.pack('<16sHHIIIIIHHHHHH', b'\x7fELF\x01\x01\x01' + bytes(9), 2, 40, 1,
                       addr | 1, 52, 0, 0x05000200, 52, 32, 1, 40, 0, 0)
    phdr = struct.pack('<IIIIIIII', 1, 84, addr, addr, len(data), len(data), 5, 4)
    return ehdr + phdr + data


def main():
    doc = documented()
    if not doc:
        print('json-doc.py: FAIL no ".SS" object headings in', MAN)
        return 1
    tmp = tempfile.mkdtemp()
    os.chdir(tmp)
    app = struct.pack('<II', 0x20001000, 0x08000101) + bytes(range(256)) * 40
    with open('app.bin', 'wb') as f:
        f.write(app)
    # Intel HEX with a start segment address, S-record with a header, ELF,
    # DfuSe with a suffix (converted), a short raw file, a damaged HEX file
    with open('cs.hex', 'w') as f:
        f.write(ihex_record(4, 0, b'\x08\x00') + ihex_record(0, 0, app[:16]) +
                ihex_record(3, 0, b'\x00\x00\x10\x00') + ':00000001FF\n')
    with open('app.srec', 'w') as f:
        f.write(srec_record(0, 0, b'app') + srec_record(3, 0x08000000, app[:32]) +
                srec_record(7, 0x08000101, b''))
    with open('app.elf', 'wb') as f:
        f.write(elf32_arm(app, 0x08000000))
    with open('tiny.bin', 'wb') as f:
        f.write(b'\x01\x02')
    with open('bad.hex', 'w') as f:
        f.write(':0400000001020304F0\n')
    with open('nosuffix.dfu', 'wb') as f:  # an error with a hint
        f.write(b'\x01\x02')
    run([BIN, 'image', 'convert', 'app.bin', 'app.dfu', '--to', 'dfuse', '--address',
         '0x08000000', '--vid', '0483', '--pid', 'df11'], None, 'image convert')
    run([BIN, 'image', 'info', '--json', os.path.join(SRC, 'tests/data/example-f4.hex'),
         'cs.hex', 'app.srec', 'app.elf', 'app.dfu', 'tiny.bin', 'bad.hex', 'nosuffix.dfu', 'missing.hex'],
        'image info', 'image info', expect=65)
    run([BIN, 'image', 'layout', '--json', '@Internal Flash  /0x08000000/04*016Kg,01*064Kg'],
        'image layout', 'image layout')

    device = os.access(SIM, os.X_OK)
    if device:
        run([BIN, 'list', '--json'], 'list', 'list (DfuSe)', sim=['-p', 'stm32f405'])
        run([BIN, 'list', '--json'], 'list', 'list (run-time)', sim=['-p', 'generic'])
        run([BIN, 'quirks', '--json'], 'quirks', 'quirks', sim=['-p', 'stm32f405'])
        run([BIN, 'flash', '--json', '--leave', '--verify', '--trace', 'trace.json', 'app.elf'],
            'events', 'flash', sim=['-p', 'stm32f405'], trace='trace.json')
        run([BIN, 'flash', '--json', '--verify', 'app.elf'], 'events', 'flash on WRP',
            sim=['-p', 'stm32f405', '-f', 'wrp=0x08000000'], expect=80)
        # a read-protected chip cannot be compared: full_flash_reason, then RDP (76)
        run([BIN, 'flash', '--json', 'app.elf'], 'events', 'flash on RDP',
            sim=['-p', 'stm32f405', '-f', 'rdp=1'], expect=76)
        run([BIN, 'flash', '--json', '-S', 'nosuch', 'app.elf'], 'events', 'no device',
            sim=['-p', 'stm32f405'], expect=69)
        run([BIN, 'read', '--json', '--address', '0x08000000', '--length', '4096', 'up.bin'],
            'events', 'read', sim=['-p', 'stm32f405'])
        # F4 option bytes with sector 0 write-protected (nWRP bit 0 clear)
        with open('obf4.bin', 'wb') as f:
            f.write(bytes.fromhex('efaa1055fffffffffe0f00f0ffffffff'))
        run([BIN, 'read-options', '--json'], 'events', 'read-options (F4)',
            sim=['-p', 'stm32f405', '--flash-in', 'obf4.bin@0x1FFFC000'])
        run([BIN, 'read-options', '--json'], 'events', 'read-options (L4)',
            sim=['-p', 'stm32l476'])
        with open('ob.bin', 'wb') as f:
            f.write(bytes([0xaa, 0x55, 0xff, 0xff]) + bytes([0xff, 0x00]) * 6)
        run([BIN, 'read-options', '--json'], 'events', 'read-options (F0, bad complement)',
            sim=['-p', 'stm32f072', '--flash-in', 'ob.bin@0x1FFFF800'])
        # several boards: one fails (write-protected sector 0, --verify); a station
        # with a record; a dry run with a jump
        run([BIN, 'flash', '--json', '--all', '--verify', 'app.elf'], 'events', 'flash --all',
            sim=['-p', 'stm32f405', '--devices', '2', '-f', 'serial=SN#', '-f', 'wrp=0x08000000'],
            expect=80)
        run([BIN, 'flash', '--json', '--all', '--verify', '--dry-run', 'app.elf'], 'events',
            'flash --all --dry-run', sim=['-p', 'stm32f405', '--devices', '2'])
        run([BIN, 'station', '--json', '--count', '2', '--record', 'record.jsonl', 'app.elf'],
            'events', 'station', sim=['-p', 'stm32f405', '--devices', '2', '--arrive', '200'])
        with open('record.jsonl') as f:
            record(f.read(), 'record lines', 'station --record')
        run([BIN, 'flash', '--json', '--dry-run', '--leave', 'app.elf'], 'events',
            'flash --dry-run', sim=['-p', 'stm32f405'])
    else:
        print('skip device objects: %s not built' % SIM)

    device_sections = {'list', 'quirks', 'progress events', 'option_bytes event', 'result event',
                       'trace records', 'result event (several boards)', 'board event',
                       'plan event', 'record lines'}
    for section in sorted(set(doc) | set(seen)):
        got, want = seen.get(section, set()), doc.get(section, set())
        if section not in doc:
            problems.append('objects of kind "%s" are written but have no .SS section' % section)
            continue
        if not device and section in device_sections:
            continue
        for p in sorted(got - want):
            problems.append('%s: member "%s" is written but not documented' % (section, p))
        for p in sorted(want - got):
            problems.append('%s: member "%s" is documented but never written' % (section, p))
        if got:
            print('ok   %s: %d members, all documented and all written' % (section, len(want)))
    for p in problems:
        print('FAIL', p)
    return 1 if problems else 0


if __name__ == '__main__':
    sys.exit(main())
