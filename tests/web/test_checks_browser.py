"""The Checks tab and the preview widths, in a real headless Chromium.

The same set-up as `tests.web.test_browser` (its fixtures: ``mailcatcher serve``,
Debian's chromium through Playwright, a recording HTTP server); the mail arrives over
real SMTP. Screenshots go to ``artifacts/screenshots/``.
"""

from __future__ import annotations

from email.message import EmailMessage
from typing import Any

from tests.web import test_browser
from tests.web.test_browser import Catcher, screenshot, sync_api

pytestmark = test_browser.pytestmark
# test_browser's fixtures, shared: the page on a ``mailcatcher serve`` inbox.
browser = test_browser.browser
catcher = test_browser.catcher
page = test_browser.page


def signup_mail(sender: str = "App <app@shop.example>") -> EmailMessage:
    """A signup mail with a development link, no Message-ID and CSS Outlook drops."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = "Eva <eva@example.com>"
    message["Subject"] = "Confirm your address"
    message["Date"] = "Mon, 04 May 2026 09:30:00 +0200"
    message.set_content("Confirm: http://localhost:8000/verify?t=1\n")
    message.add_alternative(
        '<p style="border-radius:4px">Hello Eva, '
        '<a href="http://localhost:8000/verify?t=1">confirm your address</a>.</p>',
        subtype="html",
    )
    return message


def open_message(page: Any, subject: str) -> None:
    row = page.locator("a.row", has_text=subject)
    sync_api.expect(row).to_be_visible()
    row.click()
    sync_api.expect(page.locator("#subject")).to_have_text(subject)


def test_the_checks_tab_counts_groups_and_points_at_each_finding(
    page: Any, catcher: Catcher
) -> None:
    expect = sync_api.expect
    catcher.send(signup_mail())
    open_message(page, "Confirm your address")
    tab = page.locator("#tab-checks")
    expect(tab).to_have_text("Checks (1 error, 2 warnings)")  # before the tab is opened
    tab.click()
    expect(tab).to_have_attribute("aria-selected", "true")
    panel = page.locator("#panel-checks")
    expect(panel.locator("h2")).to_have_text(["Errors (1)", "Warnings (2)"])
    expect(panel.locator("ul.error li .code")).to_have_text(["link-localhost"])
    expect(panel.locator("ul.warning li .code")).to_have_text(
        ["message-id-missing", "client-unsupported"]
    )
    localhost = panel.locator('li[data-code="link-localhost"]')
    expect(localhost.locator(".message")).to_have_text(
        "build links from the public site URL, not 'localhost' (loopback)"
    )
    expect(localhost.locator(".where")).to_contain_text("http://localhost:8000/verify?t=1")
    expect(page.locator("#checks-summary")).to_have_text("1 error, 2 warnings.")
    expect(page.locator("#checks-source")).to_contain_text("caniemail.com")
    localhost.locator("summary").click()
    expect(localhost.locator("details")).to_contain_text("RFC 6761")
    screenshot(page, "checks-tab")

    # Each finding links to where it is: the link to the Links tab, the header to Headers.
    localhost.locator("button.goto").click()
    expect(page.locator("#tab-links")).to_have_attribute("aria-selected", "true")
    page.click("#tab-checks")
    panel.locator('li[data-code="message-id-missing"] button.goto').click()
    expect(page.locator("#tab-headers")).to_have_attribute("aria-selected", "true")


def test_a_clean_message_says_so(page: Any, catcher: Catcher) -> None:
    message = EmailMessage()
    message["From"] = "App <app@shop.example>"
    message["To"] = "eva@example.com"
    message["Subject"] = "All good"
    message["Date"] = "Mon, 04 May 2026 09:30:00 +0200"
    message["Message-ID"] = "<ok-1@shop.example>"
    message.set_content("Your order ships today: https://shop.example/orders/1\n")
    catcher.send(message)
    open_message(page, "All good")
    sync_api.expect(page.locator("#tab-checks")).to_have_text("Checks (0)")
    page.click("#tab-checks")
    sync_api.expect(page.locator("#checks-summary")).to_have_text("No problems found.")
    assert page.locator("#checks li").count() == 0


def test_mail_in_a_finding_stays_text(page: Any, catcher: Catcher) -> None:
    # The From header is quoted in the from-invalid finding: it must show as text.
    catcher.send(signup_mail(sender='<img src="x" onerror="window.__hacked=1"><b>bold</b>'))
    open_message(page, "Confirm your address")
    page.click("#tab-checks")
    finding = page.locator('#checks li[data-code="from-invalid"] .message')
    sync_api.expect(finding).to_contain_text('<img src="x"')
    assert page.locator("#checks img, #checks b").count() == 0
    assert page.evaluate("window.__hacked") is None


def test_the_preview_switches_between_phone_tablet_and_desktop_widths(
    page: Any, catcher: Catcher
) -> None:
    expect = sync_api.expect
    catcher.send(signup_mail())
    open_message(page, "Confirm your address")
    preview = page.locator("#preview")
    expect(page.frame_locator("#preview").locator("a")).to_have_text("confirm your address")
    width = "getComputedStyle(document.getElementById('preview')).width"
    page.click(".width-bar [data-width=phone]")
    expect(page.locator(".width-bar [data-width=phone]")).to_have_attribute("aria-pressed", "true")
    expect(preview).to_have_class("preview width-phone")
    assert page.evaluate(width) == "375px"
    screenshot(page, "preview-phone")
    page.click(".width-bar [data-width=tablet]")
    assert page.evaluate(width) == "768px"
    page.click(".width-bar [data-width=desktop]")
    expect(page.locator(".width-bar [data-width=phone]")).to_have_attribute("aria-pressed", "false")
    assert float(page.evaluate(width).removesuffix("px")) > 768
    # Still the same sandboxed frame: no scripts, no same origin.
    assert preview.get_attribute("sandbox") == "allow-popups allow-popups-to-escape-sandbox"
