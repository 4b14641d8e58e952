"""Hostile mail in the inbox: cleaned HTML, strict policies, sandboxed frames, safe downloads."""

from __future__ import annotations

import re
from email.message import EmailMessage
from html.parser import HTMLParser
from pathlib import Path

import pytest

from mailcatcher.web import pages, safety
from tests.web.support import add, add_inline_image, async_test, client, mail

HOSTILE = """<html><head><title>t</title><base href="https://evil.example/">
<meta http-equiv="refresh" content="0;url=https://evil.example/">
<style>p { color: red } @import url(https://evil.example/x.css);</style>
<script>document.title = "pwned"</script></head>
<body onload="steal()">
<p onclick="steal()" style="color: blue">Hello</p>
<a href="javascript:steal()">js link</a>
<a href="JaVaScRiPt:steal()">mixed case</a>
<a href="data:text/html,<script>steal()</script>">data link</a>
<a href="https://example.com/ok">fine link</a>
<img src="x" onerror="steal()">
<img src="cid:logo@x">
<img src="cid:unknown@x">
<img src="https://tracker.example/pixel.gif">
<svg><script>steal()</script><foreignObject><img src=x onerror=steal()></foreignObject></svg>
<iframe src="https://evil.example/"></iframe>
<object data="https://evil.example/x.swf"></object><embed src="https://evil.example/y">
<form action="https://evil.example/"><input name="q"><button>go</button></form>
<noscript><img src="https://evil.example/noscript.gif"></noscript>
</body></html>"""


class Tags(HTMLParser):
    """Every start tag and its attributes, to inspect cleaned HTML as a browser parses it."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def parse(html: str) -> list[tuple[str, dict[str, str | None]]]:
    tags = Tags()
    tags.feed(html)
    return tags.tags


def test_clean_html_removes_everything_that_could_run_or_fetch_by_itself() -> None:
    cleaned = safety.clean_html(HOSTILE, {"logo@x": "data:image/png;base64,AAAA"})
    tags = parse(cleaned)
    names = {tag for tag, _ in tags}
    assert names.isdisjoint(
        {"script", "iframe", "object", "embed", "form", "input", "base", "meta", "svg", "link"}
    )
    assert "steal" not in cleaned
    assert "pwned" not in cleaned
    for _, attrs in tags:
        assert not any(name.startswith("on") for name in attrs)
        for name in ("href", "src"):
            value = (attrs.get(name) or "").lower()
            assert not value.startswith(("javascript:", "data:text")), attrs
    hrefs = [attrs.get("href") for tag, attrs in tags if tag == "a"]
    assert hrefs == [None, None, None, "https://example.com/ok"]
    links = [attrs for tag, attrs in tags if tag == "a" and attrs.get("href")]
    assert links[0]["target"] == "_blank"
    assert links[0]["rel"] == "noopener noreferrer"
    sources = [attrs.get("src") for tag, attrs in tags if tag == "img"]
    # The inline image is embedded; an unknown cid: is dropped; remote stays for the CSP.
    assert "data:image/png;base64,AAAA" in sources
    assert not any((source or "").startswith("cid:") for source in sources)
    assert "https://tracker.example/pixel.gif" in sources
    assert '<p style="color: blue">Hello</p>' in cleaned
    assert "p { color: red }" in cleaned  # style sheets stay; the policy stops @import


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("invoice.pdf", "attachment; filename=\"invoice.pdf\"; filename*=UTF-8''invoice.pdf"),
        (
            'a"b\\c.txt',
            "attachment; filename=\"a_b_c.txt\"; filename*=UTF-8''a%22b%5Cc.txt",
        ),
        (
            "Übersicht 2024.pdf",
            'attachment; filename="_bersicht 2024.pdf"; '
            "filename*=UTF-8''%C3%9Cbersicht%202024.pdf",
        ),
    ],
)
def test_content_disposition_follows_rfc_6266(name: str, expected: str) -> None:
    assert safety.content_disposition(name) == expected


def test_safe_content_type_passes_only_plain_media_types() -> None:
    assert safety.safe_content_type("application/pdf") == "application/pdf"
    assert safety.safe_content_type("image/svg+xml") == "image/svg+xml"
    for bad in ("text/html\r\nSet-Cookie: x=1", 'image/png"', "nonsense", ""):
        assert safety.safe_content_type(bad) == "application/octet-stream"


def test_safe_filename_drops_paths_and_control_characters() -> None:
    assert safety.safe_filename("../../etc/passwd", "x") == "_.._etc_passwd"
    assert safety.safe_filename("a\r\nb\x00.txt", "x") == "ab.txt"
    assert safety.safe_filename(" .. ", "fallback") == "fallback"


def hostile_mail() -> EmailMessage:
    message = mail(
        '<img src=x onerror=alert(1)> "subject"',
        sender='"<script>alert(2)</script>" <evil@example.com>',
        html=HOSTILE,
        files=[('"><svg onload=alert(3)>.html', "text/html", b"<script>alert(4)</script>")],
    )
    add_inline_image(message, "logo@x", b"\x89PNG")
    return message


@async_test
async def test_the_preview_is_clean_and_served_under_a_no_script_policy(tmp_path: Path) -> None:
    [entry] = add(tmp_path / "mail", hostile_mail())
    async with client(tmp_path / "mail") as api:
        response = await api.get(f"/view/{entry.id}.html")
        assert response.status == 200
        body = await response.text()
        csp = response.headers["Content-Security-Policy"]
        remote = await api.get(f"/view/{entry.id}.html?remote=1")
        remote_csp = remote.headers["Content-Security-Policy"]
    assert "steal" not in body
    assert "data:image/png;base64," in body
    directives = {d.split()[0]: d.split()[1:] for d in csp.split("; ")}
    assert directives["default-src"] == ["'none'"]
    assert directives["img-src"] == ["data:"]
    assert directives["style-src"] == ["'unsafe-inline'"]
    assert "script-src" not in directives  # default-src 'none' covers scripts
    assert directives["sandbox"] == ["allow-popups", "allow-popups-to-escape-sandbox"]
    assert directives["frame-ancestors"] == ["'self'"]
    assert response.headers["X-Frame-Options"] == "SAMEORIGIN"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    remote_directives = {d.split()[0]: d.split()[1:] for d in remote_csp.split("; ")}
    assert remote_directives["img-src"] == ["data:", "https:", "http:"]
    assert remote_directives["default-src"] == ["'none'"]


@async_test
async def test_a_hostile_attachment_downloads_and_never_renders(tmp_path: Path) -> None:
    [entry] = add(tmp_path / "mail", hostile_mail())
    async with client(tmp_path / "mail") as api:
        message = await (await api.get(f"/api/v1/message/{entry.id}")).json()
        [attached] = message["Attachments"]
        assert attached["FileName"] == '"><svg onload=alert(3)>.html'  # JSON is data
        response = await api.get(f"/api/v1/message/{entry.id}/part/{attached['PartID']}")
    assert response.headers["Content-Disposition"].startswith("attachment; ")
    assert (
        "filename*=UTF-8''%22%3E%3Csvg%20onload%3Dalert%283%29%3E.html"
        in (response.headers["Content-Disposition"])
    )
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in response.headers["Content-Security-Policy"]


@async_test
async def test_every_answer_carries_the_protective_headers(tmp_path: Path) -> None:
    add(tmp_path / "mail", mail())
    async with client(tmp_path / "mail") as api:
        for path in ("/", "/static/app.js", "/api/v1/messages", "/api/v1/message/latest/raw"):
            response = await api.get(path)
            assert response.status == 200, path
            assert response.headers["X-Content-Type-Options"] == "nosniff", path
            assert response.headers["Referrer-Policy"] == "no-referrer", path
            assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"], path
        page = await api.get("/")
        policy = page.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy
    assert "'unsafe-inline'" not in policy
    assert "'unsafe-eval'" not in policy


def test_the_page_frames_previews_in_a_sandbox_without_scripts_or_origin() -> None:
    index = (pages.STATIC / "index.html").read_text()
    [frame] = [attrs for tag, attrs in parse(index) if tag == "iframe"]
    sandbox = (frame["sandbox"] or "").split()
    assert "allow-scripts" not in sandbox
    assert "allow-same-origin" not in sandbox
    assert set(sandbox) <= {"allow-popups", "allow-popups-to-escape-sandbox"}
    assert not re.search(r"<script>|\son\w+=", index)  # no inline script or handler


def test_the_page_script_never_writes_markup() -> None:
    script = (pages.STATIC / "app.js").read_text()
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
        assert sink not in script


def test_the_web_side_never_fetches_a_url() -> None:
    # Mailpit's link and HTML checkers fetched URLs from messages and brought SSRF
    # advisories; nothing here can make an outgoing request.
    sources = sorted(Path(pages.__file__).parent.glob("*.py"))
    assert len(sources) >= 10
    for source in sources:
        text = source.read_text()
        for requester in (
            "ClientSession",
            "urllib.request",
            "http.client",
            "import socket",
            "urlopen",
        ):
            assert requester not in text, f"{source.name} uses {requester}"


def test_start_web_listens_on_loopback_unless_told_otherwise() -> None:
    import inspect

    from mailcatcher.web import start_web

    assert inspect.signature(start_web).parameters["host"].default == "127.0.0.1"
