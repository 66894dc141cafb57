"""Production storage against a real S3-compatible server over HTTP (moto), and CloudFront
signatures checked with the public key."""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
import urllib.request
from io import BytesIO
from pathlib import Path
from typing import Any, cast
from urllib.parse import parse_qs, urlsplit

import pytest
import time_machine
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage, storages
from django.urls import reverse
from PIL import Image as PILImage

from gallery import rendering, services
from gallery.models import Image
from gallery.storage import S3_MAX_PRESIGN_SECONDS, PrivateS3Storage, signed

pytestmark = pytest.mark.django_db

START = 1_800_000_000
CDN = "cdn.smallimage.test"


def fetch(url: str) -> tuple[int, bytes, str]:
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - loopback
        return response.status, response.read(), response.headers["Content-Type"]


@pytest.fixture(scope="module")
def cloudfront_key() -> rsa.RSAPrivateKey:
    """An RSA key pair standing in for a CloudFront trusted key group."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def cloudfront(s3, settings, cloudfront_key) -> rsa.RSAPublicKey:
    """The S3 storage behind a CloudFront domain with a signing key; the public key."""
    pem = cloudfront_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    options = settings.STORAGES["default"]["OPTIONS"]
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            **settings.STORAGES["default"],
            "OPTIONS": {
                **options,
                "custom_domain": CDN,
                "cloudfront_key_id": "K2JCJMDEHXQW5F",
                "cloudfront_key": pem,
            },
        },
    }
    return cloudfront_key.public_key()


def cloudfront_verify(url: str, public_key: rsa.RSAPublicKey) -> int:
    """Check a canned-policy CloudFront signed URL as CloudFront would; its expiry."""
    parts = urlsplit(url)
    query = {key: values[0] for key, values in parse_qs(parts.query).items()}
    assert query["Key-Pair-Id"] == "K2JCJMDEHXQW5F"
    expires = int(query["Expires"])
    resource = f"{parts.scheme}://{parts.netloc}{parts.path}"
    policy = json.dumps(
        {
            "Statement": [
                {"Resource": resource, "Condition": {"DateLessThan": {"AWS:EpochTime": expires}}}
            ]
        },
        separators=(",", ":"),
    ).encode()
    signature = base64.b64decode(
        query["Signature"].replace("-", "+").replace("_", "=").replace("~", "/")
    )
    public_key.verify(signature, policy, padding.PKCS1v15(), hashes.SHA1())  # noqa: S303
    return expires


VIEWER_RESPONSE = Path(__file__).resolve().parents[2] / "deploy/cloudfront-viewer-response.js"

# Runs the CloudFront Function on one event, with the clock at a given second.
NODE_HARNESS = """
const [source, event, now] = process.argv.slice(1);
Date.now = () => Number(now) * 1000;
const handler = new Function(require("fs").readFileSync(source, "utf8") + "; return handler;")();
process.stdout.write(JSON.stringify(handler(JSON.parse(event))));
"""


def viewer_response(url: str, *, now: int, status: int = 200) -> dict[str, Any]:
    """Run deploy/cloudfront-viewer-response.js as CloudFront would for ``url``."""
    node = shutil.which("node")
    assert node, "Node.js runs the CloudFront Function under test; `make test` installs it"
    query = {name: {"value": values[0]} for name, values in parse_qs(urlsplit(url).query).items()}
    event = {
        "version": "1.0",
        "request": {"method": "GET", "uri": urlsplit(url).path, "querystring": query},
        "response": {"statusCode": status, "headers": {"content-type": {"value": "image/jpeg"}}},
    }
    result = subprocess.run(
        [node, "-e", NODE_HARNESS, str(VIEWER_RESPONSE), json.dumps(event), str(now)],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    return json.loads(result.stdout)["headers"]


class TestS3:
    def test_upload_lands_in_the_bucket_and_thumbnails_are_readable(
        self, s3, premium_user, jpeg_upload
    ):
        image = services.image_upload(owner=premium_user, file=jpeg_upload(1200, 900))
        renditions = {r.key: r for r in Image.objects.get(pk=image.pk).renditions.all()}
        assert s3.keys() == sorted(r.file_name for r in renditions.values())
        assert len(s3.keys()) == 3
        for key in ["200", "400"]:
            status, body, _content_type = fetch(default_storage.url(renditions[key].file.name))
            assert status == 200
            with PILImage.open(BytesIO(body)) as thumbnail:
                assert thumbnail.height == int(key)
        assert s3.read(renditions["original"].file.name)[:3] == b"\xff\xd8\xff"

    def test_upload_renders_from_its_own_bytes_and_a_retry_reads_the_bucket(
        self, s3, premium_user, jpeg_upload, monkeypatch
    ):
        opened = []
        storage = storages["default"]  # the S3 storage behind default_storage
        real_open = storage.open

        def recording_open(name, *args, **kwargs):
            opened.append(name)
            return real_open(name, *args, **kwargs)

        monkeypatch.setattr(storage, "open", recording_open)
        image = services.image_upload(owner=premium_user, file=jpeg_upload(1200, 900))
        # Rendered in the request from the bytes just uploaded: no download.
        assert opened == []
        assert Image.objects.get(pk=image.pk).status == Image.Status.READY

        # A later render (here after a thumbnail is lost) fetches the original.
        image.renditions.filter(thumbnail_height=400).delete()
        created = rendering.thumbnails_render(image_id=image.pk)
        assert [r.thumbnail_height for r in created] == [400]
        original = image.renditions.get(thumbnail_height=None)
        assert opened == [original.file.name]

    def test_delete_removes_every_object(self, s3, premium_user, jpeg_upload):
        image = services.image_upload(owner=premium_user, file=jpeg_upload())
        kept = services.image_upload(owner=premium_user, file=jpeg_upload())
        services.image_delete(image=image)
        assert s3.keys() == sorted(r.file_name for r in kept.renditions.all())

    def test_keys_are_never_overwritten(self, s3):
        first = default_storage.save("originals/same.jpg", ContentFile(b"first"))
        second = default_storage.save("originals/same.jpg", ContentFile(b"second"))
        assert first != second
        assert s3.read(first) == b"first" and s3.read(second) == b"second"

    def test_presigned_url_expires_exactly_and_never_beyond_what_s3_allows(self, s3):
        name = default_storage.save("thumbnails/x.png", ContentFile(b"png"))
        with time_machine.travel(START, tick=False):
            query = parse_qs(urlsplit(signed(default_storage).url(name, expire=300)).query)
            assert query["X-Amz-Expires"] == ["300"]
            assert query["X-Amz-Date"] == ["20270115T080000Z"]  # START in UTC
            capped = parse_qs(urlsplit(signed(default_storage).url(name, expire=10**8)).query)
            assert capped["X-Amz-Expires"] == [str(S3_MAX_PRESIGN_SECONDS)]

    def test_urls_are_signed_for_the_public_endpoint(self, s3, settings):
        # The app reaches the server as 127.0.0.1, browsers as localhost.
        public = s3.endpoint_url.replace("127.0.0.1", "localhost")
        options = {**settings.STORAGES["default"]["OPTIONS"], "public_endpoint_url": public}
        settings.STORAGES = {
            **settings.STORAGES,
            "default": {**settings.STORAGES["default"], "OPTIONS": options},
        }
        name = default_storage.save("thumbnails/y.png", ContentFile(b"public"))
        url = signed(default_storage).url(name, expire=60)
        assert url.startswith(f"{public}/{s3.bucket}/thumbnails/")
        assert fetch(url)[1] == b"public"

    def test_pages_work_unchanged(self, s3, enterprise_user, login, jpeg_upload):
        services.image_upload(owner=enterprise_user, file=jpeg_upload())
        html = login(enterprise_user).get("/").content.decode()
        assert f"{s3.endpoint_url}/{s3.bucket}/thumbnails/" in html.replace("&amp;", "&")


class TestCloudFront:
    def test_expiring_link_is_a_cloudfront_url_valid_for_exactly_the_seconds(
        self, cloudfront, enterprise_user, jpeg_upload
    ):
        image = services.image_upload(owner=enterprise_user, file=jpeg_upload())
        with time_machine.travel(START, tick=False):
            link = services.link_create(image=image, rendition="400", expires_in=1234)
        assert link.url.startswith(f"https://{CDN}/thumbnails/")
        assert urlsplit(link.url).path == f"/{link.rendition.file.name}"
        assert cloudfront_verify(link.url, cloudfront) == START + 1234
        assert link.expires_at.timestamp() == START + 1234

    @pytest.mark.parametrize(
        "tamper",
        [
            lambda url: url.replace("Expires=", "Expires=9"),
            lambda url: url.replace("/thumbnails/", "/originals/"),
            lambda url: url.replace(CDN, "evil.example.com"),
        ],
    )
    def test_tampered_url_fails(self, cloudfront, enterprise_user, jpeg_upload, tamper):
        image = services.image_upload(owner=enterprise_user, file=jpeg_upload())
        url = services.link_create(image=image, rendition="200", expires_in=600).url
        cloudfront_verify(url, cloudfront)
        with pytest.raises(InvalidSignature):
            cloudfront_verify(tamper(url), cloudfront)

    def test_viewer_response_function_caches_for_exactly_the_links_life(
        self, cloudfront, enterprise_user, jpeg_upload
    ):
        image = services.image_upload(owner=enterprise_user, file=jpeg_upload())
        with time_machine.travel(START, tick=False):
            url = services.link_create(image=image, rendition="400", expires_in=1234).url
        headers = viewer_response(url, now=START + 34)
        assert headers["cache-control"] == {"value": "private, max-age=1200"}
        assert headers["content-type"] == {"value": "image/jpeg"}
        # Once the link has ended (CloudFront refuses it anyway), nothing is kept.
        assert viewer_response(url, now=START + 1234)["cache-control"]["value"].endswith("=0")
        assert viewer_response(url, now=START + 9999)["cache-control"]["value"].endswith("=0")

    @pytest.mark.parametrize(
        ("query", "status"),
        [
            ("Expires=1800000600&Signature=x&Key-Pair-Id=K", 403),  # refused: not cacheable
            ("Policy=eyJ9&Signature=x&Key-Pair-Id=K", 200),  # a custom policy, no Expires
            ("Expires=18000006OO&Signature=x&Key-Pair-Id=K", 200),  # not a number
            ("", 200),
        ],
    )
    def test_viewer_response_function_leaves_other_responses_alone(self, query, status):
        url = f"https://{CDN}/thumbnails/a.jpg?{query}"
        headers = viewer_response(url, now=START, status=status)
        assert headers == {"content-type": {"value": "image/jpeg"}}

    def test_share_link_redirects_to_a_fresh_short_lived_signed_url(
        self, cloudfront, premium_user, jpeg_upload, client, settings
    ):
        image = services.image_upload(owner=premium_user, file=jpeg_upload())
        rendition = image.renditions.get(thumbnail_height=200)
        share = reverse("gallery:share", args=[rendition.share_token])
        with time_machine.travel(START, tick=False) as clock:
            first = client.get(share)["Location"]
            clock.shift(60)
            second = client.get(share)["Location"]
        assert first != second
        assert (
            cloudfront_verify(first, cloudfront)
            == START + settings.SMALLIMAGE_SHARE_REDIRECT_SECONDS
        )
        assert (
            cloudfront_verify(second, cloudfront)
            == START + 60 + settings.SMALLIMAGE_SHARE_REDIRECT_SECONDS
        )
        assert urlsplit(first).path == f"/{rendition.file.name}"


class TestSignatureReuse:
    def test_two_grid_views_in_a_bucket_give_the_same_urls_and_sign_once(
        self, cloudfront, enterprise_user, jpeg_upload, login, monkeypatch
    ):
        for _ in range(3):
            services.image_upload(owner=enterprise_user, file=jpeg_upload())
        signer = cast("PrivateS3Storage", default_storage).cloudfront_signer
        signed_urls = []
        real = signer.generate_presigned_url

        def counting(*args, **kwargs):
            signed_urls.append(args[0])
            return real(*args, **kwargs)

        monkeypatch.setattr(signer, "generate_presigned_url", counting)
        with time_machine.travel(START + 5, tick=False) as clock:
            client = login(enterprise_user)  # a session of that time
            first = client.get("/").content.decode()
            signatures_first_view = len(signed_urls)
            clock.shift(600)
            second = client.get("/").content.decode()
        # 3 images x (200, 400): the grid shows no original, so signs none.
        assert signatures_first_view == 6
        assert len(signed_urls) == signatures_first_view  # nothing signed again
        sources = re.findall(r'src="(https://[^"]+)"', first)
        assert sources and sources == re.findall(r'src="(https://[^"]+)"', second)
        for url in sources:
            expires = cloudfront_verify(url.replace("&amp;", "&"), cloudfront)
            assert expires > START + 5 + 3600 - 1  # at least one whole bucket left

    def test_presigned_responses_expire_with_the_link(self, s3):
        name = default_storage.save("thumbnails/z.png", ContentFile(b"png"))
        url = signed(default_storage).url(name, expire=600)
        with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - loopback
            assert response.headers["Cache-Control"] == "private"
            expires = parse_qs(urlsplit(url).query)["response-expires"][0]
            assert response.headers["Expires"] == expires
