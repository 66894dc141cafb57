"""A corpus of hostile and tricky uploads, all made by code (nothing downloaded)."""

from __future__ import annotations

import io
import zipfile
import zlib
from dataclasses import dataclass

from PIL import Image, PngImagePlugin

from tests.gallery import images

PHP = b"<?php system($_GET['c']); ?>"
HTML = b"<html><body><script>alert(document.cookie)</script></body></html>"


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("payload.sh", "#!/bin/sh\necho owned\n")
    return buffer.getvalue()


ZIP = _zip()


@dataclass(frozen=True)
class Refused:
    """An upload that must be refused with `message` and leave nothing behind."""

    name: str
    data: bytes
    content_type: str
    message: str


def refused() -> list[Refused]:
    photo = images.to_jpeg(images.photo_like(320, 240))
    png = images.to_png(images.photo_like(320, 240))
    bomb_text = images.with_png_chunks(
        images.png_bytes(32, 32),
        images.png_chunk(b"zTXt", b"bomb\x00\x00" + zlib.compress(b"A" * 50_000_000, 9)),
    )
    animated_gif = io.BytesIO()
    frames = [images.solid(40, 30, color=c) for c in (images.RED, images.BLUE)]
    frames[0].save(animated_gif, "GIF", save_all=True, append_images=frames[1:], loop=0)
    svg = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
    # Pillow skips a critical chunk it does not know; a viewer must refuse the file.
    unknown_critical = images.with_png_chunks(png, images.png_chunk(b"ZZZZ", HTML))
    return [
        Refused("script renamed", b"#!/bin/sh\nrm -rf ~\n", "image/png", "not a PNG or JPEG"),
        Refused("name.php%00.png", PHP, "image/png", "not a PNG or JPEG"),
        Refused("svg as png", svg, "image/png", "not a PNG or JPEG"),
        Refused("60000x60000 header", images.png_claiming_size(60000, 60000), "image/png", "limit"),
        Refused("huge text chunk", bomb_text, "image/png", "damaged"),
        Refused("truncated jpeg", photo[: len(photo) // 2], "image/jpeg", "damaged"),
        Refused("truncated png", png[: len(png) // 2], "image/png", "damaged"),
        Refused("zero bytes", b"", "image/png", "empty"),
        Refused("animated gif", animated_gif.getvalue(), "image/gif", "not a PNG or JPEG"),
        Refused("webp", images.webp_bytes(), "image/webp", "not a PNG or JPEG"),
        Refused(
            "unknown critical chunk",
            unknown_critical,
            "image/png",
            "a PNG chunk (ZZZZ) that is marked as needed to show the image",
        ),
    ]


@dataclass(frozen=True)
class Accepted:
    """A valid upload, however odd, whose thumbnails must look right."""

    name: str
    data: bytes
    # (x, y) in the 200 px thumbnail, relative 0..1, and the colour expected there.
    probe: tuple[float, float] | None = None
    colour: tuple[int, ...] | None = None
    size: tuple[int, int] | None = None  # of the image as shown (after orientation)


def accepted() -> list[Accepted]:
    red = images.solid(400, 300, color=images.RED)
    cmyk = images.to_jpeg(red.convert("CMYK"))
    grey16 = Image.new("I;16", (400, 300), 32768)
    palette = Image.new("P", (400, 300), 0)
    palette.putpalette([255, 0, 0] + [0, 0, 255] * 255)
    palette.paste(1, (0, 0, 200, 300))
    palette_png = images.to_png(palette, transparency=1)
    grey_alpha = Image.new("LA", (400, 300), (128, 255))
    grey_alpha.paste((0, 0), (0, 0, 100, 300))  # a transparent strip keeps the alpha
    # Alpha that hides nothing, as in many screenshots: thumbnails drop it.
    opaque_alpha = images.to_png(Image.new("RGBA", (400, 300), (*images.RED, 255)))
    xmp = (
        b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF><rdf:Description '
        b'exif:GPSLatitude="52,22.2N"/></rdf:RDF></x:xmpmeta>'
    )
    leaky = images.to_jpeg(
        images.photo_like(400, 300),
        exif=images.gps_exif(),
        comment=b"<script>alert(1)</script>",
        xmp=xmp,
    )
    meta = PngImagePlugin.PngInfo()
    meta.add_itxt("XML:com.adobe.xmp", xmp.decode())

    def with_segment(marker: int, payload: bytes) -> bytes:
        jpeg = images.to_jpeg(images.photo_like(400, 300), exif=images.gps_exif())
        return images.with_jpeg_segments(jpeg, images.jpeg_segment(marker, payload))

    return [
        Accepted("cmyk.jpg", cmyk, (0.5, 0.5), images.RED, (400, 300)),
        Accepted("grey16.png", images.to_png(grey16), (0.5, 0.5), (128,), (400, 300)),
        Accepted("palette.png", palette_png, (0.75, 0.5), (255, 0, 0, 255), (400, 300)),
        Accepted("palette-transparent.png", palette_png, (0.25, 0.5), (0, 0, 0, 0), (400, 300)),
        Accepted("grey-alpha.png", images.to_png(grey_alpha), (0.5, 0.5), (128, 255), (400, 300)),
        Accepted("grey-alpha-clear.png", images.to_png(grey_alpha), (0.1, 0.5), (0, 0), (400, 300)),
        Accepted("opaque-alpha.png", opaque_alpha, (0.5, 0.5), images.RED, (400, 300)),
        Accepted(
            "rotated.jpg",
            images.to_jpeg(images.marked(400, 300), exif_orientation=6),
            (0.9, 0.1),
            images.RED,
            (300, 400),
        ),
        Accepted("gps-xmp-comment.jpg", leaky, size=(400, 300)),
        Accepted("xmp.png", images.to_png(images.photo_like(400, 300), pnginfo=meta)),
        # Application segments a decoder skips, each holding script.
        Accepted("app0-jfxx.jpg", with_segment(0xE0, b"JFXX\x00\x10" + HTML), size=(400, 300)),
        Accepted("app1-not-exif.jpg", with_segment(0xE1, HTML + PHP), size=(400, 300)),
        Accepted("app2-mpf.jpg", with_segment(0xE2, b"MPF\x00" + HTML), size=(400, 300)),
        Accepted("app15.jpg", with_segment(0xEF, HTML), size=(400, 300)),
        Accepted("polyglot-php.jpg", images.to_jpeg(images.photo_like(400, 300)) + PHP),
        Accepted("polyglot-html.png", images.to_png(images.photo_like(400, 300)) + HTML),
        Accepted("polyglot-zip.jpg", images.to_jpeg(images.photo_like(400, 300)) + ZIP),
        Accepted("animated.png", images.apng_bytes(400, 300), (0.5, 0.5), images.RED),
        Accepted("phone.mpo", images.mpo_bytes(400, 300), (0.5, 0.5), images.RED),
        Accepted("../../x.png", images.png_bytes(300, 200)),
        Accepted("name.php\x00.png", images.png_bytes(300, 200)),
        Accepted("holiday\u202egnp.exe", images.jpeg_bytes(300, 200)),
        Accepted("x" * 300 + ".jpg", images.jpeg_bytes(300, 200)),
    ]
