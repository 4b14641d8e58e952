"""Pointing a web framework's mail at a catcher for one test, and putting it back after.

Django's test set-up (its runner, pytest-django) swaps in the in-memory ``locmem`` email
backend, and Flask-Mail sends nothing while ``TESTING`` is on: pointing the host and port
at a catcher is not enough, and the test times out without a clue. The pytest fixture
uses this module to wire Django for each test (`DjangoWiring`), `configure_flask` wires a
Flask app, and `hints` says where mail probably went when a wait caught nothing.

Neither framework is imported here. Django is wired only when the app has imported and
configured it (``django.conf`` is in `sys.modules`), Flask-Mail looked at only when the
app imported it, so a project without them pays one dictionary look-up per test.
"""

from __future__ import annotations

import os
import sys
from collections.abc import MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

__all__ = [
    "DJANGO_SMTP_BACKEND",
    "DjangoWiring",
    "FlaskApp",
    "FlaskDispatches",
    "FlaskWiring",
    "Target",
    "django_configured",
    "django_hint",
]

DJANGO_SMTP_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
#: The user name and password sent when the server requires a login and the app has none.
_LOGIN = "mailcatcher"
_MISSING = object()


@dataclass(frozen=True)
class Target:
    """The server an app should send to, and what it asks of clients."""

    host: str
    port: int
    #: The server offers STARTTLS: the app should use it.
    tls: bool = False
    #: The server refuses mail until the client logs in.
    auth_required: bool = False
    #: The CA that signed the server's certificate (with `tls`).
    ca_path: Path | None = None


def django_configured() -> bool:
    """Whether the app imported Django and configured its settings (without importing it)."""
    conf = sys.modules.get("django.conf")
    return conf is not None and bool(conf.settings.configured)


class DjangoWiring:
    """Django's mail settings pointed at a catcher until `restore()`.

    Uses Django's own ``override_settings`` on top of whatever is in force (pytest-django's
    ``locmem`` switch included), so `restore` brings back exactly what was there. With
    TLS, ``SSL_CERT_FILE`` names the catcher's CA too: Django's SMTP backend builds its
    context with ``ssl.create_default_context()``, which reads the trusted CAs from it.
    """

    def __init__(self, target: Target) -> None:
        from django.conf import settings
        from django.test.utils import override_settings

        values: dict[str, Any] = {
            "EMAIL_BACKEND": DJANGO_SMTP_BACKEND,
            "EMAIL_HOST": target.host,
            "EMAIL_PORT": target.port,
            "EMAIL_USE_TLS": target.tls,
            "EMAIL_USE_SSL": False,
        }
        if target.auth_required:
            values["EMAIL_HOST_USER"] = settings.EMAIL_HOST_USER or _LOGIN
            values["EMAIL_HOST_PASSWORD"] = settings.EMAIL_HOST_PASSWORD or _LOGIN
        self._override = override_settings(**values)
        self._override.enable()
        # What SSL_CERT_FILE was before (None: not set), or _MISSING when it was not set here.
        self._cert_file: str | None | object = _MISSING
        if target.tls and target.ca_path is not None:
            self._cert_file = os.environ.get("SSL_CERT_FILE")
            os.environ["SSL_CERT_FILE"] = str(target.ca_path)

    def restore(self) -> None:
        """Put the settings (and ``SSL_CERT_FILE``) back as they were."""
        try:
            self._override.disable()
        finally:
            previous, self._cert_file = self._cert_file, _MISSING
            if isinstance(previous, str):
                os.environ["SSL_CERT_FILE"] = previous
            elif previous is None:
                # It was not set: left set, it made every later default context in the
                # process trust the catcher's CA (a flaky "untrusted CA" test found it).
                os.environ.pop("SSL_CERT_FILE", None)


def django_hint() -> str | None:
    """Why Django's mail may not have reached the catcher, or ``None``."""
    if not django_configured():
        return None
    from django.conf import settings

    backend = str(settings.EMAIL_BACKEND)
    if backend == DJANGO_SMTP_BACKEND:
        return None
    hint = f"Django's EMAIL_BACKEND is {backend!r}, not the SMTP backend, so its mail stays there"
    outbox = getattr(sys.modules.get("django.core.mail"), "outbox", None)
    if isinstance(outbox, list):
        hint += f" (django.core.mail.outbox holds {len(outbox)} message(s))"
    return hint


class FlaskApp(Protocol):
    """What `FlaskWiring` needs of a ``flask.Flask`` app."""

    @property
    def config(self) -> MutableMapping[str, Any]: ...

    @property
    def extensions(self) -> dict[str, Any]: ...


#: Flask-Mail's configuration keys and the attributes of its state object
#: (``app.extensions["mail"]``) that ``Mail.init_app`` copies them to.
_FLASK_MAIL_KEYS = {
    "MAIL_SERVER": "server",
    "MAIL_PORT": "port",
    "MAIL_USE_TLS": "use_tls",
    "MAIL_USE_SSL": "use_ssl",
    "MAIL_SUPPRESS_SEND": "suppress",
    "MAIL_USERNAME": "username",
    "MAIL_PASSWORD": "password",
}


class FlaskWiring:
    """A Flask app's Flask-Mail settings pointed at a catcher until `restore()`.

    Sets both the config keys (read when ``Mail(app)`` runs later) and, when Flask-Mail
    is already set up on the app, its state object (which copied them at set-up).
    """

    def __init__(self, app: FlaskApp, target: Target) -> None:
        self._app = app
        values: dict[str, object] = {
            "MAIL_SERVER": target.host,
            "MAIL_PORT": target.port,
            "MAIL_USE_TLS": target.tls,
            "MAIL_USE_SSL": False,
            # Flask-Mail's default is the app's TESTING flag: tests would send nothing.
            "MAIL_SUPPRESS_SEND": False,
        }
        if target.auth_required:
            values["MAIL_USERNAME"] = app.config.get("MAIL_USERNAME") or _LOGIN
            values["MAIL_PASSWORD"] = app.config.get("MAIL_PASSWORD") or _LOGIN
        self._config = {key: app.config.get(key, _MISSING) for key in values}
        app.config.update(values)
        self._state = getattr(app, "extensions", {}).get("mail")
        self._attributes: dict[str, object] = {}
        if self._state is not None:
            for key, value in values.items():
                name = _FLASK_MAIL_KEYS[key]
                self._attributes[name] = getattr(self._state, name, _MISSING)
                setattr(self._state, name, value)

    def restore(self) -> None:
        """Put the app's config and Flask-Mail state back as they were."""
        for key, value in self._config.items():
            if value is _MISSING:
                self._app.config.pop(key, None)
            else:
                self._app.config[key] = value
        for name, value in self._attributes.items():
            if value is not _MISSING:
                setattr(self._state, name, value)


class FlaskDispatches:
    """Counts what Flask-Mail dispatched with sending suppressed, while connected.

    Flask-Mail sends its ``email_dispatched`` signal for every message, sent or
    suppressed; a suppressed one explains a wait that caught nothing.
    """

    def __init__(self) -> None:
        self.suppressed = 0
        self._signal: Any = None
        flask_mail = sys.modules.get("flask_mail")
        if flask_mail is not None:
            self._signal = flask_mail.email_dispatched
            self._signal.connect(self._record, weak=False)

    def _record(self, app: Any, **extra: object) -> None:
        state = getattr(app, "extensions", {}).get("mail")
        if state is not None and getattr(state, "suppress", False):
            self.suppressed += 1

    def close(self) -> None:
        """Stop counting."""
        if self._signal is not None:
            self._signal.disconnect(self._record)
            self._signal = None

    def hint(self) -> str | None:
        """Why Flask-Mail's mail did not reach the catcher, or ``None``."""
        if not self.suppressed:
            return None
        return (
            f"Flask-Mail dispatched {self.suppressed} message(s) with MAIL_SUPPRESS_SEND on "
            f"(its default while TESTING is on), so it sent nothing: "
            f"call mailcatcher.configure_flask(app)"
        )
