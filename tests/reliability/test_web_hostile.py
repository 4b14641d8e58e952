"""A corpus of hostile mail opened in a real headless Chromium; the web inbox's guards.

``mailcatcher serve`` runs with ``--http-auth``; the mail arrives over real SMTP as raw bytes
(so hostile file names and headers reach the server exactly as written). Every URL in the
corpus points at an "outside" HTTP server on another free loopback port that records each
request, so "nothing was fetched" is a count of zero. Each vector uses its own path, so a
hit names the vector that got through. "No script ran" is checked three ways: the scripts
would fetch the outside server, set ``window.__pwned`` on the page, or mark the preview's own
document; none may happen. Dialogs and pop-ups are recorded too.

Then, over plain HTTP: basic auth guards every route the app registers (enumerated from the
app itself, static files and the live-update stream included), and a request with a foreign
``Origin`` cannot delete or change mail, neither from a script nor from a real cross-origin
page in the browser that carries the user's credentials.
"""

from __future__ import annotations

import base64
import http.client
import http.server
import json
import re
import smtplib
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.support import HOST, Proc, catcher

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
USER, PASSWORD = "inspector", "s3cret:with colon"
TIMEOUT_MS = 10_000

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium"
    ),
]
web_app = pytest.importorskip("mailcatcher.web", reason="the web inbox is not written yet")
sync_api = pytest.importorskip("playwright.sync_api", reason="needs Playwright for Python")


@dataclass
class Outside:
    """The recording "outside" server: every request the mail managed to make."""

    port: int = 0
    hits: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    attack_page: str = ""

    @property
    def base(self) -> str:
        return f"http://{HOST}:{self.port}"

    def record(self, method: str, path: str) -> None:
        if path in ("/favicon.ico", "/attack.html"):
            return  # the browser's own request, and the test's own attacker page
        with self.lock:
            self.hits.append(f"{method} {path}")

    def taken(self) -> list[str]:
        with self.lock:
            hits, self.hits = self.hits, []
        return hits


@dataclass
class Inbox:
    """``mailcatcher serve`` with SMTP and HTTP ports."""

    proc: Proc
    smtp_port: int
    http_port: int
    outside: Outside

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.http_port}/"

    def send(self, recipient: str, data: bytes) -> None:
        with smtplib.SMTP(HOST, self.smtp_port, timeout=10) as client:
            client.sendmail("evil@example.com", [recipient], data, mail_options=["SMTPUTF8"])

    def request(
        self,
        method: str,
        path: str,
        *,
        auth: tuple[str, str] | None = (USER, PASSWORD),
        headers: dict[str, str] | None = None,
        timeout: float = 10.0,
    ) -> tuple[int, dict[str, str], bytes]:
        """One HTTP request; the status, headers and (for non-streams) the body."""
        connection = http.client.HTTPConnection(HOST, self.http_port, timeout=timeout)
        try:
            sent = dict(headers or {})
            if auth is not None:
                token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
                sent["Authorization"] = f"Basic {token}"
            connection.request(method, path, headers=sent)
            response = connection.getresponse()
            got = {name.lower(): value for name, value in response.getheaders()}
            if got.get("content-type", "").startswith("text/event-stream"):
                body = response.read1(64)  # a stream: the first event is enough
            else:
                body = response.read()
            return response.status, got, body
        finally:
            connection.close()

    def messages(self) -> list[dict[str, Any]]:
        status, _, body = self.request("GET", "/api/v1/messages")
        assert status == 200, body
        result: list[dict[str, Any]] = json.loads(body)["messages"]
        return result


@pytest.fixture(scope="module")
def inbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Inbox]:
    outside = Outside()

    class Recorder(http.server.BaseHTTPRequestHandler):
        def _any(self) -> None:
            outside.record(self.command, self.path)
            body = (outside.attack_page if self.path == "/attack.html" else "outside").encode()
            self.send_response(200)
            self.send_header(
                "Content-Type", "text/html" if self.path == "/attack.html" else "text/plain"
            )
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = do_PUT = do_DELETE = do_OPTIONS = _any  # noqa: N815  # stdlib names

        def do_HEAD(self) -> None:  # noqa: N802  # the stdlib's name
            outside.record("HEAD", self.path)
            self.send_response(200)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    recorder = http.server.ThreadingHTTPServer((HOST, 0), Recorder)
    outside.port = recorder.server_port
    thread = threading.Thread(target=recorder.serve_forever, daemon=True)
    thread.start()
    directory = tmp_path_factory.mktemp("web-hostile")
    options = ["--http-auth", f"{USER}:{PASSWORD}"]
    try:
        with catcher(
            "serve", directory / "mail", log=directory / "server.log", http=True, options=options
        ) as proc:
            assert proc.http_port is not None
            yield Inbox(proc, proc.port, proc.http_port, outside)
    finally:
        recorder.shutdown()
        recorder.server_close()
        thread.join(5)


# --- the corpus ------------------------------------------------------------------------------


def corpus(out: str) -> dict[str, bytes]:
    """Hostile mails by name; every URL in them is `out` plus a path naming the vector."""

    def html_mail(name: str, html: str, *, subject: str | None = None, extra: str = "") -> bytes:
        return (
            f"From: Evil <evil@example.com>\r\nTo: {name}@example.com\r\n"
            f"Subject: {subject or name}\r\nMIME-Version: 1.0\r\n"
            f'Content-Type: multipart/mixed; boundary="b1"\r\n\r\n'
            f"--b1\r\nContent-Type: text/html; charset=utf-8\r\n\r\n{html}\r\n{extra}--b1--\r\n"
        ).encode()

    mark = "document.body && document.body.setAttribute('data-pwned', '1');"
    pwn = f"window.top.__pwned = 1; {mark}"
    mails = {
        "script-tags": html_mail(
            "script-tags",
            f"<script>{pwn} fetch('{out}/inline-script')</script>"
            f"<script src='{out}/script-src.js'></script>"
            f"<SCRIPT>new Image().src='{out}/upper-script'</SCRIPT>"
            f"<scr<script>ipt>fetch('{out}/split-script')</script>"
            "<p id=probe>body</p>",
        ),
        "event-handlers": html_mail(
            "event-handlers",
            f"<body onload=\"fetch('{out}/body-onload')\">"
            f"<img src=x onerror=\"{pwn} fetch('{out}/img-onerror')\">"
            f"<div id=hover onmouseover=\"fetch('{out}/onmouseover')\">hover me</div>"
            f"<details open ontoggle=\"fetch('{out}/ontoggle')\"><summary>s</summary></details>"
            f"<input autofocus onfocus=\"fetch('{out}/onfocus')\">"
            f"<video><source onerror=\"fetch('{out}/source-onerror')\"></video>"
            f"<p id=probe>body</p></body>",
        ),
        "javascript-urls": html_mail(
            "javascript-urls",
            f"<a id=js href=\"javascript:fetch('{out}/js-href')\">js</a>"
            f"<a id=jsent href=\"&#106;avascript:fetch('{out}/js-entity')\">js2</a>"
            f"<a id=jsspace href=\" javascript:fetch('{out}/js-space')\">js3</a>"
            f"<iframe src=\"javascript:fetch('{out}/js-iframe')\"></iframe>"
            f"<form action=\"javascript:fetch('{out}/js-form')\">"
            "<button id=jsform>go</button></form>"
            "<p id=probe>body</p>",
        ),
        "data-urls": html_mail(
            "data-urls",
            f"<iframe src=\"data:text/html,<script>fetch('{out}/data-iframe')</script>\"></iframe>"
            f"<a id=data href=\"data:text/html,<script>fetch('{out}/data-link')</script>\">d</a>"
            f"<object data=\"data:text/html,<script>fetch('{out}/data-object')</script>\"></object>"
            f"<embed src=\"data:image/svg+xml,<svg xmlns='http://www.w3.org/2000/svg' "
            f'onload=\\"fetch(\'{out}/data-embed\')\\"/>">'
            "<p id=probe>body</p>",
        ),
        "remote-css": html_mail(
            "remote-css",
            f"<style>@import url('{out}/css-import.css');"
            f"@font-face {{font-family: x; src: url('{out}/font.woff')}}"
            f"p {{font-family: x; background: url('{out}/css-background.png')}}"
            f"ul {{list-style-image: url('{out}/list-style.png')}}"
            f"div {{cursor: url('{out}/cursor.cur'), auto}}</style>"
            f"<link rel=stylesheet href='{out}/link-stylesheet.css'>"
            f"<link rel=prefetch href='{out}/prefetch'>"
            f"<p id=probe style=\"background-image: url('{out}/inline-style.png')\">body</p>"
            f"<ul><li>x</li></ul><div>d</div>",
        ),
        "remote-resources": html_mail(
            "remote-resources",
            f"<base href='{out}/base/'><img src='relative.png'>"
            f"<img src='{out}/remote-image.png'><img srcset='{out}/srcset.png 1x'>"
            f"<picture><source srcset='{out}/picture.png'><img></picture>"
            f"<video poster='{out}/poster.png' src='{out}/video.mp4'></video>"
            f"<audio src='{out}/audio.mp3' autoplay></audio>"
            f"<input type=image src='{out}/input-image.png'>"
            f"<table background='{out}/table-background.png'><tr><td>t</td></tr></table>"
            f"<meta http-equiv=refresh content='0;url={out}/meta-refresh'>"
            f"<iframe src='{out}/iframe'></iframe><object data='{out}/object'></object>"
            f"<embed src='{out}/embed'><applet code='{out}/applet'></applet>"
            "<p id=probe>body</p>",
        ),
        "svg": html_mail(
            "svg",
            f"<svg><script>{pwn} fetch('{out}/svg-inline-script')</script></svg>"
            f"<svg onload=\"fetch('{out}/svg-onload')\"><image href='{out}/svg-image.png'/>"
            f"<use href='{out}/svg-use.svg#x'/><a href=\"javascript:fetch('{out}/svg-a')\">"
            f"<text y=20 id=svgtext>click</text></a>"
            f"<animate attributeName=href to=\"javascript:fetch('{out}/svg-animate')\"/></svg>"
            f"<math><mtext><img src=x onerror=\"fetch('{out}/mathml')\"></mtext></math>"
            "<p id=probe>body</p>",
            extra=(
                "--b1\r\nContent-Type: image/svg+xml\r\n"
                'Content-Disposition: attachment; filename="evil.svg"\r\n\r\n'
                "<svg xmlns='http://www.w3.org/2000/svg' "
                f"onload=\"fetch('{out}/svg-file-onload')\">"
                f"<script>{pwn} fetch('{out}/svg-file-script')</script></svg>\r\n"
                "--b1\r\nContent-Type: text/html\r\n"
                'Content-Disposition: attachment; filename="evil.html"\r\n\r\n'
                f"<script>{pwn} fetch('{out}/html-file-script')</script>\r\n"
            ),
        ),
        "escape-the-frame": html_mail(
            "escape-the-frame",
            f"<a id=top href='{out}/top-navigation' target=_top>top</a>"
            f"<a id=parent href='{out}/parent-navigation' target=_parent>parent</a>"
            f"<form id=form action='{out}/form-submit' method=post target=_top>"
            "<input name=q value=1><button id=submit>send</button></form>"
            "<p id=probe>body</p>",
        ),
        # Markup where only text belongs: subject, display name, address, file name.
        "markup-in-headers": (
            f"From: \"<img src='{out}/from-name.png'><script>{pwn}</script>\" "
            "<evil@example.com>\r\n"
            f"To: \"<svg onload=fetch('{out}/to-name')>\" <markup-in-headers@example.com>\r\n"
            f"Subject: <img src='{out}/subject.png' onerror='{pwn}'> <b>bold</b> "
            "=?utf-8?b?PHNjcmlwdD53aW5kb3cudG9wLl9fcHduZWQ9MTwvc2NyaXB0Pg==?=\r\n"
            "MIME-Version: 1.0\r\n"
            'Content-Type: multipart/mixed; boundary="b2"\r\n\r\n'
            "--b2\r\nContent-Type: text/plain\r\n\r\nplain <script>not html</script>\r\n"
            "--b2\r\nContent-Type: application/octet-stream\r\n"
            f"Content-Disposition: attachment; filename=\"<img src='{out}/filename.png'>.bin\"\r\n"
            "\r\nxx\r\n"
            "--b2\r\nContent-Type: application/octet-stream\r\n"
            "Content-Disposition: attachment;\r\n"
            " filename*=utf-8''%3Cscript%3Ealert(1)%3C%2Fscript%3E.txt\r\n"
            "\r\nyy\r\n--b2--\r\n"
        ).encode(),
    }
    return mails


MARKUP_SUBJECT = re.compile(r"<img src='http://127\.0\.0\.1:\d+/subject\.png'")
# Links the test clicks on purpose. A click is the user's choice: following it in a new tab
# is fine; navigating the inbox page itself away (escaping the frame) is not.
CLICKED_LINKS = ("/top-navigation", "/parent-navigation")


def _attachment_paths(inbox: Inbox, message_id: str) -> list[str]:
    status, _, body = inbox.request("GET", f"/api/v1/message/{message_id}")
    assert status == 200, body
    return [
        f"/api/v1/message/{message_id}/part/{item['PartID']}"
        for item in json.loads(body)["Attachments"]
    ]


def test_hostile_corpus_runs_nothing_fetches_nothing(inbox: Inbox) -> None:
    out = inbox.outside.base
    mails = corpus(out)
    for name, data in mails.items():
        inbox.send(f"{name}@example.com", data)
    assert len(inbox.messages()) >= len(mails)
    dialogs: list[str] = []
    pages: list[Any] = []  # every page the context opened: ours, and any pop-up
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(http_credentials={"username": USER, "password": PASSWORD})
            context.on("page", lambda opened: pages.append(opened))
            page = context.new_page()
            own = [page]
            page.set_default_timeout(TIMEOUT_MS)

            def on_dialog(dialog: Any) -> None:
                dialogs.append(dialog.message)
                dialog.dismiss()

            page.on("dialog", on_dialog)
            page.goto(inbox.url)
            rows = page.locator("a.row")
            sync_api.expect(rows).to_have_count(len(mails))
            for name in mails:
                subject = name if name != "markup-in-headers" else re.compile("bold")
                page.locator("a.row", has=page.locator(".subject-line", has_text=subject)).click()
                frame = page.frame_locator("#preview")
                if name != "markup-in-headers":
                    sync_api.expect(frame.locator("#probe")).to_have_text("body")
                    # The user pokes at everything: hovers, clicks links and buttons.
                    for selector in (
                        "#hover",
                        "#js",
                        "#jsent",
                        "#jsspace",
                        "#jsform",
                        "#data",
                        "#top",
                        "#parent",
                        "#submit",
                        "#svgtext",
                    ):
                        target = frame.locator(selector)
                        if target.count():
                            target.first.click(timeout=2000, force=True, no_wait_after=True)
                    # No script marked the preview's own document.
                    marked = frame.locator("body[data-pwned]")
                    assert marked.count() == 0, name
                page.wait_for_timeout(300)
                assert page.url.split("#")[0] == inbox.url, f"{name} navigated to {page.url}"
            page.wait_for_timeout(1500)  # anything that would run or load has done so
            hits = inbox.outside.taken()
            assert [hit for hit in hits if not hit.endswith(CLICKED_LINKS)] == []
            assert page.evaluate("window.__pwned") is None
            assert dialogs == []
            # Markup in headers is text: the list shows it literally and holds no elements.
            row = page.locator("a.row", has_text="bold")
            assert MARKUP_SUBJECT.search(row.inner_text()), row.inner_text()
            # (The page's own icons are svg.icon; anything else came from a header.)
            injected = "#list img, #list script, #list svg:not(.icon), #list b"
            assert page.locator(injected).count() == 0
            row.click()
            page.click("#tab-attachments")
            names = page.locator("a.file-name").all_inner_texts()
            assert f"<img src='{out}/filename.png'>.bin" in names, names
            assert "<script>alert(1)</script>.txt" in names, names
            assert page.locator("#files img, #files script, #files svg:not(.icon)").count() == 0

            # Opened on their own, outside the page's frame: the attachments (SVG and HTML with
            # script) come as downloads under a sandbox policy, the preview keeps its own.
            svg_id = next(m["ID"] for m in inbox.messages() if m["Subject"] == "svg")
            direct = [f"/view/{svg_id}.html", *_attachment_paths(inbox, svg_id)]
            assert len(direct) == 3
            for path in direct:
                tab = context.new_page()
                own.append(tab)
                try:
                    tab.goto(inbox.url.rstrip("/") + path)
                except sync_api.Error as error:  # a download instead of a page
                    failure = str(error)
                else:
                    failure = "Download is starting"  # a page (the preview): as good
                assert "Download is starting" in failure, failure
                tab.wait_for_timeout(500)
                assert tab.evaluate("window.__pwned") is None, path
                tab.close()
            page.wait_for_timeout(500)
            assert inbox.outside.taken() == []
            popups = [opened.url for opened in pages if opened not in own]
            assert all(url.endswith(CLICKED_LINKS) for url in popups), popups

            # Proof the recorder would see a fetch: remote images, when the user asks.
            remote = page.locator(".subject-line", has_text="remote-resources")
            page.locator("a.row", has=remote).click()
            page.click("#tab-html")
            page.click("#show-remote")
            page.wait_for_timeout(1000)
            assert "GET /remote-image.png" in inbox.outside.taken()
            context.close()
        finally:
            browser.close()


# --- basic auth on every route ---------------------------------------------------------------


def _routes(message_id: str) -> list[tuple[str, str]]:
    """Every (method, path) the app registers, placeholders filled, static files listed."""
    app = web_app.create_app(Path("/nonexistent-store"), basic_auth=("u", "p"))
    found: list[tuple[str, str]] = []
    for route in app.router.routes():
        info = route.resource.get_info() if route.resource is not None else {}
        if "directory" in info:
            prefix = info["prefix"].rstrip("/")
            for file in sorted(Path(info["directory"]).iterdir()):
                found.append((route.method, f"{prefix}/{file.name}"))
            continue
        path = info.get("path") or info.get("formatter")
        assert isinstance(path, str), info
        path = path.replace("{ID}", message_id).replace("{PartID}", "1")
        found.append((route.method, path))
    return sorted(set(found))


def test_basic_auth_guards_every_endpoint(inbox: Inbox) -> None:
    inbox.send(
        "auth@example.com",
        b"Subject: auth\r\nContent-Type: text/html\r\n\r\n<p>guarded</p>\r\n",
    )
    message_id = next(m["ID"] for m in inbox.messages() if m["Subject"] == "auth")
    routes = _routes(message_id)
    paths = {path for _, path in routes}
    # The live stream, the wait, the page, the API and the static files are all there.
    assert {"/api/events", "/api/v1/wait", "/", "/api/v1/messages"} <= paths
    assert any(path.startswith("/static/") for path in paths)
    before = len(inbox.messages())
    checked = 0
    for method, path in routes:
        for auth in (None, (USER, "wrong"), ("", ""), (USER.upper(), PASSWORD)):
            status, headers, _ = inbox.request(method, path, auth=auth)
            assert status == 401, (method, path, auth, status)
            assert headers["www-authenticate"].startswith("Basic ")
            checked += 1
    assert checked == 4 * len(routes) >= 4 * 40
    assert len(inbox.messages()) == before  # no DELETE got through
    # With the password every GET answers (proof the 401s came from the check).
    for method, path in routes:
        if method == "GET":
            query = "?timeout=0.1" if path == "/api/v1/wait" else ""
            status, _, _ = inbox.request(method, path + query)
            assert status not in (401, 403), (method, path, status)


# --- foreign Origin cannot change mail -------------------------------------------------------


def test_foreign_origin_cannot_delete(inbox: Inbox) -> None:
    inbox.send("keep@example.com", b"Subject: keep me\r\n\r\nbody\r\n")
    before = inbox.messages()
    keep_id = next(m["ID"] for m in before if m["Subject"] == "keep me")
    foreign = inbox.outside.base
    attempts = [
        ("DELETE", "/api/v1/messages", {"Origin": foreign}),
        ("DELETE", "/api/v1/messages", {"Origin": "null"}),
        ("DELETE", "/api/v1/messages", {"Origin": f"http://localhost:{inbox.outside.port}"}),
        ("DELETE", "/api/v1/messages", {"Sec-Fetch-Site": "cross-site"}),
        ("DELETE", "/api/v1/search?query=keep", {"Origin": foreign}),
        ("PUT", "/api/v1/messages", {"Origin": foreign, "Content-Type": "application/json"}),
    ]
    for method, path, headers in attempts:
        status, _, body = inbox.request(method, path, headers=headers)
        assert status == 403, (method, path, headers, status, body)
    assert [m["ID"] for m in inbox.messages()] == [m["ID"] for m in before]

    # A real page on another origin, in a browser that holds the user's credentials.
    inbox.outside.attack_page = f"""<!doctype html><script>
      const inbox = "{inbox.url}api/v1/messages";
      fetch(inbox, {{method: "DELETE", mode: "no-cors", credentials: "include"}});
      fetch(inbox, {{method: "DELETE", credentials: "include"}}).catch(() => null);
      fetch("{inbox.url}api/v1/search?query=keep",
            {{method: "DELETE", mode: "no-cors", credentials: "include"}});
    </script>
    <form id=f method=post action="{inbox.url}api/v1/messages"><input name=IDs value="{keep_id}">
    </form><script>setTimeout(() => document.getElementById("f").submit(), 300)</script>"""
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(http_credentials={"username": USER, "password": PASSWORD})
            page = context.new_page()
            page.goto(inbox.url)  # the user is logged in to the inbox
            attacker = context.new_page()
            attacker.goto(f"{inbox.outside.base}/attack.html")
            attacker.wait_for_timeout(1500)
            context.close()
        finally:
            browser.close()
    assert [m["ID"] for m in inbox.messages()] == [m["ID"] for m in before]
    # The same request from the inbox's own origin works: the 403s were the Origin check.
    status, _, _ = inbox.request(
        "DELETE", "/api/v1/messages", headers={"Origin": inbox.url.rstrip("/")}
    )
    assert status == 200
    assert inbox.messages() == []
