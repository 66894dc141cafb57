"""Web benchmark: the embedded default beside S3 + CloudFront, under gunicorn on loopback.

Run from the repository root:

    .venv/bin/python bench/web.py           # 30 samples per request kind, 8 uploads
    .venv/bin/python bench/web.py --quick   # 12 samples, 4 uploads, for a quick look

The app runs under gunicorn (2 workers x 4 threads, ``DJANGO_DEBUG=0`` with
collected static files) twice, one mode after the other, in one invocation:

- embedded: local files, links signed by Django and streamed by the app;
- cloudfront: a private bucket on a moto S3 server over HTTP on 127.0.0.1 and
  ``AWS_S3_CUSTOM_DOMAIN`` with an RSA key made here, so every image URL is a
  CloudFront signed URL (nothing fetches from the CDN domain; it does not exist).

Only storage differs: each mode gets its own throwaway PostgreSQL cluster
(``tests/postgres.py``; SQLite for both, with a note, if PostgreSQL is not
installed), one Enterprise user with a knox token and a browser session, and 60
photograph-like 1200x900 JPEGs uploaded through the API so that the grid page
(``SMALLIMAGE_IMAGES_PER_PAGE=60``) shows 60 cards.

One client then times, after a warm-up, in interleaved rounds: the grid page
(``GET /`` with the session cookie from allauth's login form), the API list
(``?page_size=60``) and an expiring link (400 px, 600 s); then 4 clients at once
on the grid and on the list for requests per second; then uploads of a 12 MP
JPEG (4000x3000, q90), each just after one timed run in this process of what the
upload does to the bytes: ``inspect`` + ``clean_original`` + ``render`` of 200
and 400 px (so both meet the machine in the same state). With the app stopped,
the storage writes of the files an upload stores (the original and both
thumbnails) are timed bare: chunked files in a temporary directory, or HEAD +
PUT per object on the moto server, as django-storages' ``save`` does; and, for
comparison only, through the app's own ``default_storage`` in ``manage.py shell``.

Targets:

- grid: the CloudFront grid's p50 at most 1.3x the embedded grid's p50;
- upload: per mode, the upload p50 at most 1.5x (pipeline + bare storage writes).

It also reports whether two consecutive grid views give the same image URLs
(they should, within a time bucket, so browsers can cache the images), and the
in-process cost of one CloudFront signature. Any request that answers
unexpectedly counts as an error. The script prints PASS or FAIL per target and
exits with status 1 on any FAIL or error.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import gc
import html
import json
import os
import re
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http.cookiejar import CookieJar
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from botocore.signers import CloudFrontSigner
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# `_NoRedirect` is private to bench/load.py; reused rather than copied, so both
# benchmarks treat a redirect the same way (as an answer, never followed).
from bench.load import (  # noqa: E402
    REQUEST_FAILURES,
    LoadError,
    LogSummary,
    Response,
    Sample,
    _NoRedirect,
    app_environment,
    database,
    excerpt,
    fetch,
    free_port,
    multipart,
    must_manage,
    percentile,
    start_gunicorn,
    start_process,
    stop_process,
    summarise_log,
    wait_healthy,
)
from bench.thumbnails import MAX_PIXELS, TIER_HEIGHTS, encoded, photograph  # noqa: E402
from gallery import originals, pipeline  # noqa: E402
from tests import postgres  # noqa: E402
from tests.gallery.images import photo_like, to_jpeg  # noqa: E402

# Targets.
MAX_GRID_RATIO = 1.3  # CloudFront grid p50 / embedded grid p50
MAX_UPLOAD_RATIO = 1.5  # upload p50 / (pipeline + storage writes)

GRID_IMAGES = 60
SEED_SIZE = (1200, 900)
SEED_PHOTOS = (1, 2, 3)  # distinct files, so the grid is not one picture 60 times
SEED_CLIENTS = 4
BIG_SIZE = (4000, 3000)  # 12 MP
BIG_SEED = 12  # the 12 MP photograph of bench/thumbnails.py
JPEG_QUALITY = 90
LINK_REQUEST = {"rendition": "400", "expires_in": 600}
CONCURRENT_CLIENTS = 4

# Enterprise, as in the demo data: thumbnails of TIER_HEIGHTS, original, expiring links.
TIER = "Enterprise"
USERNAME = "webbench"

CDN_DOMAIN = "cdn.smallimage.test"
CLOUDFRONT_KEY_ID = "K2JCJMDEHXQW5F"
BUCKET = "smallimage-web"
# Storage writes are timed in a bucket of their own, so the app's holds only its files.
SCRATCH_BUCKET = "smallimage-web-scratch"
AWS_REGION = "us-east-1"
AWS_CREDENTIAL = "testing"
MOTO_TIMEOUT = 30


class WebBenchError(LoadError):
    """The run could not be set up; the message says why."""


@dataclass(frozen=True)
class Plan:
    """How many requests of each kind; --quick makes every number smaller."""

    warmup_rounds: int
    rounds: int  # sequential rounds of grid, list and link
    concurrent_per_client: int
    upload_warmups: int
    uploads: int
    storage_runs: int

    @classmethod
    def choose(cls, quick: bool) -> Plan:
        if quick:
            return cls(
                warmup_rounds=3,
                rounds=12,
                concurrent_per_client=4,
                upload_warmups=1,
                uploads=4,
                storage_runs=3,
            )
        # Warm-up: several rounds, so both gunicorn workers have served each kind.
        return cls(
            warmup_rounds=5,
            rounds=30,
            concurrent_per_client=10,
            upload_warmups=2,
            uploads=8,
            storage_runs=7,
        )


@dataclass(frozen=True)
class Photos:
    seeds: list[bytes]
    big: bytes


def make_photos() -> Photos:
    seeds = [to_jpeg(photo_like(*SEED_SIZE, seed=s), quality=JPEG_QUALITY) for s in SEED_PHOTOS]
    big = encoded(photograph(*BIG_SIZE, seed=BIG_SEED), "JPEG", quality=JPEG_QUALITY)
    return Photos(seeds, big)


# --- the pipeline's own time, in this process --------------------------------------------------


@dataclass(frozen=True)
class PipelineTime:
    inspect_ms: float
    clean_ms: float
    render_ms: float

    @property
    def total_ms(self) -> float:
        return self.inspect_ms + self.clean_ms + self.render_ms


@dataclass
class PipelineRuns:
    """What ``services.image_upload`` and the render it runs do to the bytes, run by run.

    Each mode runs it in this process just before each timed upload, so that the
    pipeline and the uploads it is compared with meet the machine in the same state.
    """

    seconds: dict[str, list[float]] = field(
        default_factory=lambda: {"inspect": [], "clean": [], "render": []}
    )

    def run(self, data: bytes) -> list[bytes]:
        """One run, timed; the files an upload stores: the cleaned original and thumbnails."""
        gc.collect()
        began = time.perf_counter()
        source = pipeline.inspect(data, max_pixels=MAX_PIXELS)
        inspected = time.perf_counter()
        cleaned = originals.clean_original(data, format=source.format).data
        clean = time.perf_counter()
        thumbnails = pipeline.render(cleaned, TIER_HEIGHTS, max_pixels=MAX_PIXELS)
        rendered = time.perf_counter()
        self.seconds["inspect"].append(inspected - began)
        self.seconds["clean"].append(clean - inspected)
        self.seconds["render"].append(rendered - clean)
        return [cleaned, *(thumbnail.data for thumbnail in thumbnails.values())]

    def medians(self) -> PipelineTime:
        ms = {name: statistics.median(values) * 1000 for name, values in self.seconds.items()}
        return PipelineTime(ms["inspect"], ms["clean"], ms["render"])


# --- storage writes, in this process ----------------------------------------------------------


@dataclass(frozen=True)
class StorageTime:
    writes_ms: float  # the original and the thumbnails, each checked for then written
    read_ms: float  # the original read back, as a worker's render does (not in the target)
    how: str


@dataclass(frozen=True)
class AppStorageTime:
    """The same files through the app's own storage (``default_storage.save`` / ``open``).

    Not in the target, which takes the bare writes: the difference is what the
    storage library adds (django-storages goes through boto3's transfer manager).
    """

    writes_ms: float
    read_ms: float


def _median_ms(call: Callable[[int], None], runs: int) -> float:
    call(-1)  # warm-up
    times = []
    for run in range(runs):
        began = time.perf_counter()
        call(run)
        times.append(time.perf_counter() - began)
    return statistics.median(times) * 1000


# Django's File.chunks() size. It matters: on ext4 here one 4 MB write() takes
# ~11 ms and the same bytes in 64 KiB writes ~1.5 ms.
CHUNK_SIZE = 64 * 2**10


def time_local_storage(files: list[bytes], directory: Path, runs: int) -> StorageTime:
    """What FileSystemStorage.save does per file: look for the name, create it exclusively,
    write it chunk by chunk."""
    directory.mkdir(parents=True, exist_ok=True)

    def write(run: int) -> None:
        for index, data in enumerate(files):
            path = directory / f"{run}-{index}.jpg"
            os.path.lexists(path)
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
            with os.fdopen(descriptor, "wb") as output:
                view = memoryview(data)
                for start in range(0, len(data), CHUNK_SIZE):
                    output.write(view[start : start + CHUNK_SIZE])

    writes = _median_ms(write, runs)
    original = directory / "0-0.jpg"
    read = _median_ms(lambda run: original.read_bytes(), runs)
    return StorageTime(writes, read, "files in a temporary directory")


def time_s3_storage(files: list[bytes], client: Any, runs: int) -> StorageTime:
    """What django-storages' save does per object without overwriting: HEAD (404), then PUT."""

    def write(run: int) -> None:
        for index, data in enumerate(files):
            key = f"scratch/{run}-{index}.jpg"
            with contextlib.suppress(ClientError):
                client.head_object(Bucket=SCRATCH_BUCKET, Key=key)
            client.put_object(Bucket=SCRATCH_BUCKET, Key=key, Body=data, ContentType="image/jpeg")

    writes = _median_ms(write, runs)
    read = _median_ms(
        lambda run: client.get_object(Bucket=SCRATCH_BUCKET, Key="scratch/0-0.jpg")["Body"].read(),
        runs,
    )
    return StorageTime(writes, read, "HEAD + PUT per object on the moto server")


# Run by `manage.py shell` with a mode's settings: the pipeline's files saved and
# the original read back through default_storage, as a worker's render does; then deleted.
STORAGE_PROBE = """
import json, os, statistics, time
from pathlib import Path
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

files = [Path(path).read_bytes() for path in os.environ["WEB_FILES"].split(os.pathsep)]
writes, reads, names = [], [], []
for run in range(int(os.environ["WEB_RUNS"]) + 1):
    began = time.perf_counter()
    saved = [
        default_storage.save(f"bench/{run}-{index}.jpg", ContentFile(data))
        for index, data in enumerate(files)
    ]
    wrote = time.perf_counter()
    with default_storage.open(saved[0], "rb") as original:
        original.read()
    read = time.perf_counter()
    names += saved
    if run:
        writes.append(wrote - began)
        reads.append(read - wrote)
for name in names:
    default_storage.delete(name)
print(json.dumps({"writes": statistics.median(writes), "read": statistics.median(reads)}))
"""


def time_app_storage(
    env: dict[str, str], files: list[bytes], directory: Path, runs: int
) -> AppStorageTime:
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for index, data in enumerate(files):
        path = directory / f"probe-{index}.jpg"
        path.write_bytes(data)
        paths.append(str(path))
    extra = {"WEB_FILES": os.pathsep.join(paths), "WEB_RUNS": str(runs)}
    output = must_manage({**env, **extra}, "shell", "-v", "0", "-c", STORAGE_PROBE)
    seconds = json.loads(output.strip().splitlines()[-1])
    return AppStorageTime(seconds["writes"] * 1000, seconds["read"] * 1000)


# --- CloudFront: a key pair, a moto server, and the cost of one signature --------------------


def make_cloudfront_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def write_private_key(key: rsa.RSAPrivateKey, path: Path) -> None:
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    path.write_bytes(pem)
    path.chmod(0o600)


def signature_ms(key: rsa.RSAPrivateKey, count: int = 200) -> float:
    """One CloudFront signed URL, made the way django-storages makes it, in ms."""
    signer = CloudFrontSigner(
        CLOUDFRONT_KEY_ID, lambda message: key.sign(message, padding.PKCS1v15(), hashes.SHA1())
    )
    expires = datetime.datetime.now(datetime.UTC) + datetime.timedelta(hours=1)
    url = f"https://{CDN_DOMAIN}/thumbnails/{{}}.jpg"
    runs = []
    for _ in range(3):
        began = time.perf_counter()
        for index in range(count):
            signer.generate_presigned_url(url.format(index), date_less_than=expires)
        runs.append((time.perf_counter() - began) / count)
    return statistics.median(runs) * 1000


def s3_client(endpoint_url: str) -> Any:
    # Credentials given here, never looked up: the run must not reach a real account.
    session = boto3.session.Session(
        aws_access_key_id=AWS_CREDENTIAL,
        aws_secret_access_key=AWS_CREDENTIAL,
        region_name=AWS_REGION,
    )
    return session.client(
        "s3", endpoint_url=endpoint_url, config=Config(s3={"addressing_style": "path"})
    )


def wait_listening(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + MOTO_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
            return
        time.sleep(0.1)
    raise WebBenchError(f"the moto server did not start. Its log:\n{log.read_text()}")


@contextlib.contextmanager
def moto_server(work: Path) -> Iterator[tuple[str, Any, Path]]:
    """A moto S3 server in its own process (its own GIL, like a real S3 elsewhere).

    Yields its URL, a boto3 client and its log; the app's bucket and the scratch
    bucket exist.
    """
    port = free_port()
    log = work / "moto.log"
    env = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    command = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    process = start_process(command, env, log)
    try:
        wait_listening(port, process, log)
        endpoint_url = f"http://127.0.0.1:{port}"
        client = s3_client(endpoint_url)
        for bucket in (BUCKET, SCRATCH_BUCKET):
            client.create_bucket(Bucket=bucket)
        yield endpoint_url, client, log
    finally:
        stop_process(process)


# --- the app ------------------------------------------------------------------------------


# Run by `manage.py shell`: the Enterprise user, with a password for the browser
# session and a knox token for the API.
MAKE_USER = """
import json, os
from accounts.models import Tier
from accounts.services import user_create
from knox.models import AuthToken

user = user_create(
    username=os.environ["WEB_USERNAME"],
    email=os.environ["WEB_USERNAME"] + "@example.com",
    password=os.environ["WEB_PASSWORD"],
    tier=Tier.objects.get(name=os.environ["WEB_TIER"]),
)
print(json.dumps({"token": AuthToken.objects.create(user)[1]}))
"""


def base_environment(work: Path) -> dict[str, str]:
    """What both modes share: DEBUG off with collected static files, no throttling, 60 cards."""
    env = app_environment(work / "var", None, "immediate")
    env.update(
        DJANGO_STATIC_ROOT=str(work / "static"),
        SMALLIMAGE_IMAGES_PER_PAGE=str(GRID_IMAGES),
    )
    return env


def cloudfront_environment(endpoint_url: str, key_file: Path) -> dict[str, str]:
    return {
        "AWS_STORAGE_BUCKET_NAME": BUCKET,
        "AWS_ACCESS_KEY_ID": AWS_CREDENTIAL,
        "AWS_SECRET_ACCESS_KEY": AWS_CREDENTIAL,
        "AWS_S3_REGION_NAME": AWS_REGION,
        "AWS_S3_ENDPOINT_URL": endpoint_url,
        "AWS_S3_ADDRESSING_STYLE": "path",
        "AWS_S3_CUSTOM_DOMAIN": CDN_DOMAIN,
        "AWS_CLOUDFRONT_KEY_ID": CLOUDFRONT_KEY_ID,
        "AWS_CLOUDFRONT_KEY_FILE": str(key_file),
    }


def prepare_app(env: dict[str, str], password: str) -> str:
    """Migrate, make the cache table and the user; the user's API token."""
    must_manage(env, "migrate", "--noinput")
    must_manage(env, "createcachetable")
    extra = {"WEB_USERNAME": USERNAME, "WEB_PASSWORD": password, "WEB_TIER": TIER}
    output = must_manage({**env, **extra}, "shell", "-v", "0", "-c", MAKE_USER)
    return json.loads(output.strip().splitlines()[-1])["token"]


class _AcceptHtml(urllib.request.BaseHandler):
    """Ask for HTML as a browser does: bench.load's fetch asks for JSON, and allauth's
    login page answers in whichever the client accepts."""

    def http_request(self, request: urllib.request.Request) -> urllib.request.Request:
        request.add_header("Accept", "text/html,application/xhtml+xml")
        return request


CSRF_FIELD = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


def browser_session(base_url: str, password: str) -> urllib.request.OpenerDirector:
    """An opener holding a signed-in session: allauth's login form, CSRF token and all."""
    jar = CookieJar()  # thread-safe: the concurrent clients share it
    opener = urllib.request.build_opener(
        urllib.request.ProxyHandler({}),
        urllib.request.HTTPCookieProcessor(jar),
        _NoRedirect,
        _AcceptHtml,
    )
    form = fetch(f"{base_url}/accounts/login/", opener=opener)
    match = CSRF_FIELD.search(form.body.decode())
    if form.status != 200 or not match:
        raise WebBenchError(f"login page answered {form.status} {excerpt(form.body)}")
    body = urllib.parse.urlencode(
        {"login": USERNAME, "password": password, "csrfmiddlewaretoken": match.group(1)}
    ).encode()
    answer = fetch(
        f"{base_url}/accounts/login/",
        method="POST",
        body=body,
        content_type="application/x-www-form-urlencoded",
        opener=opener,
    )
    if answer.status != 302 or not any(cookie.name == "sessionid" for cookie in jar):
        raise WebBenchError(f"login answered {answer.status} {excerpt(answer.body)}")
    return opener


# --- requests ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Mode:
    name: str
    description: str
    url_prefix: str  # where its image URLs point (relative for the embedded default)


@dataclass
class App:
    """One running mode, as its clients see it."""

    mode: Mode
    base_url: str
    token: str
    session: urllib.request.OpenerDirector
    link_image: str = ""  # public id of the image expiring links are made for


# The preview of each card; the page's other <img> (the logo) is a static file.
IMG_URLS = re.compile(r'<a class="preview"[^>]*>\s*<img src="([^"]+)"(?: srcset="([^"]+)")?')
CARD = re.compile(r'<article id="image-')
COPY_BUTTON = re.compile(r"data-copy=")


def grid_urls(page: str) -> list[str]:
    """The image URLs of a grid page: every <img> src and srcset candidate."""
    urls = []
    for src, srcset in IMG_URLS.findall(page):
        urls.append(html.unescape(src))
        urls += [html.unescape(part.split()[0]) for part in srcset.split(", ") if part]
    return urls


def check_grid(app: App, response: Response) -> str | None:
    page = response.body.decode()
    cards = len(CARD.findall(page))
    if cards != GRID_IMAGES:
        return f"{cards} cards on the grid page, expected {GRID_IMAGES}"
    urls = grid_urls(page)
    if not urls or not all(url.startswith(app.mode.url_prefix) for url in urls):
        return f"image URLs do not start with {app.mode.url_prefix}: {urls[:1]}"
    return None


def check_list(app: App, response: Response) -> str | None:
    results = response.json()["results"]
    return None if len(results) == GRID_IMAGES else f"{len(results)} images listed"


def check_link(app: App, response: Response) -> str | None:
    url = response.json()["url"]
    prefix = app.mode.url_prefix
    expected = prefix if prefix.startswith("https://") else f"{app.base_url}{prefix}"
    return None if url.startswith(expected) else f"link {url} does not start with {expected}"


def check_upload(app: App, response: Response) -> str | None:
    image = response.json()
    return None if image["status"] == "ready" else f"uploaded image is {image['status']}"


def grid(app: App, photos: Photos) -> Response:
    return fetch(f"{app.base_url}/", opener=app.session)


def api_list(app: App, photos: Photos) -> Response:
    return fetch(f"{app.base_url}/api/v1/images/?page_size={GRID_IMAGES}", token=app.token)


def link(app: App, photos: Photos) -> Response:
    return fetch(
        f"{app.base_url}/api/v1/images/{app.link_image}/links/",
        method="POST",
        token=app.token,
        body=json.dumps(LINK_REQUEST).encode(),
        content_type="application/json",
    )


def upload_file(app: App, data: bytes, filename: str) -> Response:
    body, content_type = multipart("file", filename, data, "image/jpeg")
    return fetch(
        f"{app.base_url}/api/v1/images/",
        method="POST",
        token=app.token,
        body=body,
        content_type=content_type,
    )


def upload_big(app: App, photos: Photos) -> Response:
    return upload_file(app, photos.big, "twelve-megapixels.jpg")


@dataclass(frozen=True)
class Kind:
    name: str
    call: Callable[[App, Photos], Response]
    status: int
    check: Callable[[App, Response], str | None]


GRID = Kind("grid", grid, 200, check_grid)
LIST = Kind("list", api_list, 200, check_list)
UPLOAD = Kind("upload", upload_big, 201, check_upload)
LINK = Kind("link", link, 201, check_link)
KINDS = (GRID, LIST, UPLOAD, LINK)


def timed(kind: Kind, app: App, photos: Photos) -> tuple[Sample, Response | None]:
    began = time.perf_counter()
    try:
        response = kind.call(app, photos)
    except REQUEST_FAILURES as error:
        seconds = time.perf_counter() - began
        return Sample(kind.name, None, seconds, f"{type(error).__name__}: {error}"), None
    seconds = time.perf_counter() - began
    if response.status != kind.status:
        return Sample(kind.name, response.status, seconds, excerpt(response.body)), None
    try:
        problem = kind.check(app, response)
    except (ValueError, KeyError, TypeError) as error:
        problem = f"bad body: {error!r}"
    return Sample(kind.name, response.status, seconds, problem), response


@dataclass(frozen=True)
class Throughput:
    requests: int
    errors: int
    seconds: float

    @property
    def per_second(self) -> float:
        return (self.requests - self.errors) / self.seconds


def concurrently(kind: Kind, app: App, photos: Photos, per_client: int) -> Throughput:
    """CONCURRENT_CLIENTS threads released together, each making `per_client` requests."""
    go = threading.Event()
    samples: list[Sample] = []  # list.append is atomic under the GIL

    def client() -> None:
        go.wait()
        for _ in range(per_client):
            samples.append(timed(kind, app, photos)[0])

    threads = [threading.Thread(target=client) for _ in range(CONCURRENT_CLIENTS)]
    for thread in threads:
        thread.start()
    began = time.perf_counter()
    go.set()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - began
    return Throughput(len(samples), sum(not sample.ok for sample in samples), seconds)


# --- one mode, start to end ------------------------------------------------------------------


@dataclass
class ModeResult:
    mode: Mode
    database: str
    samples: dict[str, list[Sample]] = field(default_factory=dict)
    throughput: dict[str, Throughput] = field(default_factory=dict)
    pipeline: PipelineRuns = field(default_factory=PipelineRuns)
    storage: StorageTime | None = None
    app_storage: AppStorageTime | None = None
    first_view: list[str] = field(default_factory=list)  # image URLs of two consecutive
    second_view: list[str] = field(default_factory=list)  # grid views
    renditions_on_grid: int = 0  # each one a signed display URL
    grid_bytes: int = 0
    setup_seconds: float = 0.0
    logs: list[LogSummary] = field(default_factory=list)

    def p50(self, kind: str) -> float:
        return percentile([s.seconds * 1000 for s in self.samples[kind]], 0.5)

    @property
    def errors(self) -> list[Sample]:
        made = [sample for samples in self.samples.values() for sample in samples]
        return [sample for sample in made if not sample.ok]

    @property
    def urls_stable(self) -> bool:
        return bool(self.first_view) and self.first_view == self.second_view


def seed_grid(app: App, photos: Photos) -> None:
    """GRID_IMAGES uploads through the API, a few at a time; the link image is one of them."""

    def one(index: int) -> Response:
        data = photos.seeds[index % len(photos.seeds)]
        return upload_file(app, data, f"seed-{index:02d}.jpg")

    with ThreadPoolExecutor(SEED_CLIENTS) as pool:
        answers = list(pool.map(one, range(GRID_IMAGES)))
    for answer in answers:
        if answer.status != 201 or answer.json()["status"] != "ready":
            raise WebBenchError(f"seeding: upload answered {answer.status} {excerpt(answer.body)}")
    app.link_image = answers[0].json()["id"]


def two_grid_views(app: App, result: ModeResult) -> None:
    """Image URLs of two consecutive views, both inside one display-URL time bucket."""
    for _ in range(2):  # a second try if a bucket boundary fell between the views
        views = []
        for _ in range(2):
            response = fetch(f"{app.base_url}/", opener=app.session)
            views.append(response.body.decode() if response.status == 200 else "")
        result.first_view, result.second_view = (grid_urls(view) for view in views)
        result.renditions_on_grid = len(COPY_BUTTON.findall(views[0]))
        result.grid_bytes = len(views[0].encode())
        if result.urls_stable:
            return


def measure(app: App, photos: Photos, plan: Plan, result: ModeResult) -> None:
    sequential = (GRID, LIST, LINK)
    for _ in range(plan.warmup_rounds):
        for kind in sequential:
            timed(kind, app, photos)
    two_grid_views(app, result)
    # Interleaved rounds, so that the machine's slow moments fall on every kind alike.
    result.samples = {kind.name: [] for kind in KINDS}
    for _ in range(plan.rounds):
        for kind in sequential:
            result.samples[kind.name].append(timed(kind, app, photos)[0])
    for kind in (GRID, LIST):
        result.throughput[kind.name] = concurrently(kind, app, photos, plan.concurrent_per_client)
    # Last, so that the grid and the list showed only the seeded images.
    for _ in range(plan.upload_warmups):
        timed(UPLOAD, app, photos)
    for _ in range(plan.uploads):
        result.pipeline.run(photos.big)
        result.samples[UPLOAD.name].append(timed(UPLOAD, app, photos)[0])


def run_mode(
    mode: Mode,
    env: dict[str, str],
    database_choice: str,
    work: Path,
    photos: Photos,
    plan: Plan,
    measure_storage: Callable[[], StorageTime],
    files: list[bytes],
) -> ModeResult:
    began = time.monotonic()
    with database(database_choice) as (database_url, database_label):
        if database_url:
            env = {**env, "DATABASE_URL": database_url}
        password = secrets.token_urlsafe(24)
        token = prepare_app(env, password)
        port = free_port()
        base_url = f"http://127.0.0.1:{port}"
        log = work / f"gunicorn-{mode.name}.log"
        result = ModeResult(mode, database_label)
        server = start_gunicorn(env, port, log)
        try:
            wait_healthy(base_url, server, log)
            app = App(mode, base_url, token, browser_session(base_url, password))
            seed_grid(app, photos)
            result.setup_seconds = time.monotonic() - began
            measure(app, photos, plan, result)
        finally:
            stop_process(server)
            result.logs.append(summarise_log(log))
        # With the app stopped, so that the writes have the machine to themselves.
        result.storage = measure_storage()
        result.app_storage = time_app_storage(env, files, work / "probe", plan.storage_runs)
    return result


# --- the report -----------------------------------------------------------------------------


def latency_line(result: ModeResult, kind: Kind) -> str:
    samples = result.samples[kind.name]
    ms = [sample.seconds * 1000 for sample in samples]
    errors = sum(not sample.ok for sample in samples)
    one_client = len(samples) / sum(sample.seconds for sample in samples)
    line = (
        f"  {kind.name:<7} {len(samples):>4} {errors:>6} {percentile(ms, 0.5):>8.0f}"
        f" {percentile(ms, 0.95):>8.0f} {one_client:>9.1f}"
    )
    if throughput := result.throughput.get(kind.name):
        line += f" {throughput.per_second:>10.1f}"
        if throughput.errors:
            line += f" ({throughput.errors} errors of {throughput.requests})"
    else:
        line += f" {'-':>10}"
    return line


def print_mode(result: ModeResult) -> None:
    print(f"{result.mode.name}: {result.mode.description}; {result.database}")
    print(
        f"  {'kind':<7} {'n':>4} {'errors':>6} {'p50 ms':>8} {'p95 ms':>8}"
        f" {'1-client':>9} {f'{CONCURRENT_CLIENTS}-client':>10}   (requests/s)"
    )
    for kind in KINDS:
        print(latency_line(result, kind))
    problems = Counter(f"{s.kind} -> {s.status}: {s.problem}" for s in result.errors)
    for problem, count in problems.most_common(5):
        print(f"  error ({count}x): {problem}")
    for log in result.logs:
        if log.problems:
            print(f"  {log.name}: {len(log.problems)} problem lines, first: {log.problems[0]}")
    print(
        f"  grid page {result.grid_bytes / 1e3:.0f} KB with {len(set(result.first_view))}"
        " distinct image URLs;"
        f" setup {result.setup_seconds:.0f} s (database, migrations, user, 60 uploads)"
    )


def url_stability(result: ModeResult) -> str:
    first, second = set(result.first_view), set(result.second_view)
    if not first:
        return "no (the grid page did not answer)"
    verdict = "yes" if result.urls_stable else "no"
    return (
        f"{verdict} ({len(first)} distinct URLs in the first view, {len(second)} in the second,"
        f" {len(first | second)} across both)"
    )


@dataclass(frozen=True)
class Check:
    text: str
    ok: bool


def upload_check(result: ModeResult) -> Check:
    assert result.storage is not None
    pipeline_ms = result.pipeline.medians().total_ms
    budget = pipeline_ms + result.storage.writes_ms
    p50 = result.p50(UPLOAD.name)
    return Check(
        f"{result.mode.name} upload p50 {p50:.0f} ms <= {MAX_UPLOAD_RATIO}x"
        f" (pipeline {pipeline_ms:.0f} + writes {result.storage.writes_ms:.0f}"
        f" = {budget:.0f} ms) = {MAX_UPLOAD_RATIO * budget:.0f} ms ({p50 / budget:.2f}x)",
        p50 <= MAX_UPLOAD_RATIO * budget,
    )


def print_upload_budget(results: list[ModeResult], photos: Photos, files: list[bytes]) -> None:
    sizes = " + ".join(f"{len(data) / 1e3:.0f} KB" for data in files)
    print(
        f"Upload budget, 12 MP JPEG of {len(photos.big) / 1e6:.1f} MB (stored: {sizes}),"
        " medians in this process:"
    )
    width = max(len(result.mode.name) for result in results)
    for result in results:
        times, storage, app_storage = result.pipeline.medians(), result.storage, result.app_storage
        assert storage is not None and app_storage is not None
        runs = len(result.pipeline.seconds["render"])
        print(
            f"  {result.mode.name:<{width}}  pipeline {times.total_ms:.0f} ms = inspect"
            f" {times.inspect_ms:.0f} + clean_original {times.clean_ms:.0f} + render"
            f" {times.render_ms:.0f} ({' and '.join(map(str, TIER_HEIGHTS))} px; {runs} runs,"
            " each just before an upload)"
        )
        indent = " " * (width + 4)
        print(
            f"{indent}writes {storage.writes_ms:.0f} ms ({storage.how});"
            f" through the app's default_storage.save {app_storage.writes_ms:.0f} ms"
        )
        print(
            f"{indent}reading the original back, as a worker's render does (an upload"
            " rendering in the request uses the bytes it has):"
            f" {storage.read_ms:.0f} ms bare, {app_storage.read_ms:.0f} ms through"
            " default_storage.open"
        )


def print_report(
    results: list[ModeResult], signing_ms: float, photos: Photos, files: list[bytes]
) -> list[Check]:
    for result in results:
        print_mode(result)
        print()
    embedded, cloudfront = results
    ratios = ", ".join(
        f"{kind.name} {cloudfront.p50(kind.name) / embedded.p50(kind.name):.2f}" for kind in KINDS
    )
    print(f"p50 ratios, cloudfront / embedded: {ratios}")
    print("grid URLs stable across two views:")
    for result in results:
        print(f"  {result.mode.name}: {url_stability(result)}")
    signed = cloudfront.renditions_on_grid
    print(
        f"CloudFront signing, in this process: {signing_ms:.2f} ms per URL; the grid page has"
        f" {signed} renditions, each with a signed display URL: ~{signed * signing_ms:.0f} ms"
        " per view if none is reused"
    )
    print()
    print_upload_budget(results, photos, files)
    print()

    grid_ratio = cloudfront.p50(GRID.name) / embedded.p50(GRID.name)
    checks = [
        Check(
            f"cloudfront grid p50 {cloudfront.p50(GRID.name):.0f} ms <= {MAX_GRID_RATIO}x"
            f" embedded grid p50 {embedded.p50(GRID.name):.0f} ms ({grid_ratio:.2f}x)",
            grid_ratio <= MAX_GRID_RATIO,
        ),
        *(upload_check(result) for result in results),
    ]
    for result in results:
        errors = len(result.errors) + sum(t.errors for t in result.throughput.values())
        checks.append(Check(f"{result.mode.name}: {errors} request errors (target 0)", not errors))
    print("Targets")
    for check in checks:
        print(f"  {'PASS' if check.ok else 'FAIL'}  {check.text}")
    return checks


def code_state() -> str:
    """The commit measured and whether the working tree differs: the code may be mid-change."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
        changed = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=ROOT,
            capture_output=True,
            text=True,
        ).stdout.split("\n")
    except OSError:
        return "code: unknown (no git)"
    files = [line[3:] for line in changed if line.strip()]
    return f"code: {commit or 'unknown'}" + (f" + changes to {', '.join(files)}" if files else "")


# --- putting it together ---------------------------------------------------------------------


def database_choice() -> str:
    if postgres.find_bin_dir() is None:
        print("note: PostgreSQL is not installed here; both modes run on SQLite instead.")
        return "sqlite"
    return "postgres"


def run(
    work: Path, photos: Photos, plan: Plan, key: rsa.RSAPrivateKey, files: list[bytes]
) -> list[ModeResult]:
    choice = database_choice()
    env = base_environment(work)
    must_manage(env, "collectstatic", "--noinput")  # DEBUG off serves the manifest's names
    embedded = Mode("embedded", "local files, links signed and served by the app", "/files/")
    results = [
        run_mode(
            embedded,
            env,
            choice,
            work,
            photos,
            plan,
            lambda: time_local_storage(files, work / "scratch", plan.storage_runs),
            files,
        )
    ]
    key_file = work / "cloudfront.pem"
    write_private_key(key, key_file)
    with moto_server(work) as (endpoint_url, client, moto_log):
        cloudfront = Mode(
            "cloudfront",
            f"S3 on moto at {endpoint_url}, CloudFront signed URLs for {CDN_DOMAIN}",
            f"https://{CDN_DOMAIN}/",
        )
        result = run_mode(
            cloudfront,
            {**env, **cloudfront_environment(endpoint_url, key_file)},
            choice,
            work,
            photos,
            plan,
            lambda: time_s3_storage(files, client, plan.storage_runs),
            files,
        )
        result.logs.append(summarise_log(moto_log))
        results.append(result)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer samples, for a quick look")
    plan = Plan.choose(parser.parse_args(argv).quick)
    # SIGTERM unwinds like Ctrl-C, so the finally blocks stop gunicorn, moto and PostgreSQL.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    began = time.monotonic()
    photos = make_photos()
    # A warm-up of the pipeline (plugins imported), which also makes the files it stores.
    files = PipelineRuns().run(photos.big)
    key = make_cloudfront_key()
    signing_ms = signature_ms(key)
    print(
        f"SmallImage web benchmark: gunicorn 2 workers x 4 threads on 127.0.0.1,"
        f" DJANGO_DEBUG=0, {os.cpu_count()} CPUs; {GRID_IMAGES} images on the grid;"
        f" {plan.rounds} sequential samples of grid/list/link after {plan.warmup_rounds}"
        f" warm-up rounds, {CONCURRENT_CLIENTS} clients x {plan.concurrent_per_client} for"
        f" requests/s, {plan.uploads} uploads of {BIG_SIZE[0]}x{BIG_SIZE[1]}"
    )
    print(code_state())
    print()
    try:
        with tempfile.TemporaryDirectory(prefix="smallimage-web-") as directory:
            results = run(Path(directory), photos, plan, key, files)
    # tests/postgres.py reports a server that will not start as a pytest.UsageError.
    except (LoadError, pytest.UsageError, subprocess.TimeoutExpired) as error:
        print(f"FAIL: {error}")
        return 1
    checks = print_report(results, signing_ms, photos, files)
    for result in results:
        for log in result.logs:
            if log.problems:
                print(f"--- last lines of {log.name} ({result.mode.name}) ---", *log.tail, sep="\n")
    print(f"\ntotal {time.monotonic() - began:.0f} s")
    return 0 if all(check.ok for check in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
