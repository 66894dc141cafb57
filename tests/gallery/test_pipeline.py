"""Tests of gallery.pipeline: upload validation and thumbnails, Pillow only."""

from __future__ import annotations

import math
import random
import subprocess
import sys
import warnings
from collections.abc import Callable
from io import BytesIO
from pathlib import Path
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import (
    Image,
    ImageChops,
    ImageCms,
    ImageDraw,
    ImageFile,
    ImageOps,
    ImageStat,
    PngImagePlugin,
)

from gallery import pipeline
from gallery.errors import InvalidImage
from gallery.pipeline import SourceInfo, Thumbnail, inspect, render
from tests.gallery import images
from tests.gallery.images import BLUE, RED

MAX_PIXELS = 50_000_000
ROOT = Path(__file__).resolve().parents[2]


def opened(data: bytes) -> Image.Image:
    image = Image.open(BytesIO(data))
    image.load()
    return image


def close_to(actual: tuple[int, ...], expected: tuple[int, ...], tolerance: int = 12) -> bool:
    return all(abs(a - e) <= tolerance for a, e in zip(actual, expected, strict=True))


def psnr(a: Image.Image, b: Image.Image) -> float:
    """Peak signal-to-noise ratio of two same-sized RGB images, in dB."""
    rms = ImageStat.Stat(ImageChops.difference(a, b)).rms
    mse = sum(value * value for value in rms) / len(rms)
    return math.inf if mse == 0 else 10 * math.log10(255**2 / mse)


def srgb_profile() -> bytes:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def expected_size(width: int, height: int, target_height: int) -> tuple[int, int]:
    if target_height >= height:
        return width, height
    return max(1, round(width * target_height / height)), target_height


def test_pipeline_imports_no_django() -> None:
    # It must be usable (and benchmarkable) without Django settings.
    code = (
        "import sys, gallery.pipeline; print(any(m.split('.')[0] == 'django' for m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert result.stdout.strip() == "False"


def test_max_pixels_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_pixels"):
        inspect(images.jpeg_bytes(), max_pixels=0)


# --- inspect: what is accepted -------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (images.jpeg_bytes(64, 48), SourceInfo("JPEG", 64, 48, "image/jpeg", "jpg")),
        (images.png_bytes(64, 48), SourceInfo("PNG", 64, 48, "image/png", "png")),
        (images.jpeg_bytes(5, 3), SourceInfo("JPEG", 5, 3, "image/jpeg", "jpg")),
        (images.png_bytes(1, 1), SourceInfo("PNG", 1, 1, "image/png", "png")),
    ],
    ids=["jpeg", "png", "tiny-jpeg", "one-pixel-png"],
)
def test_inspect_describes_accepted_images(data: bytes, expected: SourceInfo) -> None:
    assert inspect(data, max_pixels=MAX_PIXELS) == expected


def test_inspect_reports_the_upright_size() -> None:
    data = images.jpeg_bytes(300, 200, exif_orientation=6)

    info = inspect(data, max_pixels=MAX_PIXELS)

    assert (info.width, info.height) == (200, 300)


def test_inspect_decodes_jpeg_at_the_smallest_scale() -> None:
    data = images.jpeg_bytes(4000, 3000)

    with pipeline._decoded(data, max_pixels=MAX_PIXELS, largest_height=1) as decoded:
        assert decoded.image.size == (500, 375)
        assert (decoded.width, decoded.height) == (4000, 3000)


def test_image_exactly_at_the_pixel_limit_is_accepted() -> None:
    assert inspect(images.jpeg_bytes(100, 100), max_pixels=100 * 100).width == 100


# --- inspect: what is refused --------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", pipeline.EMPTY_MESSAGE),
        (random.Random(0).randbytes(1000), pipeline.UNSUPPORTED_MESSAGE),
        (b"Dear diary, today I uploaded a text file.\n", pipeline.UNSUPPORTED_MESSAGE),
        (images.gif_bytes(), pipeline.UNSUPPORTED_MESSAGE),
        (images.webp_bytes(), pipeline.UNSUPPORTED_MESSAGE),
        (b"\x89PNG\r\n\x1a\n" + b"garbage" * 10, pipeline.DAMAGED_MESSAGE),
        (b"\xff\xd8\xff\xe0" + b"garbage" * 10, pipeline.DAMAGED_MESSAGE),
    ],
    ids=["empty", "random", "text", "gif", "webp", "png-signature-only", "jpeg-soi-only"],
)
def test_inspect_refuses_what_is_not_png_or_jpeg(data: bytes, message: str) -> None:
    with pytest.raises(InvalidImage) as raised:
        inspect(data, max_pixels=MAX_PIXELS)

    assert str(raised.value) == message


def test_unsupported_message_names_the_accepted_formats() -> None:
    with pytest.raises(InvalidImage, match="Only PNG and JPEG images are accepted"):
        inspect(images.gif_bytes(), max_pixels=MAX_PIXELS)


PHOTO_JPEG = images.to_jpeg(images.photo_like(320, 240))
PHOTO_PNG = images.to_png(images.photo_like(96, 64))


@pytest.mark.parametrize(
    "data",
    [
        PHOTO_JPEG[:300],  # inside the headers
        PHOTO_JPEG[: len(PHOTO_JPEG) // 3],
        PHOTO_JPEG[: len(PHOTO_JPEG) * 9 // 10],
        PHOTO_JPEG[:-2],  # only the end-of-image marker missing
        PHOTO_PNG[: len(PHOTO_PNG) // 2],
        PHOTO_PNG[: len(PHOTO_PNG) - 40],  # inside the image data, near its end
    ],
    ids=["jpeg-headers", "jpeg-third", "jpeg-90pc", "jpeg-no-eoi", "png-half", "png-end"],
)
def test_truncated_images_are_refused_as_damaged(data: bytes) -> None:
    with pytest.raises(InvalidImage) as raised:
        inspect(data, max_pixels=MAX_PIXELS)
    assert str(raised.value) == pipeline.DAMAGED_MESSAGE

    with pytest.raises(InvalidImage):
        render(data, [100], max_pixels=MAX_PIXELS)

    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


def test_over_the_pixel_limit_names_size_and_limit() -> None:
    with pytest.raises(InvalidImage) as raised:
        inspect(images.jpeg_bytes(101, 100), max_pixels=100 * 100)

    message = str(raised.value)
    assert "101 × 100 pixels" in message
    assert "limit of 0.01 megapixels" in message


@pytest.mark.parametrize(
    ("size", "limit", "expected"),
    [
        (
            (6001, 4000),
            24_000_000,
            "(24.1 megapixels), which is more than the limit of 24 megapixels",
        ),
        ((60000, 60000), 25_000_000, "(3,600 megapixels), which is more than the limit of 25"),
        ((4000, 3000), 10_500_000, "(12 megapixels), which is more than the limit of 10.5"),
    ],
)
def test_too_large_message_never_shows_the_image_as_equal_to_the_limit(
    size: tuple[int, int], limit: int, expected: str
) -> None:
    assert expected in pipeline._too_large_message(size, limit)


def test_size_limit_is_checked_before_decoding() -> None:
    # The file holds 16x16 pixels: refusing it proves the header size was enough.
    data = images.jpeg_claiming_size(9000, 6000)

    with pytest.raises(InvalidImage, match="9,000 × 6,000 pixels"):
        inspect(data, max_pixels=MAX_PIXELS)


def test_decompression_bomb_header_is_refused_as_too_large() -> None:
    # Over twice Pillow's MAX_IMAGE_PIXELS: Pillow itself raises while opening.
    data = images.png_claiming_size(60000, 60000)

    with pytest.raises(InvalidImage, match="larger than the limit of 50 megapixels"):
        inspect(data, max_pixels=MAX_PIXELS)
    with pytest.raises(InvalidImage, match="larger than the limit of 50 megapixels"):
        render(data, [100], max_pixels=MAX_PIXELS)


def test_pillow_bomb_warning_is_refused_even_with_a_higher_limit_configured() -> None:
    # Between Pillow's MAX_IMAGE_PIXELS and twice it, Pillow only warns.
    data = images.png_claiming_size(10000, 10000)

    with (
        pytest.warns(Image.DecompressionBombWarning),
        pytest.raises(InvalidImage, match="10,000 × 10,000 pixels"),
    ):
        inspect(data, max_pixels=10**12)


def test_pillow_bomb_warning_raised_as_error_is_refused_as_too_large() -> None:
    data = images.png_claiming_size(10000, 10000)

    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        with pytest.raises(InvalidImage, match="larger than the limit"):
            inspect(data, max_pixels=10**12)


def test_png_text_chunk_bomb_is_refused() -> None:
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "a" * (PngImagePlugin.MAX_TEXT_CHUNK * 4), zip=True)
    data = images.png_bytes(8, 8, pnginfo=info)

    with pytest.raises(InvalidImage):
        inspect(data, max_pixels=MAX_PIXELS)


# --- render: sizes ------------------------------------------------------------------------


@pytest.mark.parametrize("encode", [images.to_jpeg, images.to_png], ids=["jpeg", "png"])
@pytest.mark.parametrize(
    ("width", "height", "heights"),
    [
        (640, 480, [100, 240, 479]),
        (480, 640, [100, 320]),
        (333, 777, [7, 100, 776]),
        (1000, 10, [1, 5]),
        (10, 1000, [10, 500]),
    ],
)
def test_thumbnails_have_exactly_the_requested_height_and_keep_the_aspect(
    encode: Callable[..., bytes], width: int, height: int, heights: list[int]
) -> None:
    data = encode(images.photo_like(width, height))

    thumbnails = render(data, heights, max_pixels=MAX_PIXELS)

    assert set(thumbnails) == set(heights)
    for requested, thumbnail in thumbnails.items():
        assert thumbnail.height_requested == requested
        assert (thumbnail.width, thumbnail.height) == expected_size(width, height, requested)
        assert opened(thumbnail.data).size == (thumbnail.width, thumbnail.height)


def test_duplicate_heights_give_one_thumbnail_each() -> None:
    thumbnails = render(images.jpeg_bytes(300, 200), [50, 100, 50, 100], max_pixels=MAX_PIXELS)

    assert sorted(thumbnails) == [50, 100]


def test_images_are_never_enlarged() -> None:
    data = images.jpeg_bytes(120, 150)

    thumbnails = render(data, [200, 400], max_pixels=MAX_PIXELS)

    for thumbnail in thumbnails.values():
        assert (thumbnail.width, thumbnail.height) == (120, 150)
        assert opened(thumbnail.data).size == (120, 150)


def test_thumbnail_at_the_source_height_is_still_re_encoded() -> None:
    data = images.to_jpeg(images.solid(60, 40), comment="keep me out")

    thumbnail = render(data, [40], max_pixels=MAX_PIXELS)[40]

    assert thumbnail.data != data
    assert "comment" not in opened(thumbnail.data).info


@pytest.mark.parametrize("heights", [[0], [-5], [True], [1.5], ["100"], [100, 0]])
def test_heights_must_be_positive_ints(heights: list[object]) -> None:
    with pytest.raises(ValueError, match="positive ints"):
        render(images.jpeg_bytes(), heights, max_pixels=MAX_PIXELS)  # type: ignore[arg-type]


def test_no_heights_no_thumbnails() -> None:
    assert render(images.jpeg_bytes(), [], max_pixels=MAX_PIXELS) == {}


def test_thumbnail_describes_its_file() -> None:
    jpeg = render(images.jpeg_bytes(300, 200), [100], max_pixels=MAX_PIXELS)[100]
    png = render(images.png_bytes(300, 200), [100], max_pixels=MAX_PIXELS)[100]

    assert jpeg == Thumbnail(100, 150, 100, jpeg.data, "image/jpeg", "jpg")
    assert png == Thumbnail(100, 150, 100, png.data, "image/png", "png")
    assert opened(jpeg.data).format == "JPEG"
    assert opened(png.data).format == "PNG"


# --- render: decoding JPEG at reduced size -------------------------------------------------


def test_big_jpeg_is_decoded_at_reduced_size_for_small_thumbnails() -> None:
    data = images.jpeg_bytes(4000, 3000)

    with pipeline._decoded(data, max_pixels=MAX_PIXELS, largest_height=200) as decoded:
        width, height = decoded.image.size
        assert width >= 267
        assert height >= 200
        assert (width, height) < (4000, 3000)
        assert width * height <= 4000 * 3000 // 16

    thumbnail = render(data, [200], max_pixels=MAX_PIXELS)[200]
    assert opened(thumbnail.data).size == (267, 200)


def test_reduced_decode_accounts_for_orientation() -> None:
    # Stored 1600x1200 landscape, shown as 1200x1600 portrait.
    data = images.jpeg_bytes(1600, 1200, exif_orientation=6)

    with pipeline._decoded(data, max_pixels=MAX_PIXELS, largest_height=200) as decoded:
        # The thumbnail is 150x200 upright, so 200x150 as stored.
        width, height = decoded.image.size
        assert width >= 200
        assert height >= 150
        assert width < 1600

    thumbnail = render(data, [200], max_pixels=MAX_PIXELS)[200]
    assert (thumbnail.width, thumbnail.height) == (150, 200)


PHOTO_1200X1600 = images.to_jpeg(images.photo_like(1200, 1600))


@pytest.fixture(scope="module")
def photo_full_decode() -> Image.Image:
    with Image.open(BytesIO(PHOTO_1200X1600)) as full:
        full.load()
        return full.copy()


# 114, 151, 188 and 373 are where decoding straight to the thumbnail size would
# leave LANCZOS almost nothing to do: the worst case for quality. With several
# heights, the smaller thumbnails are resampled from larger ones when those are
# at least 1.5x their size (188 from 373, 114 from 188; 200 from 400), else from
# the decoded image (300 beside 373).
@pytest.mark.parametrize(
    "heights",
    [[100], [114], [151], [188], [373], [500], [114, 188, 373], [200, 400], [300, 373]],
)
def test_reduced_decode_matches_a_full_resolution_lanczos_resize(
    photo_full_decode: Image.Image, heights: list[int]
) -> None:
    sizes = [expected_size(1200, 1600, h) for h in heights]

    with pipeline._decoded(
        PHOTO_1200X1600, max_pixels=MAX_PIXELS, largest_height=max(heights)
    ) as decoded:
        assert decoded.image.size < (1200, 1600)
        made = pipeline._thumbnail_images(decoded, sizes)

    for size in sizes:
        reference = photo_full_decode.resize(size, Image.Resampling.LANCZOS)
        assert psnr(made[size], reference) >= 45, size


def test_smaller_thumbnails_are_resampled_from_the_smallest_larger_one_big_enough() -> None:
    made = [Image.new("RGB", (800, 600)), Image.new("RGB", (400, 300))]

    assert pipeline._chain_source(made, (260, 195)) is made[1]
    assert pipeline._chain_source(made, (267, 200)) is made[0]  # 400 < 1.5 x 267
    assert pipeline._chain_source(made, (300, 225)) is made[0]
    assert pipeline._chain_source(made, (600, 450)) is None
    assert pipeline._chain_source([], (10, 10)) is None


def test_chained_thumbnails_of_a_turned_jpeg_match_a_full_resolution_resize() -> None:
    # Stored 1600x1200, shown 1200x1600: the chain works on stored-orientation images.
    data = images.to_jpeg(images.photo_like(1600, 1200), exif_orientation=6)
    with Image.open(BytesIO(data)) as full:
        upright = ImageOps.exif_transpose(full)
    sizes = [expected_size(1200, 1600, height) for height in (100, 200, 400)]

    with pipeline._decoded(data, max_pixels=MAX_PIXELS, largest_height=400) as decoded:
        assert decoded.image.size == (800, 600)
        made = pipeline._thumbnail_images(decoded, sizes)

    for size in sizes:
        reference = upright.resize(size, Image.Resampling.LANCZOS)
        assert psnr(made[size], reference) >= 45, size


# --- render: orientation ------------------------------------------------------------------


def corner_colors(image: Image.Image) -> dict[str, tuple[int, ...]]:
    """The colour a few pixels inside each corner (clear of JPEG edge ringing)."""
    right, bottom = image.width - 3, image.height - 3
    rgb = image.convert("RGB")
    return {
        "top-left": images.pixel(rgb, (2, 2)),
        "top-right": images.pixel(rgb, (right, 2)),
        "bottom-left": images.pixel(rgb, (2, bottom)),
        "bottom-right": images.pixel(rgb, (right, bottom)),
    }


@pytest.mark.parametrize(
    ("orientation", "upright_size", "marker_corner"),
    [
        (1, (300, 200), "top-left"),
        (2, (300, 200), "top-right"),
        (3, (300, 200), "bottom-right"),
        (4, (300, 200), "bottom-left"),
        (5, (200, 300), "top-left"),
        (6, (200, 300), "top-right"),
        (7, (200, 300), "bottom-right"),
        (8, (200, 300), "bottom-left"),
    ],
)
def test_exif_orientation_is_applied(
    orientation: int, upright_size: tuple[int, int], marker_corner: str
) -> None:
    # Red square in the stored top-left corner of a blue 300x200 image.
    data = images.to_jpeg(images.marked(300, 200), exif_orientation=orientation)

    info = inspect(data, max_pixels=MAX_PIXELS)
    thumbnail = render(data, [100], max_pixels=MAX_PIXELS)[100]

    assert (info.width, info.height) == upright_size
    assert (thumbnail.width, thumbnail.height) == expected_size(*upright_size, 100)
    image = opened(thumbnail.data)
    assert image.size == (thumbnail.width, thumbnail.height)
    for corner, color in corner_colors(image).items():
        assert close_to(color, RED if corner == marker_corner else BLUE, 40), corner
    assert images.ORIENTATION_TAG not in image.getexif()


def test_png_exif_orientation_is_applied() -> None:
    data = images.to_png(images.marked(300, 200), exif=images.gps_exif(orientation=6))

    thumbnail = render(data, [150], max_pixels=MAX_PIXELS)[150]

    assert (thumbnail.width, thumbnail.height) == (100, 150)
    assert close_to(corner_colors(opened(thumbnail.data))["top-right"], RED)


@pytest.mark.filterwarnings("ignore:Corrupt EXIF data")
def test_unreadable_exif_is_ignored() -> None:
    data = images.jpeg_bytes(30, 20, exif=b"Exif\x00\x00MM\x00*garbage")

    assert inspect(data, max_pixels=MAX_PIXELS).width == 30
    assert render(data, [10], max_pixels=MAX_PIXELS)[10].width == 15


# --- render: colour modes and transparency ------------------------------------------------


def half_transparent(width: int, height: int) -> Image.Image:
    """RGBA: left half invisible red, right half opaque blue."""
    image = Image.new("RGBA", (width, height), (*BLUE, 255))
    ImageDraw.Draw(image).rectangle((0, 0, width // 2 - 1, height - 1), fill=(*RED, 0))
    return image


# 40 alone is 7.5x smaller: Pillow reduces by box filter first, then resamples.
# With 100, the 40 px thumbnail is resampled from the (premultiplied) 100 px one.
@pytest.mark.parametrize("heights", [[40], [40, 100]])
def test_png_alpha_survives_without_colour_bleeding(heights: list[int]) -> None:
    data = images.to_png(half_transparent(400, 300))

    for height, thumbnail in render(data, heights, max_pixels=MAX_PIXELS).items():
        image = opened(thumbnail.data)
        middle = height // 2
        assert image.mode == "RGBA"
        assert images.pixel(image, (2, middle))[3] == 0
        assert image.getpixel((image.width - 3, middle)) == (*BLUE, 255)
        # Where the edge is soft, the invisible red must not tint the visible blue.
        for x in range(image.width):
            red, _green, _blue, alpha = images.pixel(image, (x, middle))
            assert alpha == 0 or red <= 2, (height, x, red, alpha)


@pytest.mark.parametrize(
    ("mode", "colour", "expected_mode"),
    [("RGBA", (*BLUE, 255), "RGB"), ("LA", (90, 255), "L"), ("P", 1, "RGB")],
)
def test_alpha_that_hides_nothing_is_dropped(mode, colour, expected_mode) -> None:
    source = Image.new(mode, (80, 60), colour)
    if mode == "P":  # a transparent palette entry that no pixel uses
        source.putpalette([255, 255, 255, *BLUE])
    params: dict[str, Any] = {"transparency": 0} if mode == "P" else {}
    data = images.to_png(source, **params)

    image = opened(render(data, [30], max_pixels=MAX_PIXELS)[30].data)

    assert image.mode == expected_mode
    expected = BLUE if expected_mode == "RGB" else 90
    assert image.getpixel((20, 15)) == expected


def test_palette_transparency_becomes_alpha() -> None:
    palette_image = Image.new("P", (80, 60), 0)
    palette_image.putpalette([255, 255, 255, *BLUE])
    ImageDraw.Draw(palette_image).rectangle((40, 0, 79, 59), fill=1)
    data = images.to_png(palette_image, transparency=0)

    image = opened(render(data, [30], max_pixels=MAX_PIXELS)[30].data)

    assert image.mode == "RGBA"
    assert images.pixel(image, (2, 15))[3] == 0
    assert image.getpixel((image.width - 3, 15)) == (*BLUE, 255)


def test_grey_colour_key_becomes_alpha() -> None:
    grey = Image.new("L", (40, 40), 7)
    grey.paste(200, (20, 0, 40, 40))
    data = images.to_png(grey, transparency=7)

    image = opened(render(data, [20], max_pixels=MAX_PIXELS)[20].data)

    assert image.mode == "LA"
    assert images.pixel(image, (1, 10))[1] == 0
    assert image.getpixel((18, 10)) == (200, 255)


def test_grey_with_alpha_png_is_kept_grey_with_alpha() -> None:
    data = images.png_bytes(40, 30, mode="LA", color=(128, 200))

    image = opened(render(data, [15], max_pixels=MAX_PIXELS)[15].data)

    assert image.mode == "LA"
    assert close_to(images.pixel(image, (5, 5)), (128, 200), 1)


@pytest.mark.parametrize(("value", "expected"), [(0, 0), (32768, 128), (65535, 255)])
def test_sixteen_bit_grey_is_scaled_not_clipped(value: int, expected: int) -> None:
    data = images.png_bytes(40, 30, mode="I;16", color=value)
    assert opened(data).mode == "I;16"  # how Pillow reads 16-bit grey PNGs

    image = opened(render(data, [15], max_pixels=MAX_PIXELS)[15].data)

    assert image.mode == "L"
    assert abs(images.level(image, (5, 5)) - expected) <= 1


def test_sixteen_bit_grey_colour_key_is_compared_at_full_depth() -> None:
    grey = Image.new("I;16", (40, 40), 32768)
    # Same top 8 bits as the key. (Pasting a plain int into I;16 mangles it.)
    grey.paste(Image.new("I;16", (20, 40), 32769), (20, 0))
    data = images.to_png(grey, transparency=32768)

    image = opened(render(data, [40], max_pixels=MAX_PIXELS)[40].data)

    assert image.mode == "LA"
    assert image.getpixel((5, 5)) == (128, 0)
    assert image.getpixel((30, 5)) == (128, 255)


def test_cmyk_jpeg_keeps_its_colours() -> None:
    data = images.jpeg_bytes(64, 48, mode="CMYK", color=(0, 255, 255, 0))  # red
    with Image.open(BytesIO(data)) as source:
        # Pillow writes Adobe-style inverted CMYK and undoes it when decoding.
        args = source.tile[0].args
        assert isinstance(args, tuple) and args[0] == "CMYK;I"

    image = opened(render(data, [24], max_pixels=MAX_PIXELS)[24].data)

    assert image.mode == "RGB"
    assert close_to(images.pixel(image, (10, 10)), RED)


def test_grey_jpeg_stays_grey() -> None:
    data = images.jpeg_bytes(64, 48, mode="L", color=90)

    image = opened(render(data, [24], max_pixels=MAX_PIXELS)[24].data)

    assert image.mode == "L"
    assert abs(images.level(image, (10, 10)) - 90) <= 2


# --- render: metadata ---------------------------------------------------------------------


def test_jpeg_thumbnail_has_no_metadata() -> None:
    data = images.to_jpeg(
        images.solid(300, 200),
        exif=images.gps_exif(orientation=1),
        comment="shot at home",
        xmp=b"<x:xmpmeta><rdf:Description dc:creator='Someone'/></x:xmpmeta>",
    )
    source = opened(data)
    assert images.GPS_IFD_TAG in source.getexif()
    assert {"comment", "xmp", "exif"} <= source.info.keys()

    for thumbnail in render(data, [100, 200, 500], max_pixels=MAX_PIXELS).values():
        image = opened(thumbnail.data)
        assert len(image.getexif()) == 0
        assert not {"comment", "xmp", "exif"} & image.info.keys()
        assert b"SmallImage Test Camera" not in thumbnail.data
        assert b"shot at home" not in thumbnail.data


def test_png_thumbnail_has_no_metadata() -> None:
    data = images.to_png(
        images.solid(300, 200),
        text={"Author": "Zoë", "Comment": "shot at home"},
        exif=images.gps_exif(),
    )
    source = opened(data)
    assert isinstance(source, PngImagePlugin.PngImageFile)
    assert source.text
    assert images.GPS_IFD_TAG in source.getexif()

    for thumbnail in render(data, [100, 200], max_pixels=MAX_PIXELS).values():
        image = opened(thumbnail.data)
        assert isinstance(image, PngImagePlugin.PngImageFile)
        assert image.text == {}
        assert len(image.getexif()) == 0
        assert b"shot at home" not in thumbnail.data


@pytest.mark.parametrize("encode", [images.to_jpeg, images.to_png], ids=["jpeg", "png"])
def test_rgb_icc_profile_is_kept(encode: Callable[..., bytes]) -> None:
    profile = srgb_profile()
    data = encode(images.solid(300, 200), icc_profile=profile)

    for thumbnail in render(data, [100, 200], max_pixels=MAX_PIXELS).values():
        assert opened(thumbnail.data).info.get("icc_profile") == profile


def test_cmyk_icc_profile_is_not_attached_to_rgb_pixels() -> None:
    fake_cmyk_profile = bytes(16) + b"CMYK" + bytes(108)
    data = images.jpeg_bytes(64, 48, mode="CMYK", icc_profile=fake_cmyk_profile)

    thumbnail = render(data, [24], max_pixels=MAX_PIXELS)[24]

    assert "icc_profile" not in opened(thumbnail.data).info


# --- multi-frame and unusual files --------------------------------------------------------


def test_animated_png_gives_its_first_frame() -> None:
    data = images.apng_bytes(colors=(RED, BLUE))
    source = opened(data)
    assert isinstance(source, PngImagePlugin.PngImageFile)
    assert source.n_frames == 2

    assert inspect(data, max_pixels=MAX_PIXELS).format == "PNG"
    image = opened(render(data, [15], max_pixels=MAX_PIXELS)[15].data)

    assert not getattr(image, "is_animated", False)
    assert close_to(images.pixel(image, (5, 5)), RED, 2)


def test_multi_picture_jpeg_gives_its_first_frame() -> None:
    data = images.mpo_bytes(colors=(RED, BLUE))
    assert opened(data).format == "MPO"

    info = inspect(data, max_pixels=MAX_PIXELS)
    thumbnail = render(data, [15], max_pixels=MAX_PIXELS)[15]

    assert (info.format, info.content_type) == ("JPEG", "image/jpeg")
    image = opened(thumbnail.data)
    assert image.format == "JPEG"
    assert close_to(images.pixel(image, (5, 5)), RED)


@pytest.mark.parametrize("data", [images.jpeg_bytes(60, 40), images.png_bytes(60, 40)])
def test_bytes_after_the_image_are_not_carried_into_thumbnails(data: bytes) -> None:
    payload = b"<?php system($_GET['c']); ?> SMALLIMAGE-POLYGLOT"
    polyglot = data + payload

    inspect(polyglot, max_pixels=MAX_PIXELS)
    thumbnails = render(polyglot, [20, 40], max_pixels=MAX_PIXELS)

    for thumbnail in thumbnails.values():
        assert b"SMALLIMAGE-POLYGLOT" not in thumbnail.data
        assert b"<?php" not in thumbnail.data


# --- fuzzing: bad bytes only ever give InvalidImage ----------------------------------------

FUZZ_SEEDS = [
    images.to_jpeg(images.photo_like(48, 32), exif=images.gps_exif(orientation=6)),
    images.to_jpeg(images.photo_like(48, 32), progressive=True),
    images.to_png(images.photo_like(40, 30), text={"Comment": "hello"}),
    images.to_png(half_transparent(40, 30)),
    images.png_bytes(40, 30, mode="I;16", color=1234),
    images.apng_bytes(16, 12),
    images.mpo_bytes(16, 12),
]


def accepted(entry_point: Callable[[], object]) -> bool:
    """Whether ``entry_point`` succeeded; exceptions other than InvalidImage propagate."""
    try:
        entry_point()
    except InvalidImage:
        return False
    return True


def accepts_or_refuses(data: bytes) -> None:
    """Both entry points succeed or both raise InvalidImage, never anything else.

    Agreement matters: an upload that passed inspect must not fail later, when
    its thumbnails are made.
    """
    inspected = accepted(lambda: inspect(data, max_pixels=1_000_000))
    rendered = accepted(lambda: render(data, [8, 20, 1000], max_pixels=1_000_000))
    assert inspected == rendered


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(FUZZ_SEEDS)))
    for _ in range(draw(st.integers(1, 8))):
        position = draw(st.integers(0, len(data) - 1))
        action = draw(st.sampled_from(["replace", "insert", "delete"]))
        if action == "replace":
            data[position] = draw(st.integers(0, 255))
        elif action == "insert":
            data[position:position] = draw(st.binary(min_size=1, max_size=8))
        elif len(data) > 1:
            del data[position]
    if draw(st.booleans()):
        data = data[: draw(st.integers(0, len(data)))]
    return bytes(data)


TestFunction = TypeVar("TestFunction", bound=Callable[..., None])


# Pillow warns about some damage it works around (corrupt EXIF, malformed MPO...).
def fuzz_warnings(test: TestFunction) -> TestFunction:
    """Mutated headers make Pillow warn (a malformed MPO, a size past its bomb
    threshold, which the pipeline then refuses): expected noise, not findings."""
    test = pytest.mark.filterwarnings("ignore::UserWarning")(test)
    return pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")(test)


FUZZ_SETTINGS = settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


@fuzz_warnings
@FUZZ_SETTINGS
@given(st.binary(max_size=512))
def test_random_bytes_give_only_invalid_image(data: bytes) -> None:
    accepts_or_refuses(data)


@fuzz_warnings
@FUZZ_SETTINGS
@given(mutated())
def test_damaged_images_give_only_invalid_image(data: bytes) -> None:
    accepts_or_refuses(data)
