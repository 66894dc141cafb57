"""Benchmark of the thumbnail pipeline (gallery/pipeline.py), side by side in one run.

    .venv/bin/python bench/thumbnails.py           # 7 timed runs per variant
    .venv/bin/python bench/thumbnails.py --quick   # 3 timed runs, for a quick look

Times, interleaved, the bare decode (floor), a naive pipeline and ``pipeline.render``
(ours) on photograph-like JPEGs and PNGs made in code; peak memory is VmHWM of a fresh
child, as Pillow allocates outside tracemalloc's sight; quality is PSNR against a
full-resolution LANCZOS resize. PASS or FAIL per target, exit status 1 on a FAIL;
details in bench/README.md.
"""

from __future__ import annotations

import argparse
import gc
import math
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

import harness as h
import PIL
from harness import MAX_PIXELS, TIER_HEIGHTS, encoded, photograph
from PIL import Image, ImageChops, ImageOps, ImageStat

from gallery import pipeline

SOURCE_JPEG_QUALITY = 90

# Targets, for the 12 MP JPEG unless said otherwise.
MAX_RATIO_TO_FLOOR = 1.7
MIN_SPEEDUP_OVER_NAIVE = 5.0
MAX_PEAK_MB_ABOVE_IDLE = 40.0
MIN_PSNR_DB = 45.0  # every source, every size


@dataclass(frozen=True)
class Source:
    name: str
    data: bytes
    main: bool = False  # the 12 MP JPEG, which the speed and memory targets are about

    @property
    def format(self) -> str:
        return "JPEG" if self.data.startswith(b"\xff\xd8") else "PNG"


def make_sources() -> list[Source]:
    twelve = photograph(4000, 3000, seed=12)
    twenty_four = photograph(6000, 4000, seed=24)
    with_alpha = twelve.copy()
    with_alpha.putalpha(photograph(4000, 3000, seed=12, alpha=True).getchannel("A"))
    return [
        Source("12 MP JPEG", encoded(twelve, "JPEG", quality=SOURCE_JPEG_QUALITY), main=True),
        Source("24 MP JPEG", encoded(twenty_four, "JPEG", quality=SOURCE_JPEG_QUALITY)),
        Source("12 MP PNG", encoded(twelve, "PNG")),
        Source("12 MP PNG+alpha", encoded(with_alpha, "PNG")),
        # Alpha that hides nothing, as in many screenshots.
        Source("12 MP PNG, opaque alpha", encoded(twelve.convert("RGBA"), "PNG")),
    ]


# --- the variants ------------------------------------------------------------------------------


def floor(data: bytes) -> None:
    """The bare decode at the smallest scale the decoder offers."""
    with Image.open(BytesIO(data)) as im:
        if im.format == "JPEG":
            im.draft("RGB", (im.width // 8, im.height // 8))
        im.load()


def naive(data: bytes) -> None:
    """Full decode, then a LANCZOS resize from the full image and an encode per height."""
    with Image.open(BytesIO(data)) as im:
        im.load()
        for height in TIER_HEIGHTS:
            size = (max(1, round(im.width * height / im.height)), height)
            _encoded_like_naive(im.resize(size, Image.Resampling.LANCZOS), jpeg=im.format == "JPEG")


def _encoded_like_naive(thumbnail: Image.Image, *, jpeg: bool) -> bytes:
    """Encoded with the same settings as ours, so only the pixels differ."""
    params = {"quality": pipeline.JPEG_QUALITY} if jpeg else {}
    return encoded(thumbnail, "JPEG" if jpeg else "PNG", **params)


def ours(data: bytes) -> None:
    pipeline.render(data, TIER_HEIGHTS, max_pixels=MAX_PIXELS)


def idle(data: bytes) -> None:
    pass


VARIANTS: dict[str, Callable[[bytes], None]] = {"floor": floor, "naive": naive, "ours": ours}


# --- measuring ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Timing:
    wall_ms: float  # median
    cpu_ms: float  # median process CPU time: the pipeline is single-threaded


def timings(data: bytes, runs: int) -> dict[str, Timing]:
    """Median times of each variant, interleaved so machine noise hits them alike."""
    names = list(VARIANTS)
    wall: dict[str, list[float]] = {name: [] for name in names}
    cpu: dict[str, list[float]] = {name: [] for name in names}
    for name in names:  # warm-up: plugins imported, caches filled
        VARIANTS[name](data)
    for run in range(runs):
        shift = run % len(names)  # rotate the order, so none always runs first
        for name in names[shift:] + names[:shift]:
            gc.collect()
            wall_start, cpu_start = time.perf_counter(), time.process_time()
            VARIANTS[name](data)
            cpu[name].append((time.process_time() - cpu_start) * 1000)
            wall[name].append((time.perf_counter() - wall_start) * 1000)
    return {
        name: Timing(statistics.median(wall[name]), statistics.median(cpu[name])) for name in names
    }


def peak_rss_mb(path: Path, variant: str) -> float:
    """Peak RSS of a fresh interpreter that runs ``variant`` once on the file at ``path``."""
    result = subprocess.run(
        [sys.executable, __file__, "--peak-rss", variant, str(path)],
        capture_output=True,
        text=True,
        check=True,
        cwd=h.ROOT,
    )
    return float(result.stdout.strip())


def _child_peak_rss(variant: str, path: str) -> None:
    Image.init()  # every plugin, so that no variant imports more than the idle child
    data = Path(path).read_bytes()
    {"idle": idle, **VARIANTS}[variant](data)
    print(_peak_rss_mb())


def _peak_rss_mb() -> float:
    """This process's peak RSS so far, in MB: VmHWM where there is one, as on Linux
    ru_maxrss survives execve (a child would report at least this big parent's RSS)."""
    try:
        status = Path("/proc/self/status").read_text()
    except OSError:
        status = ""
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 2**10  # kB
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10  # bytes / KiB


def peak_memory(source: Source, directory: Path) -> tuple[float, dict[str, float]]:
    """The idle child's peak RSS, and each variant's above it, in MB."""
    path = directory / f"source.{source.format.lower()}"
    path.write_bytes(source.data)
    baseline = min(peak_rss_mb(path, "idle") for _ in range(2))
    return baseline, {name: peak_rss_mb(path, name) - baseline for name in VARIANTS}


_BARE_INTERPRETER = """
from pathlib import Path
status = Path("/proc/self/status").read_text().splitlines()
print(next(int(line.split()[1]) for line in status if line.startswith("VmHWM:")) / 2**10)
"""


def bare_interpreter_rss_mb() -> float | None:
    """Peak RSS of an interpreter that imports nothing, where Linux tells it."""
    if not Path("/proc/self/status").exists():
        return None
    command = [sys.executable, "-c", _BARE_INTERPRETER]
    return float(subprocess.run(command, capture_output=True, text=True, check=True).stdout)


def psnr(a: Image.Image, b: Image.Image) -> float:
    """PSNR in dB of two images of one size. With alpha, premultiplied (a nearly invisible
    pixel's colour does not show); `a` may lack `b`'s alpha only if it hides nothing."""
    if a.mode != b.mode:
        if b.mode != a.mode + "A" or b.getchannel("A").getextrema() != (255, 255):
            raise ValueError(f"cannot compare {a.mode} with {b.mode}")
        b = b.convert(a.mode)
    if a.mode in ("RGBA", "LA"):
        premultiplied = {"RGBA": "RGBa", "LA": "La"}[a.mode]
        a, b = a.convert(premultiplied), b.convert(premultiplied)
    rms = ImageStat.Stat(ImageChops.difference(a, b)).rms
    mse = sum(value * value for value in rms) / len(rms)
    return math.inf if mse == 0 else 10 * math.log10(255**2 / mse)


@dataclass(frozen=True)
class Quality:
    size: tuple[int, int]
    resized: float  # dB: the pixels `render` encodes
    ours_encoded: float  # dB: our thumbnail file, decoded
    naive_encoded: float  # dB: the naive pipeline's file, decoded


def quality(data: bytes) -> list[Quality]:
    """PSNR per thumbnail against full decode -> upright -> LANCZOS to the same size."""
    with Image.open(BytesIO(data)) as opened:
        full = ImageOps.exif_transpose(opened)
    with pipeline._decoded(data, max_pixels=MAX_PIXELS, largest_height=max(TIER_HEIGHTS)) as dec:
        sizes = [pipeline._target_size(dec.width, dec.height, h) for h in TIER_HEIGHTS]
        made = pipeline._thumbnail_images(dec, sizes)
        jpeg = dec.format == "JPEG"
    thumbnails = pipeline.render(data, TIER_HEIGHTS, max_pixels=MAX_PIXELS)
    results = []
    for height, size in zip(TIER_HEIGHTS, sizes, strict=True):
        reference = full.resize(size, Image.Resampling.LANCZOS)
        ours_file = thumbnails[height].data
        naive_file = _encoded_like_naive(reference, jpeg=jpeg)
        results.append(
            Quality(
                size,
                psnr(made[size], reference),
                psnr(_decoded(ours_file), reference),
                psnr(_decoded(naive_file), reference),
            )
        )
    return results


def _decoded(data: bytes) -> Image.Image:
    with Image.open(BytesIO(data)) as image:
        image.load()
        return image.copy()


# --- report ------------------------------------------------------------------------------------


def report(source: Source, runs: int, directory: Path) -> list[h.Check]:
    """Measure ``source``, print its part of the table, return its targets."""
    times = timings(source.data, runs)
    idle_mb, memory = peak_memory(source, directory)
    jpeg = source.format == "JPEG"
    with Image.open(BytesIO(source.data)) as im:
        print(f"{source.name} {im.width}x{im.height}, {len(source.data) / 1e6:.1f} MB")
    for name, timing in times.items():
        label = f"floor ({'1/8' if jpeg else 'bare'} decode)" if name == "floor" else name
        print(
            f"  {label:<22} {timing.wall_ms:>9.1f} {1000 / timing.wall_ms:>9.1f}"
            f" {timing.cpu_ms:>9.1f} {memory[name]:>+9.1f}"
        )
    to_floor = times["ours"].cpu_ms / times["floor"].cpu_ms
    speedup = times["naive"].cpu_ms / times["ours"].cpu_ms
    wall_to_floor = times["ours"].wall_ms / times["floor"].wall_ms
    wall_speedup = times["naive"].wall_ms / times["ours"].wall_ms
    print(
        f"  ours/floor {to_floor:.2f}x (wall {wall_to_floor:.2f}x),"
        f" naive/ours {speedup:.2f}x (wall {wall_speedup:.2f}x)"
    )
    if source.main:
        bare = bare_interpreter_rss_mb()
        bare_text = f" (a bare interpreter: {bare:.1f} MB)" if bare is not None else ""
        print(f"  idle child's peak RSS, with the file in memory: {idle_mb:.1f} MB{bare_text}")

    results = quality(source.data)
    line = "  PSNR vs full-res LANCZOS: " + ", ".join(
        f"{r.size[0]}x{r.size[1]} {r.resized:.1f} dB" for r in results
    )
    print(line)
    if jpeg:
        ours_db = "/".join(f"{r.ours_encoded:.1f}" for r in results)
        naive_db = "/".join(f"{r.naive_encoded:.1f}" for r in results)
        print(
            f"    as JPEG q{pipeline.JPEG_QUALITY} files: ours {ours_db} dB,"
            f" naive {naive_db} dB (the encoder's loss)"
        )
    print()

    name = source.name
    checks = [
        h.Check(
            f"{name}: PSNR {r.size[0]}x{r.size[1]} >= {MIN_PSNR_DB:g} dB ({r.resized:.1f})",
            r.resized >= MIN_PSNR_DB,
        )
        for r in results
    ]
    if source.main:
        ours_mb = memory["ours"]
        checks += [
            h.Check(
                f"{name}: ours <= {MAX_RATIO_TO_FLOOR}x the floor ({to_floor:.2f}x)",
                to_floor <= MAX_RATIO_TO_FLOOR,
            ),
            h.Check(
                f"{name}: ours >= {MIN_SPEEDUP_OVER_NAIVE:g}x faster than naive ({speedup:.2f}x)",
                speedup >= MIN_SPEEDUP_OVER_NAIVE,
            ),
            h.Check(
                f"{name}: peak memory <= {MAX_PEAK_MB_ABOVE_IDLE:g} MB above idle"
                f" ({ours_mb:+.1f} MB)",
                ours_mb <= MAX_PEAK_MB_ABOVE_IDLE,
            ),
        ]
    if not jpeg:
        checks.append(h.Check(f"{name}: ours no slower than naive ({speedup:.2f}x)", speedup >= 1))
    return checks


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="3 timed runs instead of 7")
    parser.add_argument("--runs", type=int, help="timed runs per variant, after a warm-up")
    parser.add_argument("--peak-rss", nargs=2, metavar=("VARIANT", "FILE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.peak_rss:
        _child_peak_rss(*args.peak_rss)
        return 0
    runs = args.runs or (3 if args.quick else 7)

    started = time.perf_counter()
    print(h.code_state())
    sources = make_sources()
    heights = " and ".join(map(str, TIER_HEIGHTS))
    print(f"Thumbnails {heights} px high, Pillow {PIL.__version__}, sources made in", end=" ")
    print(f"{time.perf_counter() - started:.1f} s.")
    print(f"Medians of {runs} interleaved runs after a warm-up; everything is single-threaded.")
    print("Ratios use CPU time: on a busy machine wall time also counts waiting for a core.")
    print("Peak MB: peak RSS of a child doing one run, minus that of an idle child.\n")
    print(f"{'':<24} {'ms/image':>9} {'images/s':>9} {'CPU ms':>9} {'peak MB':>9}")

    checks: list[h.Check] = []
    with tempfile.TemporaryDirectory() as directory:
        for source in sources:
            checks += report(source, runs, Path(directory))

    passed = h.print_checks(checks)
    print(f"\ntotal {time.perf_counter() - started:.0f} s")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
