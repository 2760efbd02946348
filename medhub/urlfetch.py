"""An image given by URL (MCP clients and API callers send URLs): fetched here, then the bytes go
through the one input gate (`medhub.imaging`) like any upload.

Only http and https. At most `limits.max_upload_bytes()` bytes are read (a larger Content-Length is
refused before the body, a body that runs over is cut off and refused), within `TIMEOUT_S`, and at
most `MAX_REDIRECTS` redirects, each checked again. Hosts that resolve to a private, loopback,
link-local or reserved address are refused (the server must not be a proxy into its own network)
unless `MEDHUB_ALLOW_PRIVATE_URLS=1` (tests serve images on 127.0.0.1; this machine has no network).
Errors are `InputError`s with the code `bad_url` (bilingual, like every gate error).
"""

from __future__ import annotations

import ipaddress
import os
import socket
from urllib.parse import urljoin, urlsplit

from medhub import limits
from medhub.errors import INPUT_MESSAGES, InputError

TIMEOUT_S = 15.0
MAX_REDIRECTS = 3

INPUT_MESSAGES.setdefault(
    "bad_url",
    ("The image URL cannot be used ({detail}). Give an http:// or https:// link to an image file, or "
     "upload the file.",
     "이미지 URL을 사용할 수 없습니다({detail}). 이미지 파일의 http:// 또는 https:// 링크를 주거나 파일을 "
     "올려 주세요."),
)


def private_urls_allowed() -> bool:
    return os.environ.get("MEDHUB_ALLOW_PRIVATE_URLS", "") == "1"


def _bad(detail: str) -> InputError:
    return InputError.make("bad_url", detail=detail[:200])


def check_url(url: str) -> str:
    """The URL stripped, if it is http(s) with a host that is allowed; else `bad_url`."""
    url = (url or "").strip()
    try:
        parts = urlsplit(url)
    except ValueError:
        raise _bad("not a URL") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise _bad(f"only http and https are accepted, not '{parts.scheme or 'none'}'")
    if not parts.hostname:
        raise _bad("no host")
    if parts.username or parts.password:
        raise _bad("credentials in the URL are not accepted")
    if not private_urls_allowed():
        try:
            infos = socket.getaddrinfo(parts.hostname, parts.port or (443 if parts.scheme == "https" else 80))
        except (socket.gaierror, UnicodeError, OSError):
            raise _bad(f"the host {parts.hostname} cannot be resolved") from None
        for info in infos:
            ip = ipaddress.ip_address(info[4][0].split("%")[0])
            if not ip.is_global or ip.is_multicast:
                raise _bad(f"the host {parts.hostname} is a private or local address")
    return url


def fetch(url: str) -> bytes:
    """The bytes at `url` (see the module docstring for the limits). Raises `InputError`."""
    import httpx

    limit = limits.max_upload_bytes()
    current = check_url(url)
    try:
        with httpx.Client(timeout=TIMEOUT_S, follow_redirects=False, trust_env=False) as client:
            for _ in range(MAX_REDIRECTS + 1):
                with client.stream("GET", current, headers={"Accept": "image/*, application/dicom, */*"}) as resp:
                    if resp.is_redirect:
                        location = resp.headers.get("location", "")
                        current = check_url(urljoin(current, location))
                        continue
                    if resp.status_code != 200:
                        raise _bad(f"the server answered HTTP {resp.status_code}")
                    declared = resp.headers.get("content-length")
                    if declared and declared.isdigit() and int(declared) > limit:
                        raise limits.too_large(int(declared))
                    chunks, size = [], 0
                    for chunk in resp.iter_bytes():
                        size += len(chunk)
                        if size > limit:
                            raise limits.too_large(size)
                        chunks.append(chunk)
                    return b"".join(chunks)
            raise _bad(f"more than {MAX_REDIRECTS} redirects")
    except InputError:
        raise
    except httpx.TimeoutException:
        raise _bad(f"no answer within {TIMEOUT_S:g} s") from None
    except httpx.HTTPError as exc:
        raise _bad(type(exc).__name__) from None
