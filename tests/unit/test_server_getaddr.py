"""The fast way `mailcatcher.server._SMTP` reads a MAIL FROM or RCPT TO path (issue 15).

For the common ``<local@domain> PARAMS`` it skips aiosmtpd's email header parser; everything
else goes to the parser. Both ways must give the same address and the same rest, for any
text a client can send: compared here with aiosmtpd's own ``SMTP._getaddr``.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from aiosmtpd.smtp import SMTP
from hypothesis import example, given
from hypothesis import strategies as st

from mailcatcher.server import _SMTP

# A protocol object without a connection: `_getaddr` reads only `local_part_limit`.
OURS = _SMTP.__new__(_SMTP)


def stock(arg: str) -> tuple[str | None, str | None]:
    result: tuple[str | None, str | None] = SMTP._getaddr(OURS, arg)
    return result


def outcome(read: Callable[[str], object], arg: str) -> object:
    """What `read` returns for `arg`, or the type of what it raises."""
    try:
        return read(arg)
    except Exception as error:  # compared, not hidden: the test fails on a difference
        return type(error)


def expected(arg: str) -> object:
    """aiosmtpd's answer for `arg`; where its parser raises, ours says "malformed".

    aiosmtpd's parser raises on some malformed paths (``<0@[>``: AttributeError; ``0@``:
    IndexError), which ended a command in a 451 and a traceback; ours returns
    ``(None, None)``, aiosmtpd's own "553 malformed address".
    """
    stocks = outcome(stock, arg)
    return (None, None) if isinstance(stocks, type) else stocks


@pytest.mark.parametrize(
    "arg",
    [
        "<sender@example.com> SIZE=1024",
        "<recipient@example.com>",
        "  <a.b+tag@mail.example.org>\tBODY=8BITMIME SMTPUTF8",
        "<a@b>x",
        "<bounce+eva=example.com@shop.example>",
        "<o'brien@example.com>",
        "<a@b> (comment) SIZE=1",
        '<"quoted local"@example.com>',
        "<a@[127.0.0.1]>",
        "<>",
        "<a..b@example.com>",
        "<.a@example.com>",
        "<a@-example.com>",
        "<a@example..com>",
        "a@example.com",
        "<@relay.example:a@example.com>",
        "<a@example.com",
        "<é@example.com>",
        "<0@[>",
        "0@",
    ],
)
def test_the_same_as_aiosmtpd(arg: str) -> None:
    assert outcome(OURS._getaddr, arg) == expected(arg)


PATH_TEXT = st.text(alphabet="ab.@<>()\"' \t=?+-[]:\\,;é", max_size=30)


@given(local=PATH_TEXT, domain=PATH_TEXT, rest=PATH_TEXT)
@example(local="a", domain="b", rest=" (x)")
def test_the_same_as_aiosmtpd_for_any_text(local: str, domain: str, rest: str) -> None:
    for arg in (f"<{local}@{domain}>{rest}", f"{local}<{domain}>{rest}"):
        assert outcome(OURS._getaddr, arg) == expected(arg)
