"""Showing hostile mail safely: the cleaned HTML preview, its policies, safe downloads.

Three layers keep a message's HTML from doing anything: nh3 (the Ammonia sanitiser)
removes scripts, event handlers and ``javascript:`` URLs; the preview is served with a
Content-Security-Policy that allows no script and no network access (remote images
only when the user asks); and the page shows it in an ``<iframe sandbox>`` without
``allow-scripts`` or ``allow-same-origin``, so even a sanitiser bug could neither run
code nor reach the inbox's own origin.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping
from urllib.parse import quote, unquote

import nh3

#: The inbox page itself: only its own script, style and frames.
PAGE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-src 'self'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)
#: JSON, text and downloads: nothing in them may run, even when opened as a page.
API_CSP = "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'; sandbox"
# The CSP `sandbox` directive (CSP 3, section 6.3.2) repeats the iframe's sandbox, so
# the preview opened on its own, outside the page's iframe, is just as contained.
_SANDBOX = "sandbox allow-popups allow-popups-to-escape-sandbox"

_TAGS = set(nh3.ALLOWED_TAGS) | {"style", "font", "center", "big"}
# Removed with everything inside them; any other unknown tag is dropped and its text kept.
_CLEAN_CONTENT = {"script", "title", "noscript", "template", "textarea", "select"}
_ATTRIBUTES: dict[str, set[str]] = {
    # Presentational attributes mail templates lean on; none can run code or fetch
    # anything that the policy does not block.
    "*": {"style", "class", "id", "align", "valign", "width", "height", "bgcolor", "dir"}
    | {"title", "lang", "role", "border"},
    "a": {"href", "name", "hreflang"},
    "img": {"src", "alt", "hspace", "vspace"},
    "table": {"cellpadding", "cellspacing", "summary"},
    "td": {"colspan", "rowspan", "nowrap", "headers", "scope"},
    "th": {"colspan", "rowspan", "nowrap", "headers", "scope"},
    "font": {"color", "face", "size"},
    "ol": {"start", "type"},
    "ul": {"type"},
    "col": {"span"},
    "colgroup": {"span"},
    "hr": {"size", "noshade"},
}
_SCHEMES = {"http", "https", "mailto", "tel", "cid", "data"}


def preview_csp(*, remote_images: bool) -> str:
    """The policy of a message preview: no script, no fetch; remote images on request."""
    images = "data: https: http:" if remote_images else "data:"
    return (
        f"default-src 'none'; img-src {images}; style-src 'unsafe-inline'; font-src data:; "
        f"base-uri 'none'; form-action 'none'; frame-ancestors 'self'; {_SANDBOX}"
    )


def data_uri(content_type: str, data: bytes) -> str:
    """`data` as a ``data:`` URI (RFC 2397)."""
    return f"data:{content_type};base64,{base64.b64encode(data).decode('ascii')}"


def _content_id(url: str) -> str:
    """The Content-ID a ``cid:`` URL names (RFC 2392: URL-encoded, no brackets)."""
    return unquote(url[4:]).strip().strip("<>").strip().lower()


def clean_html(html: str, images: Mapping[str, str] | None = None) -> str:
    """Sanitise a message's HTML for the preview.

    Args:
        html: The HTML body as sent.
        images: Lower-cased Content-IDs mapped to ``data:`` URIs of the message's
            inline parts; ``cid:`` references to them are replaced, so the preview
            needs no request to this server.

    Returns:
        HTML without scripts, event handlers, forms or ``javascript:`` URLs; links open
        in a new tab without a referrer; ``data:`` survives only as an image source.
    """
    found = dict(images or {})

    def rewrite(tag: str, attribute: str, value: str) -> str | None:
        # nh3 reports an exception here as unraisable and drops the attribute; keep
        # this total so nothing is lost silently.
        lowered = value.strip().lower()
        if lowered.startswith("cid:"):
            if tag == "img" and attribute == "src":
                return found.get(_content_id(value.strip()))
            return None
        if lowered.startswith("data:"):
            is_image = tag == "img" and attribute == "src" and lowered.startswith("data:image/")
            return value if is_image else None
        return value

    cleaner = nh3.Cleaner(
        tags=_TAGS,
        clean_content_tags=_CLEAN_CONTENT,
        attributes=_ATTRIBUTES,
        attribute_filter=rewrite,
        url_schemes=_SCHEMES,
        link_rel="noopener noreferrer",
        set_tag_attribute_values={"a": {"target": "_blank"}},
        strip_comments=True,
    )
    return cleaner.clean(html)


def preview_document(cleaned: str) -> str:
    """Wrap cleaned HTML in a document: UTF-8, and a white sheet as mail expects."""
    return (
        '<!DOCTYPE html><html><head><meta charset="utf-8">'
        '<meta name="referrer" content="no-referrer">'
        "<style>html{background:#fff;color:#000;color-scheme:light}"
        "body{margin:12px;font-family:system-ui,sans-serif;overflow-wrap:anywhere}</style>"
        f"</head><body>{cleaned}</body></html>"
    )


# RFC 2045 5.1: type "/" subtype, each a token.
_MEDIA_TYPE = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+/[!#$%&'*+.^_`|~0-9A-Za-z-]+")


def safe_content_type(value: str) -> str:
    """`value` when it is a plain ``type/subtype``, else ``application/octet-stream``."""
    return value if _MEDIA_TYPE.fullmatch(value) else "application/octet-stream"


def safe_filename(name: str, fallback: str) -> str:
    """A file name without path separators or control characters; `fallback` if empty."""
    cleaned = "".join(
        "_" if char in "/\\" else char for char in name if char.isprintable() or char == " "
    ).strip(" .")
    return cleaned or fallback


def content_disposition(filename: str) -> str:
    """``attachment`` with an ASCII ``filename`` and the exact ``filename*`` (RFC 6266 4.3).

    RFC 8187 encodes the name as UTF-8 percent-escapes; browsers prefer it, older
    clients read the ASCII fallback.
    """
    ascii_name = "".join(
        char if 32 <= ord(char) < 127 and char not in '"\\%' else "_" for char in filename
    )
    # RFC 8187 attr-char: ALPHA / DIGIT / "!" / "#" / "$" / "&" / "+" / "-" / "." /
    # "^" / "_" / "`" / "|" / "~"
    encoded = quote(filename, safe="!#$&+-.^_`|~")
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{encoded}"
