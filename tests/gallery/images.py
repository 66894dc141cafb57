"""Real image files made with Pillow, for tests that need uploads.

Every function is deterministic, so a failing test can be replayed. Functions
ending in ``_bytes`` return encoded files ready to upload; the others return
``PIL.Image.Image`` objects to be encoded with :func:`to_jpeg` / :func:`to_png`
when a test needs to control the pixels.
"""

from __future__ import annotations

import random
import struct
import zlib
from io import BytesIO
from typing import Any

from PIL import Image, ImageDraw, PngImagePlugin

ORIENTATION_TAG = 0x0112
GPS_IFD_TAG = 0x8825

RED = (255, 0, 0)
BLUE = (0, 0, 255)


def solid(width: int, height: int, *, color: Any = "steelblue", mode: str = "RGB") -> Image.Image:
    """A single-colour image; ``color`` is anything Pillow accepts for ``mode``."""
    return Image.new(mode, (width, height), color)


def pixel(image: Image.Image, xy: tuple[int, int]) -> tuple[int, ...]:
    """The bands of the pixel at `xy` of an image of two bands or more.

    Image.getpixel is typed for every mode (a number for one band, None for none):
    this says which the test expects, and fails if the image has another.
    """
    value = image.getpixel(xy)
    assert isinstance(value, tuple), f"{image.mode} is not a multi-band mode"
    return value


def level(image: Image.Image, xy: tuple[int, int]) -> float:
    """The value of the pixel at `xy` of a one-band image (grey, say)."""
    value = image.getpixel(xy)
    assert isinstance(value, int | float), f"{image.mode} is not a one-band mode"
    return value


def marked(
    width: int, height: int, *, marker: tuple[int, int, int] = RED, size: int | None = None
) -> Image.Image:
    """A blue RGB image with a ``marker``-coloured square in its top-left corner.

    Lets orientation tests check where the corner ended up, not just the size.
    """
    image = solid(width, height, color=BLUE)
    side = size or max(1, min(width, height) // 4)
    ImageDraw.Draw(image).rectangle((0, 0, side - 1, side - 1), fill=marker)
    return image


def photo_like(width: int, height: int, *, seed: int = 0) -> Image.Image:
    """An RGB image with the structure of a photograph rather than of a flat test card.

    Smooth gradients, hard-edged shapes and a little per-pixel noise: the mix that
    makes resampling and JPEG quality differences show up, which flat colour hides.
    """
    rng = random.Random(seed)
    horizontal = Image.linear_gradient("L").rotate(90).resize((width, height))
    vertical = Image.linear_gradient("L").resize((width, height))
    radial = Image.radial_gradient("L").resize((width, height))
    image = Image.merge("RGB", (horizontal, vertical, radial))

    draw = ImageDraw.Draw(image)
    for _ in range(12):
        x0, x1 = sorted(rng.randrange(width) for _ in range(2))
        y0, y1 = sorted(rng.randrange(height) for _ in range(2))
        fill = tuple(rng.randrange(256) for _ in range(3))
        if rng.random() < 0.5:
            draw.ellipse((x0, y0, x1, y1), fill=fill)
        else:
            draw.rectangle((x0, y0, x1, y1), fill=fill)

    noise = Image.frombytes("RGB", (width, height), rng.randbytes(width * height * 3))
    return Image.blend(image, noise, 0.06)


def to_jpeg(
    image: Image.Image,
    *,
    quality: int = 90,
    exif_orientation: int | None = None,
    exif: Image.Exif | None = None,
    comment: bytes | str | None = None,
    **params: Any,
) -> bytes:
    """Encode ``image`` as JPEG, optionally with EXIF (orientation and/or other tags) and a comment.

    ``params`` go straight to ``Image.save`` (``icc_profile``, ``progressive``...).
    """
    if exif_orientation is not None:
        exif = exif if exif is not None else Image.Exif()
        exif[ORIENTATION_TAG] = exif_orientation
    if exif is not None:
        params["exif"] = exif
    if comment is not None:
        params["comment"] = comment
    return _encode(image, "JPEG", quality=quality, **params)


def to_png(image: Image.Image, *, text: dict[str, str] | None = None, **params: Any) -> bytes:
    """Encode ``image`` as PNG; ``text`` becomes tEXt chunks (iTXt for non-Latin-1 values)."""
    if text:
        info = PngImagePlugin.PngInfo()
        for key, value in text.items():
            info.add_text(key, value)
        params["pnginfo"] = info
    return _encode(image, "PNG", **params)


def jpeg_bytes(
    width: int = 64,
    height: int = 48,
    *,
    color: Any = "steelblue",
    mode: str = "RGB",
    **params: Any,
) -> bytes:
    """A solid-colour JPEG; ``params`` are those of :func:`to_jpeg`."""
    return to_jpeg(solid(width, height, color=color, mode=mode), **params)


def png_bytes(
    width: int = 64,
    height: int = 48,
    *,
    color: Any = "steelblue",
    mode: str = "RGB",
    **params: Any,
) -> bytes:
    """A solid-colour PNG; ``params`` are those of :func:`to_png`."""
    return to_png(solid(width, height, color=color, mode=mode), **params)


def gif_bytes(width: int = 64, height: int = 48) -> bytes:
    return _encode(solid(width, height), "GIF")


def webp_bytes(width: int = 64, height: int = 48) -> bytes:
    return _encode(solid(width, height), "WEBP")


def gps_exif(*, orientation: int | None = None) -> Image.Exif:
    """EXIF with camera details and a GPS position: what a privacy leak looks like."""
    exif = Image.Exif()
    exif[0x010F] = "SmallImage Test Camera"  # Make
    exif[0x0110] = "Model 1"  # Model
    if orientation is not None:
        exif[ORIENTATION_TAG] = orientation
    gps = exif.get_ifd(GPS_IFD_TAG)
    gps[1] = "N"  # GPSLatitudeRef
    gps[2] = (52.0, 22.0, 12.0)  # GPSLatitude
    gps[3] = "E"  # GPSLongitudeRef
    gps[4] = (4.0, 53.0, 42.0)  # GPSLongitude
    return exif


def apng_bytes(
    width: int = 40, height: int = 30, *, colors: tuple[Any, ...] = (RED, BLUE)
) -> bytes:
    """An animated PNG with one solid frame per colour."""
    first, *rest = (solid(width, height, color=c) for c in colors)
    return _encode(first, "PNG", save_all=True, append_images=rest, duration=100, loop=0)


def mpo_bytes(width: int = 40, height: int = 30, *, colors: tuple[Any, ...] = (RED, BLUE)) -> bytes:
    """A multi-picture JPEG (as stereo cameras write) with one solid frame per colour."""
    first, *rest = (solid(width, height, color=c) for c in colors)
    return _encode(first, "MPO", save_all=True, append_images=rest, quality=95)


def png_claiming_size(width: int, height: int) -> bytes:
    """A PNG whose header claims ``width`` x ``height`` but holds a 1x1 image.

    The IHDR checksum is recomputed so the header reads as valid: a decompression
    bomb has to be refused on its declared size, before anything is decoded.
    """
    data = bytearray(png_bytes(1, 1))
    # The signature is 8 bytes, then IHDR: length (4), type (4), width, height (4 each).
    struct.pack_into(">II", data, 16, width, height)
    ihdr_type_and_body = data[12:29]
    struct.pack_into(">I", data, 29, zlib.crc32(ihdr_type_and_body))
    return bytes(data)


def jpeg_claiming_size(width: int, height: int) -> bytes:
    """A baseline JPEG whose frame header claims ``width`` x ``height`` but holds 16x16 pixels."""
    data = bytearray(jpeg_bytes(16, 16))
    # Start of frame: marker (2), length (2), precision (1), then height and width.
    start_of_frame = data.index(b"\xff\xc0")
    struct.pack_into(">HH", data, start_of_frame + 5, height, width)
    return bytes(data)


def _encode(image: Image.Image, fmt: str, **params: Any) -> bytes:
    buffer = BytesIO()
    image.save(buffer, fmt, **params)
    return buffer.getvalue()


def jpeg_segment(marker: int, payload: bytes) -> bytes:
    """One JPEG marker segment: 0xFF, ``marker``, the length (counting itself), ``payload``."""
    return struct.pack(">BBH", 0xFF, marker, len(payload) + 2) + payload


def with_jpeg_segments(jpeg: bytes, *segments: bytes) -> bytes:
    """``jpeg`` with ``segments`` inserted right after its SOI marker."""
    return jpeg[:2] + b"".join(segments) + jpeg[2:]


def png_chunk(chunk_type: bytes, body: bytes) -> bytes:
    """One PNG chunk with a correct checksum."""
    type_and_body = chunk_type + body
    return (
        struct.pack(">I", len(body)) + type_and_body + struct.pack(">I", zlib.crc32(type_and_body))
    )


def with_png_chunks(png: bytes, *chunks: bytes) -> bytes:
    """``png`` with ``chunks`` inserted right after its IHDR chunk."""
    # Signature (8) then IHDR: length, type, 13 bytes of header, checksum.
    ihdr_end = 8 + 4 + 4 + 13 + 4
    return png[:ihdr_end] + b"".join(chunks) + png[ihdr_end:]


def png_chunks(png: bytes) -> list[tuple[bytes, bytes, int]]:
    """The (type, body, stored checksum) of each chunk of ``png``, up to and including IEND."""
    chunks = []
    position = 8
    while position < len(png):
        length, chunk_type = struct.unpack_from(">I4s", png, position)
        body = png[position + 8 : position + 8 + length]
        (crc,) = struct.unpack_from(">I", png, position + 8 + length)
        chunks.append((chunk_type, body, crc))
        position += 12 + length
        if chunk_type == b"IEND":
            break
    return chunks
