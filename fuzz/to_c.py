#!/usr/bin/env python3
"""to_c.py - turn a fuzz input (a crash artifact or a corpus entry) into C
arrays for test/test_fuzz_regress.c.

    fuzz/to_c.py [--name NAME] FILE                 a fuzz_proto input: one frame
    fuzz/to_c.py --recovery [--name NAME] FILE      a fuzz_recovery input

For fuzz_recovery the input layout of fuzz/fuzz_recovery.c is undone: the
output is one array per segment file, named after the file, with the CRC
fix-up (flags bit 2) already applied, i.e. exactly the bytes the harness
wrote to disk.
"""
import argparse
import re
import sys


def crc32c(data):
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def fix_crcs(seg):
    """As fuzz_recovery's s_fix_crcs: record batches (src/core/record.h),
    whose size field counts the bytes after it and whose CRC covers the
    bytes after the CRC."""
    seg = bytearray(seg)
    off = 0
    while len(seg) - off >= 8:
        size = int.from_bytes(seg[off:off + 4], "little")
        if size < 4 or size > len(seg) - off - 4:
            break
        seg[off + 4:off + 8] = crc32c(seg[off + 8:off + 4 + size]).to_bytes(4, "little")
        off += 4 + size
    return bytes(seg)


def c_array(name, data, indent="    "):
    lines = []
    for i in range(0, len(data), 12):
        lines.append(indent + ", ".join("0x%02x" % b for b in data[i:i + 12]) + ",")
    body = "\n".join(lines) if data else indent + "0x00, /* empty: size 0 */"
    return "static const uint8_t %s[] = {\n%s\n};" % (name, body)


def segments(data):
    """The segment files fuzz_recovery writes for DATA: [(name, bytes)]."""
    if len(data) < 5:
        return []
    flags, name1, name2 = data[0], data[1], data[2]
    split = data[3] | data[4] << 8
    rest = data[5:]
    first = name1 if flags & 2 else 1
    files = [("%020d.log" % first, rest)]
    if flags & 1:
        split = min(split, len(rest))
        files = [("%020d.log" % first, rest[:split])]
        second = "%020d.log" % name2
        if second != files[0][0]:
            files.append((second, rest[split:]))
    if flags & 4:
        files = [(n, fix_crcs(b)) for n, b in files]
    return files


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--recovery", action="store_true")
    parser.add_argument("--name", default=None)
    parser.add_argument("file")
    args = parser.parse_args()
    data = open(args.file, "rb").read()
    name = args.name or re.sub(r"\W", "_", args.file.split("/")[-1])[:40]
    if not args.recovery:
        print("//  %s (%d bytes)" % (args.file, len(data)))
        print(c_array(name, data))
        return 0
    files = segments(data)
    print("//  %s: %d segment file(s)" % (args.file, len(files)))
    for i, (fname, seg) in enumerate(files):
        print("//  %s, %d bytes" % (fname, len(seg)))
        print(c_array("%s_%d" % (name, i), seg))
    return 0


if __name__ == "__main__":
    sys.exit(main())
