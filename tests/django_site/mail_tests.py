"""The project's own tests, as its developers write them: pytest-django and `mailcatcher`.

Copied into a child pytest run as ``test_mail.py`` by `tests/plugin/test_django.py`.
"""

from __future__ import annotations

import importlib
import smtplib

import pytest
from django.conf import settings
from django.core import mail
from django.core.mail import send_mail

from mailcatcher.faults import Fault
from mailcatcher.message import auth_user

LOCMEM = "django.core.mail.backends.locmem.EmailBackend"
# The project is importable as `django_site` in the child run only.
views = importlib.import_module("django_site.views")


def test_a_view_sends_through_send_mail(client, mailcatcher):
    assert client.post("/signup", {"email": "eva@example.com"}).status_code == 200
    message = mailcatcher.wait_for_message(to="eva@example.com")
    assert message["Subject"] == "Welcome"
    assert message["X-MailFrom"] == "app@example.com"
    assert mail.outbox == []  # it went over SMTP, not to the in-memory backend


def test_a_view_sends_an_email_message_with_attachments(client, mailcatcher):
    client.post("/invoice", {"email": "bob@example.com"})
    message = mailcatcher.wait_for_message(to="accounts@example.com")
    assert message["X-RcptTo"] == "bob@example.com, accounts@example.com"
    attached = {part.get_filename(): part.get_content() for part in message.iter_attachments()}
    assert attached["invoice.pdf"] == views.PDF
    assert attached["notes.txt"].encode() == views.NOTES


def test_send_mail_in_the_test(mailcatcher):
    send_mail("Hello", "Hi", "app@example.com", ["zoe@example.com"])
    assert mailcatcher.wait_for_message()["Subject"] == "Hello"


def test_without_the_fixture_django_keeps_its_test_backend():
    # Runs after the tests above (in file order): nothing of theirs is left.
    assert settings.EMAIL_BACKEND == LOCMEM
    assert settings.EMAIL_HOST == "smtp.invalid"
    send_mail("Kept", "Hi", "app@example.com", ["eva@example.com"])
    assert [m.subject for m in mail.outbox] == ["Kept"]


@pytest.mark.mailcatcher(django=False)
def test_the_marker_turns_the_wiring_off(mailcatcher):
    assert settings.EMAIL_BACKEND == LOCMEM
    send_mail("Local", "Hi", "app@example.com", ["eva@example.com"])
    assert [m.subject for m in mail.outbox] == ["Local"]
    with pytest.raises(AssertionError) as failed:
        mailcatcher.wait_for_message(timeout=0.2)
    text = str(failed.value)
    assert f"hint: Django's EMAIL_BACKEND is '{LOCMEM}', not the SMTP backend" in text
    assert "django.core.mail.outbox holds 1 message(s)" in text
    assert f"hint: nothing connected to {mailcatcher.host}:{mailcatcher.port}" in text


def test_mailoutbox_keeps_the_in_memory_backend(mailoutbox, mailcatcher):
    # pytest-django's `mailoutbox` asks for the in-memory backend: the fixture leaves it.
    send_mail("Outbox", "Hi", "app@example.com", ["eva@example.com"])
    assert [m.subject for m in mailoutbox] == ["Outbox"]
    assert mailcatcher.messages == []


def test_a_refused_recipient_raises_in_django(mailcatcher):
    mailcatcher.fail_next("RCPT", "550 5.1.1 No such user")
    with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
        send_mail("Hello", "Hi", "app@example.com", ["nobody@example.com"])
    assert refused.value.recipients == {"nobody@example.com": (550, b"5.1.1 No such user")}
    assert mailcatcher.messages == []


@pytest.mark.mailcatcher(faults=[Fault.fail("MAIL", "451 4.3.0 Try again later", times=None)])
def test_faults_from_the_marker_hold_for_the_whole_test(mailcatcher):
    for _ in range(2):
        with pytest.raises(smtplib.SMTPSenderRefused):
            send_mail("Hello", "Hi", "app@example.com", ["eva@example.com"])


def test_no_fault_is_left_from_the_test_before(mailcatcher):
    send_mail("After", "Hi", "app@example.com", ["eva@example.com"])
    assert mailcatcher.wait_for_message()["Subject"] == "After"


@pytest.mark.mailcatcher(tls=True, auth_required=True)
def test_starttls_and_login_when_the_marker_asks(mailcatcher):
    # Django verifies the throwaway certificate against the fixture's CA, and logs in.
    assert settings.EMAIL_USE_TLS is True
    send_mail("Secure", "Hi", "app@example.com", ["eva@example.com"])
    assert auth_user(mailcatcher.wait_for_message()) == "mailcatcher"


@pytest.mark.parametrize("round", range(12))
def test_with_and_without_the_fixture_alternate(round, request):
    # Under -n 4 each worker runs a share of these in turn: a test without the fixture
    # that follows one with it on the same worker finds Django's own settings.
    if round % 2:
        caught = request.getfixturevalue("mailcatcher")
        caught.fail_next("MAIL", "451 4.3.0 Try again later", times=None)
        assert caught.host == settings.EMAIL_HOST
    else:
        assert settings.EMAIL_BACKEND == LOCMEM
        assert settings.EMAIL_HOST == "smtp.invalid"
