"""A connection built from a server's blueprint is the one aiosmtpd's constructor builds.

`mailcatcher.server._Blueprint` runs aiosmtpd's ``SMTP.__init__`` for a server's first
connection only and copies its outcome into later ones (issue 15). Here each connection made
that way is compared, attribute by attribute, with one aiosmtpd's constructor made for the
same server: a newer aiosmtpd that sets something new, or a copy that shares what should be a
connection's own, fails here.
"""

from __future__ import annotations

import asyncio
import inspect
import types
from typing import Any

import pytest

from mailcatcher import MailDir
from mailcatcher.server import _SMTP, RunningSMTP, ServerOptions, _Blueprint, start_smtp


def shape(smtp: _SMTP, value: Any) -> Any:
    """A comparable form of an attribute: bound methods by function and owner."""
    if isinstance(value, types.MethodType):
        return ("method", value.__func__, "self" if value.__self__ is smtp else value.__self__)
    if isinstance(value, dict):
        return {key: shape(smtp, item) for key, item in value.items()}
    if isinstance(value, tuple) and hasattr(value, "_fields"):  # aiosmtpd's _AuthMechAttr
        return tuple(shape(smtp, item) for item in value)
    if isinstance(value, asyncio.StreamReader | asyncio.Future):
        return type(value)  # each connection's own, compared below by identity
    if inspect.isawaitable(value) or callable(value) and not inspect.isfunction(value):
        return type(value)
    return value


def state(smtp: _SMTP) -> dict[str, Any]:
    return {key: shape(smtp, value) for key, value in vars(smtp).items()}


async def build_pair(handler: Any, options: ServerOptions) -> tuple[_SMTP, _SMTP, RunningSMTP]:
    running = await start_smtp(handler, options)
    first = _SMTP(handler, running, options, None)
    assert isinstance(running.blueprint, _Blueprint), "the first connection kept no blueprint"
    copied = _SMTP(handler, running, options, None)
    # The stock way, for the same server: aiosmtpd's constructor again.
    stock = _SMTP.__new__(_SMTP)
    running.blueprint, kept = None, running.blueprint
    try:
        stock.__init__(handler, running, options, None)  # type: ignore[misc]
    finally:
        running.blueprint = kept
    assert first is not copied
    return copied, stock, running


@pytest.mark.parametrize(
    "options",
    [ServerOptions(), ServerOptions(auth_required=True, data_size_limit=0, timeout=5.0)],
    ids=["defaults", "auth-required"],
)
def test_a_copied_connection_equals_one_aiosmtpd_built(tmp_path: Any, options: Any) -> None:
    handler = MailDir(tmp_path / "mail")

    async def compare() -> None:
        copied, stock, running = await build_pair(handler, options)
        try:
            assert state(copied) == state(stock)
            # What a connection owns is its own, not the first connection's.
            # asyncio's private reader property, missing from typeshed's stubs.
            reader = copied._stream_reader  # type: ignore[attr-defined]
            assert reader is not stock._stream_reader  # type: ignore[attr-defined]
            assert copied._smtp_methods["DATA"].__self__ is copied
            assert copied._auth_methods["PLAIN"].method.__self__ is copied
            assert copied._handle_hooks is not stock._handle_hooks
        finally:
            await running.close()

    try:
        asyncio.run(compare())
    finally:
        handler.close()


def test_a_state_it_cannot_copy_turns_the_blueprint_off(tmp_path: Any) -> None:
    # Proof the check can fail: a per-connection list it does not know stops the copying.
    handler = MailDir(tmp_path / "mail")

    async def check() -> None:
        running = await start_smtp(handler, ServerOptions())
        try:
            first = _SMTP(handler, running, ServerOptions(), None)
            first.__dict__["_unknown_per_connection"] = []
            assert _Blueprint.of(first) is None
        finally:
            await running.close()

    try:
        asyncio.run(check())
    finally:
        handler.close()
