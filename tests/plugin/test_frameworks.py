"""Flask-Mail against the fixture, wired by `mailcatcher.configure_flask(app)`.

Django's wiring is tested with a real project in `test_django.py`.
"""

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


def flask_app(**config: object) -> Flask:
    app = Flask(__name__)
    app.config.update(TESTING=True, MAIL_DEFAULT_SENDER="app@example.com", **config)
    return app


def send_with_flask_mail(app: Flask) -> None:
    mail = Mail(app)
    with app.app_context():
        mail.send(Message("Welcome", recipients=["eva@example.com"], body="Hi Eva"))


def test_configure_flask_before_mail_is_set_up(mailcatcher: Mailcatcher) -> None:
    app = flask_app()
    mailcatcher.configure_flask(app)
    send_with_flask_mail(app)
    message = mailcatcher.wait_for_message(to="eva@example.com")
    assert message["Subject"] == "Welcome"
    assert message["X-MailFrom"] == "app@example.com"
    assert auth_user(message) is None


def test_configure_flask_after_mail_is_set_up(mailcatcher: Mailcatcher) -> None:
    # Mail(app) copies the config into app.extensions["mail"]; that copy is set too.
    app = flask_app()
    mail = Mail(app)
    mailcatcher.configure_flask(app)
    with app.app_context():
        mail.send(Message("Late", recipients=["eva@example.com"], body="Hi"))
    assert mailcatcher.wait_for_message()["Subject"] == "Late"


def test_without_configure_flask_the_timeout_says_why(mailcatcher: Mailcatcher) -> None:
    # The proof that configure_flask un-suppresses: TESTING alone sends nothing.
    app = flask_app(MAIL_SERVER=mailcatcher.host, MAIL_PORT=mailcatcher.port)
    send_with_flask_mail(app)
    with pytest.raises(AssertionError) as failed:
        mailcatcher.wait_for_message(timeout=0.2)
    assert "hint: Flask-Mail dispatched 1 message(s) with MAIL_SUPPRESS_SEND on" in str(
        failed.value
    )
    assert "mailcatcher.configure_flask(app)" in str(failed.value)


@pytest.mark.mailcatcher(tls=True, auth_required=True)
def test_starttls_and_login_when_the_server_asks(mailcatcher: Mailcatcher) -> None:
    # Flask-Mail calls starttls() without a context: smtplib then encrypts without
    # verifying the certificate, so the throwaway CA needs no setting here.
    app = flask_app(MAIL_USERNAME="flask-user", MAIL_PASSWORD="secret")
    mailcatcher.configure_flask(app)
    assert app.config["MAIL_USE_TLS"] is True
    send_with_flask_mail(app)
    assert auth_user(mailcatcher.wait_for_message()) == "flask-user"


def test_flask_mail_use_tls_needs_a_server_offering_it(mailcatcher: Mailcatcher) -> None:
    # The proof that the test above went through STARTTLS: without it, it fails.
    app = flask_app()
    mailcatcher.configure_flask(app)
    app.config["MAIL_USE_TLS"] = True
    with warnings.catch_warnings():
        # Flask-Mail leaves its socket open when starttls() fails; collect it quietly
        # here rather than have a later test blamed for it.
        warnings.simplefilter("ignore", ResourceWarning)
        with pytest.raises(smtplib.SMTPNotSupportedError):
            send_with_flask_mail(app)
        gc.collect()


FLASK_RESTORED = """
from flask import Flask
from flask_mail import Mail

app = Flask(__name__)
app.config.update(TESTING=True, MAIL_SERVER="smtp.example.com", MAIL_PORT=587)
mail = Mail(app)


def test_configure(mailcatcher):
    mailcatcher.configure_flask(app)
    assert app.extensions["mail"].suppress is False
    assert app.config["MAIL_PORT"] == mailcatcher.port


def test_restored_after_the_test():
    assert app.config["MAIL_SERVER"] == "smtp.example.com"
    assert app.config["MAIL_PORT"] == 587
    assert "MAIL_SUPPRESS_SEND" not in app.config
    state = app.extensions["mail"]
    assert (state.server, state.port, state.suppress) == ("smtp.example.com", 587, True)
"""


def test_configure_flask_is_undone_when_the_test_ends(pytester: pytest.Pytester) -> None:
    pytester.makeini(CHILD_INI)
    pytester.makepyfile(test_flask=FLASK_RESTORED)
    pytester.runpytest().assert_outcomes(passed=2)


DJANGO_TLS_WIRING = """
import os
from pathlib import Path

from django.conf import settings

from mailcatcher.frameworks import DjangoWiring, Target

settings.configure()
for before in (None, "/etc/ssl/certs/ca-certificates.crt"):
    if before is None:
        os.environ.pop("SSL_CERT_FILE", None)
    else:
        os.environ["SSL_CERT_FILE"] = before
    wiring = DjangoWiring(Target("127.0.0.1", 1025, tls=True, ca_path=Path("/tmp/ca.pem")))
    assert os.environ["SSL_CERT_FILE"] == "/tmp/ca.pem"
    wiring.restore()
    assert os.environ.get("SSL_CERT_FILE") == before, (before, os.environ.get("SSL_CERT_FILE"))
print("restored")
"""


def test_django_tls_wiring_puts_ssl_cert_file_back_even_when_it_was_unset() -> None:
    # Left set, every later default SSL context in the process trusted the catcher's CA:
    # a pytester child's "untrusted CA must fail" test then passed the handshake (flaky,
    # by which tests an xdist worker ran first). In a subprocess: settings.configure() is
    # for the life of a process.
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", DJANGO_TLS_WIRING], capture_output=True, text=True, check=False
    )
    assert (done.returncode, done.stdout.strip()) == (0, "restored"), done.stderr
