"""Container health probe: GET /healthz on the local gunicorn; exit 0 only on 200.

Slim images have no curl, so this is the standard library. The request carries
the first name of DJANGO_ALLOWED_HOSTS as its Host header, so Django's host
validation passes whatever names a deployment allows. /healthz is exempt from
the HTTPS redirect, so plain HTTP works with DJANGO_HTTPS=1 too.
"""

from __future__ import annotations

import os
import sys
import urllib.request

URL = "http://127.0.0.1:8000/healthz"


def probe_host() -> str:
    """A host name Django accepts: the first usable entry of DJANGO_ALLOWED_HOSTS."""
    for entry in os.environ.get("DJANGO_ALLOWED_HOSTS", "localhost").split(","):
        host = entry.strip().lstrip(".")  # ".example.com" also allows example.com
        if host and host != "*":
            return host
    return "localhost"


def main() -> int:
    request = urllib.request.Request(URL, headers={"Host": probe_host()})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310  (URL is ours: http://127.0.0.1)
            return 0 if response.status == 200 else 1
    except OSError as error:  # URLError, and HTTPError for a 503
        print(f"unhealthy: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
