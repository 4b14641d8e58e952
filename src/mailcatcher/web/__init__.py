"""The web inbox and Mailpit-compatible JSON API (needs the ``web`` extra).

``mailcatcher serve`` runs it beside the SMTP server; ``mailcatcher web PATH`` runs it
over a store another process writes. `create_app` is for aiohttp's test client.
"""

from __future__ import annotations

from .app import RunningWeb, create_app, start_web

__all__ = ["RunningWeb", "create_app", "start_web"]
