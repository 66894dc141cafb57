"""Validate uploaded images and make their thumbnails.

Plain Python and Pillow, no Django, so it can be tested and benchmarked alone.

Only PNG and JPEG are accepted, judged by decoding the bytes (never by file name
or declared content type). Thumbnails are re-encoded in the source's format with
every piece of metadata dropped except the ICC colour profile.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from io import BytesIO

from PIL import Image, ImageFile, ImageMath, UnidentifiedImageError

from gallery.decode_budget import DecodeBudget
from gallery.errors import InvalidImage

ACCEPTED_FORMATS: tuple[str, ...] = ("JPEG", "PNG")

_CONTENT_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png"}
_EXTENSIONS = {"JPEG": "jpg", "PNG": "png"}

JPEG_QUALITY = 85

_ORIENTATION_TAG = 0x0112
# EXIF orientation -> the transposition that shows the stored pixels upright.
_TRANSPOSITIONS = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
# Orientations 5 to 8 store the picture turned by a quarter, width and height swapped.
_QUARTER_TURNS = frozenset({5, 6, 7, 8})

# JPEG's DCT scaling (1/2, 1/4, 1/8 while decoding) averages pixels much like a
# box filter. Decoding straight to the thumbnail size leaves LANCZOS almost
# nothing to do and measures ~44.5 dB PSNR against a LANCZOS resize of the full
# decode on the tests' noisy photo_like content, ~38 dB on the photographs of
# bench/thumbnails.py (24 MP at 1/8 for 600x400). Asking the decoder for 1.5x the
# size leaves LANCZOS at least the last 1.5x of the reduction: >= 49 dB on
# photo_like; on the benchmark's photographs ~45 dB at 1.9x (12 MP at 1/4 for
# 533x400), ~49.5 dB at 2.5x, ~53 dB at 3.75x. A larger margin would move 12 MP
# photos, the commonest uploads, from the 1/4 to the 1/2 scale for 400 px
# thumbnails, taking 1.5x the time.
_DRAFT_MARGIN = 1.5
_REDUCING_GAP = 3.0
# A smaller thumbnail is resampled from a larger one, rather than from the
# decoded image, when the larger one is at least 1.5x its size: on the
# benchmark's photographs that measures >= 49 dB PSNR against a LANCZOS resize of
# the full decode (~44 dB at 1.25x, ~36 dB at 1x, where LANCZOS only blurs), and
# 200 px from 400 px costs a quarter of 200 px from a 12 MP photo's 1/4 decode.
_CHAIN_GAP = 1.5

# The signatures of the accepted formats: a file starting with one of them and
# still unreadable is damaged rather than of the wrong type.
_SIGNATURES = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff")

_SIXTEEN_BIT_MODES = frozenset({"I", "I;16", "I;16B", "I;16L", "I;16N"})

# Bytes per pixel of Pillow's in-memory storage (Storage.c): one for 1, L and P,
# two for 16-bit grey, four for everything else: RGB is stored as 4 bytes, and LA
# too. A 16-bit RGBA PNG decodes to 8-bit RGBA, 4 bytes.
_ONE_BYTE_MODES = frozenset({"1", "L", "P"})
_TWO_BYTE_MODES = frozenset({"I;16", "I;16B", "I;16L", "I;16N"})
# Resampling from the decoded image by at least 2x in each direction (Pillow's
# reduce() then LANCZOS, as resize(reducing_gap=...) does) goes through it in
# bands of about this many bytes: normalising and premultiplying a band at a time
# instead of the whole image spares one or two full-size copies, 200 MB each for
# a 50 MP RGBA PNG, which measured 409 MB peak for one render against 208 MB for
# its bare decode. The band only needs to be large enough for per-band overhead
# to vanish: 4 MB bands measure the same time as the full-size path.
_BAND_BYTES = 4 * 1024 * 1024

# Pillow allocates a large image in blocks of 16 MB by default. glibc serves
# blocks under its mmap threshold from per-thread arenas, and the threshold
# rises to 32 MB after the first large free, so freed 16 MB blocks stay in
# whichever thread's arena decoded them: under gunicorn (1 worker x 8 threads)
# eight 50 MP PNGs decoded one at a time still left the worker 1,150 MB over
# idle, and kept it there (bench/memory.py). Blocks above 32 MB are always
# mmapped and given back when freed: 64 MB blocks measured 244 MB over idle,
# back to idle afterwards. PILLOW_BLOCK_SIZE, if set, wins.
_PILLOW_BLOCK_BYTES = 64 * 1024 * 1024
if "PILLOW_BLOCK_SIZE" not in os.environ:
    # The ignore: Image.core is Pillow's C module, which its types do not re-export.
    Image.core.set_block_size(_PILLOW_BLOCK_BYTES)  # type: ignore[attr-defined]

EMPTY_MESSAGE = "The file is empty."
UNSUPPORTED_MESSAGE = "This file is not a PNG or JPEG image. Only PNG and JPEG images are accepted."
DAMAGED_MESSAGE = (
    "This image appears to be damaged or incomplete, so it cannot be read. "
    "Please check the file and upload it again."
)


@dataclass(frozen=True, slots=True)
class SourceInfo:
    format: str  # "JPEG" or "PNG"
    width: int  # as displayed, i.e. after applying the EXIF orientation
    height: int
    content_type: str  # "image/jpeg" / "image/png"
    extension: str  # "jpg" / "png"


@dataclass(frozen=True, slots=True)
class Thumbnail:
    height_requested: int  # the tier height asked for
    width: int  # actual pixel size of `data`
    height: int
    data: bytes  # encoded file
    content_type: str
    extension: str


def inspect(data: bytes, *, max_pixels: int, budget: DecodeBudget | None = None) -> SourceInfo:
    """Validate an upload completely; raise InvalidImage with a clear message if not acceptable.

    The whole image is decoded, so truncated or damaged files are refused here
    rather than when thumbnails are made. JPEGs are decoded at 1/8 scale (less
    for tiny images): the decoder still reads the entire compressed stream,
    which is what finds damage, but skips most of the pixel work.

    Pillow cannot tell a JPEG whose compressed data ends early but which still
    has its end marker: the missing part decodes as grey and is accepted.

    Relies on ``PIL.ImageFile.LOAD_TRUNCATED_IMAGES`` being left at False.

    With a ``budget``, the decode first reserves the memory it will hold
    (estimated from the header) and may raise DecoderBusy instead.
    """
    with _decoded(data, max_pixels=max_pixels, largest_height=1, budget=budget) as decoded:
        return SourceInfo(
            format=decoded.format,
            width=decoded.width,
            height=decoded.height,
            content_type=_CONTENT_TYPES[decoded.format],
            extension=_EXTENSIONS[decoded.format],
        )


def render(
    data: bytes,
    heights: Iterable[int],
    *,
    max_pixels: int,
    budget: DecodeBudget | None = None,
) -> dict[int, Thumbnail]:
    """All requested thumbnails from ONE decode. Keys are the requested heights.

    Each thumbnail is exactly the requested height (upright, after the EXIF
    orientation) with the aspect ratio kept, except that images are never
    enlarged: a height at or above the source's gives the source's own size.
    Heights must be positive ints; duplicates are ignored, and no heights at all
    returns ``{}`` without reading ``data``.

    Raises InvalidImage like :func:`inspect` for unacceptable data, and
    DecoderBusy if the ``budget`` has no room in time.
    """
    wanted = _validated_heights(heights)
    if not wanted:
        return {}

    with _decoded(
        data,
        max_pixels=max_pixels,
        largest_height=wanted[-1],
        budget=budget,
        thumbnail_heights=wanted,
    ) as decoded:
        sizes = {height: _target_size(decoded.width, decoded.height, height) for height in wanted}
        # Heights at or above the source's share one size: make and encode it once.
        images = _thumbnail_images(decoded, set(sizes.values()))
        icc_profile = decoded.icc_profile
        encoded = {
            size: _encode(image, decoded.format, _matching_icc_profile(icc_profile, image.mode))
            for size, image in images.items()
        }
    return {
        height: Thumbnail(
            height_requested=height,
            width=width,
            height=thumbnail_height,
            data=encoded[width, thumbnail_height],
            content_type=_CONTENT_TYPES[decoded.format],
            extension=_EXTENSIONS[decoded.format],
        )
        for height, (width, thumbnail_height) in sizes.items()
    }


@dataclass(frozen=True, slots=True)
class _Decoded:
    """A loaded source image, as stored: not yet turned upright, maybe DCT-reduced."""

    format: str
    image: Image.Image
    # The region of `image` that holds the whole picture. Not just (0, 0, *size):
    # a DCT-reduced JPEG has partial blocks at its right and bottom edges.
    box: tuple[float, float, float, float]
    orientation: int
    width: int  # upright size at full resolution
    height: int
    icc_profile: bytes | None


@contextmanager
def _decoded(
    data: bytes,
    *,
    max_pixels: int,
    largest_height: int,
    budget: DecodeBudget | None = None,
    thumbnail_heights: list[int] | None = None,
) -> Iterator[_Decoded]:
    """Open, check and fully decode ``data``, closing the image on exit.

    JPEGs are decoded at the smallest DCT scale that still leaves enough pixels
    for a thumbnail ``largest_height`` tall. Before decoding, the memory the
    decode will hold (and making the thumbnails of ``thumbnail_heights``, if
    given) is reserved in ``budget`` until exit.
    """
    with _open(data, max_pixels=max_pixels) as im:
        full_size = im.size
        fmt = "PNG" if im.format == "PNG" else "JPEG"  # MPO is a kind of JPEG
        box: tuple[float, float, float, float] = (0, 0, *full_size)
        if fmt == "JPEG":
            # JPEG keeps EXIF in a header segment, readable before decoding; the
            # orientation decides which way round the draft size goes.
            orientation = _orientation(im)
            upright = _upright(full_size, orientation)
            target = _target_size(*upright, largest_height)
            draft_size = _upright(target, orientation)  # back to stored orientation
            box = _draft(im, draft_size) or box
            orientations: tuple[int, ...] = (orientation,)
        else:
            # PNG may keep EXIF after the image data, read only by decoding: the
            # estimate takes the costlier way round.
            orientation = 1
            orientations = (1, 6)
        # im.mode and im.size are those of the decode to come (the draft's, for JPEG).
        nbytes = _pixel_bytes(im.mode, im.size)
        if thumbnail_heights:
            nbytes += max(
                _full_size_copy_bytes(
                    im.size, box, _upright(full_size, turn), turn, thumbnail_heights
                )
                for turn in orientations
            )
        with _reserved(budget, nbytes):
            _load(im)
            if fmt == "PNG":
                orientation = _orientation(im)
            width, height = _upright(full_size, orientation)
            yield _Decoded(
                format=fmt,
                image=im,
                box=box,
                orientation=orientation,
                width=width,
                height=height,
                icc_profile=im.info.get("icc_profile"),
            )


def _reserved(budget: DecodeBudget | None, nbytes: int) -> AbstractContextManager[object]:
    return nullcontext() if budget is None else budget.reserve(nbytes)


def _pixel_bytes(mode: str, size: tuple[int, int]) -> int:
    """The bytes Pillow holds for an image of ``mode`` and ``size``."""
    per_pixel = 1 if mode in _ONE_BYTE_MODES else 2 if mode in _TWO_BYTE_MODES else 4
    return size[0] * size[1] * per_pixel


def _full_size_copy_bytes(
    decoded_size: tuple[int, int],
    box: tuple[float, float, float, float],
    upright: tuple[int, int],
    orientation: int,
    heights: list[int],
) -> int:
    """What :func:`_thumbnail_images` may hold besides the decoded image, at most.

    Thumbnails made in bands need no full-size copy; the others may need two
    (the image normalised, then premultiplied), 4 bytes a pixel each. A chained
    thumbnail is no larger than the one it comes from, which is counted.
    """
    needs_full_size = False
    for height in heights:
        stored = _upright(_target_size(*upright, height), orientation)
        if stored == decoded_size or _reduce_factor(box, stored) == (1, 1):
            needs_full_size = True
    return 2 * _pixel_bytes("RGBA", decoded_size) if needs_full_size else 0


def _open(data: bytes, *, max_pixels: int) -> ImageFile.ImageFile:
    """Identify ``data`` as PNG or JPEG and check its declared size, decoding nothing."""
    if max_pixels < 1:
        raise ValueError(f"max_pixels must be positive, not {max_pixels!r}")
    if not data:
        raise InvalidImage(EMPTY_MESSAGE)

    # Pillow refuses (or warns about, which may be configured to raise) images
    # over its own MAX_IMAGE_PIXELS while opening them. Capping our limit at
    # Pillow's means its warning never lets an image through, without touching
    # the process-wide warning filters, which is not thread-safe.
    limit = max_pixels
    if Image.MAX_IMAGE_PIXELS is not None:
        limit = min(limit, Image.MAX_IMAGE_PIXELS)

    try:
        im = Image.open(BytesIO(data), formats=ACCEPTED_FORMATS)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise InvalidImage(_too_large_message(None, limit)) from error
    except UnidentifiedImageError as error:
        message = DAMAGED_MESSAGE if data.startswith(_SIGNATURES) else UNSUPPORTED_MESSAGE
        raise InvalidImage(message) from error
    except MemoryError:
        raise
    except Exception as error:
        # Pillow's parsers signal malformed headers with whatever exception the
        # parsing code happened to hit (ValueError, OSError, struct.error...).
        raise InvalidImage(DAMAGED_MESSAGE) from error

    width, height = im.size
    if width * height > limit:
        im.close()
        raise InvalidImage(_too_large_message((width, height), limit))
    if width < 1 or height < 1:
        im.close()
        raise InvalidImage(DAMAGED_MESSAGE)
    return im


def _load(im: ImageFile.ImageFile) -> None:
    try:
        im.load()
    except MemoryError:
        raise
    except Exception as error:
        # As in _open: a damaged stream can fail in any of Pillow's layers, each
        # with its own exception type.
        raise InvalidImage(DAMAGED_MESSAGE) from error


def _draft(
    im: ImageFile.ImageFile, size: tuple[int, int]
) -> tuple[float, float, float, float] | None:
    """Ask the JPEG decoder to scale down by 1/2, 1/4 or 1/8 while decoding.

    Returns the region of the reduced image holding the whole picture, or None if
    the decoder cannot scale this file.
    """
    wanted = (math.ceil(size[0] * _DRAFT_MARGIN), math.ceil(size[1] * _DRAFT_MARGIN))
    try:
        result = im.draft(None, wanted)
    except MemoryError:
        raise
    except Exception as error:
        raise InvalidImage(DAMAGED_MESSAGE) from error
    if result is None:
        return None
    _mode, box = result
    return box


def _orientation(im: Image.Image) -> int:
    """The EXIF orientation, 1 (as stored) when missing or unreadable.

    Damaged EXIF is ignored rather than refused: the pixels are fine, and the
    metadata is dropped from thumbnails anyway.
    """
    try:
        value = im.getexif().get(_ORIENTATION_TAG, 1)
    except MemoryError:
        raise
    except Exception:
        return 1
    return value if isinstance(value, int) and value in _TRANSPOSITIONS else 1


def _upright(size: tuple[int, int], orientation: int) -> tuple[int, int]:
    """Swap width and height if ``orientation`` turns the picture by a quarter.

    The swap is its own inverse, so this also maps an upright size back to the
    stored orientation.
    """
    width, height = size
    return (height, width) if orientation in _QUARTER_TURNS else (width, height)


def _target_size(width: int, height: int, target_height: int) -> tuple[int, int]:
    """Size of a thumbnail ``target_height`` tall of a ``width`` x ``height`` picture."""
    if target_height >= height:
        return width, height
    return max(1, round(width * target_height / height)), target_height


def _validated_heights(heights: Iterable[int]) -> list[int]:
    wanted = set()
    for height in heights:
        # bool is an int, but True as a height is a caller's bug.
        if not isinstance(height, int) or isinstance(height, bool) or height < 1:
            raise ValueError(f"thumbnail heights must be positive ints, not {height!r}")
        wanted.add(height)
    return sorted(wanted)


def _normalised(im: Image.Image) -> Image.Image:
    """``im`` in one of the modes thumbnails are made in: RGB, RGBA, L or LA.

    Transparency stored as a colour key (``info["transparency"]``) becomes an
    alpha channel, so it survives resampling. An alpha channel that hides
    nothing, as in many screenshots, is dropped: cheaper than premultiplying at
    full size, and the thumbnails are smaller. Returns ``im`` itself if it is
    already suitable, to avoid copying a large image.
    """
    frame = _with_any_transparency_as_alpha(im)
    if frame.mode in ("RGBA", "LA") and _fully_opaque(frame):
        return frame.convert(frame.mode[:-1])
    return frame


def _fully_opaque(image: Image.Image) -> bool:
    return image.getchannel("A").getextrema() == (255, 255)


def _with_any_transparency_as_alpha(im: Image.Image) -> Image.Image:
    keyed = "transparency" in im.info
    mode = im.mode
    if mode in _SIXTEEN_BIT_MODES:
        return _sixteen_bit_to_grey(im)
    if mode in ("RGBA", "LA"):
        return im
    if mode == "RGB":
        return im.convert("RGBA") if keyed else im
    if mode == "L":
        return im.convert("LA") if keyed else im
    if mode == "1":
        return im.convert("LA" if keyed else "L")
    if mode == "P":
        with_alpha = keyed or (im.palette is not None and im.palette.mode == "RGBA")
        return im.convert("RGBA" if with_alpha else "RGB")
    if mode == "La":
        return im.convert("LA")
    if mode in ("PA", "RGBa"):
        return im.convert("RGBA")
    # CMYK (Pillow undoes Adobe's inverted CMYK while decoding), YCbCr, RGBX...
    return im.convert("RGB")


def _sixteen_bit_to_grey(im: Image.Image) -> Image.Image:
    """8-bit grey (with alpha if colour-keyed) from a 16-bit grey image.

    Pillow's ``convert("L")`` clips 16-bit values to 255, turning everything
    brighter than 1/256 white; scaling keeps the tones.
    """
    wide = im if im.mode == "I" else im.convert("I")
    grey = wide.point(lambda value: value / 256).convert("L")
    key = im.info.get("transparency")
    if not isinstance(key, int):
        return grey
    # The colour key is a 16-bit value: compare before scaling, or every pixel
    # sharing its top 8 bits would turn transparent.
    opaque = ImageMath.lambda_eval(lambda args: (args["im"] != key) * 255, im=wide)
    return Image.merge("LA", (grey, opaque.convert("L")))


def _thumbnail_images(
    decoded: _Decoded, sizes: Iterable[tuple[int, int]]
) -> dict[tuple[int, int], Image.Image]:
    """Upright images of the given sizes, all from the one decoded image.

    The largest is resampled from the decoded image; each smaller one from the
    smallest thumbnail already made that is at least ``_CHAIN_GAP`` times its
    size, when there is one, which is much less work than starting again from
    the decoded image. A resample from the decoded image that reduces it at
    least 2x each way goes through it in bands (:func:`_banded_resample`), with
    the same result as a normalised, premultiplied full-size copy but without
    the copy.

    Their ``info`` is empty: saving reads some metadata (JPEG comments, PNG
    text...) from it, and none may reach a thumbnail.
    """
    source_image = decoded.image
    whole = decoded.box == (0, 0, *source_image.size)
    frame: Image.Image | None = None  # normalised at full size, only if needed
    premultiplied: Image.Image | None = None
    mode = ""  # the thumbnails' mode, _normalised's choice; set by the first one made
    # Resampled so far, premultiplied and in the stored orientation, largest first.
    resampled: list[Image.Image] = []
    images = {}
    for size in sorted(set(sizes), key=lambda wanted: (wanted[1], wanted[0]), reverse=True):
        stored_size = _upright(size, decoded.orientation)
        chained = _chain_source(resampled, stored_size)
        factor = _reduce_factor(decoded.box, stored_size)
        if stored_size == source_image.size and whole:
            frame = frame or _normalised(source_image)
            mode = frame.mode
            image = frame
        elif chained is not None:
            image = chained.resize(
                stored_size,
                Image.Resampling.LANCZOS,
                box=(0, 0, *chained.size),
                reducing_gap=_REDUCING_GAP,
            )
        elif factor != (1, 1):
            image, mode = _banded_resample(decoded, stored_size, factor)
        else:
            frame = frame or _normalised(source_image)
            mode = frame.mode
            premultiplied = premultiplied or _premultiplied(frame)
            image = premultiplied.resize(
                stored_size, Image.Resampling.LANCZOS, box=decoded.box, reducing_gap=_REDUCING_GAP
            )
        if image is not frame:
            resampled.append(image)
            image = _premultiplied_to(image, mode)
        image.info = {}
        if decoded.orientation in _TRANSPOSITIONS:
            image = image.transpose(_TRANSPOSITIONS[decoded.orientation])
        images[size] = image
    return images


def _reduce_factor(
    box: tuple[float, float, float, float], size: tuple[int, int]
) -> tuple[int, int]:
    """The integer reduction Pillow's resize(reducing_gap=_REDUCING_GAP) does before LANCZOS."""
    return (
        int((box[2] - box[0]) / size[0] / _REDUCING_GAP) or 1,
        int((box[3] - box[1]) / size[1] / _REDUCING_GAP) or 1,
    )


def _banded_resample(
    decoded: _Decoded, size: tuple[int, int], factor: tuple[int, int]
) -> tuple[Image.Image, str]:
    """Resample the decoded image to ``size``, a band of rows at a time.

    The same steps as resizing a normalised, premultiplied full-size copy with
    ``reducing_gap``: Pillow reduces the region LANCZOS needs by ``factor``,
    then resamples that. A box reduction only averages blocks of ``factor``
    pixels, so bands whose heights are multiples of it give the same pixels; only
    one band is ever normalised and premultiplied at a time.

    Returns the thumbnail, premultiplied, and the mode :func:`_normalised` would
    have chosen: whether the alpha hides anything is known once every band is seen.
    """
    source = decoded.image
    # Pillow's own choice of the region to reduce, so the pixels match its resize.
    left, top, right, bottom = source._get_safe_box(size, Image.Resampling.LANCZOS, decoded.box)
    step_x, step_y = factor
    row_bytes = max(1, _pixel_bytes("RGBA", (right - left, 1)))
    band_rows = max(1, _BAND_BYTES // row_bytes // step_y) * step_y
    reduced: Image.Image | None = None
    opaque = True
    for band_top in range(top, bottom, band_rows):
        band = source.crop((left, band_top, right, min(band_top + band_rows, bottom)))
        band = _with_any_transparency_as_alpha(band)
        if band.mode in ("RGBA", "LA"):
            opaque = opaque and _fully_opaque(band)
        part = _premultiplied(band).reduce(factor)
        if reduced is None:
            reduced_size = (math.ceil((right - left) / step_x), math.ceil((bottom - top) / step_y))
            reduced = Image.new(part.mode, reduced_size)
        reduced.paste(part, (0, (band_top - top) // step_y))
    assert reduced is not None  # noqa: S101  (for mypy: the box holds at least one row)
    box = (
        (decoded.box[0] - left) / step_x,
        (decoded.box[1] - top) / step_y,
        (decoded.box[2] - left) / step_x,
        (decoded.box[3] - top) / step_y,
    )
    image = reduced.resize(size, Image.Resampling.LANCZOS, box=box)
    straight = {"RGBa": "RGBA", "La": "LA"}.get(image.mode, image.mode)
    mode = straight[:-1] if opaque and straight in ("RGBA", "LA") else straight
    return image, mode


def _premultiplied_to(image: Image.Image, mode: str) -> Image.Image:
    """A small resampled ``image`` (maybe premultiplied) in the thumbnails' ``mode``."""
    straight = {"RGBa": "RGBA", "La": "LA"}.get(image.mode)
    if straight and straight != mode:
        image = image.convert(straight)  # unpremultiply, then drop the opaque alpha
    return image if image.mode == mode else image.convert(mode)


def _chain_source(made: list[Image.Image], size: tuple[int, int]) -> Image.Image | None:
    """The smallest of ``made`` (largest first) at least ``_CHAIN_GAP`` times ``size``."""
    for image in reversed(made):
        if image.width >= size[0] * _CHAIN_GAP and image.height >= size[1] * _CHAIN_GAP:
            return image
    return None


def _premultiplied(frame: Image.Image) -> Image.Image:
    """``frame`` with colour premultiplied by alpha, ready for resampling.

    Resampling straight alpha bleeds the colour of invisible pixels into visible
    edges. Pillow's resize premultiplies by itself, but on every call: doing it
    once saves a full-size conversion per extra thumbnail.
    """
    premultiplied_mode = {"RGBA": "RGBa", "LA": "La"}.get(frame.mode)
    return frame.convert(premultiplied_mode) if premultiplied_mode else frame


def _matching_icc_profile(profile: bytes | None, mode: str) -> bytes | None:
    """``profile`` if it describes ``mode``'s colour space, else None.

    A CMYK profile must not travel with pixels converted to RGB: viewers would
    read the RGB values through it and show wrong colours. Bytes 16-20 of an ICC
    profile name its colour space.
    """
    if not profile or len(profile) < 20:
        return None
    space = profile[16:20]
    if (mode in ("RGB", "RGBA") and space == b"RGB ") or (mode in ("L", "LA") and space == b"GRAY"):
        return profile
    return None


def _encode(image: Image.Image, fmt: str, icc_profile: bytes | None) -> bytes:
    buffer = BytesIO()
    if fmt == "JPEG":
        # JPEG has no alpha; only JPEG sources get here, and they have none.
        if image.mode not in ("RGB", "L"):
            image = image.convert("RGB")
        image.save(buffer, "JPEG", quality=JPEG_QUALITY, optimize=False, icc_profile=icc_profile)
    else:
        image.save(buffer, "PNG", icc_profile=icc_profile)
    return buffer.getvalue()


def _too_large_message(size: tuple[int, int] | None, limit: int) -> str:
    """Say the image is over ``limit`` pixels, naming its size when known.

    The image's megapixels are rounded up and the limit's down, so an image just
    over the limit never reads as equal to it.
    """
    # One decimal reads naturally ("12.5 megapixels"); tiny limits need more.
    decimals = 1
    while limit < 10 ** (6 - decimals) and decimals < 6:
        decimals += 1
    unit = 10 ** (6 - decimals)  # pixels per last displayed digit
    limit_text = _megapixels(limit // unit, decimals)
    advice = "Please upload a smaller image."
    if size is None:
        return f"This image is larger than the limit of {limit_text} megapixels. {advice}"
    width, height = size
    image_text = _megapixels(-(-width * height // unit), decimals)
    return (
        f"This image is {width:,} × {height:,} pixels ({image_text} megapixels), "
        f"which is more than the limit of {limit_text} megapixels. {advice}"
    )


def _megapixels(units: int, decimals: int) -> str:
    # "24" rather than "24.0"; decimals is at least 1, so there is a point to strip to.
    return f"{units / 10**decimals:,.{decimals}f}".rstrip("0").rstrip(".")
