"""Memory benchmark: concurrent uploads of a hostile-but-valid PNG, decode budget on and off.

Run from the repository root:

    .venv/bin/python bench/memory.py              # 8 uploads at once, ~1 minute
    .venv/bin/python bench/memory.py --uploads 4

The image is 7070 x 7070 (49.98 MP), 16-bit RGBA, one flat colour with alpha at
half: ~0.6 MB on the wire, 200 MB once decoded (Pillow reads it as 8-bit RGBA).
For each mode the app runs under gunicorn on a free 127.0.0.1 port, production
style (``DJANGO_DEBUG=0``, 1 worker x 8 threads, SQLite in a fresh temporary
directory, thumbnails rendered in the request), with one Enterprise user and
token:

- off: ``SMALLIMAGE_DECODE_BUDGET_BYTES`` far beyond any decode, so nothing waits;
- on: the app's default budget and wait.

After one small warm-up upload, the worker's idle RSS is read and its peak reset
(``/proc/<pid>/clear_refs``), the uploads are released together, and the
worker's RSS is sampled from ``/proc/<pid>/status`` until they are all answered;
its VmHWM then gives the true peak (sampling may miss a short one). Every
answer must be 201, or 503 with a Retry-After header and a message; anything
else is an error.

Target: with the budget on, the worker's peak stays at most 300 MB over idle
(PASS/FAIL; exit status 1 on FAIL or on any error).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import zlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image, PngImagePlugin

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.load import (  # noqa: E402
    API_OPENER,
    REQUEST_FAILURES,
    REQUEST_TIMEOUT,
    LoadError,
    app_environment,
    excerpt,
    free_port,
    multipart,
    must_manage,
    prepare_app,
    start_gunicorn,
    stop_process,
    summarise_log,
    wait_healthy,
)

TARGET_MB = 300  # peak RSS over idle, budget on
SIZE = (7070, 7070)  # 49.98 MP, just under the default 50 MP limit
COLOUR = (0x3000, 0x6000, 0x9000, 0x8000)  # 16-bit RGBA, half transparent
GUNICORN_WORKERS = 1
GUNICORN_THREADS = 8
GUNICORN_TIMEOUT = 120
SAMPLE_SECONDS = 0.005
MB = 1_000_000
OFF_BUDGET = 1 << 40  # 1 TiB: every decode fits


def hostile_png(size: tuple[int, int] = SIZE, colour: tuple[int, ...] = COLOUR) -> bytes:
    """A flat 16-bit RGBA PNG, written row by row: it is 400 MB raw, ~0.6 MB compressed.

    Pillow reads 16-bit RGBA but cannot write it, so the chunks are written with
    its PNG plugin's own chunk writer; Pillow then reads the result back.
    """
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
            raise LoadError(f"the hostile PNG reads as {check.format} {check.mode} {check.size}")
    return data


def small_png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), "steelblue").save(buffer, "PNG")
    return buffer.getvalue()


# --- the worker's memory, from /proc ---------------------------------------------------------


def status_kb(pid: int, key: str) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(f"{key}:"):
                return int(line.split()[1])
    raise LoadError(f"/proc/{pid}/status has no {key}")


def rss_mb(pid: int) -> float:
    return status_kb(pid, "VmRSS") * 1024 / MB


def peak_mb(pid: int) -> float:
    return status_kb(pid, "VmHWM") * 1024 / MB


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
    raise LoadError("gunicorn's worker did not start")


def _parent(stat: Path) -> int | None:
    try:
        # The command name (2nd field) is in parentheses and may hold spaces.
        return int(stat.read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


class Sampler:
    """Reads a process's RSS every few milliseconds, in a thread, until stopped."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.highest = 0.0
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.highest = max(self.highest, rss_mb(self.pid))
            except (OSError, LoadError):
                return  # the worker is gone; the report says so
            self.samples += 1
            self._stop.wait(SAMPLE_SECONDS)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)


# --- uploads -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    status: int | None  # None: no answer
    seconds: float
    retry_after: str | None
    message: str


def upload(base_url: str, token: str, data: bytes, name: str) -> Answer:
    body, content_type = multipart("file", name, data, "image/png")
    request = urllib.request.Request(
        f"{base_url}/api/v1/images/",
        data=body,
        method="POST",
        headers={
            "Accept": "application/json",
            "Authorization": f"Token {token}",
            "Content-Type": content_type,
        },
    )
    began = time.perf_counter()
    try:
        with API_OPENER.open(request, timeout=REQUEST_TIMEOUT) as answer:
            status, headers, text = answer.status, answer.headers, answer.read()
    except urllib.error.HTTPError as error:
        with error:
            status, headers, text = error.code, error.headers, error.read()
    except REQUEST_FAILURES as error:
        return Answer(None, time.perf_counter() - began, None, f"{type(error).__name__}: {error}")
    seconds = time.perf_counter() - began
    message = ""
    if status != 201:
        try:
            message = str(json.loads(text).get("detail", excerpt(text)))
        except (ValueError, AttributeError):
            message = excerpt(text)
    return Answer(status, seconds, headers.get("Retry-After"), message)


def concurrent_uploads(base_url: str, token: str, data: bytes, count: int) -> list[Answer]:
    go = threading.Event()
    answers: list[Answer | None] = [None] * count

    def one(index: int) -> None:
        go.wait()
        answers[index] = upload(base_url, token, data, f"hostile-{index}.png")

    threads = [threading.Thread(target=one, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    go.set()  # released together
    for thread in threads:
        thread.join(REQUEST_TIMEOUT + 10)
    return [answer or Answer(None, REQUEST_TIMEOUT, None, "no answer") for answer in answers]


def answer_problem(answer: Answer) -> str | None:
    if answer.status == 201:
        return None
    if answer.status == 503 and answer.retry_after and answer.message:
        return None
    return f"{answer.status}: {answer.message or 'no message'}"


# --- one mode ------------------------------------------------------------------------------


@dataclass
class ModeResult:
    name: str
    budget: str
    idle_mb: float = 0.0
    peak_mb: float = 0.0  # VmHWM after the uploads
    sampled_mb: float = 0.0  # highest sampled VmRSS
    peak_reset: bool = False
    samples: int = 0
    after_mb: float = 0.0
    wall: float = 0.0
    answers: list[Answer] = field(default_factory=list)
    log_problems: list[str] = field(default_factory=list)

    @property
    def over_idle(self) -> float:
        return max(self.peak_mb, self.sampled_mb) - self.idle_mb

    @property
    def problems(self) -> list[str]:
        return [problem for answer in self.answers if (problem := answer_problem(answer))]


def run_mode(
    name: str, budget_bytes: int | None, work: Path, data: bytes, count: int
) -> ModeResult:
    env = app_environment(work / "var", None, "immediate")
    if budget_bytes is not None:
        env["SMALLIMAGE_DECODE_BUDGET_BYTES"] = str(budget_bytes)
    token = next(iter(prepare_app(env, 1).values()))
    configured = must_manage(
        env,
        "shell",
        "-v",
        "0",
        "-c",
        "from django.conf import settings as s; print(s.SMALLIMAGE_DECODE_BUDGET_BYTES,"
        " s.SMALLIMAGE_DECODE_WAIT_SECONDS)",
    ).split()
    budget, wait = int(configured[-2]), configured[-1]
    label = "none (1 TiB)" if budget >= OFF_BUDGET else f"{budget / 2**20:.0f} MiB, wait {wait} s"
    result = ModeResult(name, label)
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    log = work / f"gunicorn-{name}.log"
    server = start_gunicorn(
        env, port, log, workers=GUNICORN_WORKERS, threads=GUNICORN_THREADS, timeout=GUNICORN_TIMEOUT
    )
    try:
        wait_healthy(base_url, server, log)
        pid = worker_pid(server)
        warm = upload(base_url, token, small_png(), "warm-up.png")
        if warm.status != 201:
            raise LoadError(f"the warm-up upload answered {warm.status}: {warm.message}")
        time.sleep(0.5)  # let the warm-up's request finish its teardown
        result.idle_mb = rss_mb(pid)
        result.peak_reset = reset_peak(pid)
        began = time.monotonic()
        with Sampler(pid) as sampler:
            result.answers = concurrent_uploads(base_url, token, data, count)
        result.wall = time.monotonic() - began
        result.sampled_mb, result.samples = sampler.highest, sampler.samples
        result.peak_mb = peak_mb(pid) if result.peak_reset else 0.0
        result.after_mb = rss_mb(pid)
    finally:
        stop_process(server)
        result.log_problems = summarise_log(log).problems
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
    width = 30
    rows = [
        ("decode budget", off.budget, on.budget),
        ("worker RSS idle (MB)", f"{off.idle_mb:.0f}", f"{on.idle_mb:.0f}"),
        (
            "peak RSS, VmHWM (MB)",
            f"{off.peak_mb:.0f}" if off.peak_reset else "n/a",
            f"{on.peak_mb:.0f}" if on.peak_reset else "n/a",
        ),
        ("highest sampled RSS (MB)", f"{off.sampled_mb:.0f}", f"{on.sampled_mb:.0f}"),
        ("peak over idle (MB)", f"{off.over_idle:.0f}", f"{on.over_idle:.0f}"),
        ("RSS after (MB)", f"{off.after_mb:.0f}", f"{on.after_mb:.0f}"),
        ("wall time (s)", f"{off.wall:.1f}", f"{on.wall:.1f}"),
        ("answers", summary(off), summary(on)),
    ]
    print(f"  {'':<{width}} {'budget off':>22} {'budget on':>22}")
    for label, left, right in rows:
        print(f"  {label:<{width}} {left:>22} {right:>22}")
    for result in results:
        print(f"  {result.name}: per request, in order of answer:")
        for answer in sorted(result.answers, key=lambda a: a.seconds):
            extra = (
                f" Retry-After {answer.retry_after}: {answer.message}"
                if answer.status != 201
                else ""
            )
            print(f"    {answer.status} in {answer.seconds:5.1f} s{extra}")
        for problem in result.problems:
            print(f"  error: {problem}")
        if result.log_problems:
            print(
                f"  gunicorn log: {len(result.log_problems)} problem lines,"
                f" first: {result.log_problems[0]}"
            )
    checks = [
        (
            on.over_idle <= TARGET_MB,
            f"budget on: peak {on.over_idle:.0f} MB over idle <= {TARGET_MB} MB",
        ),
        (any(a.status == 201 for a in on.answers), "budget on: at least one upload accepted"),
        (not off.problems and not on.problems, "every answer 201, or 503 with Retry-After"),
    ]
    for ok, text in checks:
        print(f"  {'PASS' if ok else 'FAIL'}  {text}")
    return all(ok for ok, _ in checks)


def summary(result: ModeResult) -> str:
    counts = Counter(str(answer.status) for answer in result.answers)
    return ", ".join(f"{count}x {status}" for status, count in sorted(counts.items()))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--uploads", type=int, default=8, help="concurrent uploads (default 8)")
    args = parser.parse_args(argv)
    if not 1 <= args.uploads <= GUNICORN_THREADS:
        parser.error(f"--uploads must be between 1 and {GUNICORN_THREADS}")
    if not Path("/proc/self/status").exists():
        print("FAIL: this benchmark reads /proc (Linux)")
        return 1
    began = time.monotonic()
    data = hostile_png()
    results = []
    try:
        with tempfile.TemporaryDirectory(prefix="smallimage-memory-") as directory:
            for name, budget in (("off", OFF_BUDGET), ("on", None)):
                work = Path(directory) / name
                work.mkdir()
                results.append(run_mode(name, budget, work, data, args.uploads))
    except (LoadError, subprocess.TimeoutExpired) as error:
        print(f"FAIL: {error}")
        return 1
    passed = print_report(results, data, args.uploads)
    print(f"total {time.monotonic() - began:.0f} s")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
