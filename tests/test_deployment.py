"""How SmallImage runs in production: health probe and Django's deployment checks."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
# Set by the test run itself, never in a deployment.
TEST_ONLY_VARIABLES = {"DJANGO_ALLOW_ASYNC_UNSAFE"}


def check_deploy(environment: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in TEST_ONLY_VARIABLES}
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env={**clean, **environment},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.django_db
def test_healthz_reports_database_and_storage(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"database": "ok", "storage": "ok"}
    assert "no-cache" in response["Cache-Control"]


@pytest.mark.django_db
def test_healthz_on_s3(client, s3):
    assert client.get("/healthz").json() == {"database": "ok", "storage": "ok"}


@pytest.mark.django_db
def test_healthz_says_503_when_storage_is_gone(client, s3, settings):
    s3.client.delete_bucket(Bucket=s3.bucket)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json() == {"database": "ok", "storage": "error"}


def test_production_environment_passes_check_deploy(tmp_path):
    result = check_deploy(
        {
            "DJANGO_DEBUG": "0",
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
            "DJANGO_HTTPS": "1",
            "DJANGO_BEHIND_PROXY": "1",
            "DJANGO_ALLOWED_HOSTS": "images.example.com",
            "DJANGO_CSRF_TRUSTED_ORIGINS": "https://images.example.com",
            "SMALLIMAGE_BASE_URL": "https://images.example.com",
            "SMALLIMAGE_VAR_DIR": str(tmp_path),
        }
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_check_deploy_wants_the_public_base_url(tmp_path):
    """Emailed links would point at `make run`'s address without it."""
    result = check_deploy(
        {
            "DJANGO_DEBUG": "0",
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
            "DJANGO_HTTPS": "1",
            "DJANGO_ALLOWED_HOSTS": "images.example.com",
            "SMALLIMAGE_BASE_URL": "",
            "SMALLIMAGE_VAR_DIR": str(tmp_path),
        }
    )
    assert result.returncode != 0
    assert "SMALLIMAGE_BASE_URL must be" in result.stderr


def test_check_deploy_warns_of_the_embedded_base_url(tmp_path):
    environment = {
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "DJANGO_HTTPS": "1",
        "DJANGO_ALLOWED_HOSTS": "images.example.com",
        "SMALLIMAGE_VAR_DIR": str(tmp_path),
    }
    result = check_deploy(environment)
    assert result.returncode != 0
    assert "accounts.W001" in result.stderr + result.stdout


def test_embedded_default_does_fail_check_deploy(tmp_path):
    """The check is not vacuous: plain HTTP with DEBUG on is reported."""
    result = check_deploy(
        {"DJANGO_DEBUG": "1", "DJANGO_SECRET_KEY": "", "SMALLIMAGE_VAR_DIR": str(tmp_path)}
    )
    assert result.returncode != 0
    assert "SECURE_SSL_REDIRECT" in result.stderr + result.stdout


def test_compose_publishes_storage_and_database_on_loopback_only():
    """MinIO's API and console accept its root credentials: not for the whole network."""
    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    minio_ports = services["minio"]["ports"]
    assert sorted(port.split(":", 1)[1] for port in minio_ports) == ["9000:9000", "9001:9001"]
    assert all(port.startswith("127.0.0.1:") for port in minio_ports), minio_ports
    assert "ports" not in services["db"]


@pytest.mark.django_db
def test_healthz_says_503_when_local_storage_is_not_writable(client, settings):
    settings.MEDIA_ROOT.parent.mkdir(parents=True, exist_ok=True)
    settings.MEDIA_ROOT.write_text("a file where the media folder should be")
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["storage"] == "error"


# Uploads an image through the service, then lists the mode of everything in var/
# while the database connection (and so SQLite's -wal and -shm files) is open.
UPLOAD_AND_LIST_MODES = """
import io, json, stat
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image
from accounts.models import User
from gallery import services
jpeg = io.BytesIO()
Image.new("RGB", (640, 480), "steelblue").save(jpeg, "JPEG")
owner = User.objects.create_user("owner", password="correct horse battery staple")
services.image_upload(owner=owner, file=SimpleUploadedFile("a.jpg", jpeg.getvalue(), "image/jpeg"))
var = settings.VAR_DIR
modes = {str(p.relative_to(var)): [p.is_dir(), stat.S_IMODE(p.stat().st_mode)]
         for p in [var, *var.rglob("*")]}
print(json.dumps(modes))
"""


def test_embedded_default_keeps_var_private(tmp_path):
    """Database (with -wal and -shm), secret key and media: the app user's alone."""
    foreign = ("DATABASE_URL", "POSTGRES_", "AWS_", "SMALLIMAGE_MEDIA_ROOT", "DJANGO_SECRET_KEY")
    clean = {k: v for k, v in os.environ.items() if not k.startswith(foreign)}
    environment = {**clean, "DJANGO_DEBUG": "1", "SMALLIMAGE_VAR_DIR": str(tmp_path / "var")}

    def manage(*args: str) -> str:
        # The usual umask, so that only the app's own modes can make files private.
        result = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=environment,
            capture_output=True,
            text=True,
            timeout=300,
            umask=0o022,
        )
        assert result.returncode == 0, result.stderr[-3000:]
        return result.stdout

    manage("migrate", "--noinput")
    modes = json.loads(manage("shell", "-c", UPLOAD_AND_LIST_MODES).strip().splitlines()[-1])

    assert {"secret-key", "db.sqlite3", "db.sqlite3-wal", "db.sqlite3-shm"} <= modes.keys()
    media = [name for name in modes if name.startswith("media/")]
    assert any(name.startswith("media/originals/") for name in media), modes
    assert any(name.startswith("media/thumbnails/") for name in media), modes
    for name, (directory, mode) in modes.items():
        expected = 0o700 if directory else 0o600
        assert mode == expected, f"var/{name} is {mode:o}, not {expected:o}"


def dockerfile_collectstatic() -> str:
    """The shell command the image build collects static files with, from the Dockerfile."""
    dockerfile = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    run = next(line for line in dockerfile.splitlines() if "collectstatic" in line)
    return run.removeprefix("RUN ").split("&&")[0]


def test_static_files_collect_for_production(tmp_path):
    """The Dockerfile's own command, which settings must accept without DEBUG or a given key.

    Hashed, compressed static files: the manifest storage refuses a dangling reference.
    """
    clean = {
        k: v
        for k, v in os.environ.items()
        if k not in TEST_ONLY_VARIABLES and k != "DJANGO_SECRET_KEY"
    }
    environment = {
        **clean,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "DJANGO_DEBUG": "0",
        "DJANGO_STATIC_ROOT": str(tmp_path / "static"),
        "SMALLIMAGE_VAR_DIR": str(tmp_path / "var"),
    }
    result = subprocess.run(
        ["sh", "-c", dockerfile_collectstatic()],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    manifest = json.loads((tmp_path / "static" / "staticfiles.json").read_text())["paths"]
    assert "vendor/bootstrap/bootstrap.min.css" in manifest
    assert list((tmp_path / "static" / "js").glob("app.*.js.gz"))

    # Served by WhiteNoise in production: compressed, cached forever by hash, and
    # with the headers of every other response (WhiteNoise answers from inside
    # the middleware stack, so only those outside it apply).
    hashed = manifest["js/app.js"]
    probe = (
        "import sys, json; sys.path[:0] = ['.', 'site']; import django; django.setup(); "
        "from django.test import Client; client = Client(SERVER_NAME='localhost'); "
        f"r = client.get('/static/{hashed}', HTTP_ACCEPT_ENCODING='gzip'); "
        "print(json.dumps({'status': r.status_code, 'cache': r['Cache-Control'], "
        "'encoding': r.get('Content-Encoding'), 'csp': r.get('Content-Security-Policy'), "
        "'nosniff': r.get('X-Content-Type-Options')}))"
    )
    served = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=ROOT,
        env={
            **environment,
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
            "DJANGO_SETTINGS_MODULE": "settings",
            "DJANGO_ALLOWED_HOSTS": "localhost",
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert served.returncode == 0, served.stderr[-2000:]
    answer = json.loads(served.stdout.strip().splitlines()[-1])
    assert answer["status"] == 200
    assert "immutable" in answer["cache"] and "max-age=315360000" in answer["cache"]
    assert answer["encoding"] == "gzip"
    assert "script-src 'self'" in answer["csp"]
    assert answer["nosniff"] == "nosniff"
