"""Mailpit's search syntax, parsed and matched on summaries."""

from __future__ import annotations

import dataclasses
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from mailcatcher.store import Entry
from mailcatcher.web.search import (
    MAX_TERMS,
    QueryError,
    Term,
    parse_query,
    parse_size,
    parse_time,
    split_words,
)

ENTRY = Entry(
    id="1",
    path=Path("/nowhere"),
    stored=datetime(2024, 5, 31, 12, 0, tzinfo=timezone.utc).timestamp(),
    sender="app@example.com",
    recipients=("eva@example.com", "hidden@example.net"),
    subject="Your Order #42",
    from_header="Shop <app@example.com>",
    to_header="Eva <eva@example.com>",
    size=2048,
    attachments=1,
    auth_user=None,
)


def matches(query: str, *, body: frozenset[str] = frozenset(), read: bool = False) -> bool:
    parsed = parse_query(query, tz=timezone.utc)
    hits = {needle: ({"1"} if needle in body else set()) for needle in parsed.needles}
    return parsed.matcher(body_hits=hits, read_ids={"1"} if read else set())(ENTRY)


def test_split_words_keeps_quoted_phrases_together() -> None:
    assert split_words('subject:"your order" to:eva  "two words" -x') == [
        "subject:your order",
        "to:eva",
        "two words",
        "-x",
    ]


def test_parse_terms_negation_and_cleaning() -> None:
    query = parse_query('to:<Eva@Example.com> !from:"Shop" -is:read has:attachments hello')
    assert query.terms == (
        Term("to", "eva@example.com"),
        Term("from", "shop", exclude=True),
        Term("flag", "is:read", exclude=True),
        Term("flag", "has:attachments"),
        Term("text", "hello"),
    )
    assert query.needles == ["hello"]
    assert parse_query("to: subject:").terms == ()  # empty values are ignored, as in Mailpit


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("to:eva", True),
        ("to:hidden@example.net", True),  # envelope recipient (a Bcc)
        ("to:bob", False),
        ("-to:bob", True),
        ("from:shop", True),
        ("from:app@example.com", True),
        ("subject:order", True),
        ('subject:"order #42"', True),
        ("subject:invoice", False),
        ("order", True),  # free text: the subject
        ("eva", True),  # free text: an address
        ("needle", False),
        ("has:attachment", True),
        ("-has:attachment", False),
        ("is:unread", True),
        ("is:read", False),
        ("tag:anything", False),
        ("-tag:anything", True),
        ("larger:1kb", True),
        ("larger:2kb", False),
        ("smaller:1m", True),
        ("after:2024-05-31", True),
        ("after:2024-06-01", False),
        ("before:2024-05-31T11:00", False),
        ("before:2024-06-01T00:00:00Z", True),
        ("to:eva subject:order -from:nobody", True),
        ("to:eva subject:invoice", False),
    ],
)
def test_matching(query: str, expected: bool) -> None:
    assert matches(query) is expected


def test_free_text_reaches_the_body_through_the_store_search() -> None:
    assert matches("needle", body=frozenset({"needle"}))
    assert not matches("-needle", body=frozenset({"needle"}))


def test_read_status() -> None:
    assert matches("is:read", read=True)
    assert not matches("is:unread", read=True)


def test_header_words_need_the_headers() -> None:
    query = parse_query("cc:carl")
    assert query.reads_headers
    carl = query.matcher(
        body_hits={}, read_ids=set(), headers=lambda entry, name: ["Carl <carl@example.org>"]
    )
    assert carl(ENTRY)
    nobody = query.matcher(body_hits={}, read_ids=set(), headers=lambda entry, name: [])
    assert not nobody(ENTRY)


@pytest.mark.parametrize(("text", "size"), [("500", 500), ("2kb", 2048), ("1.5M", 1572864)])
def test_sizes(text: str, size: int) -> None:
    assert parse_size(text) == size


def test_unreadable_dates_and_sizes_are_the_users_to_fix() -> None:
    with pytest.raises(QueryError, match="cannot read the date 'yesterday'"):
        parse_query("after:yesterday")
    with pytest.raises(QueryError, match="cannot read the size '2gb'"):
        parse_query("larger:2gb")


@pytest.mark.parametrize(
    ("value", "tz", "error"),
    [
        ("0001-01-01T00:00+05:00", None, "cannot use the date '0001-01-01T00:00+05:00'"),
        ("9999-12-31T23:00-05:00", None, "cannot use the date '9999-12-31T23:00-05:00'"),
        # Without an offset, the search's time zone moves it out of range just the same.
        ("0001-01-01", timezone(timedelta(hours=5)), "cannot use the date '0001-01-01'"),
        ("9999-12-31 23:00", timezone(timedelta(hours=-5)), "cannot use the date '9999-12-31 23"),
        ("nan", None, "cannot read the date 'nan'"),
        ("NaN", None, "cannot read the date 'NaN'"),
        ("inf", None, "cannot read the date 'inf'"),
        ("-Infinity", None, "cannot read the date '-Infinity'"),
        ("1e400", None, "cannot read the date '1e400'"),
    ],
)
def test_dates_out_of_range_or_not_finite_are_the_users_to_fix(
    value: str, tz: timezone | None, error: str
) -> None:
    with pytest.raises(QueryError, match=f"^{re.escape(error)}"):
        parse_time(value, tz=tz)


def test_the_ends_of_the_date_range_still_work() -> None:
    assert (
        parse_time("0001-01-01T05:00+05:00")
        == datetime.min.replace(tzinfo=timezone.utc).timestamp()
    )
    assert (
        parse_time("9999-12-31T23:59:59Z")
        == datetime(9999, 12, 31, 23, 59, 59, tzinfo=timezone.utc).timestamp()
    )
    assert parse_time("-1e300") == -1e300  # finite seconds are compared, never converted


def test_a_size_too_long_for_a_float_is_the_users_to_fix() -> None:
    with pytest.raises(QueryError, match="^cannot read the size '9999"):
        parse_size("9" * 400)


def test_each_header_is_read_once_per_message_however_many_words_need_it() -> None:
    # 616 -cc: words once parsed every message 616 times (issue #11, finding 4).
    query = parse_query(" ".join(f"-cc:x{n}" for n in range(MAX_TERMS - 1)) + " addressed:eva")
    reads: list[tuple[str, str]] = []

    def headers(entry: Entry, name: str) -> list[str]:
        reads.append((entry.id, name))
        return ["Carl <carl@example.org>"] if name == "Cc" else []

    passes = query.matcher(body_hits={}, read_ids=set(), headers=headers)
    assert passes(ENTRY)  # eva is an envelope recipient
    other = dataclasses.replace(ENTRY, id="2")
    assert passes(other)
    every = ("Cc", "To", "From", "Bcc", "Reply-To")
    assert sorted(reads) == sorted((id, name) for id in ("1", "2") for name in every)


def test_a_search_may_have_at_most_max_terms_words() -> None:
    assert len(parse_query(" ".join(["w"] * MAX_TERMS)).terms) == MAX_TERMS
    with pytest.raises(QueryError) as error:
        parse_query(" ".join(["w"] * (MAX_TERMS + 1)))
    assert error.value.args == (
        f"Error: a search may have at most {MAX_TERMS} words, this one has {MAX_TERMS + 1}",
    )
