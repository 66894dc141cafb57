"""Memory: concurrent uploads of a hostile-but-valid PNG, the decode budget off and on.

    .venv/bin/python bench/memory.py              # 8 uploads at once, ~30 s
    .venv/bin/python bench/memory.py --uploads 4

Target: budget on, peak RSS at most 300 MB over idle; every answer 201, or 503 with
Retry-After and a message; exit status 1 on FAIL. How it measures: bench/README.md.
"""

from __future__ import annotations

import argparse
import functools
import io
import os
import struct
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import harness as h
from PIL import Image, PngImagePlugin

TARGET_MB = 300  # peak RSS over idle, budget on
SIZE = (7070, 7070)  # 49.98 MP, just under the default 50 MP limit
COLOUR = (0x3000, 0x6000, 0x9000, 0x8000)  # 16-bit RGBA, half transparent
GUNICORN_WORKERS = 1
GUNICORN_THREADS = 8
GUNICORN_TIMEOUT = 120
SAMPLE_SECONDS = 0.005
MB = 1_000_000
OFF_BUDGET = 1 << 40  # 1 TiB: every decode fits
SMALL_PNG = h.encoded(Image.new("RGB", (64, 48), "steelblue"), "PNG")  # the warm-up


def hostile_png(size: tuple[int, int] = SIZE, colour: tuple[int, ...] = COLOUR) -> bytes:
    """A flat 16-bit RGBA PNG, 400 MB raw, ~0.6 MB compressed. Pillow reads 16-bit RGBA
    but cannot write it: the chunks go through its PNG plugin's chunk writer."""
    width, height = size
    out = io.BytesIO()
    out.write(b"\x89PNG\r\n\x1a\n")
    PngImagePlugin.putchunk(out, b"IHDR", struct.pack(">IIBBBBB", width, height, 16, 6, 0, 0, 0))
    row = b"\x00" + struct.pack(">4H", *colour) * width  # filter 0, then the pixels
    compressor = zlib.compressobj(9)
    compressed = [compressor.compress(row) for _ in range(height)]
    compressed.append(compressor.flush())
    PngImagePlugin.putchunk(out, b"IDAT", b"".join(compressed))
    PngImagePlugin.putchunk(out, b"IEND", b"")
    data = out.getvalue()
    with Image.open(io.BytesIO(data)) as check:
        if (check.format, check.mode, check.size) != ("PNG", "RGBA", size):
            raise h.BenchError(f"the hostile PNG reads as {check.format} {check.mode} {check.size}")
    return data


# --- the worker's memory, from /proc ---------------------------------------------------------


def status_mb(pid: int, key: str) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(f"{key}:"):
                return int(line.split()[1]) * 1024 / MB
    raise h.BenchError(f"/proc/{pid}/status has no {key}")


def reset_peak(pid: int) -> bool:
    """Reset VmHWM to the current RSS (Linux >= 4.0); False if the kernel would not."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def worker_pid(master: subprocess.Popen[bytes], timeout: float = 30) -> int:
    """The pid of gunicorn's one worker: the master's child."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        children = [
            int(stat.parent.name)
            for stat in Path("/proc").glob("[0-9]*/stat")
            if _parent(stat) == master.pid
        ]
        if len(children) == GUNICORN_WORKERS:
            return children[0]
        time.sleep(0.1)
    raise h.BenchError("gunicorn's worker did not start")


def _parent(stat: Path) -> int | None:
    try:
        # The command name (2nd field) is in parentheses and may hold spaces.
        return int(stat.read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


def highest_rss(pid: int, stop: threading.Event) -> float:
    """The highest VmRSS read every few milliseconds until `stop` is set or the worker is gone."""
    highest = 0.0
    while not stop.is_set():
        try:
            highest = max(highest, status_mb(pid, "VmRSS"))
        except (OSError, h.BenchError):
            break  # the worker is gone; the report says so
        stop.wait(SAMPLE_SECONDS)
    return highest


# --- uploads and one mode ----------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    status: int | None  # None: no answer
    seconds: float
    retry_after: str | None = None
    message: str = ""

    @property
    def problem(self) -> str | None:
        if self.status == 201 or (self.status == 503 and self.retry_after and self.message):
            return None
        return f"{self.status}: {self.message or 'no message'}"


def upload(base_url: str, token: str, data: bytes, name: str) -> Answer:
    began = time.perf_counter()
    try:
        response = h.upload(base_url, token, data, name, "image/png")
    except h.REQUEST_FAILURES as error:
        return Answer(None, time.perf_counter() - began, None, f"{type(error).__name__}: {error}")
    seconds = time.perf_counter() - began
    message = ""
    if response.status != 201:
        try:
            message = str(response.json().get("detail", h.excerpt(response.body)))
        except (ValueError, AttributeError):
            message = h.excerpt(response.body)
    return Answer(response.status, seconds, response.headers.get("Retry-After"), message)


@dataclass
class ModeResult:
    name: str
    budget: str = ""
    idle_mb: float = 0.0
    peak_mb: float = 0.0  # VmHWM after the uploads
    sampled_mb: float = 0.0  # highest sampled VmRSS
    peak_reset: bool = False
    after_mb: float = 0.0
    wall: float = 0.0
    answers: list[Answer] = field(default_factory=list)
    logs: list[h.LogSummary] = field(default_factory=list)

    @property
    def over_idle(self) -> float:
        return max(self.peak_mb, self.sampled_mb) - self.idle_mb

    @property
    def problems(self) -> list[str]:
        return [problem for answer in self.answers if (problem := answer.problem)]

    def summary(self) -> str:
        counts = Counter(str(answer.status) for answer in self.answers)
        return ", ".join(f"{count}x {status}" for status, count in sorted(counts.items()))


# Prints the decode budget and wait the settings made of the environment, as JSON.
_BUDGET = """
import json
from django.conf import settings as s
print(json.dumps([s.SMALLIMAGE_DECODE_BUDGET_BYTES, s.SMALLIMAGE_DECODE_WAIT_SECONDS]))
"""


def run_mode(
    name: str, budget_bytes: int | None, work: Path, data: bytes, count: int
) -> ModeResult:
    env = h.app_environment(work / "var")
    if budget_bytes is not None:
        env["SMALLIMAGE_DECODE_BUDGET_BYTES"] = str(budget_bytes)
    token = h.prepare_app(env, ["memory"])["memory"]
    budget, wait = h.shell(env, _BUDGET)
    result = ModeResult(name)
    result.budget = (
        "none (1 TiB)" if budget >= OFF_BUDGET else f"{budget / 2**20:.0f} MiB, wait {wait} s"
    )
    log = work / f"gunicorn-{name}.log"
    options = {"workers": GUNICORN_WORKERS, "threads": GUNICORN_THREADS}
    with h.gunicorn(env, log, **options, timeout=GUNICORN_TIMEOUT) as server:
        pid = worker_pid(server.process)
        warm = upload(server.base_url, token, SMALL_PNG, "warm-up.png")
        if warm.status != 201:
            raise h.BenchError(f"the warm-up upload answered {warm.status}: {warm.message}")
        time.sleep(0.5)  # let the warm-up's request finish its teardown
        result.idle_mb = status_mb(pid, "VmRSS")
        result.peak_reset = reset_peak(pid)
        answers: list[Answer | None] = [None] * count

        def one(index: int) -> None:
            answers[index] = upload(server.base_url, token, data, f"hostile-{index}.png")

        stop = threading.Event()
        with ThreadPoolExecutor(1) as pool:
            sampled = pool.submit(highest_rss, pid, stop)
            try:
                calls = [functools.partial(one, i) for i in range(count)]
                result.wall = h.released_together(calls, timeout=h.REQUEST_TIMEOUT + 10)
            finally:
                stop.set()
        result.sampled_mb = sampled.result()
        result.answers = [
            answer or Answer(None, h.REQUEST_TIMEOUT, None, "no answer") for answer in answers
        ]
        result.peak_mb = status_mb(pid, "VmHWM") if result.peak_reset else 0.0
        result.after_mb = status_mb(pid, "VmRSS")
    result.logs.append(h.summarise_log(log))
    return result


# --- the report ------------------------------------------------------------------------------


def print_report(results: list[ModeResult], data: bytes, count: int) -> bool:
    off, on = results
    print(
        f"SmallImage memory: {count} concurrent API uploads of a {SIZE[0]}x{SIZE[1]}"
        f" ({SIZE[0] * SIZE[1] / 1e6:.2f} MP) 16-bit RGBA PNG, {len(data) / 1e3:.0f} KB;"
        f" gunicorn {GUNICORN_WORKERS} worker x {GUNICORN_THREADS} threads, DJANGO_DEBUG=0,"
        f" SQLite, thumbnails in the request, {os.cpu_count()} CPUs"
    )

    def row(label: str, value: Callable[[ModeResult], str]) -> list[str]:
        return [label, *(value(result) for result in results)]

    h.print_table(
        ["", "budget off", "budget on"],
        [
            row("decode budget", lambda r: r.budget),
            row("worker RSS idle (MB)", lambda r: f"{r.idle_mb:.0f}"),
            row("peak RSS, VmHWM (MB)", lambda r: f"{r.peak_mb:.0f}" if r.peak_reset else "n/a"),
            row("highest sampled RSS (MB)", lambda r: f"{r.sampled_mb:.0f}"),
            row("peak over idle (MB)", lambda r: f"{r.over_idle:.0f}"),
            row("RSS after (MB)", lambda r: f"{r.after_mb:.0f}"),
            row("wall time (s)", lambda r: f"{r.wall:.1f}"),
            row("answers", ModeResult.summary),
        ],
    )
    for result in results:
        print(f"  {result.name}: per request, in order of answer:")
        for answer in sorted(result.answers, key=lambda a: a.seconds):
            line = f"    {answer.status} in {answer.seconds:5.1f} s"
            if answer.status != 201:
                line += f" Retry-After {answer.retry_after}: {answer.message}"
            print(line)
        for problem in result.problems:
            print(f"  error: {problem}")
        h.print_log_problems(result.logs, indent="  ")
    return h.print_checks(
        [
            h.Check(
                f"budget on: peak {on.over_idle:.0f} MB over idle <= {TARGET_MB} MB",
                on.over_idle <= TARGET_MB,
            ),
            h.Check(
                "budget on: at least one upload accepted",
                any(a.status == 201 for a in on.answers),
            ),
            h.Check(
                "every answer 201, or 503 with Retry-After", not off.problems and not on.problems
            ),
        ],
        title=None,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--uploads", type=int, default=8, help="concurrent uploads (default 8)")
    args = parser.parse_args(argv)
    if not 1 <= args.uploads <= GUNICORN_THREADS:
        parser.error(f"--uploads must be between 1 and {GUNICORN_THREADS}")
    if not Path("/proc/self/status").exists():
        print("FAIL: this benchmark reads /proc (Linux)")
        return 1
    h.exit_on_sigterm()
    print(h.code_state())
    began = time.monotonic()
    data = hostile_png()
    results = []
    try:
        with tempfile.TemporaryDirectory(prefix="smallimage-memory-") as directory:
            for name, budget in (("off", OFF_BUDGET), ("on", None)):
                work = Path(directory) / name
                work.mkdir()
                results.append(run_mode(name, budget, work, data, args.uploads))
    except h.RUN_FAILURES as error:
        print(f"FAIL: {error}")
        return 1
    passed = print_report(results, data, args.uploads)
    print(f"total {time.monotonic() - began:.0f} s")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
