"""Load test of the token API under gunicorn: concurrent uploads, lists and links.

    .venv/bin/python bench/load.py                     # 8 clients x 40 requests, PostgreSQL
    .venv/bin/python bench/load.py --worker            # thumbnails rendered by a db_worker
    .venv/bin/python bench/load.py --database sqlite   # the embedded SQLite default

Targets: no request errors, no image lost, every image ready, the links checked deliver
an image, ``gallery_check --grace 0`` clean; exit status 1 on FAIL. See bench/README.md.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import os
import random
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import harness as h

PHOTO_SIZE = (1600, 1200)
PHOTO_SEEDS = (1, 2, 3)
PHOTO_QUALITY = 90
# Cumulative shares of the mix: below 0.3 upload, below 0.7 list, else link.
UPLOAD_SHARE = 0.3
LIST_SHARE = 0.4
LIST_PAGE_SIZE = 24
RENDITIONS = ("200", "400", "original")
EXPIRES_IN = (300, 30000)
KINDS = ("upload", "list", "link")
GUNICORN_WORKERS = 2
GUNICORN_THREADS = 4
READY_TIMEOUT = 60


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
    samples: list[h.Sample] = field(default_factory=list)
    links_to_original_instead: int = 0

    def remember(self, image: dict[str, Any]) -> None:
        self.renditions[image["id"]] = {link["rendition"] for link in image["links"]}

    def upload(self, photos: list[bytes]) -> h.Sample:
        name, data = f"{self.username}-{len(self.samples) + 1}.jpg", self.rng.choice(photos)

        def keep(response: h.Response) -> None:
            image = response.json()
            self.uploaded.append(image["id"])
            self.remember(image)

        upload = functools.partial(h.upload, self.base_url, self.token, data, name, "image/jpeg")
        return h.timed("upload", upload, 201, keep)

    def list_newest(self) -> h.Sample:
        url = f"{self.base_url}/api/v1/images/?page_size={LIST_PAGE_SIZE}"

        def keep(response: h.Response) -> None:
            for image in response.json()["results"]:
                self.remember(image)

        return h.timed("list", lambda: h.fetch(url, token=self.token), 200, keep)

    def make_link(self) -> h.Sample:
        public_id = self.rng.choice(self.uploaded)
        rendition = self.rng.choice(RENDITIONS)
        expires_in = self.rng.randint(*EXPIRES_IN)
        if rendition not in self.renditions.get(public_id, ()):
            # Not rendered yet as far as this client has seen (only with --worker).
            rendition = "original"
            self.links_to_original_instead += 1
        link = functools.partial(
            h.fetch,
            f"{self.base_url}/api/v1/images/{public_id}/links/",
            method="POST",
            token=self.token,
            payload={"rendition": rendition, "expires_in": expires_in},
        )
        return h.timed(
            "link", link, 201, lambda response: self.expiring_urls.append(response.json()["url"])
        )

    def next_request(self, photos: list[bytes]) -> h.Sample:
        draw = self.rng.random()
        if draw < UPLOAD_SHARE or (draw >= UPLOAD_SHARE + LIST_SHARE and not self.uploaded):
            # A link needs one of the client's own images: until it has one, upload.
            return self.upload(photos)
        if draw < UPLOAD_SHARE + LIST_SHARE:
            return self.list_newest()
        return self.make_link()

    def run(self, photos: list[bytes], count: int, deadline: float) -> None:
        for _ in range(count):
            if time.monotonic() >= deadline:
                return
            self.samples.append(self.next_request(photos))


# --- after the load: nothing lost, links work ------------------------------------------------


def list_all(client: Client) -> list[dict[str, Any]]:
    """Every image of the client, page by page; raises BenchError if the API will not say."""
    images: list[dict[str, Any]] = []
    url: str | None = f"{client.base_url}/api/v1/images/?page_size=100"
    while url:
        try:
            response = h.fetch(url, token=client.token)
        except h.REQUEST_FAILURES as error:
            raise h.BenchError(f"{client.username}: listing failed: {error!r}") from None
        try:
            page = response.json()
            if response.status != 200:
                raise ValueError("not a page")
            images += page["results"]
            url = page["next"]
        except (ValueError, KeyError, TypeError):
            answer = f"{response.status} {h.excerpt(response.body)}"
            raise h.BenchError(f"{client.username}: listing answered {answer}") from None
    if len(images) != page["count"]:
        raise h.BenchError(
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


def settled_inventory(clients: list[Client], timeout: float) -> Inventory:
    """The inventory once every image is rendered (or one failed, or time is up)."""
    began = time.monotonic()
    while True:
        inventory = Inventory()
        for client in clients:
            images = inventory.final[client.username] = list_all(client)
            listed = {image["id"] for image in images}
            inventory.uploaded += len(client.uploaded)
            inventory.listed += len(images)
            inventory.ready += sum(image["status"] == "ready" for image in images)
            inventory.failed += sum(image["status"] == "failed" for image in images)
            inventory.lost += sorted(set(client.uploaded) - listed)
            inventory.unexpected += sorted(listed - set(client.uploaded))
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
        response = h.fetch(url, opener=h.LINK_OPENER)
    except h.REQUEST_FAILURES as error:
        return LinkCheck(what, url, None, f"{type(error).__name__}: {error}")
    return LinkCheck(what, url, response.status, response.content_type)


def check_links(clients: list[Client], inventory: Inventory) -> list[LinkCheck]:
    """One share link (the 200 px one) and one expiring link made under load, per client."""
    checks = []
    for client in clients:
        shares = [
            link["url"]
            for image in inventory.final[client.username]
            for link in image["links"]
            if link["rendition"] == "200"
        ]
        if shares:
            checks.append(check_link(f"{client.username} share 200", shares[0]))
        if client.expiring_urls:
            checks.append(check_link(f"{client.username} expiring", client.expiring_urls[-1]))
    return checks


# --- the run and its report ------------------------------------------------------------------


@dataclass
class Result:
    samples: list[h.Sample]
    planned: int
    wall: float
    inventory: Inventory
    links: list[LinkCheck]
    check_status: int
    check_output: str
    logs: list[h.LogSummary]
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


def run(config: Config, work: Path, database_url: str | None, photos: list[bytes]) -> Result:
    env = h.app_environment(work / "var", tasks=config.tasks)
    if database_url:
        env["DATABASE_URL"] = database_url
    usernames = [f"load{index:02d}" for index in range(config.clients)]
    tokens = h.prepare_app(env, usernames)
    server_log, worker_log = work / "gunicorn.log", work / "worker.log"
    with contextlib.ExitStack() as processes:
        if config.worker:
            command = [sys.executable, "manage.py", "db_worker", "--no-startup-delay"]
            processes.callback(h.stop_process, h.start_process(command, env, worker_log))
        server = processes.enter_context(
            h.gunicorn(env, server_log, workers=GUNICORN_WORKERS, threads=GUNICORN_THREADS)
        )
        clients = [
            Client(name, tokens[name], server.base_url, random.Random(f"{config.seed}-{index}"))
            for index, name in enumerate(usernames)
        ]
        deadline = time.monotonic() + config.max_seconds
        wall = h.released_together(
            [
                functools.partial(c.run, photos, config.requests_per_client, deadline)
                for c in clients
            ]
        )
        inventory = settled_inventory(clients, READY_TIMEOUT)
        links = check_links(clients, inventory)
    # With the app stopped, nothing is in flight: --grace 0 may judge every file.
    check = h.manage(env, "gallery_check", "--grace", "0", check=False)
    return Result(
        samples=[sample for client in clients for sample in client.samples],
        planned=config.clients * config.requests_per_client,
        wall=wall,
        inventory=inventory,
        links=links,
        check_status=check.returncode,
        check_output=check.stdout + check.stderr,
        logs=[h.summarise_log(log) for log in (server_log, worker_log) if log.exists()],
        links_to_original_instead=sum(client.links_to_original_instead for client in clients),
    )


def latency_row(name: str, samples: list[h.Sample]) -> list[str]:
    ms = [sample.seconds * 1000 for sample in samples]
    return [name, *h.latency_cells(samples), f"{max(ms):.0f}" if ms else "-"]


def print_report(config: Config, database_label: str, result: Result) -> None:
    print(
        f"SmallImage load: {config.clients} clients x {config.requests_per_client} requests"
        f" (seed {config.seed}, stop at {config.max_seconds:g} s), {database_label},"
        f" tasks {config.tasks}, {os.cpu_count()} CPUs,"
        f" gunicorn {GUNICORN_WORKERS} workers x {GUNICORN_THREADS} threads"
    )
    h.print_table(
        ["kind", "count", "errors", "p50 ms", "p95 ms", "max ms"],
        [latency_row(k, [s for s in result.samples if s.kind == k]) for k in KINDS]
        + [latency_row("all", result.samples)],
    )
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
    h.print_log_problems(result.logs)
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
    return Config(**vars(args))


def main(argv: list[str] | None = None) -> int:
    config = parse_args(argv)
    h.exit_on_sigterm()
    # Three different photograph-like JPEGs of about 320 KB, made once, up front.
    photos = [
        h.encoded(h.photo_like(*PHOTO_SIZE, seed=seed), "JPEG", quality=PHOTO_QUALITY)
        for seed in PHOTO_SEEDS
    ]
    began = time.monotonic()
    try:
        with (
            tempfile.TemporaryDirectory(prefix="smallimage-load-") as directory,
            h.database(config.database) as (database_url, database_label),
        ):
            result = run(config, Path(directory), database_url, photos)
    except h.RUN_FAILURES as error:
        print(f"FAIL: {error}")
        return 1
    print(h.code_state())
    print_report(config, database_label, result)
    print(f"total {time.monotonic() - began:.0f} s, setup and checks included")
    for log in result.logs:
        if log.problems or not result.passed:
            print(f"--- last lines of {log.name} ---", *log.tail, sep="\n")
    return 0 if result.passed else 1


if __name__ == "__main__":
    sys.exit(main())
