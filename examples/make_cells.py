#!/usr/bin/env python3
"""Makes examples/cells.png: a synthetic fluorescence-like image of cells.

Standard library only (no numpy), so anyone can regenerate it byte for byte:

    python3 examples/make_cells.py examples/cells.png

Content: 24 bright elliptical "cells" with soft edges on a dim, uneven background, plus
Gaussian noise (random.Random(7)). 256 x 192, 8-bit grey.
"""
import math
import random
import struct
import sys
import zlib

W, H = 256, 192


def make():
    rng = random.Random(7)
    cells = []
    for _ in range(24):
        cells.append((rng.uniform(12, W - 12), rng.uniform(12, H - 12), rng.uniform(5, 13),
                      rng.uniform(4, 10), rng.uniform(0, math.pi), rng.uniform(110, 190)))
    rows = []
    for y in range(H):
        row = bytearray()
        for x in range(W):
            v = 30 + 18 * math.sin(x / 40.0) * math.cos(y / 55.0)  # uneven illumination
            for cx, cy, a, b, th, peak in cells:
                dx, dy = x - cx, y - cy
                u = (dx * math.cos(th) + dy * math.sin(th)) / a
                w = (-dx * math.sin(th) + dy * math.cos(th)) / b
                r2 = u * u + w * w
                if r2 < 4.0:
                    v += peak / (1.0 + math.exp((r2 - 1.0) * 6.0))  # soft-edged disc
            v += rng.gauss(0, 9)
            row.append(max(0, min(255, int(round(v)))))
        rows.append(bytes(row))
    return rows


def write_png(path, rows):
    raw = b"".join(b"\x00" + r for r in rows)

    def chunk(tag, data):
        c = struct.pack(">I", len(data)) + tag + data
        return c + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", W, H, 8, 0, 0, 0, 0))
    png += chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")
    with open(path, "wb") as f:
        f.write(png)


if __name__ == "__main__":
    write_png(sys.argv[1] if len(sys.argv) > 1 else "cells.png", make())
