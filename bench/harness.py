"""What the scripts in bench/ share: servers, clients, timing and the report.

Loopback and temporary directories only, every wait bounded, so that a broken app fails
a run instead of hanging it. Nothing from tests/: a benchmark is not a test.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import math
import os
import random
import secrets
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from email.message import Message
from io import BytesIO
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from PIL import Image, ImageChops, ImageDraw, ImageFilter  # noqa: E402

TIER_HEIGHTS = (200, 400)  # Enterprise's thumbnails, as in the demo data
MAX_PIXELS = 50_000_000  # the default SMALLIMAGE_MAX_IMAGE_PIXELS
GUNICORN_TIMEOUT = 60
# Bounds on every wait.
REQUEST_TIMEOUT = GUNICORN_TIMEOUT + 5
SETUP_TIMEOUT = 180
LISTEN_TIMEOUT = 30
STOP_TIMEOUT = 30
# Far above anything a run can reach, so no request is answered 429.
THROTTLE_RATE = "1000000/minute"
# Inherited variables with these prefixes could point the app at another
# database, bucket or cache; a run must only touch what it made itself.
FOREIGN_PREFIXES = ("DJANGO_", "SMALLIMAGE_", "POSTGRES_", "DATABASE_URL", "AWS_")


class BenchError(Exception):
    """The run could not be set up or completed; the message says why."""


# What ends a run with "FAIL: <why>" rather than a traceback.
RUN_FAILURES = (BenchError, subprocess.TimeoutExpired)


def exit_on_sigterm() -> None:
    """SIGTERM unwinds like Ctrl-C, so the finally blocks stop every server started."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))


# --- HTTP on loopback, standard library only --------------------------------------------------


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    headers: Message
    body: bytes

    @property
    def content_type(self) -> str:
        return self.headers.get_content_type()

    def json(self) -> Any:
        return json.loads(self.body)


class NoRedirect(urllib.request.HTTPRedirectHandler):
    """API calls must answer directly: a redirect would hide a wrong URL."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


# An empty ProxyHandler: whatever *_proxy says, requests go straight to 127.0.0.1.
API_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}), NoRedirect)
# Share links redirect to a signed file URL, which a browser would follow.
LINK_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))
# What a failed request raises: refused or reset connections, timeouts, bad replies.
REQUEST_FAILURES = (OSError, http.client.HTTPException)


def fetch(
    url: str,
    *,
    method: str = "GET",
    token: str | None = None,
    body: bytes | None = None,
    content_type: str | None = None,
    payload: object = None,
    opener: urllib.request.OpenerDirector = API_OPENER,
) -> Response:
    """One request; `payload` is sent as a JSON body. Any status is returned, never raised."""
    if payload is not None:
        body, content_type = json.dumps(payload).encode(), "application/json"
    headers = {"Accept": "application/json"}
    if token:
        headers["Authorization"] = f"Token {token}"
    if content_type:
        headers["Content-Type"] = content_type
    request = urllib.request.Request(url, data=body, method=method, headers=headers)
    try:
        with opener.open(request, timeout=REQUEST_TIMEOUT) as answer:
            return Response(answer.status, answer.headers, answer.read())
    except urllib.error.HTTPError as error:
        with error:
            return Response(error.code, error.headers, error.read())


def upload(base_url: str, token: str, data: bytes, filename: str, content_type: str) -> Response:
    """POST one file, as multipart/form-data field ``file``, to the token API."""
    boundary = secrets.token_hex(16)
    head = (
        f"--{boundary}\r\n"
        f'Content-Disposition: form-data; name="file"; filename="{filename}"\r\n'
        f"Content-Type: {content_type}\r\n\r\n"
    )
    return fetch(
        f"{base_url}/api/v1/images/",
        method="POST",
        token=token,
        body=head.encode() + data + f"\r\n--{boundary}--\r\n".encode(),
        content_type=f"multipart/form-data; boundary={boundary}",
    )


def excerpt(body: bytes, limit: int = 160) -> str:
    text = body.decode("utf-8", errors="replace").strip().replace("\n", " ")
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --- timing ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Sample:
    """One request: what it was, how it ended, how long it took."""

    kind: str
    status: int | None  # None: no answer (refused, reset, timed out)
    seconds: float
    problem: str | None = None  # set when this request counts as an error

    @property
    def ok(self) -> bool:
        return self.problem is None


def timed(
    kind: str,
    call: Callable[[], Response],
    expected: int,
    check: Callable[[Response], str | None] = lambda response: None,
) -> Sample:
    """Time one request: an error unless it answers `expected` and `check` finds no problem."""
    began = time.perf_counter()
    try:
        response = call()
    except REQUEST_FAILURES as error:
        return Sample(kind, None, time.perf_counter() - began, f"{type(error).__name__}: {error}")
    seconds = time.perf_counter() - began
    if response.status != expected:
        return Sample(kind, response.status, seconds, excerpt(response.body))
    try:
        problem = check(response)
    except (ValueError, KeyError, TypeError) as error:
        problem = f"bad body: {error!r}"
    return Sample(kind, response.status, seconds, problem)


def released_together(calls: Sequence[Callable[[], object]], timeout: float | None = None) -> float:
    """Each call in a thread, all released at once (none runs alone); the wall time in s."""
    go = threading.Event()

    def run(call: Callable[[], object]) -> None:
        go.wait()
        call()

    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    began = time.perf_counter()
    go.set()
    for thread in threads:
        thread.join(timeout)
    return time.perf_counter() - began


def percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile: a value some run really had, never interpolated."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def latency_cells(samples: list[Sample]) -> list[str]:
    """count, errors, p50 ms and p95 ms of some samples, as table cells."""
    errors = sum(not sample.ok for sample in samples)
    if not samples:
        return ["0", str(errors), "-", "-"]
    ms = [sample.seconds * 1000 for sample in samples]
    p50, p95 = percentile(ms, 0.5), percentile(ms, 0.95)
    return [str(len(samples)), str(errors), f"{p50:.0f}", f"{p95:.0f}"]


def median_ms(call: Callable[[int], object], runs: int) -> float:
    """The median wall time of `runs` calls (given the run's number) after one warm-up."""
    call(-1)
    times = []
    for run in range(runs):
        began = time.perf_counter()
        call(run)
        times.append(time.perf_counter() - began)
    return statistics.median(times) * 1000


# --- the report --------------------------------------------------------------------------------


def print_table(header: list[str], rows: list[list[str]], indent: str = "  ") -> None:
    """Columns as wide as their widest cell; the first left-aligned, the others right."""
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        cells = [row[0].ljust(widths[0])]
        cells += [cell.rjust(width) for cell, width in zip(row[1:], widths[1:], strict=True)]
        print(indent + "  ".join(cells).rstrip())


@dataclass(frozen=True)
class Check:
    text: str
    ok: bool


def print_checks(checks: list[Check], title: str | None = "Targets") -> bool:
    """PASS or FAIL per target; True when every one passed."""
    if title:
        print(title)
    for check in checks:
        print(f"  {'PASS' if check.ok else 'FAIL'}  {check.text}")
    return all(check.ok for check in checks)


def code_state() -> str:
    """The commit measured and whether the working tree differs: the code may be mid-change."""

    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True).stdout

    try:
        commit = git("rev-parse", "--short", "HEAD").strip()
        changed = git("status", "--porcelain", "--untracked-files=no").splitlines()
    except OSError:
        return "code: unknown (no git)"
    files = [line[3:] for line in changed if line.strip()]
    return f"code: {commit or 'unknown'}" + (f" + changes to {', '.join(files)}" if files else "")


# --- photographs made in code ------------------------------------------------------------------


def encoded(image: Image.Image, fmt: str, **params: object) -> bytes:
    buffer = BytesIO()
    image.save(buffer, fmt, **params)
    return buffer.getvalue()


def photo_like(width: int, height: int, *, seed: int = 0) -> Image.Image:
    """Gradients, shapes and a little noise; pixel for pixel tests/gallery/images.py's,
    so that older load figures still compare."""
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
        shape = draw.ellipse if rng.random() < 0.5 else draw.rectangle
        shape((x0, y0, x1, y1), fill=fill)
    noise = Image.frombytes("RGB", (width, height), rng.randbytes(width * height * 3))
    return Image.blend(image, noise, 0.06)


def _random_grey(rng: random.Random, size: tuple[int, int]) -> Image.Image:
    """Uniform random grey levels; seeded, unlike ``Image.effect_noise``."""
    return Image.frombytes("L", size, rng.randbytes(size[0] * size[1]))


def _two_tone(
    top: tuple[int, int, int], bottom: tuple[int, int, int], size: tuple[int, int]
) -> Image.Image:
    bands = [
        Image.linear_gradient("L").point(lambda v, a=a, b=b: a + (b - a) * v // 255)
        for a, b in zip(top, bottom, strict=True)
    ]
    return Image.merge("RGB", bands).resize(size, Image.Resampling.BILINEAR)


def photograph(width: int, height: int, *, seed: int, alpha: bool = False) -> Image.Image:
    """A landscape that compresses like a photograph, not like a test card; whole-image
    Pillow operations, so 24 MP takes seconds. `alpha`: a cut-out fading to the corners."""
    rng = random.Random(seed)
    size = (width, height)
    sky = _two_tone((70, 120, 200), (190, 215, 245), size)
    ground = _two_tone((90, 110, 50), (40, 60, 25), size)
    land = Image.new("L", size, 0)
    outline: list[tuple[float, float]] = [(0, height)]
    outline += [(width * i / 32, height * (0.45 + 0.15 * rng.random())) for i in range(33)]
    outline.append((width, height))
    ImageDraw.Draw(land).polygon(outline, fill=255)
    land = land.filter(ImageFilter.GaussianBlur(max(1, width / 2000)))
    image = Image.composite(ground, sky, land)

    # Texture: random grey at several scales, strong on the ground, faint in the sky.
    texture = Image.new("L", size, 128)
    for divisor, weight in ((96, 0.5), (24, 0.35), (6, 0.25), (2, 0.2)):
        coarse = _random_grey(rng, (max(2, width // divisor), max(2, height // divisor)))
        texture = Image.blend(texture, coarse.resize(size, Image.Resampling.BICUBIC), weight)
    strength = land.point(lambda v: 40 + v * 215 // 255)
    texture = Image.composite(texture, Image.new("L", size, 128), strength)
    texture = Image.merge("RGB", (texture, texture, texture))
    image = ImageChops.add(image, texture, 1.0, -128)
    image = ImageChops.add(image, texture, 1.0, -128)

    draw = ImageDraw.Draw(image)
    for _ in range(40):
        x0, y0 = rng.randrange(width), rng.randrange(height)
        w, h = rng.randrange(width // 40, width // 6), rng.randrange(height // 40, height // 4)
        fill = tuple(rng.randrange(256) for _ in range(3))
        kind = rng.random()
        if kind < 0.4:
            draw.ellipse((x0, y0, x0 + w, y0 + h), fill=fill)
        elif kind < 0.7:
            draw.rectangle((x0, y0, x0 + w, y0 + h), fill=fill)
        else:
            draw.polygon([(x0 + rng.randrange(w), y0 + rng.randrange(h)) for _ in range(5)], fill)
    for _ in range(60):
        ends = [(rng.randrange(width), rng.randrange(height)) for _ in range(2)]
        draw.line(ends, fill=tuple(rng.randrange(256) for _ in range(3)), width=rng.randrange(1, 6))

    image = ImageChops.add(image, texture, 1.0, -128)
    image = image.filter(ImageFilter.GaussianBlur(0.8))
    noise = Image.frombytes("RGB", size, rng.randbytes(width * height * 3))
    noise = noise.point(lambda v: 128 + (v - 128) // 10)  # about +-12 levels
    image = ImageChops.add(image, noise, 1.0, -128)
    if alpha:
        fade = Image.radial_gradient("L").resize(size, Image.Resampling.BILINEAR)
        image.putalpha(fade.point(lambda v: 255 if v < 160 else max(0, 255 - (v - 160) * 4)))
    return image


# --- processes ---------------------------------------------------------------------------------


def free_port() -> int:
    # The kernel picks a free port; the server binds it a moment later.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_process(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as output:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(
            command, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=output, stderr=output
        )


def stop_process(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM (a graceful stop for gunicorn and db_worker), then SIGKILL if it hangs."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def wait_answering(url: str, process: subprocess.Popen[bytes], log: Path, status: int = 0) -> None:
    """Until `url` answers (with `status`, unless 0); else BenchError with the process's log."""
    deadline = time.monotonic() + LISTEN_TIMEOUT
    last = "no answer"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            last = f"the process exited with status {process.returncode}"
            break
        try:
            response = fetch(url)
        except REQUEST_FAILURES as error:
            last = f"{type(error).__name__}: {error}"
        else:
            if status in (0, response.status):
                return
            last = f"{response.status} {excerpt(response.body)}"
        time.sleep(0.2)
    raise BenchError(f"{url} did not answer ({last}). Its log:\n{log.read_text(errors='replace')}")


@dataclass(frozen=True)
class Server:
    base_url: str
    process: subprocess.Popen[bytes]


@contextlib.contextmanager
def gunicorn(
    env: dict[str, str],
    log: Path,
    *,
    workers: int = 2,
    threads: int = 4,
    timeout: int = GUNICORN_TIMEOUT,
) -> Iterator[Server]:
    """The app under gunicorn on a free 127.0.0.1 port, answering /healthz; stopped after."""
    port = free_port()
    command = [
        sys.executable, "-m", "gunicorn", "--pythonpath", "site", "wsgi:application",
        "--bind", f"127.0.0.1:{port}",
        "--workers", str(workers), "--worker-class", "gthread",
        "--threads", str(threads), "--timeout", str(timeout),
        # Its control socket would live in $HOME, shared by concurrent runs; unused here.
        "--no-control-socket",
    ]  # fmt: skip
    server = Server(f"http://127.0.0.1:{port}", start_process(command, env, log))
    try:
        wait_answering(f"{server.base_url}/healthz", server.process, log, 200)
        yield server
    finally:
        stop_process(server.process)


LOG_MARKERS = ("Traceback", "[CRITICAL]", "[ERROR]", "Internal Server Error")
LOG_TAIL_LINES = 40


@dataclass(frozen=True, slots=True)
class LogSummary:
    """What a process logged that matters: its problem lines, and its last lines as evidence."""

    name: str
    problems: list[str]
    tail: list[str]


def summarise_log(log: Path) -> LogSummary:
    # Read now: the log goes away with the temporary directory.
    lines = log.read_text(errors="replace").splitlines() if log.exists() else []
    problems = [line for line in lines if any(marker in line for marker in LOG_MARKERS)]
    return LogSummary(log.name, problems, lines[-LOG_TAIL_LINES:])


def print_log_problems(logs: list[LogSummary], indent: str = "") -> None:
    for log in logs:
        if problems := log.problems:
            print(f"{indent}{log.name}: {len(problems)} problem lines, first: {problems[0]}")


# --- the app -----------------------------------------------------------------------------------


def app_environment(var_dir: Path, *, tasks: str = "immediate") -> dict[str, str]:
    """The app in production style (DEBUG off), storing in `var_dir`, throttles raised."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(FOREIGN_PREFIXES)}
    env.update(
        SMALLIMAGE_VAR_DIR=str(var_dir),
        DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
        DJANGO_DEBUG="0",
        DJANGO_ALLOWED_HOSTS="127.0.0.1",
        # The logs are searched for problems: 4xx/5xx are warnings and errors, and
        # INFO would add a line per task a worker runs.
        DJANGO_LOG_LEVEL="WARNING",
        SMALLIMAGE_TASKS=tasks,
        SMALLIMAGE_THROTTLE_LOGIN=THROTTLE_RATE,
        SMALLIMAGE_THROTTLE_UPLOAD=THROTTLE_RATE,
        SMALLIMAGE_THROTTLE_LINKS=THROTTLE_RATE,
    )
    return env


def manage(env: dict[str, str], *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """`manage.py args`; with `check`, BenchError with its output unless it exits 0."""
    command = [sys.executable, "manage.py", *args]
    result = subprocess.run(
        command, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True,
        timeout=SETUP_TIMEOUT,
    )  # fmt: skip
    if check and result.returncode != 0:
        raise BenchError(f"manage.py {args[0]} failed:\n{result.stdout}{result.stderr}")
    return result


def shell(env: dict[str, str], code: str, **extra: str) -> Any:
    """Run `code` in `manage.py shell` with `extra` in its environment; the JSON it prints last."""
    output = manage({**env, **extra}, "shell", "-v", "0", "-c", code).stdout
    return json.loads(output.strip().splitlines()[-1])


# One Enterprise user per name and a knox token each, as JSON.
_MAKE_USERS = """
import json, os, secrets
from accounts.models import Tier
from accounts.services import user_create
from knox.models import AuthToken

tier = Tier.objects.get(name="Enterprise")
tokens = {}
for username in os.environ["BENCH_USERS"].split():
    user = user_create(
        username=username,
        email=f"{username}@example.com",
        password=os.environ.get("BENCH_PASSWORD") or secrets.token_urlsafe(24),
        tier=tier,
    )
    tokens[username] = AuthToken.objects.create(user)[1]
print(json.dumps(tokens))
"""


def prepare_app(env: dict[str, str], usernames: list[str], password: str = "") -> dict[str, str]:
    """Migrate, the cache table, Enterprise users (random password unless given); tokens."""
    manage(env, "migrate", "--noinput")
    manage(env, "createcachetable")
    return shell(env, _MAKE_USERS, BENCH_USERS=" ".join(usernames), BENCH_PASSWORD=password)


# --- a throwaway PostgreSQL --------------------------------------------------------------------

# Only a unix socket in the cluster's own directory (no TCP), so the fixed port
# cannot clash with another server; it only names the socket file. /tmp: a socket
# path must stay under ~100 bytes, which a long $TMPDIR could exceed.
PG_PORT = 5439
PG_SOCKET_PARENT = "/tmp"
PG_USER = "postgres"  # Debian's server refuses to run as root; as root, it runs as this user
# A throwaway server need not survive a crash, and without flushing it is much faster.
PG_OPTIONS = "-c listen_addresses='' -c fsync=off -c synchronous_commit=off -c full_page_writes=off"

# Waits for end of file on a pipe only the benchmark holds, which the kernel closes
# however it ends (SIGKILL included); then stops the server and removes its directory.
_PG_WATCHDOG = """
import shutil, subprocess, sys
sys.stdin.buffer.read()
subprocess.run(sys.argv[2:], stdin=subprocess.DEVNULL, capture_output=True, check=False)
shutil.rmtree(sys.argv[1], ignore_errors=True)
"""


def postgres_bin_dir() -> Path | None:
    """The newest installed server's programs: /usr/lib/postgresql/<version>/bin."""
    found = [path.parent for path in Path("/usr/lib/postgresql").glob("*/bin/pg_ctl")]

    def version(bin_dir: Path) -> tuple[int, ...]:
        return tuple(int(part) for part in bin_dir.parent.name.split(".") if part.isdigit())

    return max(found, key=version, default=None)


@contextlib.contextmanager
def postgres_cluster(bin_dir: Path) -> Iterator[str]:
    """A fresh cluster on a unix socket in a temporary directory; its DATABASE_URL."""
    root = Path(tempfile.mkdtemp(prefix="smallimage-bench-pg-", dir=PG_SOCKET_PARENT))
    as_user = ["runuser", "-u", PG_USER, "--"] if os.geteuid() == 0 else []
    if as_user:  # mkdtemp makes it 0700 and ours; /tmp lets the postgres user through
        shutil.chown(root, user=PG_USER, group=PG_USER)
    data, log = root / "data", root / "server.log"
    stop = [*as_user, str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"]
    watchdog = subprocess.Popen(
        [sys.executable, "-c", _PG_WATCHDOG, str(root), *stop],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # Ctrl-C must not reach it
    )
    try:
        for program, *args in (
            # C.UTF-8 exists on every Debian, whatever locale LANG names.
            ("initdb", "-D", str(data), "-U", "postgres", "-A", "trust", "--no-sync",
             "-E", "UTF8", "--locale=C.UTF-8"),
            ("pg_ctl", "-D", str(data), "-l", str(log), "-w", "start",
             "-o", f"-k {shlex.quote(str(root))} -p {PG_PORT} {PG_OPTIONS}"),
        ):  # fmt: skip
            # cwd: the postgres user may not be allowed into ours; stdin: keep off the terminal.
            command = [*as_user, str(bin_dir / program), *args]
            result = subprocess.run(
                command, cwd=root, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                timeout=60,
            )  # fmt: skip
            if result.returncode != 0:
                server_log = log.read_text(errors="replace") if log.exists() else ""
                raise BenchError(
                    f"PostgreSQL would not start: {program} failed.\n"
                    f"{result.stdout}{result.stderr}{server_log}"
                )
        host = urllib.parse.quote(str(root), safe="/")
        yield f"postgres://postgres@/postgres?host={host}&port={PG_PORT}"
    finally:
        if (data / "postmaster.pid").exists():
            subprocess.run(stop, cwd=root, stdin=subprocess.DEVNULL, capture_output=True)
        shutil.rmtree(root, ignore_errors=True)
        watchdog.communicate()  # it finds nothing left to do


def database_choice(choice: str, *, note: str = "running on SQLite instead") -> str:
    """`choice`, or sqlite (with a note) when PostgreSQL is asked for but not installed."""
    if choice == "postgres" and postgres_bin_dir() is None:
        print(f"note: PostgreSQL is not installed here; {note}.")
        return "sqlite"
    return choice


@contextlib.contextmanager
def database(choice: str) -> Iterator[tuple[str | None, str]]:
    """DATABASE_URL (None: SQLite in the var dir) and a label, for the length of the run."""
    bin_dir = postgres_bin_dir() if database_choice(choice) == "postgres" else None
    if bin_dir is None:
        yield None, "SQLite (WAL)"
        return
    with postgres_cluster(bin_dir) as url:
        yield url, f"PostgreSQL {bin_dir.parent.name} (throwaway cluster)"
