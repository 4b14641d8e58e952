"""The link, deliverability and client-support rules.

No rule fetches a URL or resolves a name: a link is judged by what it says (RFC 3986's
parts), a host by its name or literal address.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator
from email.utils import getaddresses
from urllib.parse import unquote, urlsplit

from ._findings import Context, Finding, Location, finding, short
from ._html import text_urls
from ._mime import envelope_text as _envelope
from ._mime import header_texts
from ._scan import Anchor
from ._standards import ADDR_SPEC, raw_values
from ._support import HARMLESS, family_name, platform_name

#: Text bodies are searched for links this far.
MAX_TEXT = 1024 * 1024
#: Gmail clips a message's HTML after 102 KB.
GMAIL_CLIP = 102 * 1024

_UNSUBSCRIBE_URIS = re.compile(r"<([^<>]*)>")
_DOMAIN_TEXT = re.compile(r"(?:https?://)?((?:[a-z0-9-]+\.)+[a-z]{2,})(?:[/:?#]\S*)?", re.I)
_TEL_GLOBAL = re.compile(r"\+[0-9().\-]*[0-9][0-9().\-]*(?:;[^;\s]+)*")
_TEL_LOCAL = re.compile(r"[0-9A-Fa-f*#().\-]*[0-9*#][0-9A-Fa-f*#().\-]*(?:;[^;\s]+)*")


# --- links ------------------------------------------------------------------------------


def links(context: Context) -> Iterator[Finding]:
    """Every link of the text and HTML bodies, each judged by what it says."""
    seen: set[tuple[str, str]] = set()
    for number, href, text, line in _all_links(context):
        for found in _link_findings(href, text, Location(part=number, line=line, link=href)):
            key = (found.code, href)
            if key not in seen:
                seen.add(key)
                yield found


def _all_links(context: Context) -> Iterator[tuple[str, str, str | None, int]]:
    """(part, href, link text or None for a URL in text, line) for every link."""
    if context.text is not None:
        number, text = context.text
        if len(text) > MAX_TEXT:
            context.capped = True
        for index, line in enumerate(text[:MAX_TEXT].split("\n"), start=1):
            if "://" in line:
                for url in text_urls(line):
                    yield number, url, None, index
    if context.html is not None:
        number = context.html[0]
        for anchor in context.scan.anchors:
            yield number, anchor.href, anchor.text, anchor.line


def _link_findings(href: str, text: str | None, where: Location) -> Iterator[Finding]:
    if text is not None and href in ("", "#"):
        yield finding(
            "link-empty",
            f"give the link {short(text)!r} a target; its href is {href!r}",
            where,
        )
        return
    try:
        url = urlsplit(href)
        host = url.hostname or ""
    except ValueError:
        return  # not a URL a client follows either; the sanitiser drops it
    scheme = url.scheme.lower()
    if not scheme:
        if not href.startswith("#"):
            yield finding(
                "link-relative",
                f"make {short(href)!r} an absolute https:// URL (a mail has no base URL)",
                where,
            )
        return
    if scheme == "mailto":
        if not _valid_mailto(href):
            yield finding("mailto-invalid", f"fix the address in {short(href)!r}", where)
        return
    if scheme == "tel":
        number = unquote(href[4:])
        if _TEL_GLOBAL.fullmatch(number) is None and (
            _TEL_LOCAL.fullmatch(number) is None or ";phone-context=" not in number
        ):
            yield finding(
                "tel-invalid",
                f"write {short(href)!r} as tel:+CC-NUMBER (no spaces, RFC 3966)",
                where,
            )
        return
    if scheme not in ("http", "https"):
        return
    local = _local_host(host)
    if local is not None:
        code = "link-localhost" if local == "loopback" else "link-private"
        yield finding(
            code,
            f"build links from the public site URL, not {short(host)!r} ({local})",
            where,
        )
    elif scheme == "http":
        yield finding("link-insecure", f"use https:// for {short(href)!r}", where)
    if text is not None and local is None:
        shown = _DOMAIN_TEXT.fullmatch(text.strip())
        if shown is not None and not _aligned(shown.group(1).lower(), host.lower()):
            yield finding(
                "link-mismatch",
                f"the link text shows {shown.group(1)!r} but goes to {host!r}: "
                "show the real destination",
                where,
            )


def _local_host(host: str) -> str | None:
    """Why `host` does not reach the recipient ("loopback", "private", ...), or None."""
    host = host.rstrip(".").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return "loopback"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        if host.endswith((".local", ".internal", ".lan", ".home.arpa")):
            return "a local network name"
        if host and "." not in host:
            return "a single-label host name"
        return None
    if address.is_loopback or address.is_unspecified:
        return "loopback"
    if address.is_private or address.is_link_local:
        return "a private address"
    return None


def _valid_mailto(href: str) -> bool:
    to, _, query = href[7:].partition("?")
    addresses = [unquote(part).strip() for part in to.split(",") if part.strip()]
    if not addresses:
        # RFC 6068 2: the addresses may come in a "to" hfield instead.
        fields = [item.partition("=") for item in query.split("&")]
        addresses = [unquote(value).strip() for name, _, value in fields if name.lower() == "to"]
    return bool(addresses) and all(
        ADDR_SPEC.fullmatch(address) is not None for address in addresses
    )


def _aligned(first: str, second: str) -> bool:
    """Whether two domains belong to one organization (relaxed DMARC alignment, roughly).

    Without the Public Suffix List (a download), the organizational domain is taken as
    the last two labels; ``click.shop.example`` and ``shop.example`` align.
    """
    first, second = first.rstrip("."), second.rstrip(".")
    return first == second or first.split(".")[-2:] == second.split(".")[-2:]


# --- deliverability ---------------------------------------------------------------------


def alternative(context: Context) -> Iterator[Finding]:
    """HTML without a text/plain alternative."""
    if context.html is not None and context.text is None:
        yield finding(
            "html-without-text",
            "add a text/plain alternative (EmailMultiAlternatives with a text body)",
            Location(part=context.html[0]),
        )


def unsubscribe(context: Context) -> Iterator[Finding]:
    """List-Unsubscribe (RFC 2369) and its one-click partner (RFC 8058)."""
    values = header_texts(context.message, "List-Unsubscribe")
    if not values:
        if any(_is_unsubscribe(anchor) for anchor in context.scan.anchors):
            yield finding(
                "unsubscribe-header-missing",
                "add List-Unsubscribe: <https://...> and "
                "List-Unsubscribe-Post: List-Unsubscribe=One-Click",
                Location("List-Unsubscribe"),
            )
        return
    uris = [uri.strip().lower() for uri in _UNSUBSCRIBE_URIS.findall(values[0])]
    https = any(uri.startswith("https:") for uri in uris)
    mailto = any(uri.startswith("mailto:") for uri in uris)
    if not https and not mailto:
        yield finding(
            "unsubscribe-no-target",
            "put an <https://...> (and <mailto:...>) URI in List-Unsubscribe",
            Location("List-Unsubscribe"),
        )
        return
    post = " ".join(header_texts(context.message, "List-Unsubscribe-Post")).strip()
    if not https or post.lower() != "list-unsubscribe=one-click":
        what = "add an <https://...> URI and " if not https else "add "
        yield finding(
            "unsubscribe-no-one-click",
            f"{what}List-Unsubscribe-Post: List-Unsubscribe=One-Click",
            Location("List-Unsubscribe-Post"),
        )


def _is_unsubscribe(anchor: Anchor) -> bool:
    return "unsubscribe" in anchor.text.lower() or "unsubscribe" in anchor.href.lower()


def html_size(context: Context) -> Iterator[Finding]:
    """HTML over Gmail's 102 KB clipping limit."""
    if context.html is None:
        return
    size = len(context.html[1].encode("utf-8", "replace"))
    if size > GMAIL_CLIP:
        yield finding(
            "html-too-large",
            f"the HTML is {size // 1024} KB: cut it under 102 KB (inline less CSS, fewer "
            "tables) or Gmail clips it",
            Location(part=context.html[0]),
        )


def images(context: Context) -> Iterator[Finding]:
    """Images without alt text (tracking pixels need none)."""
    if context.html is None:
        return
    for image in context.scan.images:
        if not image.has_alt and not image.tiny:
            yield finding(
                "image-no-alt",
                f'add alt text (alt="" if decorative) to the image {short(image.src)!r}',
                Location(part=context.html[0], line=image.line, link=image.src or None),
            )


def alignment(context: Context) -> Iterator[Finding]:
    """From's domain against the envelope sender's (DMARC alignment, RFC 7489 3.1)."""
    sender = _envelope(context.message, "X-MailFrom") or ""
    values = raw_values(context.message, "From")
    if not sender or len(values) != 1:
        return  # no envelope recorded, or a null reverse-path (a bounce)
    envelope_domain = sender.rpartition("@")[2].strip("<> ").lower()
    addresses = [address for _, address in getaddresses([values[0]]) if "@" in address]
    if not envelope_domain or not addresses:
        return
    from_domain = addresses[0].rpartition("@")[2].lower()
    if not _aligned(from_domain, envelope_domain):
        yield finding(
            "from-domain-mismatch",
            f"send from an address at {from_domain!r} (MAIL FROM is at {envelope_domain!r}), "
            "or set the envelope sender (return path) to that domain",
            Location("From"),
        )


# --- client support ---------------------------------------------------------------------


def clients(context: Context) -> Iterator[Finding]:
    """Features a major client family drops (caniemail.com data), harmless ones aside."""
    if context.html is None or context.support is None:
        return
    number = context.html[0]
    for feature in context.support.features:
        if feature.slug in HARMLESS:
            continue
        dropped = feature.dropped_by()
        if not dropped:
            continue
        clients = "; ".join(
            f"{family_name(family)} ({', '.join(map(platform_name, platforms))})"
            for family, platforms in dropped.items()
        )
        yield finding(
            "client-unsupported",
            f"{feature.title} is not supported by {clients}: check the mail without it "
            f"({feature.url})",
            Location(part=number, line=feature.line),
            feature.slug,
        )
