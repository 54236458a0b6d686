"""A tiny PNG writer for the bar chart when matplotlib is not installed (stdlib only).

Contract: ``bar_chart(path, values, reference=1.0)`` draws one vertical bar per value (bars
at or above ``reference`` in green, below in orange, a grey line at ``reference``) and
writes an RGB PNG. There is no text: the Markdown report carries the labels, in order.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Sequence
from pathlib import Path

WHITE, GREEN, ORANGE, GREY = (255, 255, 255), (46, 139, 87), (230, 126, 34), (120, 120, 120)


def encode_png(pixels: Sequence[Sequence[tuple[int, int, int]]]) -> bytes:
    height, width = len(pixels), len(pixels[0])
    raw = b"".join(b"\x00" + bytes(c for px in row for c in px) for row in pixels)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw, 9))
        + chunk(b"IEND", b"")
    )


def bar_chart(path: Path, values: Sequence[float], reference: float = 1.0) -> None:
    width, height, margin, bar, gap = 60 + 70 * max(len(values), 1), 300, 20, 50, 20
    top = max([*values, reference * 1.2, 0.1])
    scale = (height - 2 * margin) / top
    pixels = [[WHITE] * width for _ in range(height)]
    for i, value in enumerate(values):
        left = margin + 20 + i * (bar + gap)
        bar_top = height - margin - int(value * scale)
        colour = GREEN if value >= reference else ORANGE
        for y in range(max(bar_top, 0), height - margin):
            for x in range(left, min(left + bar, width)):
                pixels[y][x] = colour
    line = height - margin - int(reference * scale)
    if 0 <= line < height:
        pixels[line] = [GREY] * width
    path.write_bytes(encode_png(pixels))
