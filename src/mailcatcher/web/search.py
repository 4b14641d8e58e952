"""Mailpit's search syntax, parsed and matched on the store's summaries.

A query is words separated by spaces; ``"double quotes"`` keep a phrase together and a
leading ``-`` or ``!`` negates a word. ``to:``, ``from:``, ``subject:`` and friends
match one field; anything else is free text, matched against the subject, the
addresses and the decoded text of the body (https://mailpit.axllent.org/docs/usage/search-filters/).
Every word must match. Most words are answered from an `Entry` alone; the few that
need a header the index does not keep (``cc:``, ``message-id:``...) read that message's
headers, and only for messages the other words let through.

The work is bounded: a search has at most `MAX_TERMS` words, and each message's headers
are read, and each of its fields folded, once per search however many words look at them,
so a search costs (words x fields) substring checks per message, never a parse per word.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Set
from dataclasses import dataclass
from datetime import datetime, timezone, tzinfo

from ..message import fold
from ..store import Entry, has_tag

#: Words that name a header the summaries do not hold; matched on the message's headers.
HEADER_FIELDS = {"cc": ("Cc",), "bcc": ("Bcc",), "reply-to": ("Reply-To",)}
#: Every prefix understood, in the order Mailpit's documentation lists them.
PREFIXES = (
    "to",
    "from",
    "cc",
    "bcc",
    "reply-to",
    "addressed",
    "subject",
    "message-id",
    "tag",
    "after",
    "before",
    "larger",
    "smaller",
)
FLAGS = ("is:read", "is:unread", "is:tagged", "has:attachment", "has:attachments")
#: The most words one search may have. Each word is a pass over every message's fields
#: (and a free-text word one over their bodies): 616 ``-cc:`` words over 100 messages of
#: 60 KB kept eight searches busy for two minutes. Mailpit sets no limit; searches people
#: type have a handful of words.
MAX_TERMS = 32

_SIZE = re.compile(r"^(\d+)(\.\d+)?\s?([a-z]{1,2})?$")
# Characters Mailpit's cleanString turns into spaces in address terms and free text.
_CLEAN = re.compile(r"[\r\n\t<>\",;()]")


class QueryError(ValueError):
    """A search the user wrote cannot be understood; the message says which word."""


@dataclass(frozen=True)
class Term:
    """One word of a query: a field (``text`` for free text), its value, negated or not."""

    field: str
    value: str
    exclude: bool = False

    def __str__(self) -> str:
        sign = "-" if self.exclude else ""
        if self.field == "text":
            return f"{sign}{self.value}"
        if self.field == "flag":
            return f"{sign}{self.value}"
        return f"{sign}{self.field}:{self.value}"


#: Reads one header of a message (all its values, decoded), for the words that need it.
HeaderReader = Callable[[Entry, str], list[str]]
#: Tells whether a message passes a search (or one of its words).
Predicate = Callable[[Entry], bool]


@dataclass(frozen=True)
class Query:
    """A parsed search: every term must hold."""

    terms: tuple[Term, ...] = ()
    text: str = ""

    @property
    def needles(self) -> list[str]:
        """The free-text words, for the store's body search."""
        return [term.value for term in self.terms if term.field == "text"]

    @property
    def reads_headers(self) -> bool:
        """Whether matching needs headers beyond the summary (slower)."""
        slow = ("message-id", "addressed", *HEADER_FIELDS)
        return any(term.field in slow for term in self.terms)

    def matcher(
        self,
        *,
        body_hits: Mapping[str, set[str]],
        read_ids: Set[str],
        headers: HeaderReader | None = None,
    ) -> Predicate:
        """A function telling whether an `Entry` passes every term.

        Built once per search, then called for each stored message, so each term is
        decided up front into one small function. The fields the terms look at are read
        and folded once per message (the last message's are kept while its terms run).

        Args:
            body_hits: For each free-text word, the ids whose body text contains it.
            read_ids: The ids of the messages opened so far.
            headers: Reads a header of a message; needed when `reads_headers`.
        """
        fields = _Fields(headers)
        checks = [_predicate(term, body_hits, read_ids, fields) for term in self.terms]

        if len(checks) == 1:
            return checks[0]
        return lambda entry: all(check(entry) for check in checks)


def split_words(text: str) -> list[str]:
    """Split on spaces outside double quotes, dropping the quotes (Mailpit's ArgsParser)."""
    words: list[str] = []
    current: list[str] = []
    quoted = False
    for char in text:
        if char == '"':
            quoted = not quoted
            current.append(char)
        elif char == " " and not quoted:
            word = "".join(current).replace('"', "").strip()
            if word:
                words.append(word)
            current = []
        else:
            current.append(char)
    word = "".join(current).replace('"', "").strip()
    if word:
        words.append(word)
    return words


def _clean(value: str) -> str:
    """Mailpit's cleanString: drop address punctuation, squeeze spaces, lower-case."""
    return fold(" ".join(_CLEAN.sub(" ", value.replace("\ufeff", " ")).split()))


def parse_query(text: str, *, tz: tzinfo | None = None) -> Query:
    """Parse a Mailpit search string.

    Args:
        text: The search, e.g. ``to:eva@example.com subject:"your order" -is:read``.
        tz: The time zone of ``after:``/``before:`` dates without one (default: local).

    Raises:
        QueryError: a date or size the query gives cannot be read, or it has more than
            `MAX_TERMS` words.
    """
    words = split_words(text)
    if len(words) > MAX_TERMS:
        raise QueryError(
            f"Error: a search may have at most {MAX_TERMS} words, this one has {len(words)}"
        )
    terms: list[Term] = []
    for word in words:
        exclude = len(word) > 1 and word[0] in "-!"
        if exclude:
            word = word[1:]
        lower = word.lower()
        prefix, colon, rest = word.partition(":")
        field = prefix.lower()
        if lower in FLAGS:
            terms.append(Term("flag", lower, exclude))
        elif colon and field in PREFIXES:
            value = rest if field == "subject" else _clean(rest)
            if not value:
                continue
            if field in ("after", "before"):
                value = str(parse_time(value, tz=tz))
            elif field in ("larger", "smaller"):
                value = str(parse_size(value))
            terms.append(Term(field, value, exclude))
        else:
            value = _clean(word)
            if value:
                terms.append(Term("text", value, exclude))
    return Query(tuple(terms), text.strip())


def parse_time(value: str, *, tz: tzinfo | None = None) -> float:
    """A date, a date and time (ISO 8601) or Unix seconds, as Unix seconds.

    Raises:
        QueryError: `value` is none of these, is not finite (``nan``, ``inf``), or lies
            outside the years 1 to 9999 once converted to UTC.
    """
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        # float() also reads "nan" and "inf" (and "1e400" as inf): no time compares
        # with NaN, so a wait for mail "since nan" would never end.
        if not math.isfinite(seconds):
            raise _unreadable_date(value)
        return seconds
    candidate = text.upper().replace(" ", "T", 1)
    if candidate.endswith("Z"):
        candidate = candidate[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(candidate)
    except ValueError:
        raise _unreadable_date(value) from None
    try:
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=tz) if tz is not None else moment.astimezone()
        return moment.astimezone(timezone.utc).timestamp()
    except (OverflowError, OSError, ValueError):
        # 0001-01-01T00:00+05:00 is before year 1 in UTC (OverflowError); the platform's
        # local-time functions refuse some years near the ends (OSError, ValueError).
        raise QueryError(
            f"cannot use the date {value!r}: in UTC it falls outside the years 1 to 9999"
        ) from None


def _unreadable_date(value: str) -> QueryError:
    return QueryError(
        f"cannot read the date {value!r}: give 2024-05-31, 2024-05-31T14:30 or Unix seconds"
    )


def parse_size(value: str) -> int:
    """A size like ``2kb``, ``1.5m`` or ``500`` (bytes), as bytes (Mailpit's sizeToBytes).

    Raises:
        QueryError: `value` is not a size.
    """
    match = _SIZE.match(value.strip().lower())
    units = {"": 1, "b": 1, "k": 1024, "kb": 1024, "m": 1024 * 1024, "mb": 1024 * 1024}
    scale = None if match is None else units.get(match.group(3) or "")
    number = math.nan
    if match is not None and scale is not None:
        number = float(match.group(1) + (match.group(2) or "")) * scale
    # Hundreds of digits read as inf, and int(inf) raises OverflowError.
    if not math.isfinite(number):
        raise QueryError(f"cannot read the size {value!r}: give 500, 20kb or 1.5mb")
    return int(number)


class _Fields:
    """The folded text of each field of one message, built once however many terms ask.

    The matcher runs every term on one message before the next, so the fields (and the
    header values) of the last message asked about are all it keeps: its memory stays
    one message's headers.
    """

    def __init__(self, headers: HeaderReader | None) -> None:
        self._headers = headers
        self._id: str | None = None
        self._folded: dict[str, str] = {}
        self._values: dict[str, list[str]] = {}

    def folded(self, entry: Entry, key: str) -> str:
        """Field `key` of `entry` (`_FIELDS`), its values joined by newlines and folded."""
        if entry.id != self._id:
            self._id, self._folded, self._values = entry.id, {}, {}
        text = self._folded.get(key)
        if text is None:
            text = self._folded[key] = fold("\n".join(_FIELDS[key](entry, self._read)))
        return text

    def _read(self, entry: Entry, name: str) -> list[str]:
        values = self._values.get(name)
        if values is None:
            if self._headers is None:
                raise ValueError(f"the search word needs the message's {name} header")
            values = self._values[name] = self._headers(entry, name)
        return values


def _headers(*names: str) -> Callable[[Entry, HeaderReader], list[str]]:
    """A field made of every value of the headers `names`."""
    return lambda entry, read: [text for name in names for text in read(entry, name)]


def _addressed(entry: Entry, read: HeaderReader) -> list[str]:
    every = ("To", "From", "Cc", "Bcc", "Reply-To")
    return [text for name in every for text in read(entry, name)] + [
        entry.sender,
        *entry.recipients,
    ]


#: What each field of a message is, for the terms that search it. to: and from: also look
#: at the envelope: a catcher knows who a Bcc went to.
_FIELDS: dict[str, Callable[[Entry, HeaderReader], list[str]]] = {
    "to": lambda entry, read: [entry.to_header, *entry.recipients],
    "from": lambda entry, read: [entry.from_header, entry.sender],
    "subject": lambda entry, read: [entry.subject],
    "text": lambda entry, read: [
        entry.subject,
        entry.from_header,
        entry.to_header,
        entry.sender,
        *entry.recipients,
    ],
    "message-id": _headers("Message-ID"),
    "addressed": _addressed,
    **{field: _headers(*names) for field, names in HEADER_FIELDS.items()},
}


def _predicate(
    term: Term,
    body_hits: Mapping[str, set[str]],
    read_ids: Set[str],
    fields: _Fields,
) -> Predicate:
    """The check of one term (negated when `term.exclude`)."""
    check = _check(term, body_hits, read_ids, fields)
    if term.exclude:
        return lambda entry: not check(entry)
    return check


def _check(
    term: Term,
    body_hits: Mapping[str, set[str]],
    read_ids: Set[str],
    fields: _Fields,
) -> Predicate:
    """Whether an entry has what `term` asks for (ignoring `term.exclude`)."""
    field, value = term.field, term.value
    if field == "text":
        hits = body_hits.get(value, set())
        return lambda entry: entry.id in hits or value in fields.folded(entry, "text")
    if field == "subject":
        folded = fold(value)
        return lambda entry: folded in fields.folded(entry, "subject")
    if field == "flag":
        return _flag(value, read_ids)
    if field == "tag":
        return lambda entry: has_tag(entry.tags, value)
    if field in ("after", "before"):
        moment = float(value)
        if field == "after":
            return lambda entry: entry.stored >= moment
        return lambda entry: entry.stored <= moment
    if field in ("larger", "smaller"):
        size = int(value)
        if field == "larger":
            return lambda entry: entry.size > size
        return lambda entry: entry.size < size
    # to, from, cc, bcc, reply-to, addressed, message-id: the value is already folded.
    return lambda entry: value in fields.folded(entry, field)


def _flag(flag: str, read_ids: Set[str]) -> Predicate:
    if flag == "is:read":
        return lambda entry: entry.id in read_ids
    if flag == "is:unread":
        return lambda entry: entry.id not in read_ids
    if flag == "is:tagged":
        return lambda entry: bool(entry.tags)
    return lambda entry: entry.attachments > 0  # has:attachment(s)
