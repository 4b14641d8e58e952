"""Where a store is, as a person may see it: database URLs with their password masked.

A store is a path (a file, a Maildir) or a database URL (``postgresql://...``). A URL may
carry a password, and every surface prints where it reads (banners, errors, the web page's
status, a wait's timeout text). The rule kept here: a URL is turned into a
`DatabaseLocation` as soon as it is taken in; it prints as the masked URL everywhere
(``str``, ``repr``, f-strings, logs) and only `open_store` reads the real one.

No driver is imported here, so a URL is recognised (and masked) without the extra.
"""

from __future__ import annotations

import os
import re
from pathlib import Path, PosixPath
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

#: URL schemes libpq takes (https://www.postgresql.org/docs/current/libpq-connect.html,
#: 34.1.1.2: "The URI scheme designator can be either postgresql:// or postgres://").
DATABASE_SCHEMES = ("postgresql://", "postgres://")
#: What a password is shown as.
MASK = "***"
#: Query parameters libpq reads a secret from.
_SECRET_PARAMETERS = frozenset({"password", "sslpassword"})
#: ``scheme://user:password@`` when the URL does not parse (an unbalanced ``[``).
_USERINFO = re.compile(r"^([a-z]+://[^:/@]*:)[^@/]*@", re.IGNORECASE)


def is_database_url(path: object) -> bool:
    """Whether `path` names a database (a ``postgresql://`` URL) rather than a file."""
    if isinstance(path, DatabaseLocation):
        return True
    if isinstance(path, os.PathLike):
        path = os.fspath(path)
    return isinstance(path, str) and path.lower().startswith(DATABASE_SCHEMES)


def mask(url: str) -> str:
    """`url` with its password (in the user part or a ``password=`` parameter) as ``***``."""
    user, password, rest = _userinfo(url)
    if password:
        # Split by hand first: libpq takes "pa#ss" and "se?cret" as passwords, where
        # urlsplit would end the user part at the "#" or "?" and mask nothing.
        url = f"{url.partition('://')[0]}://{user}:{MASK}@{rest}"
    try:
        parts = urlsplit(url)
        netloc = parts.netloc
        user, at, host = netloc.rpartition("@")
        if at and ":" in user:
            netloc = f"{user.partition(':')[0]}:{MASK}@{host}"
        query = parts.query
        if query:
            pairs = parse_qsl(query, keep_blank_values=True)
            if any(key.lower() in _SECRET_PARAMETERS for key, _ in pairs):
                masked = [(k, MASK if k.lower() in _SECRET_PARAMETERS else v) for k, v in pairs]
                query = urlencode(masked, safe="*")
        return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
    except ValueError:
        # Not a URL urllib can split: mask what looks like user:password@, drop the rest
        # of anything after "?" (it may hold password=).
        return _USERINFO.sub(rf"\1{MASK}@", url.partition("?")[0])


def without_secrets(text: str, url: str) -> str:
    """`text` (a driver's error, say) with every password in `url` replaced by ``***``."""
    for secret in _secrets(url):
        # A password of a character or two would mask every such letter of the text;
        # the driver's messages never quote the password anyway.
        if len(secret) >= 3:
            text = text.replace(secret, MASK)
    return text


def _userinfo(url: str) -> tuple[str, str, str]:
    """``(user, password, what follows the "@")`` of a URL's user part, split as libpq does.

    Everything between ``://`` and the last ``@`` is the user part, so a password may hold
    ``#``, ``?`` or ``/``; ``("", "", url)`` when there is none.
    """
    scheme, separator, rest = url.partition("://")
    userinfo, at, tail = rest.rpartition("@")
    if not (separator and at and scheme):
        return "", "", url
    user, _, password = userinfo.partition(":")
    return user, password, tail


def _secrets(url: str) -> list[str]:
    by_hand = _userinfo(url)[1]
    try:
        parts = urlsplit(url)
        found = [by_hand, unquote(by_hand), parts.password or ""]
        found += [v for k, v in parse_qsl(parts.query) if k.lower() in _SECRET_PARAMETERS]
    except ValueError:
        return []
    return found


class DatabaseLocation(PosixPath):
    """A database URL where a store's `path` goes: it prints as the URL, password masked.

    Readers, the catchers and the surfaces carry a store's location as a `pathlib.Path`
    and print it freely; this one is a `Path` so they all keep working, and prints
    masked so none of them leaks the password. `url` holds the real one, for connecting.
    It names no file: opening it as one finds nothing.
    """

    url: str
    _shown: str

    @classmethod
    def of(cls, url: str) -> DatabaseLocation:
        """The location of the database at `url` (a ``postgresql://`` URL)."""
        shown = mask(url)
        location = cls(shown)
        location.url = url
        location._shown = shown
        return location

    def __str__(self) -> str:
        return self._shown

    def __repr__(self) -> str:
        return f"DatabaseLocation({self._shown!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (DatabaseLocation.of, (self.url,))


def location(path: str | os.PathLike[str]) -> Path:
    """`path` as a `Path`, or a `DatabaseLocation` when it is a database URL."""
    if isinstance(path, DatabaseLocation):
        return path
    if is_database_url(path):
        return DatabaseLocation.of(os.fspath(path))
    return Path(path)


def shown(path: str | os.PathLike[str]) -> str:
    """`path` as a person may see it: as given, or the URL with its password masked."""
    if isinstance(path, DatabaseLocation):
        return str(path)
    text = os.fspath(path)
    return mask(text) if is_database_url(text) else text
