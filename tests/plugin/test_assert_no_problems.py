"""`mailcatcher.assert_no_problems`: a test fails on what `check` finds, listing all of it.

Child pytest runs (`pytester`) send real mail to the fixture's server with smtplib, then
assert on it; the failure text is pinned line by line.
"""

from __future__ import annotations

import pytest

from tests.plugin.test_plugin import CHILD_INI

SEND = """
import smtplib
from email.message import EmailMessage
from email.utils import formatdate


def mail(text, html=None, message_id="<order-1@shop.example>", **headers):
    message = EmailMessage()
    message["From"] = "Acme Shop <noreply@shop.example>"
    message["To"] = "eva@example.com"
    message["Subject"] = "Your order"
    message["Date"] = formatdate(localtime=True)
    if message_id:
        message["Message-ID"] = message_id
    for name, value in headers.items():
        message[name] = value
    message.set_content(text)
    if html is not None:
        message.add_alternative(html, subtype="html")
    return message


def send(mailcatcher, message):
    with smtplib.SMTP(mailcatcher.host, mailcatcher.port) as client:
        client.sendmail("bounce@shop.example", ["eva@example.com"], message.as_bytes())
"""


@pytest.fixture
def child(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeini(CHILD_INI)
    pytester.makepyfile(sending=SEND)
    pytester.syspathinsert()
    return pytester


def test_a_well_made_mail_passes(child: pytest.Pytester) -> None:
    child.makepyfile(
        test_clean="""
        from sending import mail, send

        def test_order_mail(mailcatcher):
            html = '<p>Track it at <a href="https://shop.example/o/1">shop.example</a></p>'
            send(mailcatcher, mail("Track it: https://shop.example/o/1\\n", html))
            mailcatcher.assert_no_problems(mailcatcher.wait_for_message())
        """
    )
    child.runpytest().assert_outcomes(passed=1)


def test_the_failure_lists_every_finding(child: pytest.Pytester) -> None:
    child.makepyfile(
        test_broken="""
        from sending import mail, send

        def test_signup_mail(mailcatcher):
            body = "Confirm: http://localhost:8000/verify?t=1\\n"
            send(mailcatcher, mail(body, message_id=None))
            mailcatcher.assert_no_problems(mailcatcher.wait_for_message())
        """
    )
    result = child.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*the message 'Your order' to eva@example.com has 2 problem(s) of severity "
            "warning or worse:",
            "  error: link-localhost (part 1, line 1, link http://localhost:8000/verify?t=1): "
            "build links from the public site URL, not 'localhost' (loopback)",
            "      (RFC 6761 section 6.3, RFC 1122 section 3.2.1.3)",
            "  warning: message-id-missing (header Message-ID): add a Message-ID header *",
            "      (RFC 5322 section 3.6.4)",
        ]
    )
    assert "Traceback" not in result.stdout.str()


def test_ignore_and_severity_narrow_what_fails(child: pytest.Pytester) -> None:
    child.makepyfile(
        test_narrow="""
        import pytest
        from sending import mail, send

        def test_warnings_ignored(mailcatcher):
            send(mailcatcher, mail("See http://shop.example/o/1\\n", message_id=None))
            message = mailcatcher.wait_for_message()
            mailcatcher.assert_no_problems(message, severity="error")
            mailcatcher.assert_no_problems(
                message, ignore=("link-insecure", "message-id-missing")
            )
            with pytest.raises(pytest.fail.Exception, match="link-insecure"):
                mailcatcher.assert_no_problems(message, ignore=("message-id-missing",))

        def test_mistakes_in_the_arguments_are_loud(mailcatcher):
            send(mailcatcher, mail("Hello\\n"))
            message = mailcatcher.wait_for_message()
            with pytest.raises(ValueError, match="unknown finding code.*link-insecur\\\\b"):
                mailcatcher.assert_no_problems(message, ignore=("link-insecur",))
            with pytest.raises(ValueError, match="severity='fatal'"):
                mailcatcher.assert_no_problems(message, severity="fatal")
        """
    )
    child.runpytest().assert_outcomes(passed=2)
