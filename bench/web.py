"""Web benchmark: the embedded default beside S3 + CloudFront, under gunicorn on loopback.

    .venv/bin/python bench/web.py           # 30 samples per request kind, 8 uploads
    .venv/bin/python bench/web.py --quick   # 12 samples, 4 uploads, for a quick look

Per mode: its own database, user and 60-image grid; one client times the grid page, the
API list and an expiring link, 4 clients give requests/s, then 12 MP uploads are timed.
Targets: the cloudfront grid p50 at most 1.3x the embedded one; per mode, the upload p50
at most 1.5x (the pipeline's own time + bare storage writes); no request errors. Exit
status 1 on any FAIL. How it measures: bench/README.md.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import functools
import gc
import html
import os
import re
import secrets
import statistics
import sys
import tempfile
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
import harness as h
from botocore.config import Config
from botocore.exceptions import ClientError
from botocore.signers import CloudFrontSigner
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from harness import MAX_PIXELS, TIER_HEIGHTS

from gallery import originals, pipeline

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
USERNAME = "webbench"

CDN_DOMAIN = "cdn.smallimage.test"
CLOUDFRONT_KEY_ID = "K2JCJMDEHXQW5F"
BUCKET = "smallimage-web"
# Storage writes are timed in a bucket of their own, so the app's holds only its files.
SCRATCH_BUCKET = "smallimage-web-scratch"
AWS_REGION = "us-east-1"
AWS_CREDENTIAL = "testing"
# Django's File.chunks() size. It matters: on ext4 here one 4 MB write() takes
# ~11 ms and the same bytes in 64 KiB writes ~1.5 ms.
CHUNK_SIZE = 64 * 2**10


@dataclass(frozen=True)
class Plan:
    """How many requests of each kind."""

    warmup_rounds: int  # several, so both gunicorn workers have served each kind
    rounds: int  # sequential rounds of grid, list and link
    concurrent_per_client: int
    upload_warmups: int
    uploads: int
    storage_runs: int


PLANS = {False: Plan(5, 30, 10, 2, 8, 7), True: Plan(3, 12, 4, 1, 4, 3)}  # by --quick


@dataclass(frozen=True)
class Photos:
    seeds: list[bytes]
    big: bytes


# --- the pipeline's own time and the storage writes, in this process ----------------------------


@dataclass
class PipelineRuns:
    """What ``services.image_upload`` and the render it runs do to the bytes, run by run."""

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

    def median_ms(self, name: str | None = None) -> float:
        """One step's median, or the sum of the steps' medians."""
        names = [name] if name else list(self.seconds)
        return sum(statistics.median(self.seconds[n]) * 1000 for n in names)


@dataclass(frozen=True)
class StorageTime:
    writes_ms: float  # the original and the thumbnails, each checked for then written
    read_ms: float  # the original read back, as a worker's render does (not in the target)
    how: str = "through the app's default_storage"


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

    writes = h.median_ms(write, runs)
    read = h.median_ms(lambda run: (directory / "0-0.jpg").read_bytes(), runs)
    return StorageTime(writes, read, "files in a temporary directory")


def time_s3_storage(files: list[bytes], client: Any, runs: int) -> StorageTime:
    """What django-storages' save does per object without overwriting: HEAD (404), then PUT."""

    def write(run: int) -> None:
        for index, data in enumerate(files):
            key = f"scratch/{run}-{index}.jpg"
            with contextlib.suppress(ClientError):
                client.head_object(Bucket=SCRATCH_BUCKET, Key=key)
            client.put_object(Bucket=SCRATCH_BUCKET, Key=key, Body=data, ContentType="image/jpeg")

    writes = h.median_ms(write, runs)
    read = h.median_ms(
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
) -> StorageTime:
    """Not in the target, which takes the bare writes: the difference is what the
    storage library adds (django-storages goes through boto3's transfer manager)."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = [directory / f"probe-{index}.jpg" for index in range(len(files))]
    for path, data in zip(paths, files, strict=True):
        path.write_bytes(data)
    listed = os.pathsep.join(map(str, paths))
    seconds = h.shell(env, STORAGE_PROBE, WEB_FILES=listed, WEB_RUNS=str(runs))
    return StorageTime(seconds["writes"] * 1000, seconds["read"] * 1000)


# --- CloudFront: a key pair, a moto server, and the cost of one signature ----------------------


def write_private_key(key: rsa.RSAPrivateKey, path: Path) -> None:
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    path.write_bytes(pem)
    path.chmod(0o600)


def signature_ms(key: rsa.RSAPrivateKey, count: int = 200) -> float:
    """One CloudFront signed URL, made the way django-storages makes it, in ms."""
    signer = CloudFrontSigner(
        CLOUDFRONT_KEY_ID,
        lambda message: key.sign(message, padding.PKCS1v15(), hashes.SHA1()),  # noqa: S303  (CloudFront's canned-policy signatures are RSA-SHA1)
    )
    expires = datetime.datetime.now(datetime.UTC) + datetime.timedelta(hours=1)
    url = f"https://{CDN_DOMAIN}/thumbnails/{{}}.jpg"

    def sign(run: int) -> None:
        for index in range(count):
            signer.generate_presigned_url(url.format(index), date_less_than=expires)

    return h.median_ms(sign, 3) / count


@contextlib.contextmanager
def moto_server(work: Path) -> Iterator[tuple[str, Any, Path]]:
    """A moto S3 server in its own process (its own GIL, like a real S3 elsewhere).

    Yields its URL, a boto3 client and its log; the app's bucket and the scratch one exist.
    """
    port = h.free_port()
    log = work / "moto.log"
    env = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    command = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    process = h.start_process(command, env, log)
    try:
        endpoint_url = f"http://127.0.0.1:{port}"
        h.wait_answering(endpoint_url, process, log)
        # Credentials given here, never looked up: the run must not reach a real account.
        session = boto3.session.Session(
            aws_access_key_id=AWS_CREDENTIAL,
            aws_secret_access_key=AWS_CREDENTIAL,
            region_name=AWS_REGION,
        )
        client = session.client(
            "s3", endpoint_url=endpoint_url, config=Config(s3={"addressing_style": "path"})
        )
        for bucket in (BUCKET, SCRATCH_BUCKET):
            client.create_bucket(Bucket=bucket)
        yield endpoint_url, client, log
    finally:
        h.stop_process(process)


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


# --- the app as its clients see it -------------------------------------------------------------


class _AcceptHtml(urllib.request.BaseHandler):
    """Ask for HTML as a browser does: fetch asks for JSON, and allauth's login page
    answers in whichever the client accepts."""

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
        h.NoRedirect,
        _AcceptHtml,
    )
    form = h.fetch(f"{base_url}/accounts/login/", opener=opener)
    match = CSRF_FIELD.search(form.body.decode())
    if form.status != 200 or not match:
        raise h.BenchError(f"login page answered {form.status} {h.excerpt(form.body)}")
    body = urllib.parse.urlencode(
        {"login": USERNAME, "password": password, "csrfmiddlewaretoken": match.group(1)}
    ).encode()
    answer = h.fetch(
        f"{base_url}/accounts/login/",
        method="POST",
        body=body,
        content_type="application/x-www-form-urlencoded",
        opener=opener,
    )
    if answer.status != 302 or not any(cookie.name == "sessionid" for cookie in jar):
        raise h.BenchError(f"login answered {answer.status} {h.excerpt(answer.body)}")
    return opener


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


def check_grid(app: App, response: h.Response) -> str | None:
    page = response.body.decode()
    if (cards := len(CARD.findall(page))) != GRID_IMAGES:
        return f"{cards} cards on the grid page, expected {GRID_IMAGES}"
    urls = grid_urls(page)
    if not urls or not all(url.startswith(app.mode.url_prefix) for url in urls):
        return f"image URLs do not start with {app.mode.url_prefix}: {urls[:1]}"
    return None


def check_list(app: App, response: h.Response) -> str | None:
    results = response.json()["results"]
    return None if len(results) == GRID_IMAGES else f"{len(results)} images listed"


def check_link(app: App, response: h.Response) -> str | None:
    url, prefix = response.json()["url"], app.mode.url_prefix
    expected = prefix if prefix.startswith("https://") else f"{app.base_url}{prefix}"
    return None if url.startswith(expected) else f"link {url} does not start with {expected}"


def check_upload(app: App, response: h.Response) -> str | None:
    image = response.json()
    return None if image["status"] == "ready" else f"uploaded image is {image['status']}"


def grid(app: App, photos: Photos) -> h.Response:
    return h.fetch(f"{app.base_url}/", opener=app.session)


def api_list(app: App, photos: Photos) -> h.Response:
    return h.fetch(f"{app.base_url}/api/v1/images/?page_size={GRID_IMAGES}", token=app.token)


def link(app: App, photos: Photos) -> h.Response:
    return h.fetch(
        f"{app.base_url}/api/v1/images/{app.link_image}/links/",
        method="POST",
        token=app.token,
        payload=LINK_REQUEST,
    )


def upload_big(app: App, photos: Photos) -> h.Response:
    return h.upload(app.base_url, app.token, photos.big, "twelve-megapixels.jpg", "image/jpeg")


@dataclass(frozen=True)
class Kind:
    name: str
    call: Callable[[App, Photos], h.Response]
    status: int
    check: Callable[[App, h.Response], str | None]

    def timed(self, app: App, photos: Photos) -> h.Sample:
        return h.timed(
            self.name, lambda: self.call(app, photos), self.status, lambda r: self.check(app, r)
        )


GRID = Kind("grid", grid, 200, check_grid)
LIST = Kind("list", api_list, 200, check_list)
UPLOAD = Kind("upload", upload_big, 201, check_upload)
LINK = Kind("link", link, 201, check_link)
KINDS = (GRID, LIST, UPLOAD, LINK)


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
    samples: list[h.Sample] = []  # list.append is atomic under the GIL

    def client() -> None:
        for _ in range(per_client):
            samples.append(kind.timed(app, photos))

    seconds = h.released_together([client] * CONCURRENT_CLIENTS)
    return Throughput(len(samples), sum(not sample.ok for sample in samples), seconds)


# --- one mode, start to end --------------------------------------------------------------------


@dataclass
class ModeResult:
    mode: Mode
    database: str
    samples: dict[str, list[h.Sample]] = field(default_factory=dict)
    throughput: dict[str, Throughput] = field(default_factory=dict)
    pipeline: PipelineRuns = field(default_factory=PipelineRuns)
    storage: StorageTime | None = None
    app_storage: StorageTime | None = None
    first_view: list[str] = field(default_factory=list)  # image URLs of two consecutive
    second_view: list[str] = field(default_factory=list)  # grid views
    renditions_on_grid: int = 0  # each one a signed display URL
    grid_bytes: int = 0
    setup_seconds: float = 0.0
    logs: list[h.LogSummary] = field(default_factory=list)

    def p50(self, kind: Kind) -> float:
        return h.percentile([s.seconds * 1000 for s in self.samples[kind.name]], 0.5)

    @property
    def errors(self) -> list[h.Sample]:
        return [sample for samples in self.samples.values() for sample in samples if not sample.ok]

    @property
    def urls_stable(self) -> bool:
        return bool(self.first_view) and self.first_view == self.second_view


def seed_grid(app: App, photos: Photos) -> None:
    """GRID_IMAGES uploads through the API, a few at a time; the link image is one of them."""

    def one(index: int) -> h.Response:
        data = photos.seeds[index % len(photos.seeds)]
        return h.upload(app.base_url, app.token, data, f"seed-{index:02d}.jpg", "image/jpeg")

    with ThreadPoolExecutor(SEED_CLIENTS) as pool:
        answers = list(pool.map(one, range(GRID_IMAGES)))
    for answer in answers:
        if answer.status != 201 or answer.json()["status"] != "ready":
            raise h.BenchError(f"seeding: upload answered {answer.status} {h.excerpt(answer.body)}")
    app.link_image = answers[0].json()["id"]


def two_grid_views(app: App, result: ModeResult) -> None:
    """Image URLs of two consecutive views, both inside one display-URL time bucket."""
    for _ in range(2):  # a second try if a bucket boundary fell between the views
        views = []
        for _ in range(2):
            response = h.fetch(f"{app.base_url}/", opener=app.session)
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
            kind.timed(app, photos)
    two_grid_views(app, result)
    # Interleaved rounds, so that the machine's slow moments fall on every kind alike.
    result.samples = {kind.name: [] for kind in KINDS}
    for _ in range(plan.rounds):
        for kind in sequential:
            result.samples[kind.name].append(kind.timed(app, photos))
    for kind in (GRID, LIST):
        result.throughput[kind.name] = concurrently(kind, app, photos, plan.concurrent_per_client)
    # Last, so that the grid and the list showed only the seeded images. Each upload
    # just after a pipeline run, so both meet the machine in the same state.
    for _ in range(plan.upload_warmups):
        UPLOAD.timed(app, photos)
    for _ in range(plan.uploads):
        result.pipeline.run(photos.big)
        result.samples[UPLOAD.name].append(UPLOAD.timed(app, photos))


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
    with h.database(database_choice) as (database_url, database_label):
        if database_url:
            env = {**env, "DATABASE_URL": database_url}
        password = secrets.token_urlsafe(24)
        token = h.prepare_app(env, [USERNAME], password)[USERNAME]
        log = work / f"gunicorn-{mode.name}.log"
        result = ModeResult(mode, database_label)
        try:
            with h.gunicorn(env, log) as server:
                app = App(mode, server.base_url, token, browser_session(server.base_url, password))
                seed_grid(app, photos)
                result.setup_seconds = time.monotonic() - began
                measure(app, photos, plan, result)
        finally:
            result.logs.append(h.summarise_log(log))
        # With the app stopped, so that the writes have the machine to themselves.
        result.storage = measure_storage()
        result.app_storage = time_app_storage(env, files, work / "probe", plan.storage_runs)
    return result


# --- the report --------------------------------------------------------------------------------


def print_mode(result: ModeResult) -> None:
    print(f"{result.mode.name}: {result.mode.description}; {result.database}")
    rows = []
    for kind in KINDS:
        samples = result.samples[kind.name]
        one_client = len(samples) / sum(sample.seconds for sample in samples)
        row = [kind.name, *h.latency_cells(samples), f"{one_client:.1f}", "-"]
        if throughput := result.throughput.get(kind.name):
            row[-1] = f"{throughput.per_second:.1f}"
            if throughput.errors:
                row[-1] += f" ({throughput.errors} errors of {throughput.requests})"
        rows.append(row)
    header = ["kind", "n", "errors", "p50 ms", "p95 ms", "1-client", f"{CONCURRENT_CLIENTS}-client"]
    h.print_table(header, rows)
    print("  (1-client and 4-client: requests/s)")
    problems = Counter(f"{s.kind} -> {s.status}: {s.problem}" for s in result.errors)
    for problem, count in problems.most_common(5):
        print(f"  error ({count}x): {problem}")
    h.print_log_problems(result.logs, indent="  ")
    print(
        f"  grid page {result.grid_bytes / 1e3:.0f} KB with {len(set(result.first_view))}"
        " distinct image URLs;"
        f" setup {result.setup_seconds:.0f} s (database, migrations, user, 60 uploads)"
    )


def url_stability(result: ModeResult) -> str:
    first, second = set(result.first_view), set(result.second_view)
    if not first:
        return "no (the grid page did not answer)"
    return (
        f"{'yes' if result.urls_stable else 'no'} ({len(first)} distinct URLs in the first view,"
        f" {len(second)} in the second, {len(first | second)} across both)"
    )


def upload_check(result: ModeResult) -> h.Check:
    assert result.storage is not None
    pipeline_ms = result.pipeline.median_ms()
    budget = pipeline_ms + result.storage.writes_ms
    p50 = result.p50(UPLOAD)
    return h.Check(
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
        runs, storage, app_storage = result.pipeline, result.storage, result.app_storage
        assert storage is not None and app_storage is not None
        print(
            f"  {result.mode.name:<{width}}  pipeline {runs.median_ms():.0f} ms = inspect"
            f" {runs.median_ms('inspect'):.0f} + clean_original {runs.median_ms('clean'):.0f}"
            f" + render {runs.median_ms('render'):.0f} ({' and '.join(map(str, TIER_HEIGHTS))}"
            f" px; {len(runs.seconds['render'])} runs, each just before an upload)"
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
) -> bool:
    for result in results:
        print_mode(result)
        print()
    embedded, cloudfront = results
    ratios = ", ".join(f"{k.name} {cloudfront.p50(k) / embedded.p50(k):.2f}" for k in KINDS)
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

    grid_ratio = cloudfront.p50(GRID) / embedded.p50(GRID)
    checks = [
        h.Check(
            f"cloudfront grid p50 {cloudfront.p50(GRID):.0f} ms <= {MAX_GRID_RATIO}x"
            f" embedded grid p50 {embedded.p50(GRID):.0f} ms ({grid_ratio:.2f}x)",
            grid_ratio <= MAX_GRID_RATIO,
        ),
        *(upload_check(result) for result in results),
    ]
    for result in results:
        errors = len(result.errors) + sum(t.errors for t in result.throughput.values())
        checks.append(
            h.Check(f"{result.mode.name}: {errors} request errors (target 0)", not errors)
        )
    return h.print_checks(checks)


# --- putting it together -----------------------------------------------------------------------


def run(
    work: Path, photos: Photos, plan: Plan, key: rsa.RSAPrivateKey, files: list[bytes]
) -> list[ModeResult]:
    choice = h.database_choice("postgres", note="both modes run on SQLite instead")
    env = h.app_environment(work / "var")
    # DEBUG off serves the manifest's names; 60 cards on the grid page.
    env.update(DJANGO_STATIC_ROOT=str(work / "static"), SMALLIMAGE_IMAGES_PER_PAGE=str(GRID_IMAGES))
    h.manage(env, "collectstatic", "--noinput")
    embedded = Mode("embedded", "local files, links signed and served by the app", "/files/")
    local = functools.partial(time_local_storage, files, work / "scratch", plan.storage_runs)
    results = [run_mode(embedded, env, choice, work, photos, plan, local, files)]
    key_file = work / "cloudfront.pem"
    write_private_key(key, key_file)
    with moto_server(work) as (endpoint_url, client, moto_log):
        cloudfront = Mode(
            "cloudfront",
            f"S3 on moto at {endpoint_url}, CloudFront signed URLs for {CDN_DOMAIN}",
            f"https://{CDN_DOMAIN}/",
        )
        env = {**env, **cloudfront_environment(endpoint_url, key_file)}
        s3 = functools.partial(time_s3_storage, files, client, plan.storage_runs)
        result = run_mode(cloudfront, env, choice, work, photos, plan, s3, files)
        result.logs.append(h.summarise_log(moto_log))
        results.append(result)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer samples, for a quick look")
    plan = PLANS[parser.parse_args(argv).quick]
    h.exit_on_sigterm()

    began = time.monotonic()
    photos = Photos(
        [
            h.encoded(h.photo_like(*SEED_SIZE, seed=seed), "JPEG", quality=JPEG_QUALITY)
            for seed in SEED_PHOTOS
        ],
        h.encoded(h.photograph(*BIG_SIZE, seed=BIG_SEED), "JPEG", quality=JPEG_QUALITY),
    )
    # A warm-up of the pipeline (plugins imported), which also makes the files it stores.
    files = PipelineRuns().run(photos.big)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    signing_ms = signature_ms(key)
    print(
        f"SmallImage web benchmark: gunicorn 2 workers x 4 threads on 127.0.0.1,"
        f" DJANGO_DEBUG=0, {os.cpu_count()} CPUs; {GRID_IMAGES} images on the grid;"
        f" {plan.rounds} sequential samples of grid/list/link after {plan.warmup_rounds}"
        f" warm-up rounds, {CONCURRENT_CLIENTS} clients x {plan.concurrent_per_client} for"
        f" requests/s, {plan.uploads} uploads of {BIG_SIZE[0]}x{BIG_SIZE[1]}"
    )
    print(h.code_state())
    print()
    try:
        with tempfile.TemporaryDirectory(prefix="smallimage-web-") as directory:
            results = run(Path(directory), photos, plan, key, files)
    except h.RUN_FAILURES as error:
        print(f"FAIL: {error}")
        return 1
    passed = print_report(results, signing_ms, photos, files)
    for result in results:
        for log in result.logs:
            if log.problems:
                print(f"--- last lines of {log.name} ({result.mode.name}) ---", *log.tail, sep="\n")
    print(f"\ntotal {time.monotonic() - began:.0f} s")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
