"""The inbox switcher and tags in a real headless Chromium, against ``mailcatcher serve``.

Mail arrives over real SMTP, sent with different logins; the page is driven as a user
drives it (the switcher, the tag field), and what it shows is read back from the DOM.
"""

from __future__ import annotations

import smtplib
from collections.abc import Iterator
from email.message import EmailMessage
from typing import Any

import pytest

from tests import support
from tests.support import HOST, Proc
from tests.web.test_browser import CHROMIUM, CHROMIUM_ARGS, TIMEOUT_MS, screenshot

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

#: A login with markup, a slash and a space: shown as text, encoded in the URL.
ODD = "<b>app</b> / two"


@pytest.fixture(scope="module")
def serve(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proc]:
    directory = tmp_path_factory.mktemp("inboxes-browser") / "mail"
    with support.catcher("serve", directory, http=True) as proc:
        yield proc


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def context(browser: Any, serve: Proc) -> Iterator[Any]:
    """A browser context on an empty store."""
    context = browser.new_context(viewport={"width": 1280, "height": 760})
    assert context.request.delete(f"{serve.url}api/v1/messages").ok
    yield context
    context.close()


def send(proc: Proc, login: str | None, subject: str) -> None:
    message = EmailMessage()
    message["From"] = "App <app@example.com>"
    message["To"] = "eva@example.com"
    message["Subject"] = subject
    message.set_content("hello\n")
    with smtplib.SMTP(HOST, proc.port, timeout=30) as client:
        if login is not None:
            client.login(login, "pw")
        client.send_message(message)


def open_page(context: Any, url: str) -> Any:
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(url)
    page.wait_for_selector("#live.on")
    return page


def test_the_switcher_lists_inboxes_with_counts_and_switching_shows_one(
    context: Any, serve: Proc
) -> None:
    expect = sync_api.expect
    send(serve, "app1", "first for app1")
    send(serve, "app1", "second for app1")
    send(serve, ODD, "for the odd one")
    send(serve, None, "without a login")
    page = open_page(context, serve.url)
    rows = page.locator("a.row")
    expect(rows).to_have_count(4)
    options = page.locator("#inbox-switch option")
    expect(options).to_have_text(["All inboxes (4)", f"{ODD} (1)", "app1 (2)", "default (1)"])
    assert page.locator("#inbox-switch b").count() == 0  # the markup stayed text

    page.select_option("#inbox-switch", "app1")
    page.wait_for_url(f"{serve.url}inbox/app1/")
    page.wait_for_selector("#live.on")
    expect(rows).to_have_count(2)
    expect(rows.locator(".subject-line")).to_have_text(["second for app1", "first for app1"])
    expect(page.locator("#inbox-switch")).to_have_value("app1")
    # Live: mail for another inbox does not show here; mail for this one does.
    send(serve, "app2", "for app2")
    send(serve, "app1", "third for app1")
    expect(rows).to_have_count(3)
    expect(rows.first.locator(".subject-line")).to_have_text("third for app1")
    expect(options.filter(has_text="app2")).to_have_text(["app2 (1)"])
    screenshot(page, "inbox-switcher")

    page.select_option("#inbox-switch", ODD)
    page.wait_for_url(f"{serve.url}inbox/%3Cb%3Eapp%3C%2Fb%3E%20%2F%20two/")
    expect(rows).to_have_count(1)
    expect(rows.locator(".subject-line")).to_have_text("for the odd one")

    page.select_option("#inbox-switch", "")
    page.wait_for_url(serve.url)
    expect(rows).to_have_count(6)


def test_a_tag_added_on_the_open_message_shows_on_its_row_and_survives_a_reload(
    context: Any, serve: Proc
) -> None:
    expect = sync_api.expect
    send(serve, "app1", "tag me")
    send(serve, "app1", "leave me")
    page = open_page(context, f"{serve.url}inbox/app1/")
    row = page.locator("a.row", has_text="tag me")
    row.click()
    expect(page.locator("#subject")).to_have_text("tag me")
    page.fill("#tag-input", "signup flow")
    page.press("#tag-input", "Enter")
    expect(page.locator("#tags .tag-search")).to_have_text(["signup flow"])
    expect(row.locator(".tag")).to_have_text(["signup flow"])
    page.fill("#tag-input", "<i>second</i>")  # cleaned by the server's tag rules
    page.click("#tag-add")
    expect(page.locator("#tags .tag-search")).to_have_text(["signup flow", "i second i"])
    page.click('#tags button[aria-label="Remove tag i second i"]')
    expect(page.locator("#tags .tag-search")).to_have_text(["signup flow"])

    page.reload()
    page.wait_for_selector("#live.on")
    expect(page.locator("#subject")).to_have_text("tag me")  # the URL keeps it open
    expect(page.locator("#tags .tag-search")).to_have_text(["signup flow"])
    expect(row.locator(".tag")).to_have_text(["signup flow"])
    expect(page.locator("a.row", has_text="leave me").locator(".tag")).to_have_count(0)
    screenshot(page, "tags")

    # A click on a tag searches for it.
    page.locator("a.row", has_text="tag me").locator(".tag").click()
    expect(page.locator("#search")).to_have_value('tag:"signup flow"')
    expect(page.locator("a.row")).to_have_count(1)
    # The store keeps it: the whole store's search finds it too.
    whole = context.request.get(f"{serve.url}api/v1/search", params={"query": 'tag:"signup flow"'})
    assert [m["Subject"] for m in whole.json()["messages"]] == ["tag me"]


def test_the_page_under_an_inbox_reads_that_inbox_only(context: Any, serve: Proc) -> None:
    """Its every request is relative: nothing of another inbox reaches it, by any route."""
    send(serve, "other", "not for this page")
    page = open_page(context, f"{serve.url}inbox/mine/")
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    send(serve, "mine", "for this page")
    sync_api.expect(page.locator("a.row")).to_have_count(1)
    page.locator("a.row").click()
    sync_api.expect(page.locator("#subject")).to_have_text("for this page")
    page.click("#tab-source")
    sync_api.expect(page.locator("#source")).to_contain_text("for this page")
    api_calls = [url for url in requested if "/api/" in url or "/view/" in url]
    assert api_calls  # the page did ask
    assert all(url.startswith(f"{serve.url}inbox/mine/") for url in api_calls), api_calls
