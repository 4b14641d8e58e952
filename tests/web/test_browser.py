"""The inbox in a real headless Chromium, against ``mailcatcher serve`` as users run it.

Debian's chromium (``/usr/bin/chromium``) is driven by Playwright for Python with
``executable_path``: Playwright's own browser download is not reachable on these
machines. Mail arrives over real SMTP. A small HTTP server on another free port records
every request it gets: a hostile mail points its scripts, images and styles at it, so
"no script ran, nothing was fetched" is a count of zero hits, and following a link from
the Links tab is one hit. Screenshots go to ``artifacts/screenshots/``.
"""

from __future__ import annotations

import http.server
import smtplib
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from tests import support
from tests.support import HOST, Proc

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
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
TIMEOUT_MS = 10_000

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="needs Debian's chromium at /usr/bin/chromium (apt-get install chromium)",
    ),
]
sync_api = pytest.importorskip(
    "playwright.sync_api", reason="needs Playwright for Python (pip install playwright)"
)


@dataclass
class Hits:
    """The paths a recording HTTP server was asked for."""

    paths: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, path: str) -> None:
        if path == "/favicon.ico":
            return  # the browser's own request for a page it opened, not the mail's
        with self.lock:
            self.paths.append(path)

    def taken(self) -> list[str]:
        with self.lock:
            paths, self.paths = self.paths, []
        return paths


@dataclass
class Catcher:
    """``mailcatcher serve`` with its SMTP and HTTP ports, and the recording server."""

    server: Proc
    smtp_port: int
    http_port: int
    hits: Hits
    hit_base: str

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.http_port}/"

    def send(self, message: EmailMessage) -> None:
        with smtplib.SMTP(HOST, self.smtp_port, timeout=10) as client:
            client.send_message(message)


@pytest.fixture(scope="module")
def catcher(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Catcher]:
    hits = Hits()

    class Recorder(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802  # the stdlib's name
            hits.record(self.path)
            body = b"followed"
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    recorder = http.server.ThreadingHTTPServer((HOST, 0), Recorder)
    thread = threading.Thread(target=recorder.serve_forever, daemon=True)
    thread.start()
    directory = tmp_path_factory.mktemp("browser") / "mail"
    try:
        with support.catcher("serve", directory, http=True) as server:
            assert server.http_port is not None
            hit_base = f"http://{HOST}:{recorder.server_port}"
            yield Catcher(server, server.port, server.http_port, hits, hit_base)
    finally:
        recorder.shutdown()
        recorder.server_close()
        thread.join(5)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any, catcher: Catcher) -> Iterator[Any]:
    """A fresh page on an empty inbox."""
    context = browser.new_context(viewport={"width": 1280, "height": 760}, accept_downloads=True)
    request = context.request
    assert request.delete(f"{catcher.url}api/v1/messages").ok
    catcher.hits.taken()
    tab = context.new_page()
    tab.set_default_timeout(TIMEOUT_MS)
    tab.goto(catcher.url)
    tab.wait_for_selector("#live.on")
    yield tab
    context.close()


def screenshot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"))


def report_mail(base: str) -> EmailMessage:
    """A report with an attachment and links to `base` (the recording server, in a test)."""
    message = EmailMessage()
    message["From"] = "Reports <reports@app.example>"
    message["To"] = "Eva Example <eva@example.com>"
    message["Subject"] = "Your weekly report"
    message.set_content(
        f"Hello Eva,\n\nyour report is attached. Details: {base}/followed?from=text\n"
    )
    message.add_alternative(
        '<div style="font-family:sans-serif"><h2 style="color:#2459d6">Weekly report</h2>'
        "<p>Hello <b>Eva</b>, your report is attached.</p>"
        f'<p><a href="{base}/followed?from=html">Open the dashboard</a></p></div>',
        subtype="html",
    )
    message.add_attachment(
        b"%PDF-1.4 report", maintype="application", subtype="pdf", filename="report.pdf"
    )
    return message


def test_mail_appears_live_opens_in_every_tab_downloads_follows_and_deletes(
    page: Any, catcher: Catcher
) -> None:
    expect = sync_api.expect
    expect(page.locator("#empty")).to_be_visible()
    page.evaluate("window.__sameDocument = true")
    catcher.send(report_mail(catcher.hit_base))
    row = page.locator("a.row", has_text="Your weekly report")
    expect(row).to_be_visible()
    assert page.evaluate("window.__sameDocument") is True  # it came without a reload
    expect(row.locator(".from")).to_have_text("Reports")
    expect(row.locator(".clip")).to_have_count(1)
    screenshot(page, "inbox-light")

    row.click()
    expect(page.locator("#subject")).to_have_text("Your weekly report")
    frame = page.frame_locator("#preview")
    expect(frame.locator("h2")).to_have_text("Weekly report")
    screenshot(page, "message-light")

    page.click("#tab-text")
    expect(page.locator("#text")).to_contain_text("your report is attached")
    page.click("#tab-source")
    expect(page.locator("#source")).to_contain_text("Subject: Your weekly report")
    page.click("#tab-headers")
    expect(page.locator("#headers")).to_contain_text("X-Rcptto")
    page.click("#tab-attachments")
    with page.expect_download() as download_info:
        page.click("a.file-name")
    download = download_info.value
    assert download.suggested_filename == "report.pdf"
    assert Path(download.path()).read_bytes() == b"%PDF-1.4 report"

    page.click("#tab-links")
    links = page.locator("#links a")
    expect(links).to_have_count(2)
    with page.context.expect_page() as opened:
        links.first.click()
    followed = opened.value
    followed.wait_for_load_state()
    assert followed.url == f"{catcher.hit_base}/followed?from=text"
    assert catcher.hits.taken() == ["/followed?from=text"]
    followed.close()

    page.click("#delete-one")
    expect(row).to_have_count(0)
    expect(page.locator("#count")).to_have_text("No messages")
    assert page.context.request.get(f"{catcher.url}api/v1/messages").json()["total"] == 0


def test_the_keyboard_reaches_everything(page: Any, catcher: Catcher) -> None:
    expect = sync_api.expect
    for subject in ("first", "second", "third"):
        message = EmailMessage()
        message["From"] = "app@example.com"
        message["To"] = "eva@example.com"
        message["Subject"] = f"keyboard {subject}"
        message.set_content(f"the {subject} one")
        catcher.send(message)
    expect(page.locator("a.row")).to_have_count(3)
    page.keyboard.press("j")
    expect(page.locator("#subject")).to_have_text("keyboard third")
    page.keyboard.press("j")
    expect(page.locator("#subject")).to_have_text("keyboard second")
    page.keyboard.press("k")
    expect(page.locator("#subject")).to_have_text("keyboard third")
    page.keyboard.press("Delete")
    expect(page.locator("a.row")).to_have_count(2)
    # Deleting opens the next message and focuses its row once the list has reloaded.
    expect(page.locator("#subject")).to_have_text("keyboard second")
    expect(page.locator("a.row.selected, li.selected a.row").first).to_be_focused()
    page.keyboard.press("Escape")
    expect(page.locator("#message-pane")).to_be_hidden()
    page.keyboard.press("/")
    expect(page.locator("#search")).to_be_focused()
    page.keyboard.type("subject:first")
    expect(page.locator("a.row")).to_have_count(1)
    expect(page.locator("a.row .subject-line")).to_have_text("keyboard first")
    page.keyboard.press("Escape")
    page.keyboard.press("j")
    expect(page.locator("#subject")).to_have_text("keyboard first")
    page.keyboard.press("Tab")  # the page's controls are all reachable by Tab
    assert page.evaluate("document.activeElement !== document.body")
    # While searching, "Delete all" deletes what matches, and says so.
    expect(page.locator("#delete-all")).to_have_text("Delete 1 matching")
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#delete-all")
    expect(page.locator("a.row")).to_have_count(0)
    left = page.context.request.get(f"{catcher.url}api/v1/messages").json()["messages"]
    assert [message["Subject"] for message in left] == ["keyboard second"]


def hostile_mail(catcher: Catcher) -> EmailMessage:
    hit = catcher.hit_base
    message = EmailMessage()
    message["From"] = '"<img src=x onerror=alert(1)>" <evil@example.com>'
    message["To"] = "eva@example.com"
    message["Subject"] = "<b>bold?</b> <script>window.__pwned = 1</script>"
    message.set_content("plain part")
    message.add_alternative(
        f"""<html><head><title>t</title>
<script>document.title = "pwned"; window.parent.__pwned = 1; fetch("{hit}/script")</script>
<style>body {{ background: url({hit}/css-background) }} @import url({hit}/css-import);</style>
</head><body onload="fetch('{hit}/onload')">
<h1 id="hostile">Hostile</h1>
<img src="x" onerror="fetch('{hit}/onerror')">
<img src="{hit}/remote-image.gif" alt="remote">
<svg><script>fetch("{hit}/svg")</script></svg>
<a id="js" href="javascript:fetch('{hit}/javascript-url')">click</a>
<iframe src="{hit}/iframe"></iframe>
<object data="{hit}/object"></object>
<form action="{hit}/form"><input name="q" value="x"><button id="go">go</button></form>
<meta http-equiv="refresh" content="0;url={hit}/refresh">
</body></html>""",
        subtype="html",
    )
    message.add_attachment(
        b"<script>alert(1)</script>",
        maintype="text",
        subtype="html",
        filename='"><img src=x onerror=alert(2)>.html',
    )
    return message


def test_hostile_mail_runs_nothing_fetches_nothing_and_shows_markup_as_text(
    page: Any, catcher: Catcher
) -> None:
    expect = sync_api.expect
    catcher.send(hostile_mail(catcher))
    subject = "<b>bold?</b> <script>window.__pwned = 1</script>"
    row = page.locator("a.row")
    expect(row.locator(".subject-line")).to_have_text(subject)
    expect(row.locator(".from")).to_have_text("<img src=x onerror=alert(1)>")
    assert page.locator("a.row b, a.row img, a.row script").count() == 0
    row.click()
    expect(page.locator("#subject")).to_have_text(subject)
    frame = page.frame_locator("#preview")
    expect(frame.locator("#hostile")).to_have_text("Hostile")
    # Clicking in the preview does nothing either.
    frame.locator("#hostile").click()
    page.wait_for_timeout(1000)  # time for anything that would run or load to do so
    assert catcher.hits.taken() == []
    assert page.evaluate("window.__pwned") is None
    assert page.title() != "pwned"
    # The preview runs in an opaque origin: the page cannot reach into it, nor it out.
    assert page.evaluate("document.getElementById('preview').contentDocument") is None
    page.click("#tab-attachments")
    expect(page.locator("a.file-name")).to_have_text('"><img src=x onerror=alert(2)>.html')
    assert page.locator("#files img").count() == 0

    # Remote images were blocked by choice, and the user can ask for them.
    page.click("#tab-html")
    expect(page.locator("#remote-bar")).to_be_visible()
    page.click("#show-remote")
    page.wait_for_timeout(1000)
    # The remote image and the CSS background image; @import stays blocked (style-src).
    assert sorted(catcher.hits.taken()) == ["/css-background", "/remote-image.gif"]


def test_screenshots_light_dark_and_narrow(browser: Any, catcher: Catcher) -> None:
    expect = sync_api.expect
    request = browser.new_context().request
    assert request.delete(f"{catcher.url}api/v1/messages").ok
    request.dispose()
    for number, (sender, subject, text) in enumerate(
        [
            ("Shop <orders@shop.example>", "Order #1042 confirmed", "Thanks for your order."),
            ("GitHub <noreply@github.example>", "[app] CI passed on main", "All 214 tests passed."),
            ("Accounts <no-reply@app.example>", "Confirm your email address", "Click to confirm."),
        ]
    ):
        message = EmailMessage()
        message["From"] = sender
        message["To"] = f"user{number}@example.com"
        message["Subject"] = subject
        message.set_content(text)
        catcher.send(message)
    catcher.send(report_mail("https://reports.example"))
    for scheme in ("light", "dark"):
        context = browser.new_context(viewport={"width": 1200, "height": 680}, color_scheme=scheme)
        tab = context.new_page()
        tab.set_default_timeout(TIMEOUT_MS)
        tab.goto(catcher.url)
        expect(tab.locator("a.row")).to_have_count(4)
        tab.locator("a.row", has_text="Your weekly report").click()
        expect(tab.frame_locator("#preview").locator("h2")).to_have_text("Weekly report")
        screenshot(tab, f"inbox-message-{scheme}")
        context.close()
    context = browser.new_context(viewport={"width": 390, "height": 760})
    tab = context.new_page()
    tab.set_default_timeout(TIMEOUT_MS)
    tab.goto(catcher.url)
    expect(tab.locator("a.row")).to_have_count(4)
    screenshot(tab, "narrow-inbox")
    tab.locator("a.row", has_text="Your weekly report").click()
    expect(tab.locator("#back")).to_be_visible()
    expect(tab.locator("#list-pane")).to_be_hidden()
    expect(tab.frame_locator("#preview").locator("h2")).to_have_text("Weekly report")
    screenshot(tab, "narrow-message")
    context.close()


def login_and_send(catcher: Catcher, message: EmailMessage, recipients: list[str]) -> None:
    """Send with SMTP AUTH and an explicit envelope (a Bcc is a RCPT TO no header names)."""
    with smtplib.SMTP(HOST, catcher.smtp_port, timeout=10) as client:
        client.login("eva-login", "any password")
        client.send_message(message, to_addrs=recipients)


def test_envelope_bcc_text_links_and_the_empty_links_tab(page: Any, catcher: Catcher) -> None:
    expect = sync_api.expect
    message = EmailMessage()
    message["From"] = "App <app@example.com>"
    message["To"] = "Eva <eva@example.com>"
    message["Subject"] = "Blind copy"
    message.set_content(f"Confirm at {catcher.hit_base}/confirm?from=text-tab. Thanks!")
    login_and_send(catcher, message, ["eva@example.com", "hidden@example.net"])
    page.locator("a.row", has_text="Blind copy").click()
    expect(page.locator("#subject")).to_have_text("Blind copy")
    # The envelope-only recipient shows as a Bcc, as Mailpit shows it.
    expect(page.locator("#meta")).to_contain_text("Bcc")
    expect(page.locator("#meta")).to_contain_text("hidden@example.net")

    # The envelope, with the headers: MAIL FROM, every RCPT TO, the AUTH login.
    page.click("#tab-headers")
    envelope = page.locator("#envelope")
    expect(envelope.locator("tr")).to_have_count(4)
    expect(envelope.locator("tr").nth(0)).to_have_text("MAIL FROM<app@example.com>")
    expect(envelope.locator("tr").nth(1)).to_have_text("RCPT TO<eva@example.com>")
    expect(envelope.locator("tr").nth(2)).to_have_text("RCPT TO<hidden@example.net>")
    expect(envelope.locator("tr").nth(3)).to_have_text("AUTH logineva-login")
    expect(page.locator("#headers")).to_contain_text("X-Rcptto")

    # A link in the Text tab opens in a new tab, with no opener and no referrer.
    page.click("#tab-text")
    link = page.locator("#text a")
    expect(link).to_have_count(1)
    url = f"{catcher.hit_base}/confirm?from=text-tab"  # the full stop after it is prose
    expect(link).to_have_attribute("href", url)
    expect(link).to_have_attribute("target", "_blank")
    expect(link).to_have_attribute("rel", "noopener noreferrer")
    expect(page.locator("#text")).to_have_text(f"Confirm at {url}. Thanks!\n")
    with page.context.expect_page() as opened:
        link.click()
    followed = opened.value
    followed.wait_for_load_state()
    assert followed.url == url
    assert followed.evaluate("window.opener") is None
    assert followed.evaluate("document.referrer") == ""
    followed.close()
    assert catcher.hits.taken() == ["/confirm?from=text-tab"]

    # A message without links says so in a sentence, not as list item 1.
    plain = EmailMessage()
    plain["From"] = "app@example.com"
    plain["To"] = "eva@example.com"
    plain["Subject"] = "No links here"
    plain.set_content("Nothing to click.")
    catcher.send(plain)
    page.locator("a.row", has_text="No links here").click()
    page.click("#tab-links")
    expect(page.locator("#links-none")).to_be_visible()
    expect(page.locator("#links-none")).to_have_text("This message has no links.")
    expect(page.locator("#links li")).to_have_count(0)
    expect(page.locator("#links")).to_be_hidden()


def test_a_search_closes_the_open_message_it_no_longer_finds(page: Any, catcher: Catcher) -> None:
    expect = sync_api.expect
    for subject in ("alpha report", "beta report"):
        message = EmailMessage()
        message["From"] = "app@example.com"
        message["To"] = "eva@example.com"
        message["Subject"] = subject
        message.set_content(subject)
        catcher.send(message)
    page.locator("a.row", has_text="alpha report").click()
    expect(page.locator("#subject")).to_have_text("alpha report")
    page.fill("#search", "report")  # still matches: stays open
    expect(page.locator("a.row")).to_have_count(2)
    expect(page.locator("#message-pane")).to_be_visible()
    page.fill("#search", "subject:beta")
    expect(page.locator("a.row")).to_have_count(1)
    expect(page.locator("#message-pane")).to_be_hidden()
    expect(page.locator("#placeholder")).to_be_visible()
    assert page.evaluate("location.hash") in ("", "#")


def test_every_tab_is_reachable_on_a_400_pixel_wide_window(browser: Any, catcher: Catcher) -> None:
    expect = sync_api.expect
    context = browser.new_context(viewport={"width": 400, "height": 700})
    assert context.request.delete(f"{catcher.url}api/v1/messages").ok
    catcher.send(report_mail(catcher.hit_base))
    tab = context.new_page()
    tab.set_default_timeout(TIMEOUT_MS)
    tab.goto(catcher.url)
    tab.locator("a.row", has_text="Your weekly report").click()
    expect(tab.locator("#subject")).to_have_text("Your weekly report")
    screenshot(tab, "narrow-400-tabs")
    for name in ("html", "text", "source", "headers", "attachments", "links"):
        button = tab.locator(f"#tab-{name}")
        expect(button).to_be_visible()
        box = button.bounding_box()
        assert box is not None
        # On screen without scrolling sideways: wholly inside the 400 px.
        assert box["x"] >= 0, (name, box)
        assert box["x"] + box["width"] <= 400, (name, box)
        button.click()
        expect(button).to_have_attribute("aria-selected", "true")
        expect(tab.locator(f"#panel-{name}")).to_be_visible()
    assert tab.evaluate("document.documentElement.scrollWidth") <= 400
    context.close()


def test_a_malformed_message_opens_on_the_page(page: Any, catcher: Catcher) -> None:
    """The 'x*' message that once made the list answer 500 lists and opens like any other."""
    expect = sync_api.expect
    raw = (
        b'From: <\r\nTo: "\r\nSubject: =?utf-8?b?A?= broken\r\n'
        b"Content-Type: text/plain; x*\r\n\r\nstill readable\r\n"
    )
    with smtplib.SMTP(HOST, catcher.smtp_port, timeout=10) as client:
        client.sendmail("app@example.com", ["eva@example.com"], raw)
    row = page.locator("a.row", has_text="broken")
    expect(row).to_be_visible()
    row.click()
    expect(page.locator("#subject")).to_have_text("=?utf-8?b?A?= broken")
    page.click("#tab-text")
    expect(page.locator("#text")).to_contain_text("still readable")
    for name in ("source", "headers", "attachments", "links"):
        page.click(f"#tab-{name}")
    expect(page.locator("#envelope")).to_contain_text("<eva@example.com>")
    expect(page.locator("#count")).not_to_have_class("error")
