"""Remove location data and smuggled content from stored originals, losslessly.

Originals are kept as uploaded and can be shared as they are, so before storing
one SmallImage keeps only what the format needs to show the image as uploaded and
drops the rest: the GPS position (unless the owner chose to keep it), metadata
blocks that commonly repeat it, comments, text and application segments that may
hold script, and anything appended after the image's end (the payload of a
polyglot file: HTML, PHP, a ZIP archive...).

A JPEG keeps its frame, tables and scans, and of the application segments only
JFIF, Exif (without its GPS directory), ICC profiles and Adobe's colour
transform; every other APPn segment and every comment goes. A PNG keeps its
critical chunks and the ancillary ones that shape how the pixels are shown; a
critical chunk the PNG standard does not define is refused, since a viewer must
not show an image holding one.

Everything works on the encoded bytes: JPEG marker segments and PNG chunks are
copied or left out, never decoded, so the pixels are exactly those uploaded.
The data must already have passed :func:`gallery.pipeline.inspect`; structural
surprises are still refused with :class:`~gallery.errors.InvalidImage` rather
than any other exception.

Plain Python, no Django and no Pillow.
"""

from __future__ import annotations

import re
import struct
import zlib
from dataclasses import dataclass

from gallery.errors import InvalidImage

# What `Cleaned.removed` may list, each at most once, in the order first met.
GPS = "GPS"
EXIF = "EXIF"  # the whole EXIF block, when it was too damaged to take the GPS out of
XMP = "XMP"
IPTC = "IPTC"  # JPEG APP13, Photoshop's resources, where IPTC keeps its location fields
MULTI_PICTURE_INDEX = "multi-picture index"
COMMENT = "comment"
TEXT = "text"
TRAILING_DATA = "trailing data"
# Other JPEG segments are listed as e.g. "APP15 segment" or "FFDC segment", other
# PNG ancillary chunks as e.g. "tIME chunk".

DAMAGED_MESSAGE = (
    "This image appears to be damaged, so it cannot be stored. "
    "Please check the file and upload it again."
)
UNKNOWN_CRITICAL_CHUNK_MESSAGE = (
    "This image appears to be damaged: it holds a PNG chunk ({chunk_type}) that is marked "
    "as needed to show the image but is not part of the PNG standard, so it cannot be "
    "stored. Please check the file and upload it again."
)


@dataclass(frozen=True, slots=True)
class Cleaned:
    data: bytes
    removed: tuple[str, ...]  # human-readable list of what was removed, e.g. ("GPS", "XMP")


def clean_original(data: bytes, *, format: str, keep_location: bool = False) -> Cleaned:
    """``data`` with only what its format needs: no GPS (unless ``keep_location``), no
    comments, text or other metadata blocks, nothing after the image's end.

    ``format`` is "JPEG" or "PNG" as decided by :func:`gallery.pipeline.inspect`;
    an MPO is given as "JPEG" and comes back as its first picture alone.

    ``keep_location`` keeps the GPS directory of the EXIF block, nothing more: XMP
    and IPTC go either way. They are free-form (XML can carry script as well as a
    position), PNG text chunks went either way already, and the EXIF GPS is the
    position every viewer and map reads.

    An image with nothing to remove comes back as the very same bytes with
    ``removed == ()``. Otherwise the result decodes to the same pixels, with the
    same colour profile and EXIF orientation. Never longer than ``data``.

    Raises InvalidImage if the file's structure cannot be walked safely, or if a
    PNG holds a critical chunk the standard does not define.
    """
    if format == "JPEG":
        parts, removed = _clean_jpeg(bytes(data), keep_location=keep_location)
    elif format == "PNG":
        parts, removed = _clean_png(bytes(data), keep_location=keep_location)
    else:
        raise ValueError(f"format must be 'JPEG' or 'PNG', not {format!r}")
    if not removed:
        # Nothing left out means nothing changed: hand back the upload untouched.
        return Cleaned(data=bytes(data), removed=())
    return Cleaned(data=b"".join(parts), removed=tuple(removed))


def _damaged() -> InvalidImage:
    return InvalidImage(DAMAGED_MESSAGE)


# ---------------------------------------------------------------------------
# JPEG

_SOS = 0xDA
_EOI = 0xD9
_APP0 = 0xE0
_APP1 = 0xE1
_APP2 = 0xE2
_APP13 = 0xED
_APP14 = 0xEE
_APP15 = 0xEF
_COM = 0xFE
# Markers that stand alone, without a length: TEM and the restart markers.
_STANDALONE = frozenset({0x01, *range(0xD0, 0xD8)})
# Segments a decoder reads to decode the scans: the frame headers (SOF0-SOF15),
# DHT (C4) and DAC (CC) among them, DQT and DRI. Of the other non-APP markers
# libjpeg skips only DNL, without using it (the height must be in the frame
# header), and refuses the rest (JPG, DHP, EXP, JPGn, reserved), so dropping them
# never changes what an accepted file decodes to, while DNL could carry anything.
_DECODING_MARKERS = frozenset({*range(0xC0, 0xD0), 0xDB, 0xDD} - {0xC8})

# The application segments kept, by marker and the start of their payload, as
# Pillow and libjpeg recognise them: JFIF (density; libjpeg's colour space
# guess), Exif (orientation, camera data), ICC profile chunks, Adobe (the colour
# transform of CMYK and YCCK files).
_JFIF_PREFIX = b"JFIF\x00"
_EXIF_HEADER = b"Exif\x00\x00"
_ICC_PREFIX = b"ICC_PROFILE\x00"
_ADOBE_PREFIX = b"Adobe"
_KEPT_APPLICATION_SEGMENTS = {
    _APP0: _JFIF_PREFIX,
    _APP2: _ICC_PREFIX,
    _APP14: _ADOBE_PREFIX,
}

# How Exif starts, then a second NUL or a pad byte some writers put there. Only
# the NUL makes an Exif segment in JPEG; PNG eXIf chunks sometimes copy either in.
_EXIF_PREFIX = b"Exif\x00"
_EXIF_TIFF_START = 6
_XMP_PREFIXES = (b"http://ns.adobe.com/xap/1.0/\x00", b"http://ns.adobe.com/xmp/extension/\x00")
_MPF_PREFIX = b"MPF\x00"

# In entropy-coded data every 0xFF byte is followed by a stuffed 0x00, or is
# part of a restart marker (FFD0-FFD7), or is a fill byte before a marker. The
# first 0xFF followed by anything else is the marker ending the scan.
_MARKER_AFTER_SCAN = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")


def _clean_jpeg(data: bytes, *, keep_location: bool) -> tuple[list[bytes | memoryview], list[str]]:
    """The pieces of the cleaned file and the labels of what was left out.

    Walks the marker segments from SOI to EOI. After each SOS the entropy-coded
    data is copied up to the next marker, and the walk goes on from there:
    progressive and multi-scan files have tables (and sometimes metadata)
    between their scans.
    """
    if not data.startswith(b"\xff\xd8"):
        raise _damaged()
    view = memoryview(data)
    parts: list[bytes | memoryview] = [view[:2]]
    removed: dict[str, None] = {}  # an ordered set
    size = len(data)
    position = 2
    while True:
        start = position
        # Any number of 0xFF fill bytes may come before a marker; they are copied
        # with it, so a file with nothing to remove is rebuilt byte for byte.
        if position >= size or data[position] != 0xFF:
            raise _damaged()
        while position < size and data[position] == 0xFF:
            position += 1
        if position >= size:
            raise _damaged()
        marker = data[position]
        position += 1
        if marker == _EOI:
            parts.append(view[start:position])
            break
        if marker in _STANDALONE:
            parts.append(view[start:position])
            continue
        if marker in (0x00, 0xD8):  # a stuffed byte or a second SOI where a marker must be
            raise _damaged()
        if position + 2 > size:
            raise _damaged()
        length = int.from_bytes(data[position : position + 2], "big")
        end = position + length
        if length < 2 or end > size:
            raise _damaged()

        if marker == _SOS:
            scan_end = _MARKER_AFTER_SCAN.search(data, end)
            if scan_end is None:  # no EOI: pipeline.inspect refuses such files too
                raise _damaged()
            parts.append(view[start : scan_end.start()])
            position = scan_end.start()
            continue

        kept = _jpeg_segment(
            marker, data[position + 2 : end], keep_location=keep_location, removed=removed
        )
        if kept is None:
            parts.append(view[start:end])
        elif kept:
            parts.append(kept)
        position = end

    if position < size:
        # Polyglot payloads, and the further pictures of an MPO.
        removed[TRAILING_DATA] = None
    return parts, list(removed)


def _jpeg_segment(
    marker: int, payload: bytes, *, keep_location: bool, removed: dict[str, None]
) -> bytes | None:
    """What to write for one marker segment: None to copy it as it is, b"" to leave it out.

    Adds the label of anything left out to ``removed``.
    """
    if marker in _DECODING_MARKERS:
        return None
    prefix = _KEPT_APPLICATION_SEGMENTS.get(marker)
    if prefix is not None and payload.startswith(prefix):
        return None
    if marker == _APP1 and payload.startswith(_EXIF_HEADER):
        if keep_location:
            return None
        tiff = _tiff_without_gps(payload[_EXIF_TIFF_START:], removed)
        if not tiff:
            return tiff  # None: no GPS, copy as it is; b"": unreadable, leave out
        # Same length as before: the GPS data is blanked in place.
        header = struct.pack(">BBH", 0xFF, marker, len(payload) + 2)
        return header + payload[:_EXIF_TIFF_START] + tiff
    removed[_jpeg_segment_label(marker, payload)] = None
    return b""


def _jpeg_segment_label(marker: int, payload: bytes) -> str:
    """How ``removed`` names a segment left out."""
    if marker == _COM:
        return COMMENT
    if marker == _APP1 and payload.startswith(_XMP_PREFIXES):
        return XMP
    if marker == _APP1 and payload.startswith(_EXIF_PREFIX):
        # A pad byte other than NUL after "Exif\0": Pillow and browsers do not
        # read it as EXIF, but exiftool does, GPS included.
        return EXIF
    if marker == _APP2 and payload.startswith(_MPF_PREFIX):
        # The MPO's index of the pictures after the first. Those are cut off with
        # the trailing data, so its offsets would point nowhere.
        return MULTI_PICTURE_INDEX
    if marker == _APP13:
        return IPTC
    if _APP0 <= marker <= _APP15:
        return f"APP{marker - _APP0} segment"
    return f"FF{marker:02X} segment"


# ---------------------------------------------------------------------------
# EXIF (a TIFF structure), shared by JPEG APP1 and PNG eXIf

_GPS_IFD_TAG = 0x8825
_ENTRY_SIZE = 12
# Bytes per value of each TIFF field type (1 BYTE ... 13 IFD).
_TYPE_SIZES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 13: 4}


class _BrokenExif(Exception):
    """The EXIF block cannot be walked far enough to take the GPS out."""


def _strip_gps(tiff: bytearray) -> bool:
    """Take the GPS IFD out of a TIFF-structured EXIF block, in place; True if there was one.

    Rewriting the block (as Pillow's ``Exif.tobytes`` does) would lose the IFD1
    thumbnail and break maker notes, whose internal offsets assume the original
    layout. Instead nothing moves: the GPS pointer's entry is taken out of IFD0
    (the entries after it move up, IFD0 keeps its place and size), and the GPS
    IFD and the values it points to are overwritten with zeros. Every other tag,
    the orientation among them, keeps its bytes and offsets.
    """
    byte_order = bytes(tiff[:2])
    if byte_order == b"II":
        endian = "<"
    elif byte_order == b"MM":
        endian = ">"
    else:
        raise _BrokenExif
    if len(tiff) < 8 or struct.unpack_from(endian + "H", tiff, 2)[0] != 42:
        raise _BrokenExif
    ifd0 = struct.unpack_from(endian + "I", tiff, 4)[0]
    entries, next_ifd = _read_ifd(tiff, ifd0, endian, with_next=True)
    gps_entries = [entry for entry in entries if _tag(entry, endian) == _GPS_IFD_TAG]
    if not gps_entries:
        return False

    ranges: list[tuple[int, int]] = []
    for entry in gps_entries:
        gps_ifd = struct.unpack_from(endian + "I", entry, 8)[0]
        ranges += _ifd_ranges(tiff, gps_ifd, endian)
    _zero(tiff, ranges)

    # Written last, so IFD0 is whole even if the GPS data overlapped it.
    kept = [entry for entry in entries if _tag(entry, endian) != _GPS_IFD_TAG]
    table = (
        struct.pack(endian + "H", len(kept))
        + b"".join(kept)
        + next_ifd
        + bytes(_ENTRY_SIZE * len(gps_entries))
    )
    tiff[ifd0 : ifd0 + len(table)] = table
    return True


def _read_ifd(
    tiff: bytearray, offset: int, endian: str, *, with_next: bool
) -> tuple[list[bytes], bytes]:
    """The 12-byte entries of the IFD at ``offset`` and its next-IFD pointer (b"" if not asked)."""
    if offset < 8 or offset + 2 > len(tiff):
        raise _BrokenExif
    count = struct.unpack_from(endian + "H", tiff, offset)[0]
    entries_end = offset + 2 + _ENTRY_SIZE * count
    end = entries_end + (4 if with_next else 0)
    if end > len(tiff):
        raise _BrokenExif
    entries = [
        bytes(tiff[start : start + _ENTRY_SIZE])
        for start in range(offset + 2, entries_end, _ENTRY_SIZE)
    ]
    return entries, bytes(tiff[entries_end:end])


def _ifd_ranges(tiff: bytearray, offset: int, endian: str) -> list[tuple[int, int]]:
    """The (start, length) of the IFD at ``offset`` with its next pointer, and of its values."""
    entries, _ = _read_ifd(tiff, offset, endian, with_next=False)
    # The table, and the next-IFD pointer if it is there.
    ranges = [(offset, 2 + _ENTRY_SIZE * len(entries) + 4)]
    for entry in entries:
        field_type, count, value_offset = struct.unpack_from(endian + "HII", entry, 2)
        length = _TYPE_SIZES.get(field_type, 0) * count
        if length > 4:  # up to 4 bytes are held in the entry itself
            ranges.append((value_offset, length))
    return ranges


def _zero(tiff: bytearray, ranges: list[tuple[int, int]]) -> None:
    """Overwrite the ranges with zeros, clipped to the block and never over its 8-byte header.

    Overlapping ranges are merged first: a crafted IFD could otherwise have
    thousands of entries each claiming the whole block, and cost a pass each.
    """
    merged: list[list[int]] = []
    for start, end in sorted(
        (max(start, 8), min(start + length, len(tiff))) for start, length in ranges
    ):
        if start >= end:
            continue
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    for start, end in merged:
        tiff[start:end] = bytes(end - start)


def _tag(entry: bytes, endian: str) -> int:
    tag: int = struct.unpack_from(endian + "H", entry)[0]
    return tag


# ---------------------------------------------------------------------------
# PNG

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_MAX_CHUNK_LENGTH = 2**31 - 1
_TEXT_CHUNKS = frozenset({b"tEXt", b"zTXt", b"iTXt"})
_XMP_KEYWORD = b"XML:com.adobe.xmp"
# Ancillary chunks that shape how the pixels are shown (transparency, colour,
# pixel size, animation) are kept. The others (tIME, C2PA's caBX, private
# chunks...) are not needed to decode and may carry anything: they are dropped.
# Critical chunks (first letter upper case) are kept if the standard defines
# them. Any other is refused: the standard has a viewer refuse such a file, but
# Pillow skips the chunk, so it would otherwise be stored with whatever it holds.
_CRITICAL_CHUNKS = frozenset({b"IHDR", b"PLTE", b"IDAT", b"IEND"})
_KEPT_ANCILLARY = frozenset(
    {
        b"tRNS",
        b"gAMA",
        b"cHRM",
        b"sRGB",
        b"iCCP",
        b"sBIT",
        b"bKGD",
        b"pHYs",
        b"acTL",
        b"fcTL",
        b"fdAT",
        # PNG third edition: colour space and HDR levels.
        b"cICP",
        b"mDCV",
        b"cLLI",
    }
)


def _clean_png(data: bytes, *, keep_location: bool) -> tuple[list[bytes | memoryview], list[str]]:
    """The pieces of the cleaned file and the labels of what was left out.

    Checks the chunk structure (lengths within the file, four-letter types, IHDR
    first, IEND present, no unknown critical chunk) but not the checksums: Pillow
    accepted the file, and kept chunks are copied with their own.
    """
    if not data.startswith(_PNG_SIGNATURE):
        raise _damaged()
    view = memoryview(data)
    parts: list[bytes | memoryview] = [view[: len(_PNG_SIGNATURE)]]
    removed: dict[str, None] = {}
    size = len(data)
    position = len(_PNG_SIGNATURE)
    first = True
    while True:
        if position + 12 > size:  # no IEND
            raise _damaged()
        length, chunk_type = struct.unpack_from(">I4s", data, position)
        end = position + 12 + length
        if length > _MAX_CHUNK_LENGTH or not chunk_type.isalpha() or end > size:
            raise _damaged()
        if first and chunk_type != b"IHDR":
            raise _damaged()
        first = False
        critical = chunk_type[0] < 0x61  # upper-case first letter
        if critical and chunk_type not in _CRITICAL_CHUNKS:
            raise InvalidImage(
                UNKNOWN_CRITICAL_CHUNK_MESSAGE.format(chunk_type=chunk_type.decode("ascii"))
            )

        body = data[position + 8 : end - 4]
        if chunk_type in _TEXT_CHUNKS:
            # All text goes, not only the metadata: it may hold script, and
            # zTXt/iTXt may be large compressed payloads.
            keyword = body.split(b"\x00", 1)[0]
            removed[XMP if keyword == _XMP_KEYWORD else TEXT] = None
        elif chunk_type == b"eXIf" and not keep_location:
            rewritten = _png_exif(body, removed)
            if rewritten is None:
                parts.append(view[position:end])
            elif rewritten:
                parts.append(rewritten)
        elif chunk_type == b"eXIf" or critical or chunk_type in _KEPT_ANCILLARY:
            # eXIf when keeping the location, the standard's critical chunks, and
            # the ancillary chunks that matter for display.
            parts.append(view[position:end])
        else:
            removed[f"{chunk_type.decode('ascii')} chunk"] = None

        position = end
        if chunk_type == b"IEND":
            break

    if position < size:
        removed[TRAILING_DATA] = None
    return parts, list(removed)


def _tiff_without_gps(tiff: bytes, removed: dict[str, None]) -> bytes | None:
    """An EXIF TIFF block with its GPS blanked in place (same length).

    None when it holds no GPS; b"" when it cannot be walked: then the whole
    block goes, and the orientation with it, the price of never leaking a
    position. Adds the label of what was removed to ``removed``.
    """
    blanked = bytearray(tiff)
    try:
        had_gps = _strip_gps(blanked)
    except _BrokenExif:
        removed[EXIF] = None
        return b""
    if not had_gps:
        return None
    removed[GPS] = None
    return bytes(blanked)


def _png_exif(body: bytes, removed: dict[str, None]) -> bytes | None:
    """The eXIf chunk to write: None to copy it as it is, b"" to leave it out."""
    # The chunk holds the TIFF structure itself, but some writers copy JPEG's
    # "Exif\0\0" header in too.
    header_length = _EXIF_TIFF_START if body.startswith(_EXIF_PREFIX) else 0
    tiff = _tiff_without_gps(body[header_length:], removed)
    if not tiff:
        return tiff  # None: no GPS, copy as it is; b"": unreadable, leave out
    new_body = body[:header_length] + tiff
    type_and_body = b"eXIf" + new_body
    return (
        struct.pack(">I", len(new_body))
        + type_and_body
        + struct.pack(">I", zlib.crc32(type_and_body))
    )
