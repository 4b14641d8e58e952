"""Real senders against the fixture: Django's SMTP email backend and Flask-Mail."""

from __future__ import annotations

import gc
import smtplib
import warnings

import pytest
from flask import Flask
from flask_mail import Mail, Message

from mailcatcher.message import auth_user
from mailcatcher.pytest_plugin import Mailcatcher

from .test_plugin import CHILD_INI

# Django's settings are configured once per process, so its tests run in a child
# pytest process of their own, written as a Django project's own test would be.
DJANGO_TESTS = """
import gc
import smtplib
import ssl
import warnings

import django
import pytest
from django.conf import settings
from django.core import mail
from django.core.mail import send_mail
from django.test import override_settings
from django.test.utils import setup_test_environment

from mailcatcher.message import auth_user

settings.configure(EMAIL_TIMEOUT=5)
django.setup()
# What Django's test runner and pytest-django do: swap in the in-memory backend.
setup_test_environment()


def smtp_settings(mailcatcher, **more):
    # The README's advice: put the SMTP backend back, pointed at the fixture.
    return override_settings(
        **{
            "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "EMAIL_HOST": mailcatcher.host,
            "EMAIL_PORT": mailcatcher.port,
            **more,
        }
    )


def send_welcome():
    send_mail("Welcome", "Hi Eva", "app@example.com", ["eva@example.com"])


def send_welcome_failing(error):
    with warnings.catch_warnings():
        # Django keeps a connection that failed half-way open until its next
        # open(); the backend is dropped here, so collect its socket quietly.
        warnings.simplefilter("ignore", ResourceWarning)
        with pytest.raises(error):
            send_welcome()
        gc.collect()


def test_plain(mailcatcher):
    with smtp_settings(mailcatcher):
        send_welcome()
    message = mailcatcher.wait_for_message(to="eva@example.com")
    assert message["Subject"] == "Welcome"
    assert auth_user(message) is None


def test_the_test_environment_alone_sends_nothing(mailcatcher):
    with override_settings(EMAIL_HOST=mailcatcher.host, EMAIL_PORT=mailcatcher.port):
        send_welcome()
    assert [m.subject for m in mail.outbox] == ["Welcome"]
    assert mailcatcher.messages == []


def test_with_credentials(mailcatcher):
    with smtp_settings(mailcatcher, EMAIL_HOST_USER="django-user", EMAIL_HOST_PASSWORD="secret"):
        send_welcome()
    assert auth_user(mailcatcher.wait_for_message()) == "django-user"


@pytest.mark.mailcatcher(tls=True)
def test_starttls_verified_against_the_test_ca(mailcatcher, monkeypatch):
    # Django builds its own context with ssl.create_default_context(), which reads
    # the trusted CAs from SSL_CERT_FILE when it is set.
    monkeypatch.setenv("SSL_CERT_FILE", str(mailcatcher.ca_path))
    with smtp_settings(
        mailcatcher,
        EMAIL_USE_TLS=True,
        EMAIL_HOST_USER="django-user",
        EMAIL_HOST_PASSWORD="secret",
    ):
        send_welcome()
    assert auth_user(mailcatcher.wait_for_message()) == "django-user"


@pytest.mark.mailcatcher(tls=True)
def test_starttls_without_the_ca_is_refused_by_django(mailcatcher):
    # The proof that the test above verified the certificate.
    with smtp_settings(mailcatcher, EMAIL_USE_TLS=True):
        send_welcome_failing(ssl.SSLCertVerificationError)
    assert mailcatcher.messages == []


def test_use_tls_needs_a_server_offering_it(mailcatcher):
    # The proof that EMAIL_USE_TLS=True above went through STARTTLS.
    with smtp_settings(mailcatcher, EMAIL_USE_TLS=True):
        send_welcome_failing(smtplib.SMTPNotSupportedError)
"""


def test_django_smtp_backend(pytester: pytest.Pytester) -> None:
    pytester.makeini(CHILD_INI)
    pytester.makepyfile(test_django=DJANGO_TESTS)
    pytester.runpytest_subprocess("-p", "no:django").assert_outcomes(passed=6)


def flask_app(mailcatcher: Mailcatcher, **config: object) -> Flask:
    app = Flask(__name__)
    app.config.update(
        TESTING=True,
        # Flask-Mail sends nothing when TESTING is on, unless told to.
        MAIL_SUPPRESS_SEND=False,
        MAIL_SERVER=mailcatcher.host,
        MAIL_PORT=mailcatcher.port,
        MAIL_DEFAULT_SENDER="app@example.com",
        **config,
    )
    return app


def send_with_flask_mail(app: Flask) -> None:
    mail = Mail(app)
    with app.app_context():
        mail.send(Message("Welcome", recipients=["eva@example.com"], body="Hi Eva"))


def test_flask_mail(mailcatcher: Mailcatcher) -> None:
    send_with_flask_mail(flask_app(mailcatcher))
    message = mailcatcher.wait_for_message(to="eva@example.com")
    assert message["Subject"] == "Welcome"
    assert message["X-MailFrom"] == "app@example.com"
    assert auth_user(message) is None


@pytest.mark.mailcatcher(tls=True)
def test_flask_mail_with_starttls_and_login(mailcatcher: Mailcatcher) -> None:
    # Flask-Mail calls starttls() without a context: smtplib then encrypts without
    # verifying the certificate, so the throwaway CA needs no setting here.
    app = flask_app(
        mailcatcher, MAIL_USE_TLS=True, MAIL_USERNAME="flask-user", MAIL_PASSWORD="secret"
    )
    send_with_flask_mail(app)
    assert auth_user(mailcatcher.wait_for_message()) == "flask-user"


def test_flask_mail_use_tls_needs_a_server_offering_it(mailcatcher: Mailcatcher) -> None:
    # The proof that the test above went through STARTTLS: without it, it fails.
    with warnings.catch_warnings():
        # Flask-Mail leaves its socket open when starttls() fails; collect it quietly
        # here rather than have a later test blamed for it.
        warnings.simplefilter("ignore", ResourceWarning)
        with pytest.raises(smtplib.SMTPNotSupportedError):
            send_with_flask_mail(flask_app(mailcatcher, MAIL_USE_TLS=True))
        gc.collect()
