"""Who may talk to the inbox: basic auth, same-origin changes, loopback host names.

Every request passes these checks before any handler runs, the live-update stream and
the static files included:

- With ``basic_auth`` set, each request needs those credentials (RFC 7617).
- A request that changes something (any method but GET, HEAD and OPTIONS) and carries
  an ``Origin`` header from another site is refused: a page on another site the user
  visits cannot delete their mail. Tools that send no ``Origin`` (curl, API clients)
  are not browsers and are let through.
- When the server listens on a loopback address, the ``Host`` header must name a
  loopback host. A hostile site whose DNS name is rebound to 127.0.0.1 sends its own
  name there, and so cannot read the inbox through the victim's browser.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import ipaddress

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware
from yarl import URL

from . import safety

_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_DEFAULT_PORTS = {"http": 80, "https": 443}


def _plain(status: int, text: str, **headers: str) -> web.Response:
    return web.Response(status=status, text=text + "\n", headers=headers)


def basic_auth(user: str, password: str) -> Middleware:
    """A middleware that wants ``user`` and ``password`` on every request."""
    wanted_user = user.encode("utf-8")
    wanted_password = password.encode("utf-8")

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        scheme, _, encoded = request.headers.get("Authorization", "").partition(" ")
        given_user = given_password = b""
        if scheme.lower() == "basic":
            try:
                decoded = base64.b64decode(encoded.strip(), validate=True)
            except (binascii.Error, ValueError):
                decoded = b""
            given_user, _, given_password = decoded.partition(b":")
        # Compare both, always, in constant time: no early exit tells which was wrong.
        user_ok = hmac.compare_digest(given_user, wanted_user)
        password_ok = hmac.compare_digest(given_password, wanted_password)
        if not (user_ok and password_ok):
            return _plain(
                401,
                "401 unauthorized: this inbox needs a user name and password",
                **{"WWW-Authenticate": 'Basic realm="mailcatcher", charset="UTF-8"'},
            )
        return await handler(request)

    return middleware


def _authority(host: str, scheme: str) -> str:
    """``host[:port]`` lower-cased, without the scheme's default port."""
    host = host.strip().lower()
    default = _DEFAULT_PORTS.get(scheme)
    if default is not None and host.endswith(f":{default}"):
        host = host[: -len(f":{default}")]
    return host


def _same_origin(request: web.Request, origin: str) -> bool:
    try:
        url = URL(origin)
    except ValueError:
        return False
    if url.scheme not in _DEFAULT_PORTS or not url.raw_host:
        return False  # "null" (a sandboxed frame, a file) is nobody's origin
    # Compared on host and port only: a TLS proxy in front changes the scheme.
    given = _authority(url.raw_authority, url.scheme)
    return given == _authority(request.host, url.scheme)


@web.middleware
async def same_origin_changes(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Refuse a change (DELETE, PUT...) a page on another origin asked for."""
    if request.method not in _SAFE_METHODS:
        origin = request.headers.get("Origin")
        if origin is not None and not _same_origin(request, origin):
            return _plain(403, f"403 forbidden: a page on {origin} cannot change this inbox")
        if origin is None and request.headers.get("Sec-Fetch-Site") == "cross-site":
            return _plain(403, "403 forbidden: a page on another site cannot change this inbox")
    return await handler(request)


def _is_loopback_address(text: str) -> bool:
    try:
        return ipaddress.ip_address(text.strip("[]").split("%")[0]).is_loopback
    except ValueError:
        return False


def _is_loopback_name(host: str) -> bool:
    name = host.strip().lower()
    if name.startswith("["):
        name = name[1 : name.find("]")] if "]" in name else name
    elif name.count(":") == 1:
        name = name.partition(":")[0]
    name = name.rstrip(".")
    # RFC 6761 6.3: "localhost" and names under it are the loopback host.
    return name == "localhost" or name.endswith(".localhost") or _is_loopback_address(name)


@web.middleware
async def loopback_host(request: web.Request, handler: Handler) -> web.StreamResponse:
    """On a loopback listener, refuse a ``Host`` that is not a loopback name (DNS rebinding)."""
    sockname = request.transport.get_extra_info("sockname") if request.transport else None
    listening = str(sockname[0]) if isinstance(sockname, tuple) and sockname else ""
    if _is_loopback_address(listening) and not _is_loopback_name(request.host):
        return _plain(
            403,
            f"403 forbidden: this inbox listens on {listening} and answers to localhost "
            f"or {listening}, not to the host name {request.host!r}",
        )
    return await handler(request)


async def security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """Add the headers every answer carries (an ``on_response_prepare`` signal)."""
    headers = response.headers
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "no-referrer")
    headers.setdefault("Content-Security-Policy", safety.API_CSP)
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Cross-Origin-Resource-Policy", "same-origin")
    headers.setdefault("Cache-Control", "no-store")
