"""Tests of gallery.originals: lossless removal of location data and smuggled content."""

from __future__ import annotations

import random
import struct
import subprocess
import sys
import zipfile
import zlib
from collections.abc import Callable
from functools import cache
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageCms, MpoImagePlugin, PngImagePlugin

from gallery.errors import InvalidImage
from gallery.originals import (
    COMMENT,
    EXIF,
    GPS,
    IPTC,
    MULTI_PICTURE_INDEX,
    TEXT,
    TRAILING_DATA,
    XMP,
    Cleaned,
    clean_original,
)
from gallery.pipeline import inspect
from tests.gallery import images
from tests.gallery.images import GPS_IFD_TAG, ORIENTATION_TAG

ROOT = Path(__file__).resolve().parents[2]

EXIF_IFD_TAG = 0x8769
MAKE_TAG = 0x010F
DATE_TIME_ORIGINAL_TAG = 0x9003
MAKER_NOTE_TAG = 0x927C
MAKER_NOTE = b"SmallImage maker note \x00\x01\x02 with offsets inside"

PHP = b"<?php system($_GET['c']); ?>"
SCRIPT = b"<script>alert(document.cookie)</script>"
MAX_PIXELS = 10_000_000
HTML = b"<html><script>alert(1)</script></html>"
XMP_PACKET = (
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
    b'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
    b'<rdf:Description xmlns:exif="http://ns.adobe.com/exif/1.0/" '
    b'exif:GPSLatitude="52,22.2N"/></rdf:RDF></x:xmpmeta>'
)
EXTENDED_XMP_HEADER = b"http://ns.adobe.com/xmp/extension/\x00"
# Photoshop image resources (APP13) with one IPTC block: dataset 2:90, the city.
_IPTC_CITY = b"\x1c\x02\x5a" + struct.pack(">H", 8) + b"Den Haag"
PHOTOSHOP_IRB = (
    b"Photoshop 3.0\x00"
    + b"8BIM"
    + struct.pack(">H", 0x0404)  # the IPTC resource
    + b"\x00\x00"  # empty name, padded to even
    + struct.pack(">I", len(_IPTC_CITY))
    + _IPTC_CITY
    + b"\x00"  # data padded to even
)


def zip_bytes() -> bytes:
    buffer = BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("shell.php", PHP)
    return buffer.getvalue()


@cache
def srgb_profile() -> bytes:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def photo(width: int = 48, height: int = 32) -> Image.Image:
    return images.photo_like(width, height, seed=3)


def full_exif(*, orientation: int = 6, endian: str = ">") -> Image.Exif:
    """GPS, camera, an Exif sub-IFD with a date and a maker note: a phone photo's EXIF."""
    exif = images.gps_exif(orientation=orientation)
    exif.endian = endian
    sub_ifd = exif.get_ifd(EXIF_IFD_TAG)
    sub_ifd[DATE_TIME_ORIGINAL_TAG] = "2024:05:01 12:34:56"
    sub_ifd[MAKER_NOTE_TAG] = MAKER_NOTE
    return exif


def latitude_bytes(endian: str) -> bytes:
    """52/1 22/1 12/1 as stored for the GPSLatitude of images.gps_exif."""
    return struct.pack(endian + "6I", 52, 1, 22, 1, 12, 1)


def pixels(data: bytes) -> tuple[str, tuple[int, int], bytes]:
    with Image.open(BytesIO(data)) as image:  # an MPO opens on its first picture
        return image.mode, image.size, image.tobytes()


def exif_of(data: bytes) -> Image.Exif:
    with Image.open(BytesIO(data)) as image:
        image.load()  # PNG may keep eXIf after the image data
        return image.getexif()


def header_segments(jpeg: bytes) -> list[tuple[int, bytes]]:
    """The (marker, payload) of each marker segment of ``jpeg`` before its first scan."""
    segments = []
    position = 2
    while jpeg[position + 1] != 0xDA:
        marker = jpeg[position + 1]
        (length,) = struct.unpack_from(">H", jpeg, position + 2)
        segments.append((marker, jpeg[position + 4 : position + 2 + length]))
        position += 2 + length
    return segments


def clean_jpeg(data: bytes, **kwargs: bool) -> Cleaned:
    return clean_original(data, format="JPEG", **kwargs)


def clean_png(data: bytes, **kwargs: bool) -> Cleaned:
    return clean_original(data, format="PNG", **kwargs)


def with_comment_between_scans(progressive: bytes, comment: bytes) -> bytes:
    """A progressive JPEG with a COM segment just before its second scan.

    In entropy-coded data 0xFF is always followed by 0x00 or a restart marker,
    so the second SOS marker is the first FFDA after the first one.
    """
    first_scan = progressive.index(b"\xff\xda")
    second_scan = progressive.index(b"\xff\xda", first_scan + 2)
    segment = images.jpeg_segment(0xFE, comment)
    return progressive[:second_scan] + segment + progressive[second_scan:]


def png_with_xmp(image: Image.Image, **params: Any) -> bytes:
    info = PngImagePlugin.PngInfo()
    info.add_itxt("XML:com.adobe.xmp", XMP_PACKET.decode(), zip=True)
    return images.to_png(image, pnginfo=info, **params)


def sixteen_bit_grey() -> Image.Image:
    rng = random.Random(5)
    return Image.frombytes("I;16", (40, 30), rng.randbytes(40 * 30 * 2))


def palette_with_transparency() -> bytes:
    image = photo().quantize(16)
    return images.to_png(image, transparency=0, text={"Comment": HTML.decode()})


def rgba() -> Image.Image:
    image = photo().convert("RGBA")
    image.putalpha(Image.linear_gradient("L").resize(image.size))
    return image


# Files with something to remove, each name saying what must survive.
DIRTY_JPEGS: dict[str, Callable[[], bytes]] = {
    "baseline": lambda: images.to_jpeg(photo(), exif=full_exif(), comment=HTML) + PHP,
    "progressive": lambda: (
        with_comment_between_scans(
            images.to_jpeg(photo(), progressive=True, exif=full_exif(), xmp=XMP_PACKET), HTML
        )
        + zip_bytes()
    ),
    "cmyk-adobe": lambda: images.to_jpeg(photo().convert("CMYK"), exif=full_exif()) + PHP,
    "icc-profile": lambda: (
        images.to_jpeg(photo(), icc_profile=srgb_profile(), exif=full_exif(), xmp=XMP_PACKET) + HTML
    ),
    "grey-restart-markers": lambda: (
        images.to_jpeg(photo().convert("L"), restart_marker_blocks=1, comment=b"x") + PHP
    ),
    "mpo": lambda: images.mpo_bytes(),
}
DIRTY_PNGS: dict[str, Callable[[], bytes]] = {
    "rgb": lambda: images.to_png(photo(), exif=full_exif(), text={"Comment": "hi"}) + HTML,
    "rgba": lambda: png_with_xmp(rgba(), exif=full_exif()) + zip_bytes(),
    "palette-trns": lambda: palette_with_transparency() + PHP,
    "16-bit": lambda: images.to_png(sixteen_bit_grey(), text={"Software": "x"}) + HTML,
    "apng": lambda: images.apng_bytes() + HTML,
}


def test_originals_imports_neither_django_nor_pillow() -> None:
    # Byte-level only: usable anywhere, and never tempted to re-encode.
    code = (
        "import sys, gallery.originals; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'django', 'PIL'}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


# --- pixels ------------------------------------------------------------------


@pytest.mark.parametrize("make", DIRTY_JPEGS.values(), ids=DIRTY_JPEGS.keys())
def test_jpeg_pixels_are_unchanged(make: Callable[[], bytes]) -> None:
    data = make()

    cleaned = clean_jpeg(data)

    assert cleaned.removed  # the test is about something actually being removed
    assert pixels(cleaned.data) == pixels(data)
    assert cleaned.data.endswith(b"\xff\xd9")
    assert len(cleaned.data) < len(data)


@pytest.mark.parametrize("make", DIRTY_PNGS.values(), ids=DIRTY_PNGS.keys())
def test_png_pixels_are_unchanged(make: Callable[[], bytes]) -> None:
    data = make()

    cleaned = clean_png(data)

    assert cleaned.removed
    assert pixels(cleaned.data) == pixels(data)
    assert cleaned.data.endswith(images.png_chunk(b"IEND", b""))
    assert len(cleaned.data) < len(data)


def test_cleaned_png_chunks_have_valid_checksums() -> None:
    cleaned = clean_png(DIRTY_PNGS["rgb"]())

    assert GPS in cleaned.removed  # the eXIf chunk was rewritten
    for chunk_type, body, crc in images.png_chunks(cleaned.data):
        assert zlib.crc32(chunk_type + body) == crc, chunk_type


def test_apng_keeps_its_animation() -> None:
    data = images.apng_bytes() + HTML

    cleaned = clean_png(data)

    assert cleaned.removed == (TRAILING_DATA,)
    assert cleaned.data == data[: -len(HTML)]
    with Image.open(BytesIO(cleaned.data)) as image:
        assert isinstance(image, PngImagePlugin.PngImageFile)
        assert image.n_frames == 2
        image.seek(1)
        assert image.convert("RGB").getpixel((0, 0)) == images.BLUE


def test_mpo_keeps_only_its_first_picture() -> None:
    data = images.mpo_bytes()
    with Image.open(BytesIO(data)) as original:
        assert isinstance(original, MpoImagePlugin.MpoImageFile)
        assert original.n_frames == 2  # the test is about a real multi-picture file
        first = original.mode, original.size, original.tobytes()

    cleaned = clean_jpeg(data)

    assert cleaned.removed == (MULTI_PICTURE_INDEX, TRAILING_DATA)
    assert b"MPF\x00" not in cleaned.data
    assert cleaned.data.count(b"\xff\xd8") == 1
    with Image.open(BytesIO(cleaned.data)) as image:
        assert image.format == "JPEG"
        assert getattr(image, "n_frames", 1) == 1
        assert (image.mode, image.size, image.tobytes()) == first


def test_icc_profile_and_adobe_marker_are_kept() -> None:
    profile = srgb_profile()
    data = images.to_jpeg(photo().convert("CMYK"), icc_profile=profile, exif=full_exif())
    with Image.open(BytesIO(data)) as original:
        adobe = original.info["adobe"]
    # An APP14 that is not Adobe's goes: only the prefix decides.
    not_adobe = images.jpeg_segment(0xEE, b"Adobf" + SCRIPT)

    cleaned = clean_jpeg(images.with_jpeg_segments(data, not_adobe) + PHP)

    assert cleaned.removed == ("APP14 segment", GPS, TRAILING_DATA)
    assert SCRIPT not in cleaned.data
    assert pixels(cleaned.data) == pixels(data)
    assert profile in cleaned.data
    adobe_segment = data[data.index(b"\xff\xee") :][:16]
    assert adobe_segment[4:9] == b"Adobe"
    assert adobe_segment in cleaned.data
    with Image.open(BytesIO(cleaned.data)) as image:
        assert image.info["icc_profile"] == profile
        assert image.info["adobe"] == adobe


def test_png_colour_chunks_are_kept() -> None:
    data = images.to_png(photo(), icc_profile=srgb_profile(), dpi=(300, 300), exif=full_exif())
    with Image.open(BytesIO(data)) as original:
        dpi = original.info["dpi"]

    cleaned = clean_png(data)

    assert cleaned.removed == (GPS,)
    with Image.open(BytesIO(cleaned.data)) as image:
        assert image.info["icc_profile"] == srgb_profile()
        assert image.info["dpi"] == dpi


# --- GPS ---------------------------------------------------------------------


@pytest.mark.parametrize("endian", [">", "<"], ids=["big-endian", "little-endian"])
def test_jpeg_gps_is_removed_and_the_rest_of_exif_kept(endian: str) -> None:
    data = images.to_jpeg(photo(), exif=full_exif(endian=endian))
    assert exif_of(data).get_ifd(GPS_IFD_TAG)  # the test starts from a real GPS position
    assert latitude_bytes(endian) in data

    cleaned = clean_jpeg(data)

    assert cleaned.removed == (GPS,)
    exif = exif_of(cleaned.data)
    assert exif.get_ifd(GPS_IFD_TAG) == {}
    assert GPS_IFD_TAG not in exif
    assert latitude_bytes(endian) not in cleaned.data
    assert exif[ORIENTATION_TAG] == 6
    assert exif[MAKE_TAG] == "SmallImage Test Camera"
    sub_ifd = exif.get_ifd(EXIF_IFD_TAG)
    assert sub_ifd[DATE_TIME_ORIGINAL_TAG] == "2024:05:01 12:34:56"
    assert sub_ifd[MAKER_NOTE_TAG] == MAKER_NOTE
    # Blanked in place: nothing moved, so offsets inside maker notes stay right.
    assert len(cleaned.data) == len(data)
    assert pixels(cleaned.data) == pixels(data)


def test_jpeg_gps_is_kept_when_asked() -> None:
    data = images.to_jpeg(photo(), exif=full_exif())

    cleaned = clean_jpeg(data, keep_location=True)

    assert cleaned == Cleaned(data=data, removed=())
    assert exif_of(cleaned.data).get_ifd(GPS_IFD_TAG)


@pytest.mark.parametrize("endian", [">", "<"], ids=["big-endian", "little-endian"])
def test_png_gps_is_removed_and_the_rest_of_exif_kept(endian: str) -> None:
    data = images.to_png(photo(), exif=full_exif(endian=endian))
    assert exif_of(data).get_ifd(GPS_IFD_TAG)
    assert latitude_bytes(endian) in data

    cleaned = clean_png(data)

    assert cleaned.removed == (GPS,)
    exif = exif_of(cleaned.data)
    assert exif.get_ifd(GPS_IFD_TAG) == {}
    assert latitude_bytes(endian) not in cleaned.data
    assert exif[ORIENTATION_TAG] == 6
    assert exif[MAKE_TAG] == "SmallImage Test Camera"
    assert exif.get_ifd(EXIF_IFD_TAG)[MAKER_NOTE_TAG] == MAKER_NOTE
    assert pixels(cleaned.data) == pixels(data)


def test_png_exif_with_a_jpeg_style_header_is_handled() -> None:
    tiff = full_exif().tobytes()[6:]
    data = images.with_png_chunks(
        images.to_png(photo()), images.png_chunk(b"eXIf", b"Exif\x00\x00" + tiff)
    )

    cleaned = clean_png(data)

    assert cleaned.removed == (GPS,)
    assert latitude_bytes(">") not in cleaned.data
    assert b"SmallImage Test Camera" in cleaned.data


def test_png_gps_is_kept_when_asked() -> None:
    data = images.to_png(photo(), exif=full_exif())

    cleaned = clean_png(data, keep_location=True)

    assert cleaned == Cleaned(data=data, removed=())
    assert exif_of(cleaned.data).get_ifd(GPS_IFD_TAG)


def test_exif_too_damaged_to_walk_is_dropped_whole() -> None:
    broken = images.jpeg_segment(0xE1, b"Exif\x00\x00II*\x00\xff\xff\xff\x7f")
    data = images.with_jpeg_segments(images.to_jpeg(photo()), broken)

    cleaned = clean_jpeg(data)

    assert cleaned.removed == (EXIF,)
    assert b"Exif" not in cleaned.data
    assert clean_jpeg(data, keep_location=True).data == data


def test_exif_whose_gps_pointer_leads_nowhere_is_dropped_whole() -> None:
    tiff = bytearray(images.gps_exif(orientation=6).tobytes()[6:])
    # Point the GPS entry of IFD0 past the end of the block.
    (ifd0,) = struct.unpack_from(">I", tiff, 4)
    (count,) = struct.unpack_from(">H", tiff, ifd0)
    for entry in range(ifd0 + 2, ifd0 + 2 + 12 * count, 12):
        if struct.unpack_from(">H", tiff, entry)[0] == GPS_IFD_TAG:
            struct.pack_into(">I", tiff, entry + 8, len(tiff) + 100)
    data = images.with_png_chunks(images.to_png(photo()), images.png_chunk(b"eXIf", bytes(tiff)))

    cleaned = clean_png(data)

    assert cleaned.removed == (EXIF,)
    assert b"eXIf" not in cleaned.data


# --- XMP, IPTC, comments, text -----------------------------------------------


@pytest.mark.parametrize("keep_location", [False, True], ids=["default", "keep-location"])
def test_jpeg_xmp_and_extended_xmp_are_removed(keep_location: bool) -> None:
    # Even when keeping the location: keep_location keeps the EXIF GPS alone, as
    # PNG has always dropped its XMP text chunk either way.
    extended = images.jpeg_segment(0xE1, EXTENDED_XMP_HEADER + b"0" * 40 + XMP_PACKET)
    data = images.with_jpeg_segments(images.to_jpeg(photo(), xmp=XMP_PACKET), extended)
    assert data.count(b"GPSLatitude") == 2

    cleaned = clean_jpeg(data, keep_location=keep_location)

    assert cleaned.removed == (XMP,)
    assert b"GPSLatitude" not in cleaned.data
    assert b"ns.adobe.com" not in cleaned.data
    assert pixels(cleaned.data) == pixels(data)


@pytest.mark.parametrize("keep_location", [False, True], ids=["default", "keep-location"])
def test_jpeg_photoshop_iptc_is_removed(keep_location: bool) -> None:
    data = images.with_jpeg_segments(
        images.to_jpeg(photo()), images.jpeg_segment(0xED, PHOTOSHOP_IRB)
    )

    cleaned = clean_jpeg(data, keep_location=keep_location)

    assert cleaned.removed == (IPTC,)
    assert b"Photoshop 3.0" not in cleaned.data
    assert cleaned.data == images.to_jpeg(photo())


# Every application segment but JFIF, Exif, ICC and Adobe, comments, and DNL
# (which libjpeg skips unread), each with script inside.
DROPPED_SEGMENTS = {
    "app0-jfxx": (0xE0, b"JFXX\x00\x10" + SCRIPT, "APP0 segment"),
    "app0-not-jfif": (0xE0, SCRIPT, "APP0 segment"),
    "app1-not-exif": (0xE1, SCRIPT, "APP1 segment"),
    "app1-xmp": (0xE1, b"http://ns.adobe.com/xap/1.0/\x00" + SCRIPT, XMP),
    "app2-mpf": (0xE2, b"MPF\x00" + SCRIPT, MULTI_PICTURE_INDEX),
    "app2-flashpix": (0xE2, b"FPXR\x00" + SCRIPT, "APP2 segment"),
    "app2-not-icc": (0xE2, b"ICC_PROFILE" + SCRIPT, "APP2 segment"),
    "app3": (0xE3, SCRIPT, "APP3 segment"),
    "app12-ducky": (0xEC, b"Ducky\x00\x01\x00\x04\x00\x00\x00\x50" + SCRIPT, "APP12 segment"),
    "app13": (0xED, SCRIPT, IPTC),
    "app14-not-adobe": (0xEE, SCRIPT, "APP14 segment"),
    "app15": (0xEF, SCRIPT, "APP15 segment"),
    "comment": (0xFE, SCRIPT, COMMENT),
    "dnl": (0xDC, b"\x00\x20" + SCRIPT, "FFDC segment"),
}


# A lone MPF index, with no pictures after the first, is what Pillow warns about.
@pytest.mark.filterwarnings("ignore:Image appears to be a malformed MPO file")
@pytest.mark.parametrize("keep_location", [False, True], ids=["default", "keep-location"])
@pytest.mark.parametrize("where", ["after-soi", "before-eoi"])
@pytest.mark.parametrize(
    ("marker", "payload", "label"), DROPPED_SEGMENTS.values(), ids=DROPPED_SEGMENTS.keys()
)
def test_jpeg_segments_not_needed_are_removed(
    marker: int, payload: bytes, label: str, where: str, keep_location: bool
) -> None:
    clean = images.to_jpeg(photo(), exif=images.gps_exif(orientation=6) if keep_location else None)
    segment = images.jpeg_segment(marker, payload)
    data = (
        images.with_jpeg_segments(clean, segment)
        if where == "after-soi"
        else clean[:-2] + segment + clean[-2:]
    )
    inspect(data, max_pixels=MAX_PIXELS)  # an upload SmallImage accepts, script and all

    cleaned = clean_jpeg(data, keep_location=keep_location)

    assert cleaned == Cleaned(data=clean, removed=(label,))
    assert SCRIPT not in cleaned.data
    assert pixels(cleaned.data) == pixels(data)


@pytest.mark.parametrize("keep_location", [False, True], ids=["default", "keep-location"])
def test_exif_with_a_pad_byte_for_its_second_nul_is_removed(keep_location: bool) -> None:
    # exiftool reads it, GPS and all; Pillow does not: so it is not kept as Exif.
    clean = images.to_jpeg(photo())
    tiff = images.gps_exif(orientation=6).tobytes()[6:]
    data = images.with_jpeg_segments(clean, images.jpeg_segment(0xE1, b"Exif\x00\xff" + tiff))

    cleaned = clean_jpeg(data, keep_location=keep_location)

    assert cleaned == Cleaned(data=clean, removed=(EXIF,))
    assert pixels(cleaned.data) == pixels(data)


def test_jfif_exif_and_every_icc_chunk_are_kept_in_order() -> None:
    # Over 64 KB, so the profile is split across three APP2 segments.
    profile = srgb_profile() + random.Random(7).randbytes(150_000)
    clean = images.to_jpeg(photo(), icc_profile=profile, exif=full_exif())
    data = images.with_jpeg_segments(clean, images.jpeg_segment(0xEF, SCRIPT))
    before = header_segments(clean)
    icc_chunks = [payload for marker, payload in before if marker == 0xE2]
    assert len(icc_chunks) == 3
    assert before[0][0] == 0xE0 and before[0][1].startswith(b"JFIF\x00")

    cleaned = clean_jpeg(data)

    assert cleaned.removed == ("APP15 segment", GPS)
    after = header_segments(cleaned.data)
    assert [marker for marker, _ in after if 0xE0 <= marker <= 0xEF] == [0xE0, 0xE1] + [0xE2] * 3
    assert after[0] == before[0]  # JFIF, byte for byte
    assert [payload for marker, payload in after if marker == 0xE2] == icc_chunks
    with Image.open(BytesIO(cleaned.data)) as image:
        assert image.info["icc_profile"] == profile
        assert image.info["jfif_version"] == (1, 1)
        exif = image.getexif()
        assert exif[ORIENTATION_TAG] == 6
        assert not exif.get_ifd(GPS_IFD_TAG)
    assert pixels(cleaned.data) == pixels(data)


def test_jpeg_comments_are_removed() -> None:
    data = images.to_jpeg(photo(), comment=b"<script>alert(1)</script>")
    assert b"<script" in data

    cleaned = clean_jpeg(data, keep_location=True)

    assert cleaned.removed == (COMMENT,)
    assert b"<script" not in cleaned.data
    assert pixels(cleaned.data) == pixels(data)


def test_comment_between_progressive_scans_is_removed() -> None:
    progressive = images.to_jpeg(photo(), progressive=True)
    data = with_comment_between_scans(progressive, HTML)

    cleaned = clean_jpeg(data)

    assert cleaned == Cleaned(data=progressive, removed=(COMMENT,))


def test_png_text_and_xmp_are_removed_even_when_keeping_location() -> None:
    info = PngImagePlugin.PngInfo()
    info.add_itxt("XML:com.adobe.xmp", XMP_PACKET.decode())
    info.add_text("Comment", HTML.decode())
    info.add_text("Raw profile type exif", "exif\n 10\n45786966000049492a00", zip=True)
    data = images.to_png(photo(), pnginfo=info)

    for keep_location in (False, True):
        cleaned = clean_png(data, keep_location=keep_location)

        assert cleaned.removed == (XMP, TEXT)
        types = [chunk_type for chunk_type, _, _ in images.png_chunks(cleaned.data)]
        assert types == [b"IHDR", b"IDAT", b"IEND"]
        assert pixels(cleaned.data) == pixels(data)


def test_other_png_ancillary_chunks_are_removed() -> None:
    data = images.with_png_chunks(
        images.to_png(photo()),
        images.png_chunk(b"tIME", b"\x07\xe8\x05\x01\x0c\x22\x38"),
        images.png_chunk(b"prIv", HTML),
    )

    cleaned = clean_png(data)

    assert cleaned.removed == ("tIME chunk", "prIv chunk")
    assert cleaned.data == images.to_png(photo())


@pytest.mark.parametrize("keep_location", [False, True], ids=["default", "keep-location"])
@pytest.mark.parametrize("where", ["after-ihdr", "before-iend"])
def test_png_unknown_critical_chunk_is_refused(where: str, keep_location: bool) -> None:
    png = images.to_png(photo())
    chunk = images.png_chunk(b"ZZZZ", SCRIPT)
    iend = len(png) - 12
    data = (
        images.with_png_chunks(png, chunk)
        if where == "after-ihdr"
        else png[:iend] + chunk + png[iend:]
    )
    inspect(data, max_pixels=MAX_PIXELS)  # Pillow skips the chunk; only the cleaning sees it

    with pytest.raises(InvalidImage, match=r"damaged: it holds a PNG chunk \(ZZZZ\) that is"):
        clean_png(data, keep_location=keep_location)


def test_png_standard_critical_chunks_are_kept() -> None:
    data = images.to_png(photo().quantize(16))
    types = {chunk_type for chunk_type, _, _ in images.png_chunks(data)}
    assert types == {b"IHDR", b"PLTE", b"IDAT", b"IEND"}

    assert clean_png(data + HTML) == Cleaned(data=data, removed=(TRAILING_DATA,))


# --- polyglots ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "payload", "needle"),
    [
        (lambda: images.to_jpeg(photo()), PHP, b"<?php"),
        (lambda: images.to_jpeg(photo()), zip_bytes(), b"PK\x03\x04"),
        (lambda: images.to_jpeg(photo(), progressive=True), HTML, b"<script"),
        (lambda: images.to_png(photo()), HTML, b"<script"),
        (lambda: images.to_png(photo()), zip_bytes(), b"PK\x03\x04"),
        (lambda: images.to_png(photo()), PHP, b"<?php"),
    ],
    ids=["jpeg-php", "jpeg-zip", "progressive-html", "png-html", "png-zip", "png-php"],
)
def test_polyglot_payloads_are_cut_off(
    make: Callable[[], bytes], payload: bytes, needle: bytes
) -> None:
    image = make()
    fmt = "PNG" if image.startswith(b"\x89PNG") else "JPEG"

    cleaned = clean_original(image + payload, format=fmt, keep_location=True)

    assert cleaned == Cleaned(data=image, removed=(TRAILING_DATA,))
    assert needle not in cleaned.data


def test_polyglot_zip_still_opens_before_and_not_after() -> None:
    data = images.to_jpeg(photo()) + zip_bytes()
    assert zipfile.is_zipfile(BytesIO(data))

    assert not zipfile.is_zipfile(BytesIO(clean_jpeg(data).data))


# --- already clean -----------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "fmt"),
    [
        (lambda: images.to_jpeg(photo()), "JPEG"),
        (lambda: images.to_jpeg(photo(), progressive=True), "JPEG"),
        (lambda: images.to_jpeg(photo().convert("CMYK")), "JPEG"),
        (lambda: images.to_jpeg(photo(), icc_profile=srgb_profile()), "JPEG"),
        (lambda: images.to_jpeg(photo(), exif_orientation=6), "JPEG"),
        (lambda: images.to_png(photo()), "PNG"),
        (lambda: images.to_png(rgba()), "PNG"),
        (lambda: images.to_png(photo().quantize(8), transparency=0), "PNG"),
        (lambda: images.to_png(sixteen_bit_grey()), "PNG"),
        (lambda: images.to_png(photo(), exif=images.gps_exif(orientation=3)), "PNG"),
        (images.apng_bytes, "PNG"),
    ],
    ids=[
        "jpeg",
        "progressive",
        "cmyk",
        "icc",
        "jpeg-orientation",
        "png",
        "rgba",
        "palette",
        "16-bit",
        "png-exif-kept",
        "apng",
    ],
)
def test_clean_files_come_back_unchanged(make: Callable[[], bytes], fmt: str) -> None:
    data = make()
    keep_location = fmt == "PNG" and b"eXIf" in data

    assert clean_original(data, format=fmt, keep_location=keep_location) == Cleaned(data, ())


def test_jpeg_fill_bytes_before_markers_are_kept() -> None:
    data = images.to_jpeg(photo())
    padded = data[:2] + b"\xff\xff" + data[2:-2] + b"\xff\xff\xff\xd9"

    assert clean_jpeg(padded) == Cleaned(padded, ())
    assert pixels(padded) == pixels(data)


@pytest.mark.parametrize("make", [*DIRTY_JPEGS.values()], ids=DIRTY_JPEGS.keys())
def test_cleaning_twice_changes_nothing_more(make: Callable[[], bytes]) -> None:
    once = clean_jpeg(make())

    assert clean_jpeg(once.data) == Cleaned(once.data, ())


# --- refusals ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "fmt"),
    [
        (b"", "JPEG"),
        (b"", "PNG"),
        (images.to_png(photo()), "JPEG"),
        (images.to_jpeg(photo()), "PNG"),
        (images.to_jpeg(photo())[:-2], "JPEG"),  # no EOI
        (images.to_jpeg(photo())[:300], "JPEG"),  # cut inside the headers
        (images.to_png(photo())[:-12], "PNG"),  # no IEND
        (images.to_png(photo())[:40], "PNG"),
        (b"\xff\xd8\x00\x00", "JPEG"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\x00IEND\xaeB`\x82", "PNG"),  # no IHDR
    ],
    ids=[
        "empty-jpeg",
        "empty-png",
        "png-as-jpeg",
        "jpeg-as-png",
        "no-eoi",
        "cut-headers",
        "no-iend",
        "cut-png",
        "no-marker",
        "no-ihdr",
    ],
)
def test_broken_structure_is_refused(data: bytes, fmt: str) -> None:
    with pytest.raises(InvalidImage, match="damaged"):
        clean_original(data, format=fmt)


def test_unknown_format_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="GIF"):
        clean_original(images.gif_bytes(), format="GIF")


# --- never another exception ------------------------------------------------


@cache
def fuzz_seeds() -> tuple[tuple[bytes, str], ...]:
    small = images.photo_like(16, 12, seed=1)
    return (
        (images.to_jpeg(small, exif=full_exif(), comment=b"c", xmp=XMP_PACKET) + PHP, "JPEG"),
        (images.to_jpeg(small, progressive=True, exif=full_exif(endian="<")), "JPEG"),
        (
            images.with_jpeg_segments(
                images.mpo_bytes(8, 8), images.jpeg_segment(0xED, PHOTOSHOP_IRB)
            ),
            "JPEG",
        ),
        (png_with_xmp(small, exif=full_exif()) + HTML, "PNG"),
        (images.apng_bytes(8, 8), "PNG"),
    )


def _mutated(data: bytes, mutations: list[tuple[int, int, int]]) -> bytes:
    buffer = bytearray(data)
    for kind, position, value in mutations:
        position %= len(buffer) + 1
        if kind == 0 and position < len(buffer):
            buffer[position] = value
        elif kind == 1:
            buffer.insert(position, value)
        elif kind == 2:
            del buffer[position:]
        else:
            del buffer[position : position + 1 + value % 16]
        if not buffer:
            break
    return bytes(buffer)


# Headers and metadata are in the first few hundred bytes: most mutations go
# there, where the walking happens, some anywhere.
_positions = st.one_of(st.integers(0, 700), st.integers(0, 2**20))
_mutations = st.lists(
    # Mostly byte changes: cutting the file short always ends in InvalidImage.
    st.tuples(st.sampled_from([0] * 8 + [1, 2, 3]), _positions, st.integers(0, 255)),
    min_size=1,
    max_size=4,
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 4), mutations=_mutations, keep_location=st.booleans())
def test_mutated_files_give_a_result_or_invalid_image(
    seed: int, mutations: list[tuple[int, int, int]], keep_location: bool
) -> None:
    original, fmt = fuzz_seeds()[seed]
    data = _mutated(original, mutations)

    try:
        cleaned = clean_original(data, format=fmt, keep_location=keep_location)
    except InvalidImage:
        return

    assert isinstance(cleaned.data, bytes)
    assert len(cleaned.data) <= len(data)
    assert (cleaned.data == data) == (cleaned.removed == ())
    # Whatever was walked once can be walked again, with nothing left to remove.
    assert clean_original(cleaned.data, format=fmt, keep_location=keep_location) == Cleaned(
        cleaned.data, ()
    )


@cache
def exif_block() -> bytes:
    """The TIFF structure of a phone photo's EXIF, as a PNG eXIf chunk holds it."""
    return full_exif(endian="<").tobytes()[6:]


@settings(max_examples=200, deadline=None)
@given(
    changes=st.lists(st.tuples(st.integers(0, 2**16), st.integers(0, 255)), min_size=1, max_size=4)
)
def test_damaged_exif_gives_a_result_never_an_exception(changes: list[tuple[int, int]]) -> None:
    # The chunk structure stays sound, so only the EXIF walk is put to the test.
    tiff = bytearray(exif_block())
    for position, value in changes:
        tiff[position % len(tiff)] = value
    data = images.with_png_chunks(images.png_bytes(4, 4), images.png_chunk(b"eXIf", bytes(tiff)))

    cleaned = clean_png(data)

    assert cleaned.removed in {(), (GPS,), (EXIF,)}
    assert clean_png(cleaned.data) == Cleaned(cleaned.data, ())


def test_gps_ifd_claiming_the_whole_block_many_times_is_blanked_once() -> None:
    # 4,000 GPS entries each pointing at a megabyte of values: zeroing them one
    # by one would write 4 GB.
    count, size = 4_000, 1_000_000
    gps_ifd = 8 + 2 + 12 + 4
    gps_table = struct.pack("<H", count) + struct.pack("<HHII", 27, 7, size, 8) * count
    tiff = (
        b"II*\x00"
        + struct.pack("<I", 8)
        + struct.pack("<HHHII", 1, GPS_IFD_TAG, 4, 1, gps_ifd)
        + b"\x00\x00\x00\x00"
        + gps_table
        + b"\x00\x00\x00\x00"
    )
    tiff += b"\x01" * (size - len(tiff))
    data = images.with_png_chunks(images.png_bytes(4, 4), images.png_chunk(b"eXIf", tiff))

    cleaned = clean_png(data)

    assert cleaned.removed == (GPS,)
    (body,) = [
        body for chunk_type, body, _ in images.png_chunks(cleaned.data) if chunk_type == b"eXIf"
    ]
    assert body == b"II*\x00" + struct.pack("<I", 8) + bytes(size - 8)
