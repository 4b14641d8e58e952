"""`mailcatcher.message.check`: one small message per finding, and well-made mail that has none.

Each corpus message is a clean message with one thing wrong, as bytes an SMTP client sends
(CRLF lines), read back by the store's parser; the check must report exactly that finding.
The clean mail comes from the tools apps use: Python's `email` package and Django's
`EmailMultiAlternatives`, stored in a real Maildir and read back through the store.
"""

from __future__ import annotations

import re
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path

import pytest

from mailcatcher.message import RULES, SEVERITIES, Report, check
from mailcatcher.message._support import data
from mailcatcher.store import MaildirStore, parse_message

ROOT = Path(__file__).resolve().parents[2]

HEADERS = {
    "From": "Acme Shop <noreply@shop.example>",
    "To": "Eva <eva@example.com>",
    "Subject": "Your order",
    "Date": "Mon, 04 May 2026 09:30:00 +0200",
    "Message-ID": "<order-1042@shop.example>",
    "MIME-Version": "1.0",
    "X-MailFrom": "bounce@shop.example",
    "X-RcptTo": "eva@example.com",
}
TEXT = "Hello Eva,\r\n\r\nyour order 1042 ships today: https://shop.example/orders/1042\r\n"
HTML_PAGE = '<p>Hello Eva, your order <a href="https://shop.example/orders/1042">1042</a></p>'


def headers(**changes: str | None) -> str:
    """The clean headers with `changes` (underscores for dashes; None removes one)."""
    fields = dict(HEADERS)
    for name, value in changes.items():
        name = name.replace("_", "-")
        if value is None:
            del fields[name]
        else:
            fields[name] = value
    return "".join(f"{name}: {value}\r\n" for name, value in fields.items())


def text_mail(
    body: str = TEXT, content_type: str = "text/plain; charset=utf-8", **changes: str | None
) -> bytes:
    return (headers(**changes) + f"Content-Type: {content_type}\r\n\r\n" + body).encode("utf-8")


def html_mail(html: str, text: str = TEXT, **changes: str | None) -> bytes:
    """A multipart/alternative with a text part and `html`."""
    return (
        headers(**changes)
        + 'Content-Type: multipart/alternative; boundary="b1"\r\n\r\n'
        + "--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        + text
        + "\r\n--b1\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
        + html
        + "\r\n--b1--\r\n"
    ).encode("utf-8")


def codes(raw: bytes) -> list[str]:
    return [finding.code for finding in check(parse_message(raw), raw).findings]


LONG_HTML = "<div>" + "<p>Line of the newsletter that is long enough.</p>\r\n" * 2200 + "</div>"

#: One message per finding code: a clean message with exactly that wrong.
CORPUS: dict[str, bytes] = {
    "from-missing": text_mail(From=None),
    "from-invalid": text_mail(From="Acme Shop"),
    "date-missing": text_mail(Date=None),
    "date-invalid": text_mail(Date="yesterday at noon"),
    "message-id-missing": text_mail(Message_ID=None),
    "message-id-invalid": text_mail(Message_ID="order 1042"),
    "mime-version-missing": text_mail(MIME_Version=None),
    "line-too-long": text_mail("Hello " + "x" * 1200 + "\r\n"),
    "bare-line-break": text_mail("Hello Eva,\nyour order ships.\r\n"),
    "8bit-in-7bit": text_mail("Grüße aus Köln\r\n"),
    "header-8bit": text_mail(Subject="Grüße aus Köln"),
    "encoded-word-invalid": text_mail(Subject="=?utf-8?b?A?="),
    "multipart-unclosed": (
        headers()
        + 'Content-Type: multipart/mixed; boundary="b1"\r\n\r\n'
        + "--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        + TEXT
    ).encode(),
    "multipart-boundary-missing": text_mail("Hello.\r\n", content_type="multipart/mixed"),
    "charset-missing": (
        headers() + "Content-Type: text/plain\r\nContent-Transfer-Encoding: 8bit\r\n\r\nGrüße\r\n"
    ).encode(),
    "link-localhost": text_mail("Verify: https://localhost:8000/verify?t=1\r\n"),
    "link-private": text_mail("Verify: https://192.168.1.20/verify?t=1\r\n"),
    "link-insecure": text_mail("Verify: http://shop.example/verify?t=1\r\n"),
    "link-relative": html_mail('<p><a href="/verify?t=1">Verify</a></p>'),
    "link-mismatch": html_mail(
        '<p><a href="https://evil.example/x">https://shop.example/account</a></p>'
    ),
    "link-empty": html_mail('<p><a href="#">Verify your address</a></p>'),
    "mailto-invalid": html_mail('<p><a href="mailto:support">Help</a></p>'),
    "tel-invalid": html_mail('<p><a href="tel:555 0100">Call us</a></p>'),
    "html-without-text": (
        headers() + "Content-Type: text/html; charset=utf-8\r\n\r\n" + HTML_PAGE + "\r\n"
    ).encode(),
    "unsubscribe-no-one-click": text_mail(List_Unsubscribe="<https://shop.example/u?e=eva>"),
    "unsubscribe-no-target": text_mail(
        List_Unsubscribe="<http://shop.example/u?e=eva>",
        List_Unsubscribe_Post="List-Unsubscribe=One-Click",
    ),
    "unsubscribe-header-missing": html_mail(
        '<p><a href="https://shop.example/unsubscribe?e=eva">Unsubscribe</a></p>'
    ),
    "html-too-large": html_mail(LONG_HTML),
    "image-no-alt": html_mail('<p><img src="https://shop.example/logo.png" width="120"></p>'),
    "from-domain-mismatch": text_mail(X_MailFrom="bounce@mailer.example"),
    "client-unsupported": html_mail('<p style="border-radius: 4px">Hello Eva</p>'),
}


def test_the_corpus_covers_every_rule() -> None:
    assert set(CORPUS) == set(RULES)


@pytest.mark.parametrize("code", list(CORPUS))
def test_each_message_has_exactly_its_finding(code: str) -> None:
    assert codes(CORPUS[code]) == [code]


@pytest.mark.parametrize("code", list(CORPUS))
def test_a_finding_says_what_to_fix_where_and_why(code: str) -> None:
    raw = CORPUS[code]
    (finding,) = check(parse_message(raw), raw).findings
    assert finding.severity == RULES[code].severity
    assert finding.message
    assert "\n" not in finding.message
    assert str(finding.location) != "message"  # a header, part, line or link
    assert finding.description == RULES[code].description
    if RULES[code].group == "standards":
        assert re.search(r"RFC \d+ \d", finding.description), "quote the RFC section"


def test_findings_point_at_the_header_part_line_and_link() -> None:
    raw = CORPUS["link-localhost"]
    (finding,) = check(parse_message(raw), raw).findings
    assert finding.location.part == "1"
    assert finding.location.line == 1
    assert finding.location.link == "https://localhost:8000/verify?t=1"
    raw = CORPUS["client-unsupported"]
    (finding,) = check(parse_message(raw), raw).findings
    assert (finding.location.part, finding.location.line) == ("2", 1)
    assert finding.feature == "css-border-radius"
    assert "Outlook (Windows)" in finding.message
    (finding,) = check(parse_message(CORPUS["date-invalid"])).findings
    assert finding.location.header == "Date"
    raw = CORPUS["line-too-long"]
    (finding,) = check(parse_message(raw), raw).findings
    assert finding.location.line == len(HEADERS) + 3  # after the headers and blank line


def test_raw_rules_need_the_bytes() -> None:
    raw = CORPUS["line-too-long"]
    assert check(parse_message(raw)).findings == ()


def test_an_http_localhost_link_is_one_finding_not_two() -> None:
    assert codes(text_mail("Verify: http://localhost:8000/verify\r\n")) == ["link-localhost"]
    assert codes(text_mail("Verify: http://127.0.0.1:8000/verify\r\n")) == ["link-localhost"]
    assert codes(text_mail("Verify: https://web:8000/verify\r\n")) == ["link-private"]
    assert codes(text_mail("Verify: https://[::1]/verify\r\n")) == ["link-localhost"]


def test_well_formed_links_of_every_kind_pass() -> None:
    html = (
        '<p><a href="https://click.shop.example/t/1">shop.example</a> '
        '<a href="mailto:help@shop.example?subject=Order%201042">Help</a> '
        '<a href="mailto:?to=help@shop.example">Help</a> '
        '<a href="tel:+49-221-555-0100">Call</a> '
        '<a href="tel:5550100;phone-context=+49-221">Call</a> '
        '<a href="cid:logo@shop.example">logo</a> <a name="top">top</a></p>'
    )
    assert codes(html_mail(html)) == []


def test_severities_order_the_report() -> None:
    raw = text_mail("See http://shop.example/x\r\n", Date=None, Message_ID=None)
    report = check(parse_message(raw), raw)
    assert [f.code for f in report.findings] == [
        "date-missing",
        "message-id-missing",
        "link-insecure",
    ]
    assert report.counts() == {"error": 1, "warning": 2, "info": 0}
    assert [f.code for f in report.at_least("error")] == ["date-missing"]
    assert report.errors == list(report.at_least("error"))
    assert str(report).splitlines()[0] == (
        "error: date-missing (header Date): "
        "add a Date header (email.utils.formatdate(localtime=True))"
    )


def test_every_rule_has_a_known_severity_and_a_source() -> None:
    for code, rule in RULES.items():
        assert rule.code == code
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", code)
        assert rule.severity in SEVERITIES
        assert rule.source
        assert rule.description
        assert rule.title


def test_the_readme_lists_every_code_with_its_rule_and_source() -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme.partition("## Checking your mail")[2].partition("\n## ")[0]
    listed = re.findall(r"^- `([a-z0-9-]+)` \(([a-z]+)\): (.+)$", section, re.MULTILINE)
    assert [code for code, _, _ in listed] == list(RULES)
    for code, severity, line in listed:
        assert severity == RULES[code].severity
        assert RULES[code].source in line


# --- clean mail -------------------------------------------------------------------------

TRANSACTIONAL_HTML = """\
<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Your order</title></head>
<body style="margin:0;padding:0;background-color:#f4f4f4">
<table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0"><tr>
<td align="center" style="padding:24px">
<table role="presentation" width="600" cellpadding="0" cellspacing="0" border="0"
 style="background-color:#ffffff">
<tr><td style="padding:24px;font-family:Arial,sans-serif;font-size:16px;color:#222222">
<img src="cid:logo@shop.example" alt="Acme Shop" width="120" height="40">
<h1 style="font-size:22px">Thanks for your order, Eva</h1>
<p>Order 1042 ships today. Track it at
<a href="https://shop.example/orders/1042" style="color:#0a66c2">shop.example</a>.</p>
<p>Questions? <a href="mailto:help@shop.example">help@shop.example</a></p>
</td></tr></table></td></tr></table>
</body></html>
"""

NEWSLETTER_HTML = """\
<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>May news</title>
<style>
  .button td { background-color: #0a66c2; }
  @media (max-width: 600px) { .column { width: 100% !important; } }
</style></head>
<body style="margin:0;padding:0">
<table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0">
<tr><td align="center" style="padding:16px;font-family:Arial,sans-serif">
<a href="https://news.shop.example/view/2026-05">View in your browser</a></td></tr>
<tr><td class="column" style="padding:16px;font-family:Arial,sans-serif;font-size:16px">
<h1 style="font-size:24px">What is new in May</h1>
<img src="https://cdn.shop.example/may.png" alt="Spring collection" width="560" height="300">
<p>Our spring collection is here.</p>
<table role="presentation" class="button" cellpadding="0" cellspacing="0"><tr>
<td style="padding:12px 20px"><a href="https://shop.example/spring?utm_source=news"
 style="color:#ffffff;text-decoration:none">Shop now</a></td></tr></table>
</td></tr>
<tr><td style="padding:16px;font-size:12px;color:#666666">
<a href="https://news.shop.example/unsubscribe?u=eva">Unsubscribe</a></td></tr>
</table></body></html>
"""


def python_mail(html: str, **extra: str) -> EmailMessage:
    """A text and HTML mail as Python's `email` package writes one."""
    message = EmailMessage()
    message["From"] = "Acme Shop <noreply@shop.example>"
    message["To"] = "Eva <eva@example.com>"
    message["Subject"] = "Your order"
    message["Date"] = formatdate(localtime=True)
    message["Message-ID"] = make_msgid(domain="shop.example")
    for name, value in extra.items():
        message[name.replace("_", "-")] = value
    message.set_content("Hello Eva,\n\nyour order ships today: https://shop.example/orders/1042\n")
    message.add_alternative(html, subtype="html")
    return message


def stored(tmp_path: Path, message: EmailMessage, sender: str = "bounce@shop.example") -> Report:
    """Store `message` as the catcher does (envelope headers), read it back, check it."""
    message["X-MailFrom"] = sender
    message["X-RcptTo"] = "eva@example.com"
    with MaildirStore(tmp_path / "mail", create=True) as store:
        entry = store.add(message)
        return check(store.read(entry.id), store.read_bytes(entry.id))


def test_a_clean_transactional_mail_has_no_findings(tmp_path: Path) -> None:
    report = stored(tmp_path, python_mail(TRANSACTIONAL_HTML))
    assert report.findings == (), str(report)
    assert report.support is not None
    assert report.support.features


def test_a_clean_newsletter_has_no_findings(tmp_path: Path) -> None:
    message = python_mail(
        NEWSLETTER_HTML,
        List_Unsubscribe="<https://news.shop.example/u/eva>, <mailto:unsubscribe@shop.example>",
        List_Unsubscribe_Post="List-Unsubscribe=One-Click",
    )
    report = stored(tmp_path, message, sender="bounces@news.shop.example")
    assert report.findings == (), str(report)


def test_djangos_email_multi_alternatives_is_clean(tmp_path: Path) -> None:
    from django.conf import settings

    if not settings.configured:
        settings.configure(EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend")
    from django.core.mail import EmailMultiAlternatives

    mail = EmailMultiAlternatives(
        subject="Your order",
        body="Hello Eva,\n\nyour order ships today: https://shop.example/orders/1042\n",
        from_email="Acme Shop <noreply@shop.example>",
        to=["Eva <eva@example.com>"],
        headers={"Message-ID": make_msgid(domain="shop.example")},
    )
    mail.attach_alternative(TRANSACTIONAL_HTML, "text/html")
    message = parse_message(mail.message().as_bytes())
    report = stored(tmp_path, message)
    assert report.findings == (), str(report)


def test_the_pythons_email_package_with_utf8_is_clean(tmp_path: Path) -> None:
    message = python_mail('<p>Grüße aus Köln: <a href="https://shop.example/">shop</a></p>')
    message.replace_header("Subject", "Grüße aus Köln")  # RFC 2047 words when written
    report = stored(tmp_path, message)
    assert report.findings == (), str(report)


# --- client support ---------------------------------------------------------------------


def test_client_support_is_summarised_per_family() -> None:
    raw = html_mail('<p style="border-radius:4px;display:flex">Hello</p><form></form>')
    report = check(parse_message(raw), raw)
    assert report.support is not None
    slugs = {feature.slug for feature in report.support.features}
    assert {"css-border-radius", "css-display-flex", "css-display", "html-form"} <= slugs
    outlook = next(f for f in report.support.families if f.family == "outlook")
    assert outlook.name == "Outlook"
    assert outlook.unsupported >= 2
    assert 0 <= report.support.supported <= 100
    assert report.support.source.startswith(
        "caniemail.com (https://github.com/hteumeuleu/caniemail"
    )
    flagged = {f.feature for f in report.findings if f.code == "client-unsupported"}
    assert {"css-border-radius", "css-display-flex", "html-form"} <= flagged


def test_css_is_read_from_style_elements_and_attributes() -> None:
    raw = html_mail(
        "<style>/* a comment */ a:hover { color: red } @font-face { font-family: X }"
        " .x { padding-left: 2rem; background: linear-gradient(red, blue) }</style>"
        '<p style="margin-top: 1vw; --brand: red">Hi</p>'
    )
    report = check(parse_message(raw), raw)
    assert report.support is not None
    slugs = {feature.slug for feature in report.support.features}
    assert {
        "css-pseudo-class-hover",
        "css-at-font-face",
        "css-padding",
        "css-unit-rem",
        "css-linear-gradient",
        "css-margin",
        "css-unit-vw",
        "css-variables",
        "html-style",
    } <= slugs


def test_the_vendored_data_is_pinned_and_keeps_its_license() -> None:
    vendored = data()
    assert vendored["source"] == "https://github.com/hteumeuleu/caniemail"
    assert re.fullmatch(r"[0-9a-f]{40}", vendored["commit"])
    assert "Copyright (c) 2019 Rémi Parmentier" in vendored["license"]
    assert "Permission is hereby granted" in vendored["license"]
    width = len(vendored["columns"])
    assert all(len(feature["stats"]) == width for feature in vendored["features"].values())


def test_a_message_without_html_has_no_support_summary() -> None:
    raw = text_mail()
    assert check(parse_message(raw), raw).support is None


def test_the_readme_python_example_runs_as_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    section = (ROOT / "README.md").read_text().partition("## Checking your mail")[2]
    match = re.search(r"```python\n(.*?)```", section.partition("\n## ")[0], re.DOTALL)
    assert match is not None, "the README lost its check example"
    raw = html_mail('<p><a href="http://localhost:8000/verify?t=7f3c">Confirm</a></p>')
    with MaildirStore(tmp_path / "mail", create=True) as store:
        store.add(parse_message(raw))
    monkeypatch.chdir(tmp_path)
    exec(compile(match.group(1), "README.md", "exec"), {})
    assert capsys.readouterr().out.startswith(
        "error: link-localhost (part 2, line 1, link http://localhost:8000/verify?t=7f3c): "
    )
