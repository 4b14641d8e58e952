"""Tests for mailcatcher.message: what a reader gets out of a stored message."""

from __future__ import annotations

import base64
import email
from email import policy
from email.message import EmailMessage, Message
from email.parser import BytesParser
from email.policy import Policy

import pytest
from hypothesis import HealthCheck, given, reject, settings
from hypothesis import strategies as st

from mailcatcher.message import (
    Attachment,
    attachments,
    auth_user,
    envelope_recipients,
    envelope_sender,
    html_body,
    html_to_text,
    links,
    peer,
    text_body,
)

# A 1x1 PNG and a small PDF with binary bytes, so attachment data must round-trip exactly.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)
PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj <</Type /Catalog>> endobj\n%%EOF\n"

TRACKING_URL = (
    "https://track.shop.example/c/eyJ1cmwiOiJodHRwczovL3Nob3AuZXhhbXBsZS9vcmRlcnMvMTA0MiJ9"
    "?utm_source=email&utm_medium=transactional"
)

# What an ESP sends for an order confirmation, as the catcher stores it: server-written
# envelope headers, a table layout, tracking URLs with &amp; in hrefs, quoted-printable with
# soft line breaks (=CRLF) inside URLs, an inline logo referenced by cid: and a PDF invoice.
TEMPLATE = """\
X-Peer: ('127.0.0.1', 50122)
X-MailFrom: bounces+42@shop.example
X-RcptTo: eva@example.com, Audit@Example.ORG
X-Mailcatcher-Auth-User: shop-app
Return-Path: <bounces+42@shop.example>
From: ACME Shop <orders@shop.example>
To: Eva <eva@example.com>
Subject: =?utf-8?q?Your_order_=E2=84=96_1042_has_shipped?=
Date: Tue, 25 Nov 2025 10:00:00 +0000
Message-ID: <1042.shipped@shop.example>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="==mixed=="

--==mixed==
Content-Type: multipart/related; boundary="==related=="; type="multipart/alternative"

--==related==
Content-Type: multipart/alternative; boundary="==alt=="

--==alt==
Content-Type: text/plain; charset="utf-8"
Content-Transfer-Encoding: quoted-printable

Hi Eva,

Your order =E2=84=96 1042 has shipped. Track it here:
https://track.shop.example/c/eyJ1cmwiOiJodHRwczovL3Nob3AuZXhhbXBsZS9vcmRlcn=
MvMTA0MiJ9?utm_source=3Demail&utm_medium=3Dtransactional.

Questions? Write to help@shop.example (or see https://shop.example/help).
--==alt==
Content-Type: text/html; charset="utf-8"
Content-Transfer-Encoding: quoted-printable

<!DOCTYPE html>
<html><head><meta charset=3D"utf-8"><title>Your order has shipped</title>
<style>.button{background:url(https://cdn.shop.example/bg.png)}</style></head>
<body style=3D"margin:0">
<table role=3D"presentation" width=3D"100%" cellpadding=3D"0" cellspacing=3D"0">
<tr><td><a href=3D"https://shop.example/?utm_source=3Demail&amp;utm_medium=
=3Dtransactional"><img src=3D"cid:logo@shop.example" alt=3D"ACME Shop"></a></td>
<td align=3D"right">Order&nbsp;=E2=84=96&nbsp;1042</td></tr>
<tr><td colspan=3D"2">
<h1>Your order has shipped</h1>
<p>Hi Eva,<br>good news: your order is on its way.</p>
<table>
<tr><th>Item</th><th>Qty</th><th>Price</th></tr>
<tr><td>Blue mug</td><td>2</td><td>&euro;18.00</td></tr>
<tr><td>Tea &amp; biscuits</td><td>1</td><td>&euro;4.50</td></tr>
</table>
<p><a class=3D"button" href=3D"https://track.shop.example/c/eyJ1cmwiOiJodHRwc=
zovL3Nob3AuZXhhbXBsZS9vcmRlcnMvMTA0MiJ9?utm_source=3Demail&amp;utm_medium=
=3Dtransactional">Track your parcel</a></p>
<p>Questions? <a href=3D"mailto:help@shop.example">help@shop.example</a></p>
</td></tr>
<tr><td colspan=3D"2" style=3D"font-size:12px">
<a href=3D"https://shop.example/unsubscribe?u=3D42&amp;sig=3Dab%2Fcd">Unsubscri=
be</a> &middot; <a href=3D"https://shop.example/privacy">Privacy</a>
<img src=3D"https://t.shop.example/open.gif?u=3D42" width=3D"1" height=3D"1" alt=
=3D"">
</td></tr>
</table>
</body></html>
--==alt==--

--==related==
Content-Type: image/png; name="logo.png"
Content-Transfer-Encoding: base64
Content-ID: <logo@shop.example>
Content-Disposition: inline; filename="logo.png"

@PNG@
--==related==--

--==mixed==
Content-Type: application/pdf; name="invoice-1042.pdf"
Content-Transfer-Encoding: base64
Content-Disposition: attachment; filename="invoice-1042.pdf"

@PDF@
--==mixed==--
"""
TEMPLATE_BYTES = (
    TEMPLATE.replace("@PNG@", base64.encodebytes(PNG).decode().strip())
    .replace("@PDF@", base64.encodebytes(PDF).decode().strip())
    .replace("\n", "\r\n")
    .encode("ascii")
)

TEMPLATE_TEXT = """\
Hi Eva,

Your order \u2116 1042 has shipped. Track it here:
https://track.shop.example/c/eyJ1cmwiOiJodHRwczovL3Nob3AuZXhhbXBsZS9vcmRlcnMvMTA0MiJ9?utm_source=email&utm_medium=transactional.

Questions? Write to help@shop.example (or see https://shop.example/help)."""


def parse(raw: bytes, message_policy: Policy = policy.default) -> Message:
    """Parse as the stores do (policy.default) or as older code does (compat32)."""
    return BytesParser(policy=message_policy).parsebytes(raw)


def crlf(text: str) -> bytes:
    return text.replace("\n", "\r\n").encode("utf-8")


@pytest.fixture(params=[policy.default, policy.compat32], ids=["default", "compat32"])
def template(request: pytest.FixtureRequest) -> Message:
    """The template email, parsed with either policy: every helper must give the same answer."""
    return parse(TEMPLATE_BYTES, request.param)


# --- bodies ---------------------------------------------------------------------------------


def test_text_body_is_the_decoded_quoted_printable_text_part(template: Message) -> None:
    assert text_body(template) == TEMPLATE_TEXT.replace("\n", "\r\n")


def test_html_body_is_the_decoded_html_part(template: Message) -> None:
    html = html_body(template)
    assert html is not None
    assert html.startswith('<!DOCTYPE html>\r\n<html><head><meta charset="utf-8">')
    assert '<a href="https://shop.example/?utm_source=email&amp;utm_medium=transactional">' in html
    assert "Order&nbsp;\u2116&nbsp;1042" in html


def test_text_body_of_a_plain_8bit_utf8_message() -> None:
    msg = parse(
        crlf(
            "From: j\u00f6rg@example.com\n"
            "To: eva@example.com\n"
            "Subject: Gr\u00fc\u00dfe\n"
            "Content-Type: text/plain; charset=utf-8\n"
            "Content-Transfer-Encoding: 8bit\n"
            "\n"
            "Gr\u00fc\u00dfe aus K\u00f6ln \u2615\n"
        )
    )
    assert text_body(msg) == "Gr\u00fc\u00dfe aus K\u00f6ln \u2615\r\n"
    assert html_body(msg) is None
    assert attachments(msg) == []


def test_8bit_body_without_charset_is_read_as_utf8() -> None:
    # RFC 2045 says us-ascii, but such mail is UTF-8 in practice.
    msg = parse(crlf("Subject: x\n\nK\u00f6ln\n"))
    assert text_body(msg) == "K\u00f6ln\r\n"


def test_text_body_in_iso_8859_1() -> None:
    raw = (
        b"Subject: caf\xe9\r\nMIME-Version: 1.0\r\n"
        b"Content-Type: text/plain; charset=iso-8859-1\r\n"
        b"Content-Transfer-Encoding: 8bit\r\n\r\n"
        b"Caf\xe9 cr\xe8me \xe0 2\xa0\x80\r\n"
    )
    assert text_body(parse(raw)) == "Caf\u00e9 cr\u00e8me \u00e0 2\u00a0\x80\r\n"
    assert text_body(parse(raw, policy.compat32)) == "Caf\u00e9 cr\u00e8me \u00e0 2\u00a0\x80\r\n"


@pytest.mark.parametrize("message_policy", [policy.default, policy.compat32])
@pytest.mark.parametrize("charset", ["x-unknown", "base64", "idna"])
def test_unknown_or_unusable_charset_falls_back_to_utf8_with_replacement(
    message_policy: Policy, charset: str
) -> None:
    raw = (
        f"Content-Type: text/plain; charset={charset}\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
    ).encode() + b"K\xc3\xb6ln \xff\r\n"
    assert text_body(parse(raw, message_policy)) == "K\u00f6ln \ufffd\r\n"


@pytest.mark.parametrize("message_policy", [policy.default, policy.compat32])
def test_malformed_base64_body_decodes_what_it_can(message_policy: Policy) -> None:
    raw = crlf(
        "Content-Type: text/plain; charset=utf-8\n"
        "Content-Transfer-Encoding: base64\n"
        "\n"
        "SGVsbG8gd29ybGQ!!!*\n"  # "Hello world" plus junk and a wrong length
    )
    body = text_body(parse(raw, message_policy))
    assert body is not None
    assert body.startswith("Hello world")


def test_text_body_prefers_the_part_in_multipart_alternative() -> None:
    # An inline note before the real alternative body (added by a gateway, say).
    msg = EmailMessage()
    msg.set_content("Scanned by GatewayAV")
    body = EmailMessage()
    body.set_content("The real body")
    body.add_alternative("<p>The real body</p>", subtype="html")
    msg.make_mixed()
    msg.attach(body)
    assert text_body(msg) == "The real body\n"
    assert html_body(msg) == "<p>The real body</p>\n"


def test_attached_text_files_are_not_the_body() -> None:
    msg = EmailMessage()
    msg.make_mixed()
    notes = EmailMessage()
    # Shown inline by the sender's client, but a file all the same.
    notes.set_content("attached notes", disposition="inline", filename="notes.txt")
    page = EmailMessage()
    page.set_content("<p>saved page</p>", subtype="html", disposition="attachment")
    msg.attach(notes)
    msg.attach(page)
    body = EmailMessage()
    body.set_content("The body")
    msg.attach(body)
    assert text_body(msg) == "The body\n"
    assert html_body(msg) is None
    assert [(a.filename, a.content_type) for a in attachments(msg)] == [
        ("notes.txt", "text/plain"),
        (None, "text/html"),
    ]


def test_html_only_message_has_no_text_body() -> None:
    msg = EmailMessage()
    msg.set_content("<p>Only HTML</p>", subtype="html")
    assert text_body(msg) is None
    assert html_body(msg) == "<p>Only HTML</p>\n"


def test_body_of_a_multipart_related_is_its_start_part() -> None:
    # RFC 2387: the start parameter names the root; other parts are resources, even text ones.
    msg = parse(
        crlf(
            'Content-Type: multipart/related; boundary="b"; start="<root@x>"\n'
            "\n"
            "--b\n"
            "Content-Type: text/html\n"
            "Content-ID: <frame@x>\n"
            "\n"
            "<p>a resource</p>\n"
            "--b\n"
            "Content-Type: text/html\n"
            "Content-ID: <root@x>\n"
            "\n"
            "<p>the body</p>\n"
            "--b--\n"
        )
    )
    assert html_body(msg) == "<p>the body</p>"


def test_a_forwarded_message_is_an_attachment_not_the_body() -> None:
    inner = EmailMessage()
    inner["Subject"] = "Original"
    inner.set_content("inner text")
    msg = EmailMessage()
    msg.set_content("See below.")
    msg.add_attachment(inner)
    assert text_body(msg) == "See below.\n"
    [forwarded] = attachments(msg)
    assert forwarded.content_type == "message/rfc822"
    reparsed = email.message_from_bytes(forwarded.data, policy=policy.default)
    assert reparsed["Subject"] == "Original"
    assert reparsed.get_content() == "inner text\r\n"  # written with RFC 5322 line ends


def test_compat32_message_built_in_memory() -> None:
    msg = Message()
    msg.set_payload("K\u00f6ln \u2615", charset="utf-8")
    assert text_body(msg) == "K\u00f6ln \u2615"


# --- HTML to text ---------------------------------------------------------------------------


def test_html_to_text_of_the_template(template: Message) -> None:
    html = html_body(template)
    assert html is not None
    assert html_to_text(html) == (
        "[ACME Shop] (https://shop.example/?utm_source=email&utm_medium=transactional)"
        " | Order \u2116 1042\n"
        "Your order has shipped\n"
        "\n"
        "Hi Eva,\n"
        "good news: your order is on its way.\n"
        "\n"
        "Item | Qty | Price\n"
        "Blue mug | 2 | \u20ac18.00\n"
        "Tea & biscuits | 1 | \u20ac4.50\n"
        "\n"
        f"Track your parcel ({TRACKING_URL})\n"
        "\n"
        "Questions? help@shop.example\n"
        "\n"
        "Unsubscribe (https://shop.example/unsubscribe?u=42&sig=ab%2Fcd)"
        " \u00b7 Privacy (https://shop.example/privacy)"
    )


def test_html_to_text_drops_head_script_and_style() -> None:
    html = (
        "<html><head><title>Title</title><style>p { color: red }</style></head>"
        "<body><script>var x = '<p>no</p>';</script><p>Visible</p><template>t</template></body>"
    )
    assert html_to_text(html) == "Visible"


def test_html_to_text_shows_the_body_after_an_unclosed_head() -> None:
    assert html_to_text("<head><title>T</title><body><p>Hello</p>") == "Hello"


def test_html_to_text_breaks_lines_at_blocks_and_br() -> None:
    html = "<div>one</div><div>two<br>three<br><br>four</div><p>five</p>six<h2>seven</h2>"
    assert html_to_text(html) == "one\ntwo\nthree\n\nfour\n\nfive\n\nsix\n\nseven"


def test_html_to_text_collapses_whitespace_but_keeps_pre() -> None:
    html = "<p>  a\n   b\t&nbsp; c </p><pre>x  = 1\n  y = 2</pre>"
    assert html_to_text(html) == "a b c\n\nx  = 1\n  y = 2"


def test_html_to_text_separates_table_cells_and_skips_spacer_cells() -> None:
    html = (
        "<table><tr><td>&nbsp;</td><td><p>Name</p></td><td>&nbsp;</td><td>Eva</td></tr>"
        "<tr><td>Plan</td><td><div>Pro</div></td></tr></table>"
    )
    assert html_to_text(html) == "Name | Eva\nPlan | Pro"


def test_html_to_text_shows_link_targets_only_when_they_add_something() -> None:
    html = (
        '<p><a href="https://example.com/a?x=1&amp;y=2">Click here</a>.</p>'
        '<p><a href="https://example.com/">example.com</a></p>'
        '<p><a href="mailto:eva@example.com">eva@example.com</a></p>'
        '<p><a href="#top">Top</a> <a href="javascript:void(0)">JS</a></p>'
        '<p><a href="https://example.com/pixel"><img src="p.gif"></a></p>'
    )
    assert html_to_text(html) == (
        "Click here (https://example.com/a?x=1&y=2).\n"
        "\n"
        "example.com\n"
        "\n"
        "eva@example.com\n"
        "\n"
        "Top JS\n"
        "\n"
        "https://example.com/pixel"
    )


def test_html_to_text_lists_and_images() -> None:
    html = (
        '<img src="logo.png" alt="ACME"><img src="spacer.gif" alt="">'
        "<ul><li>Tea</li><li>Cake<ol><li>lemon</li><li>plum</li></ol></li></ul><hr>end"
    )
    assert html_to_text(html) == (
        "[ACME]\n- Tea\n- Cake\n  1. lemon\n  2. plum\n--------------------\nend"
    )


def test_html_to_text_drops_zero_width_preheader_padding() -> None:
    html = "<div>Your order is here&zwnj;&nbsp;&#847;&zwnj;&nbsp;&#847;</div><p>Body</p>"
    assert html_to_text(html) == "Your order is here\n\nBody"


def test_html_to_text_skips_word_marked_sections() -> None:
    # HTMLParser (3.10 to 3.13 at least) raises AssertionError on "<![foo" by itself.
    html = "<p><![if !supportLists]>1.<![endif]>first</p><p><![foo bar]>second</p>"
    assert html_to_text(html) == "1.first\n\nsecond"


@pytest.mark.parametrize(
    "html",
    ["<![ item", "<a href='https://x.example/'", "</>item<!", "<p>x</b></a></p></td></tr></table>"],
)
def test_html_to_text_survives_malformed_markup(html: str) -> None:
    assert isinstance(html_to_text(html), str)


# --- links ----------------------------------------------------------------------------------


def test_links_of_the_template(template: Message) -> None:
    assert links(template) == [
        TRACKING_URL,  # the text part: its =CRLF soft break and "." are gone
        "https://shop.example/help",  # ")." after it is prose
        "https://shop.example/?utm_source=email&utm_medium=transactional",  # &amp; decoded
        "https://shop.example/unsubscribe?u=42&sig=ab%2Fcd",
        "https://shop.example/privacy",
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Go to https://example.com/a.", "https://example.com/a"),
        ("See https://example.com/a, then", "https://example.com/a"),
        ("(see https://example.com/a)", "https://example.com/a"),
        ("<https://example.com/a>", "https://example.com/a"),
        ('"https://example.com/a"', "https://example.com/a"),
        ("Really? https://example.com/a?!", "https://example.com/a"),
        (
            "https://en.wikipedia.org/wiki/Mail_(disambiguation)",  # balanced: part of the URL
            "https://en.wikipedia.org/wiki/Mail_(disambiguation)",
        ),
        ("[link](https://example.com/a) in markdown", "https://example.com/a"),
        ("HTTPS://EXAMPLE.COM/A;", "HTTPS://EXAMPLE.COM/A"),
    ],
)
def test_links_in_plain_text_leave_out_surrounding_punctuation(text: str, expected: str) -> None:
    msg = EmailMessage()
    msg.set_content(f"Hello,\n{text}\nBye")
    assert links(msg) == [expected]


def test_links_are_http_and_https_only() -> None:
    msg = EmailMessage()
    msg.set_content("ftp://files.example.com/x and http://plain.example.com/ and http:// alone")
    msg.add_alternative(
        '<a href="mailto:a@example.com">mail</a> <a href="tel:+4912345">call</a>'
        '<a href="/relative">rel</a> <a href="javascript:alert(1)">js</a>'
        '<a href="HTTPS://Secure.Example.com/">secure</a> <a>no href</a> <a href>empty</a>'
        '<a href="ftp://files.example.com/y">ftp</a>',
        subtype="html",
    )
    assert links(msg) == ["http://plain.example.com/", "HTTPS://Secure.Example.com/"]


def test_links_come_from_text_first_then_html_without_duplicates() -> None:
    msg = EmailMessage()
    msg.set_content("Confirm: https://example.com/confirm?t=1&u=2\nhttps://example.com/b")
    msg.add_alternative(
        '<p><a href="https://example.com/html-only">x</a> '
        '<a href="https://example.com/confirm?t=1&amp;u=2">Confirm</a> '
        "or paste https://example.com/confirm?t=1&amp;u=2 or https://example.com/text-in-html."
        '<a href="https://example.com/html-only">again</a></p>',
        subtype="html",
    )
    assert links(msg) == [
        "https://example.com/confirm?t=1&u=2",
        "https://example.com/b",
        "https://example.com/html-only",
        "https://example.com/text-in-html",
    ]


def test_links_ignore_urls_in_head_style_script_and_images() -> None:
    msg = EmailMessage()
    msg.set_content(
        '<html><head><link href="https://cdn.example.com/a.css" rel="stylesheet">'
        "<style>@import url(https://cdn.example.com/b.css);</style></head><body>"
        "<script>fetch('https://api.example.com/c')</script>"
        '<img src="https://t.example.com/open.gif"><a href="https://example.com/ok">ok</a>'
        '<template><a href="https://example.com/inert">not rendered</a></template>'
        "</body></html>",
        subtype="html",
    )
    assert links(msg) == ["https://example.com/ok"]


def test_links_drop_whitespace_that_templates_leave_inside_href() -> None:
    msg = EmailMessage()
    msg.set_content(
        '<a href=" https://example.com/very/long\n/path?x=1\t\n">go</a>', subtype="html"
    )
    assert links(msg) == ["https://example.com/very/long/path?x=1"]


def test_links_of_a_message_without_bodies() -> None:
    msg = EmailMessage()
    msg.add_attachment(PDF, maintype="application", subtype="pdf", filename="a.pdf")
    assert links(msg) == []


# --- attachments ----------------------------------------------------------------------------


def test_attachments_of_the_template(template: Message) -> None:
    assert attachments(template) == [
        Attachment(
            filename="logo.png",
            content_type="image/png",
            data=PNG,
            content_id="logo@shop.example",
            inline=True,
        ),
        Attachment(
            filename="invoice-1042.pdf",
            content_type="application/pdf",
            data=PDF,
            content_id=None,
            inline=False,
        ),
    ]


def test_attachments_of_a_message_built_with_the_email_api() -> None:
    msg = EmailMessage()
    msg.set_content("text")
    msg.add_alternative('<p><img src="cid:chart@example.com"></p>', subtype="html")
    html_part = msg.get_payload(1)
    assert isinstance(html_part, EmailMessage)
    html_part.add_related(PNG, "image", "png", cid="<chart@example.com>")
    image_part = html_part.get_payload(1)
    assert isinstance(image_part, EmailMessage)
    del image_part["Content-Disposition"]  # as many senders do: a Content-ID is enough
    msg.add_attachment(PDF, maintype="application", subtype="pdf", filename="report.pdf")
    for parsed in (msg, parse(msg.as_bytes())):
        assert [
            (a.filename, a.content_type, a.data, a.content_id, a.inline)
            for a in attachments(parsed)
        ] == [
            (None, "image/png", PNG, "chart@example.com", True),
            ("report.pdf", "application/pdf", PDF, None, False),
        ]


@pytest.mark.parametrize("message_policy", [policy.default, policy.compat32])
@pytest.mark.parametrize(
    "disposition",
    [
        "attachment; filename*=utf-8''R%C3%A9sum%C3%A9%20%E2%84%96.pdf",  # RFC 2231
        'attachment; filename="=?utf-8?b?UsOpc3Vtw6kg4oSWLnBkZg==?="',  # RFC 2047, common
    ],
)
def test_non_ascii_attachment_filenames_are_decoded(
    message_policy: Policy, disposition: str
) -> None:
    raw = crlf(
        'Content-Type: multipart/mixed; boundary="b"\n\n'
        "--b\nContent-Type: text/plain\n\nbody\n"
        f"--b\nContent-Type: application/pdf\nContent-Disposition: {disposition}\n"
        "Content-Transfer-Encoding: base64\n\nJVBERg==\n--b--\n"
    )
    [attachment] = attachments(parse(raw, message_policy))
    assert attachment.filename == "R\u00e9sum\u00e9 \u2116.pdf"
    assert attachment.data == b"%PDF"


@pytest.mark.parametrize("message_policy", [policy.default, policy.compat32])
def test_malformed_base64_attachment_gives_what_can_be_decoded(message_policy: Policy) -> None:
    raw = (
        b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n'
        b"--b\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n"
        b'Content-Disposition: attachment; filename="x.bin"\r\n\r\n'
        b"AAEC\xbd\xbd!!AAAA\r\nA\r\n--b--\r\n"  # junk bytes, then one character too many
    )
    [attachment] = attachments(parse(raw, message_policy))
    assert attachment.filename == "x.bin"
    assert attachment.data == b"\x00\x01\x02\x00\x00\x00"


def test_multipart_without_boundary_is_kept_as_one_attachment() -> None:
    raw = crlf(
        "Content-Type: multipart/mixed\n\n--lost\nContent-Type: text/plain\n\nhi\n--lost--\n"
    )
    msg = parse(raw)
    assert text_body(msg) is None
    [attachment] = attachments(msg)
    assert attachment.content_type == "multipart/mixed"
    assert b"hi" in attachment.data


def test_malformed_mime_parameters_do_not_stop_reading() -> None:
    # policy.default's header parser raises IndexError on a parameter name ending in "*".
    raw = crlf(
        'Content-Type: multipart/mixed; boundary="b"\n\n'
        "--b\nContent-Type: text/plain\nContent-Disposition: inline; x*\n\nbody\n"
        "--b\nContent-Type: application/pdf\nContent-Disposition: attachment; filename*\n\n%PDF\n"
        "--b--\n"
    )
    msg = parse(raw)
    assert text_body(msg) == "body"
    assert [(a.filename, a.data) for a in attachments(msg)] == [(None, b"%PDF")]


def test_attached_message_with_a_broken_multipart_is_still_returned() -> None:
    # The inner multipart has no boundary and 8-bit text, which BytesGenerator cannot write.
    raw = (
        b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n'
        b"--b\r\nContent-Type: text/plain\r\n\r\nSee the attached message.\r\n"
        b"--b\r\nContent-Type: message/rfc822\r\n\r\n"
        b"Subject: inner\r\nContent-Type: multipart/mixed\r\n\r\nK\xc3\xb6ln\r\n"
        b"--b--\r\n"
    )
    [attachment] = attachments(parse(raw))
    assert attachment.content_type == "message/rfc822"
    assert attachment.data.startswith(b"Subject: inner\r\nContent-Type: multipart/mixed\r\n\r\n")


def test_attachment_repr_leaves_out_the_bytes() -> None:
    attachment = Attachment("big.bin", "application/octet-stream", b"\0" * 10_000, None, False)
    assert "data" not in repr(attachment)
    assert "big.bin" in repr(attachment)


# --- envelope -------------------------------------------------------------------------------


def test_envelope_of_the_template(template: Message) -> None:
    assert envelope_sender(template) == "bounces+42@shop.example"
    assert envelope_recipients(template) == ["eva@example.com", "Audit@Example.ORG"]
    assert auth_user(template) == "shop-app"
    assert peer(template) == "127.0.0.1:50122"


def test_envelope_of_a_message_the_server_did_not_annotate() -> None:
    msg = EmailMessage()
    msg["From"] = "eva@example.com"
    msg.set_content("hi")
    assert envelope_sender(msg) == ""
    assert envelope_recipients(msg) == []
    assert auth_user(msg) is None
    assert peer(msg) is None


@pytest.mark.parametrize("message_policy", [policy.default, policy.compat32])
def test_envelope_headers_folded_quoted_and_in_utf8(message_policy: Policy) -> None:
    # SMTPUTF8 (RFC 6531) addresses arrive as raw UTF-8; long headers arrive folded.
    msg = parse(
        crlf(
            "X-MailFrom: \n"
            "X-Peer: ('2001:db8::1',\n 50122, 0, 0)\n"
            'X-RcptTo: j\u00f6rg@b\u00fccher.example,  "a,b"@example.com ,\n'
            "\tlast@example.com,\n"
            "Subject: x\n\nbody\n"
        ),
        message_policy,
    )
    assert envelope_sender(msg) == ""  # MAIL FROM:<>, a bounce
    assert peer(msg) == "[2001:db8::1]:50122"  # RFC 3986 3.2.2: IPv6 in brackets
    assert envelope_recipients(msg) == [
        "j\u00f6rg@b\u00fccher.example",
        '"a,b"@example.com',
        "last@example.com",
    ]


@pytest.mark.parametrize(
    ("written", "shown"),
    [
        ("('127.0.0.1', 50122)", "127.0.0.1:50122"),
        ("('::1', 8025, 0, 0)", "[::1]:8025"),
        ("('fe80::1%eth0', 25, 0, 2)", "[fe80::1%eth0]:25"),
        ("/run/smtp.sock", "/run/smtp.sock"),  # not a socket address: as written
        ("('127.0.0.1', 50122", "('127.0.0.1', 50122"),  # cut short: as written
    ],
)
def test_peer_is_host_and_port_while_the_header_keeps_what_aiosmtpd_wrote(
    written: str, shown: str
) -> None:
    msg = parse(crlf(f"X-Peer: {written}\nSubject: x\n\nbody\n"))
    assert peer(msg) == shown
    assert msg["X-Peer"] == written


# --- robustness -----------------------------------------------------------------------------


def read_everything(msg: Message) -> None:
    text_body(msg)
    html = html_body(msg)
    if html is not None:
        html_to_text(html)
    links(msg)
    attachments(msg)
    envelope_sender(msg)
    envelope_recipients(msg)
    auth_user(msg)
    peer(msg)


@pytest.mark.parametrize("message_policy", [policy.default, policy.compat32])
def test_every_truncation_of_the_template_is_readable(message_policy: Policy) -> None:
    # Cutting a message anywhere breaks boundaries, base64, QP escapes and HTML tags.
    for end in range(0, len(TEMPLATE_BYTES), 11):
        read_everything(parse(TEMPLATE_BYTES[:end], message_policy))


def test_deeply_nested_parts_do_not_hit_the_recursion_limit() -> None:
    inner = EmailMessage()
    inner.set_content("deep")
    for _ in range(3000):
        outer = EmailMessage()
        outer["Content-Type"] = "multipart/mixed"
        outer.set_payload([inner])
        inner = outer
    assert text_body(inner) == "deep\n"
    assert attachments(inner) == []


@pytest.mark.slow
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    position=st.integers(min_value=0, max_value=len(TEMPLATE_BYTES)),
    junk=st.binary(max_size=40)
    | st.sampled_from([b"=", b"=\r\n", b"--==alt==\r\n", b"\r\n\r\n", b"<![x", b"\xff\xfe"]),
    message_policy=st.sampled_from([policy.default, policy.compat32]),
)
def test_junk_anywhere_in_the_template_never_raises(
    position: int, junk: bytes, message_policy: Policy
) -> None:
    try:
        msg = parse(TEMPLATE_BYTES[:position] + junk + TEMPLATE_BYTES[position:], message_policy)
    except IndexError:
        # policy.default's own parser can fail on a broken Content-Type parameter ("a; b*");
        # that happens before any helper runs, so it is not what this test is about.
        reject()
    read_everything(msg)


# Pieces of HTML that trip up hand-written parsers, for tag soup.
TAG_SOUP = [
    "<p>", "</p>", "<td>", "</td>", "<tr>", "</table>", "<a href='https://x.example/'>", "</a>",
    "<pre>", "</pre>", "<li>", "<ol>", "</ul>", "<br>", "<head>", "<body>", "<script>",
    "</script>", "<![if x]>", "<![", "<!--", "-->", "&amp", "&#x110000;", "text", " ", "\n",
    "\u00a0", "https://y.example/(a)", "<", ">", '"', "'",
]  # fmt: skip


@pytest.mark.slow
@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(TAG_SOUP), max_size=40))
def test_html_to_text_never_raises_on_tag_soup(tokens: list[str]) -> None:
    html_to_text("".join(tokens))
