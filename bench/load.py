"""Load test of the token API under gunicorn: concurrent uploads, lists and links.

Run from the repository root:

    .venv/bin/python bench/load.py                     # 8 clients x 40 requests, PostgreSQL
    .venv/bin/python bench/load.py --worker            # thumbnails rendered by a db_worker
    .venv/bin/python bench/load.py --database sqlite   # the embedded SQLite default

Everything it starts lives in a fresh temporary directory and on loopback: a
throwaway PostgreSQL cluster (``tests/postgres.py``; SQLite if PostgreSQL is not
installed), the app migrated there, one Enterprise user and knox token per
client, gunicorn on a free 127.0.0.1 port and, with ``--worker``, one
``manage.py db_worker``. The API throttles are raised so that the load is
served, not refused.

Each client is a thread with its own token making a fixed number of requests
(all of them stop at ``--max-seconds``), drawn from a seeded random mix: about
30% uploads of a 1600x1200 photograph-like JPEG, 40% lists of the newest 24
images and 30% expiring links to one of the client's own images. An error is
any status other than the expected one (201, 200, 201) or a failed request.

Afterwards every image must be listed by its owner (waiting, bounded, until the
worker has rendered them all), one share link and one expiring link per client
must deliver an image, and ``manage.py gallery_check --grace 0`` must be clean.
The script prints a report ending in PASS or FAIL and exits with status 1 on FAIL.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import math
import os
import random
import secrets
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests import postgres  # noqa: E402
from tests.gallery.images import photo_like, to_jpeg  # noqa: E402

PHOTO_SIZE = (1600, 1200)
PHOTO_SEEDS = (1, 2, 3)
PHOTO_QUALITY = 90

# Cumulative shares of the mix: below 0.3 upload, below 0.7 list, else link.
UPLOAD_SHARE = 0.3
LIST_SHARE = 0.4
LIST_PAGE_SIZE = 24
RENDITIONS = ("200", "400", "original")
EXPIRES_IN = (300, 30000)
EXPECTED_STATUS = {"upload": 201, "list": 200, "link": 201}
KINDS = tuple(EXPECTED_STATUS)

GUNICORN_WORKERS = 2
GUNICORN_THREADS = 4
GUNICORN_TIMEOUT = 60
# Far above anything this run can reach, so no request is answered 429.
THROTTLE_RATE = "1000000/minute"
# Bounds on every wait, so a broken app fails the run instead of hanging it.
REQUEST_TIMEOUT = GUNICORN_TIMEOUT + 5
SETUP_TIMEOUT = 180
HEALTH_TIMEOUT = 30
READY_TIMEOUT = 60
STOP_TIMEOUT = 30
# Inherited variables with these prefixes could point the app at another
# database, bucket or cache; the run must only touch what it made itself.
FOREIGN_PREFIXES = ("DJANGO_", "SMALLIMAGE_", "POSTGRES_", "DATABASE_URL", "AWS_")


class LoadError(Exception):
    """The run could not be set up or completed; the message says why."""


# --- HTTP on loopback, standard library only ------------------------------------------------


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    content_type: str
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """API calls must answer directly: a redirect would hide a wrong URL."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


# An empty ProxyHandler: whatever *_proxy says, requests go straight to 127.0.0.1.
API_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect)
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
    opener: urllib.request.OpenerDirector = API_OPENER,
) -> Response:
    headers = {"Accept": "application/json"}
    if token:
        headers["Authorization"] = f"Token {token}"
    if content_type:
        headers["Content-Type"] = content_type
    request = urllib.request.Request(url, data=body, method=method, headers=headers)
    try:
        with opener.open(request, timeout=REQUEST_TIMEOUT) as answer:
            return Response(answer.status, answer.headers.get_content_type(), answer.read())
    except urllib.error.HTTPError as error:  # any status urllib does not call success
        with error:
            return Response(error.code, error.headers.get_content_type(), error.read())


def multipart(field_name: str, filename: str, data: bytes, content_type: str) -> tuple[bytes, str]:
    """A multipart/form-data body holding one file, and its Content-Type header."""
    boundary = secrets.token_hex(16)
    head = (
        f"--{boundary}\r\n"
        f'Content-Disposition: form-data; name="{field_name}"; filename="{filename}"\r\n'
        f"Content-Type: {content_type}\r\n\r\n"
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    return head + data + tail, f"multipart/form-data; boundary={boundary}"


def excerpt(body: bytes, limit: int = 160) -> str:
    text = body.decode("utf-8", errors="replace").strip().replace("\n", " ")
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --- the clients -----------------------------------------------------------------------------


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


@dataclass
class Client:
    """One simulated API user: its own token, random stream and view of its images."""

    username: str
    token: str
    base_url: str
    rng: random.Random
    uploaded: list[str] = field(default_factory=list)  # ids answered 201
    # Renditions the API has shown per image: with a worker, thumbnails appear
    # only once rendered, and a client can only ask for a link it has seen.
    renditions: dict[str, set[str]] = field(default_factory=dict)
    expiring_urls: list[str] = field(default_factory=list)
    samples: list[Sample] = field(default_factory=list)
    links_to_original_instead: int = 0

    def url(self, path: str) -> str:
        return f"{self.base_url}{path}"

    def remember(self, image: dict[str, Any]) -> None:
        self.renditions[image["id"]] = {link["rendition"] for link in image["links"]}


def timed(kind: str, call: Callable[[], Response]) -> tuple[Sample, Response | None]:
    began = time.perf_counter()
    try:
        response = call()
    except REQUEST_FAILURES as error:
        seconds = time.perf_counter() - began
        return Sample(kind, None, seconds, f"{type(error).__name__}: {error}"), None
    seconds = time.perf_counter() - began
    if response.status != EXPECTED_STATUS[kind]:
        return Sample(kind, response.status, seconds, excerpt(response.body)), None
    return Sample(kind, response.status, seconds), response


def _with_body(sample: Sample, response: Response | None, use: Callable[[Any], None]) -> Sample:
    """Hand the JSON of a successful answer to `use`; an unreadable one is an error too."""
    if response is None:
        return sample
    try:
        use(response.json())
    except (ValueError, KeyError, TypeError) as error:
        return Sample(sample.kind, sample.status, sample.seconds, f"bad body: {error!r}")
    return sample


def upload(client: Client, photos: list[bytes]) -> Sample:
    number = len(client.samples) + 1
    body, content_type = multipart(
        "file", f"{client.username}-{number}.jpg", client.rng.choice(photos), "image/jpeg"
    )
    sample, response = timed(
        "upload",
        lambda: fetch(
            client.url("/api/v1/images/"),
            method="POST",
            token=client.token,
            body=body,
            content_type=content_type,
        ),
    )

    def keep(image: dict[str, Any]) -> None:
        client.uploaded.append(image["id"])
        client.remember(image)

    return _with_body(sample, response, keep)


def list_newest(client: Client) -> Sample:
    sample, response = timed(
        "list",
        lambda: fetch(
            client.url(f"/api/v1/images/?page_size={LIST_PAGE_SIZE}"), token=client.token
        ),
    )

    def keep(page: dict[str, Any]) -> None:
        for image in page["results"]:
            client.remember(image)

    return _with_body(sample, response, keep)


def make_link(client: Client) -> Sample:
    public_id = client.rng.choice(client.uploaded)
    rendition = client.rng.choice(RENDITIONS)
    expires_in = client.rng.randint(*EXPIRES_IN)
    if rendition not in client.renditions.get(public_id, ()):
        # Not rendered yet as far as this client has seen (only with --worker).
        rendition = "original"
        client.links_to_original_instead += 1
    payload = json.dumps({"rendition": rendition, "expires_in": expires_in}).encode()
    sample, response = timed(
        "link",
        lambda: fetch(
            client.url(f"/api/v1/images/{public_id}/links/"),
            method="POST",
            token=client.token,
            body=payload,
            content_type="application/json",
        ),
    )
    return _with_body(sample, response, lambda link: client.expiring_urls.append(link["url"]))


def next_request(client: Client, photos: list[bytes]) -> Sample:
    draw = client.rng.random()
    if draw < UPLOAD_SHARE or (draw >= UPLOAD_SHARE + LIST_SHARE and not client.uploaded):
        # A link needs one of the client's own images: until it has one, upload.
        return upload(client, photos)
    if draw < UPLOAD_SHARE + LIST_SHARE:
        return list_newest(client)
    return make_link(client)


def run_client(
    client: Client, photos: list[bytes], count: int, go: threading.Event, deadline: float
) -> None:
    go.wait()
    for _ in range(count):
        if time.monotonic() >= deadline:
            return
        client.samples.append(next_request(client, photos))


def run_load(clients: list[Client], photos: list[bytes], config: Config) -> float:
    """Run every client at once; the wall time of the load, in seconds."""
    # Released together, so the first clients do not run alone while the others start.
    go = threading.Event()
    began = time.monotonic()
    deadline = began + config.max_seconds
    threads = [
        threading.Thread(
            target=run_client,
            args=(client, photos, config.requests_per_client, go, deadline),
            name=client.username,
        )
        for client in clients
    ]
    for thread in threads:
        thread.start()
    go.set()
    for thread in threads:
        thread.join()
    return time.monotonic() - began


# --- after the load: nothing lost, links work -----------------------------------------------


def list_all(client: Client) -> list[dict[str, Any]]:
    """Every image of the client, page by page; raises LoadError if the API will not say."""
    images: list[dict[str, Any]] = []
    url: str | None = client.url("/api/v1/images/?page_size=100")
    while url:
        try:
            response = fetch(url, token=client.token)
        except REQUEST_FAILURES as error:
            raise LoadError(f"{client.username}: listing failed: {error!r}") from None
        try:
            page = response.json()
            if response.status != 200:
                raise ValueError("not a page")
            images += page["results"]
            url = page["next"]
        except (ValueError, KeyError, TypeError):
            answer = f"{response.status} {excerpt(response.body)}"
            raise LoadError(f"{client.username}: listing answered {answer}") from None
    if len(images) != page["count"]:
        raise LoadError(
            f"{client.username}: {len(images)} images listed, count says {page['count']}"
        )
    return images


@dataclass
class Inventory:
    uploaded: int = 0
    listed: int = 0
    ready: int = 0
    failed: int = 0
    lost: list[str] = field(default_factory=list)  # answered 201, not listed
    unexpected: list[str] = field(default_factory=list)  # listed, never answered 201
    waited: float = 0.0
    final: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


def take_inventory(clients: list[Client]) -> Inventory:
    inventory = Inventory()
    for client in clients:
        images = list_all(client)
        inventory.final[client.username] = images
        listed = {image["id"] for image in images}
        inventory.uploaded += len(client.uploaded)
        inventory.listed += len(images)
        inventory.ready += sum(image["status"] == "ready" for image in images)
        inventory.failed += sum(image["status"] == "failed" for image in images)
        inventory.lost += sorted(set(client.uploaded) - listed)
        inventory.unexpected += sorted(listed - set(client.uploaded))
    return inventory


def settled_inventory(clients: list[Client], timeout: float) -> Inventory:
    """The inventory once every image is rendered (or one failed, or time is up)."""
    began = time.monotonic()
    while True:
        inventory = take_inventory(clients)
        inventory.waited = time.monotonic() - began
        done = inventory.ready + inventory.failed == inventory.listed
        if done or inventory.failed or inventory.waited >= timeout:
            return inventory
        time.sleep(0.5)


@dataclass(frozen=True, slots=True)
class LinkCheck:
    what: str
    url: str
    status: int | None
    content_type: str

    @property
    def ok(self) -> bool:
        return self.status == 200 and self.content_type.startswith("image/")


def check_link(what: str, url: str) -> LinkCheck:
    try:
        response = fetch(url, opener=LINK_OPENER)
    except REQUEST_FAILURES as error:
        return LinkCheck(what, url, None, f"{type(error).__name__}: {error}")
    return LinkCheck(what, url, response.status, response.content_type)


def check_links(clients: list[Client], inventory: Inventory) -> list[LinkCheck]:
    """One share link (the 200 px one) and one expiring link made under load, per client."""
    checks = []
    for client in clients:
        share = next(
            (
                link["url"]
                for image in inventory.final[client.username]
                for link in image["links"]
                if link["rendition"] == "200"
            ),
            None,
        )
        if share:
            checks.append(check_link(f"{client.username} share 200", share))
        if client.expiring_urls:
            checks.append(check_link(f"{client.username} expiring", client.expiring_urls[-1]))
    return checks


# --- the app and its processes ---------------------------------------------------------------


@dataclass(frozen=True)
class Config:
    clients: int
    requests_per_client: int
    max_seconds: float
    database: str
    worker: bool
    seed: int

    @property
    def tasks(self) -> str:
        return "database" if self.worker else "immediate"


def app_environment(var_dir: Path, database_url: str | None, tasks: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(FOREIGN_PREFIXES)}
    env.update(
        SMALLIMAGE_VAR_DIR=str(var_dir),
        DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
        DJANGO_DEBUG="0",
        DJANGO_ALLOWED_HOSTS="127.0.0.1",
        # The logs are searched for problems: 4xx/5xx are warnings and errors, and
        # INFO would add a line per task the worker runs.
        DJANGO_LOG_LEVEL="WARNING",
        SMALLIMAGE_TASKS=tasks,
        SMALLIMAGE_THROTTLE_LOGIN=THROTTLE_RATE,
        SMALLIMAGE_THROTTLE_UPLOAD=THROTTLE_RATE,
        SMALLIMAGE_THROTTLE_LINKS=THROTTLE_RATE,
    )
    if database_url:
        env["DATABASE_URL"] = database_url
    return env


def manage(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=SETUP_TIMEOUT,
        check=False,
    )


def must_manage(env: dict[str, str], *args: str) -> str:
    result = manage(env, *args)
    if result.returncode != 0:
        raise LoadError(f"manage.py {args[0]} failed:\n{result.stdout}{result.stderr}")
    return result.stdout


# Run by `manage.py shell`: one Enterprise user per client and a token each, as JSON.
MAKE_USERS = """
import json, os, secrets
from accounts.models import Tier
from accounts.services import user_create
from knox.models import AuthToken

tier = Tier.objects.get(name="Enterprise")
tokens = {}
for index in range(int(os.environ["LOAD_CLIENTS"])):
    username = f"load{index:02d}"
    user = user_create(
        username=username,
        email=f"{username}@example.com",
        password=secrets.token_urlsafe(24),
        tier=tier,
    )
    tokens[username] = AuthToken.objects.create(user)[1]
print(json.dumps(tokens))
"""


def prepare_app(env: dict[str, str], clients: int) -> dict[str, str]:
    """Migrate, make the cache table, and return a token per username."""
    must_manage(env, "migrate", "--noinput")
    must_manage(env, "createcachetable")
    output = must_manage(
        {**env, "LOAD_CLIENTS": str(clients)}, "shell", "-v", "0", "-c", MAKE_USERS
    )
    return json.loads(output.strip().splitlines()[-1])


def free_port() -> int:
    # The kernel picks a free port; gunicorn binds it a moment later.
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


def start_gunicorn(
    env: dict[str, str],
    port: int,
    log: Path,
    *,
    workers: int = GUNICORN_WORKERS,
    threads: int = GUNICORN_THREADS,
    timeout: int = GUNICORN_TIMEOUT,
) -> subprocess.Popen[bytes]:
    command = [
        sys.executable, "-m", "gunicorn", "--pythonpath", "site", "wsgi:application",
        "--bind", f"127.0.0.1:{port}",
        "--workers", str(workers), "--worker-class", "gthread",
        "--threads", str(threads), "--timeout", str(timeout),
        # Its control socket would live in $HOME, shared by concurrent runs; unused here.
        "--no-control-socket",
    ]  # fmt: skip
    return start_process(command, env, log)


def wait_healthy(base_url: str, server: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + HEALTH_TIMEOUT
    last = "no answer"
    while time.monotonic() < deadline:
        if server.poll() is not None:
            last = f"gunicorn exited with status {server.returncode}"
            break
        try:
            response = fetch(f"{base_url}/healthz")
        except REQUEST_FAILURES as error:
            last = f"{type(error).__name__}: {error}"
        else:
            if response.status == 200:
                return
            last = f"{response.status} {excerpt(response.body)}"
        time.sleep(0.2)
    raise LoadError(f"/healthz did not answer 200 ({last}). gunicorn's log:\n{log.read_text()}")


@contextlib.contextmanager
def database(choice: str) -> Iterator[tuple[str | None, str]]:
    """DATABASE_URL (None: SQLite in the var dir) and a label, for the length of the run."""
    if choice == "postgres" and postgres.find_bin_dir() is None:
        print("note: PostgreSQL is not installed here; running on SQLite instead.")
        choice = "sqlite"
    if choice == "sqlite":
        yield None, "SQLite (WAL)"
        return
    cluster = postgres.make_cluster()
    # Stops the server even if this process is killed before its finally runs.
    cluster.watchdog = postgres.start_watchdog(cluster)
    try:
        cluster.start()
        yield cluster.url, f"PostgreSQL {cluster.version} (throwaway cluster)"
    finally:
        cluster.stop()
        cluster.watchdog.communicate()


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


# --- the report ------------------------------------------------------------------------------


def percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile: a latency some request really had, never interpolated."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def latency_row(name: str, samples: list[Sample]) -> str:
    errors = sum(not sample.ok for sample in samples)
    if not samples:
        return f"  {name:<8} {0:>6} {errors:>6} {'-':>8} {'-':>8} {'-':>8}"
    ms = [sample.seconds * 1000 for sample in samples]
    return (
        f"  {name:<8} {len(samples):>6} {errors:>6} {percentile(ms, 0.5):>8.0f}"
        f" {percentile(ms, 0.95):>8.0f} {max(ms):>8.0f}"
    )


@dataclass
class Result:
    samples: list[Sample]
    planned: int
    wall: float
    inventory: Inventory
    links: list[LinkCheck]
    check_status: int
    check_output: str
    logs: list[LogSummary]
    links_to_original_instead: int

    @property
    def errors(self) -> int:
        return sum(not sample.ok for sample in self.samples)

    @property
    def lost(self) -> int:
        return len(self.inventory.lost) + len(self.inventory.unexpected)

    @property
    def gallery_check_clean(self) -> bool:
        return self.check_status == 0 and "gallery_check: clean" in self.check_output

    @property
    def passed(self) -> bool:
        return (
            self.errors == 0
            and self.lost == 0
            and self.gallery_check_clean
            and self.inventory.ready == self.inventory.listed
            and all(check.ok for check in self.links)
        )


def print_report(config: Config, database_label: str, result: Result) -> None:
    print(
        f"SmallImage load: {config.clients} clients x {config.requests_per_client} requests"
        f" (seed {config.seed}, stop at {config.max_seconds:g} s), {database_label},"
        f" tasks {config.tasks}, {os.cpu_count()} CPUs,"
        f" gunicorn {GUNICORN_WORKERS} workers x {GUNICORN_THREADS} threads"
    )
    print(f"  {'kind':<8} {'count':>6} {'errors':>6} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}")
    for kind in KINDS:
        print(latency_row(kind, [s for s in result.samples if s.kind == kind]))
    print(latency_row("all", result.samples))
    made = len(result.samples)
    print(
        f"requests: {made} of {result.planned} made in {result.wall:.1f} s,"
        f" {made / result.wall:.1f} requests/s, {result.errors} errors"
    )
    for sample in [s for s in result.samples if not s.ok][:5]:
        print(f"  error: {sample.kind} -> {sample.status}: {sample.problem}")
    if result.links_to_original_instead:
        links = sum(sample.kind == "link" for sample in result.samples)
        print(
            f"links: {result.links_to_original_instead} of {links} asked for the original:"
            " the thumbnail drawn was not listed yet (the API answers 409: still being made)"
        )
    inventory = result.inventory
    print(
        f"images: {inventory.uploaded} uploaded, {inventory.listed} listed,"
        f" {len(inventory.lost)} lost, {len(inventory.unexpected)} unexpected;"
        f" {inventory.ready} ready, {inventory.failed} failed"
        f" (waited {inventory.waited:.1f} s)"
    )
    good_links = sum(check.ok for check in result.links)
    print(f"links checked: {good_links} of {len(result.links)} delivered an image")
    for check in [c for c in result.links if not c.ok]:
        print(f"  link: {check.what} -> {check.status} {check.content_type}: {check.url}")
    check_lines = [line for line in result.check_output.splitlines() if line.strip()]
    last = check_lines[-1] if check_lines else "(no output)"
    print(f"gallery_check --grace 0: exit {result.check_status}: {last}")
    for line in check_lines[:-1][:10]:
        print(f"  {line}")
    for log in result.logs:
        if log.problems:
            print(f"{log.name}: {len(log.problems)} problem lines, first: {log.problems[0]}")
    verdict = [
        f"{result.errors} errors (target 0)",
        f"{result.lost} lost images (target 0)",
        f"gallery_check {'clean' if result.gallery_check_clean else 'NOT clean'}",
    ]
    if not_ready := inventory.listed - inventory.ready:
        verdict.append(f"{not_ready} images not ready")
    if bad_links := len(result.links) - good_links:
        verdict.append(f"{bad_links} links failed")
    print(f"{'PASS' if result.passed else 'FAIL'}: {', '.join(verdict)}")


# --- putting it together ---------------------------------------------------------------------


def make_photos() -> list[bytes]:
    """Three different photograph-like JPEGs of about 320 KB, made once, up front."""
    return [
        to_jpeg(photo_like(*PHOTO_SIZE, seed=seed), quality=PHOTO_QUALITY) for seed in PHOTO_SEEDS
    ]


def run(config: Config, work: Path, database_url: str | None, photos: list[bytes]) -> Result:
    env = app_environment(work / "var", database_url, config.tasks)
    tokens = prepare_app(env, config.clients)
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    server_log, worker_log = work / "gunicorn.log", work / "worker.log"
    with contextlib.ExitStack() as processes:
        server = start_gunicorn(env, port, server_log)
        processes.callback(stop_process, server)
        if config.worker:
            worker = start_process(
                [sys.executable, "manage.py", "db_worker", "--no-startup-delay"], env, worker_log
            )
            processes.callback(stop_process, worker)
        wait_healthy(base_url, server, server_log)

        clients = [
            Client(username, token, base_url, random.Random(f"{config.seed}-{index}"))
            for index, (username, token) in enumerate(sorted(tokens.items()))
        ]
        wall = run_load(clients, photos, config)
        inventory = settled_inventory(clients, READY_TIMEOUT)
        links = check_links(clients, inventory)
    # With the app stopped, nothing is in flight: --grace 0 may judge every file.
    check = manage(env, "gallery_check", "--grace", "0")
    return Result(
        samples=[sample for client in clients for sample in client.samples],
        planned=config.clients * config.requests_per_client,
        wall=wall,
        inventory=inventory,
        links=links,
        check_status=check.returncode,
        check_output=check.stdout + check.stderr,
        logs=[summarise_log(log) for log in (server_log, worker_log) if log.exists()],
        links_to_original_instead=sum(client.links_to_original_instead for client in clients),
    )


def parse_args(argv: list[str] | None) -> Config:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=8, help="concurrent clients (default 8)")
    parser.add_argument(
        "--requests-per-client", type=int, default=40, help="requests each (default 40)"
    )
    parser.add_argument(
        "--max-seconds",
        type=float,
        default=90,
        help="stop making requests after this long, made or not (default 90)",
    )
    parser.add_argument("--database", choices=("postgres", "sqlite"), default="postgres")
    parser.add_argument(
        "--worker", action="store_true", help="queue thumbnails for one manage.py db_worker"
    )
    parser.add_argument("--seed", type=int, default=1, help="seed of the request mix (default 1)")
    args = parser.parse_args(argv)
    if args.clients < 1 or args.requests_per_client < 1 or args.max_seconds <= 0:
        parser.error("--clients, --requests-per-client and --max-seconds must be positive")
    return Config(
        args.clients,
        args.requests_per_client,
        args.max_seconds,
        args.database,
        args.worker,
        args.seed,
    )


def main(argv: list[str] | None = None) -> int:
    config = parse_args(argv)
    photos = make_photos()
    began = time.monotonic()
    try:
        with (
            tempfile.TemporaryDirectory(prefix="smallimage-load-") as directory,
            database(config.database) as (database_url, database_label),
        ):
            result = run(config, Path(directory), database_url, photos)
    # tests/postgres.py reports a server that will not start as a pytest.UsageError.
    except (LoadError, pytest.UsageError, subprocess.TimeoutExpired) as error:
        print(f"FAIL: {error}")
        return 1
    print_report(config, database_label, result)
    print(f"total {time.monotonic() - began:.0f} s, setup and checks included")
    for log in result.logs:
        if log.problems or not result.passed:
            print(f"--- last lines of {log.name} ---", *log.tail, sep="\n")
    return 0 if result.passed else 1


if __name__ == "__main__":
    sys.exit(main())
