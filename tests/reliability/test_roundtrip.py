"""Round trip: generated MIME messages sent over SMTP read back exactly (guarantee 3, faithful).

Hypothesis builds message trees (nested multiparts, text in eight charsets and four transfer
encodings, random-byte attachments, RFC 2047 and raw UTF-8 headers, long lines, ``From `` and
``.`` lines) and `tests.reliability.mime` writes each one's bytes by hand. Each goes to one
long-running real ``aiosmtpd`` process per test, through `smtplib` with raw bytes, and is read
back with `mailcatcher.get_latest_message`. Two checks per message:

1. the sent bytes, parsed directly, mean what the spec says (this guards the test's own writer,
   so a failure in step 2 is the catcher's, not the generator's);
2. the stored message means the same: decoded headers, tree shape, every leaf's decoded bytes,
   the server's envelope headers (not the forged copies in the DATA), and the store's summary.

The property tests are marked slow and run 1,000+ examples in total; the regression tests below
them are the examples hypothesis found, kept as plain fast tests.
"""

from __future__ import annotations

import email
import os
from collections.abc import Callable
from email import policy
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from mailcatcher import get_latest_message
from mailcatcher.store import opened
from tests.reliability import mime
from tests.reliability.harness import data_reply
from tests.reliability.mime import Leaf, Mailbox, MessageSpec, Multipart
from tests.support import Proc, catcher

STORE_NAMES = {"mailfile": "latest.mail", "maildir": "mail", "serve": "mail"}


def round_trip(proc: Proc, store: Path, spec: MessageSpec) -> None:
    """Send `spec` to `proc`, read it back from `store`, and compare everything."""
    wire = mime.render(spec)
    mime.check(spec, email.message_from_bytes(wire, policy=policy.default), "as sent")
    sender = spec.sender.address
    recipients = [box.address for box in spec.to]
    code, reply = data_reply(proc.port, sender, recipients, wire, smtputf8=spec.needs_smtputf8)
    assert code == 250, f"DATA answered {code} {reply}"
    stored = get_latest_message(store, to=recipients[0])
    assert stored is not None, f"no stored message for {recipients[0]}"
    mime.check(spec, stored, "as stored")
    mime.check_envelope(stored, sender, recipients)
    with opened(store) as reader:
        entries = [entry for entry in reader.entries() if recipients[0] in entry.recipients]
    assert len(entries) == 1
    entry = entries[0]
    assert (entry.subject, entry.sender, entry.recipients) == (
        spec.subject,
        sender,
        tuple(recipients),
    )


def _property(proc: Proc, store: Path, examples: int, *, utf8: bool) -> Callable[[], None]:
    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(spec=mime.messages(utf8=utf8))
    def prop(spec: MessageSpec) -> None:
        round_trip(proc, store, spec)

    return prop


# 4 x 250 = 1,000 generated messages through the stock command, plus 150 through `serve`.
# A deeper hunt: RELIABILITY_EXAMPLES=5000 pytest -m slow tests/reliability/test_roundtrip.py
EXAMPLES = int(os.environ.get("RELIABILITY_EXAMPLES", "250"))


@pytest.mark.slow
@pytest.mark.parametrize("utf8", [False, True], ids=["rfc2047", "smtputf8"])
@pytest.mark.parametrize("kind", ["mailfile", "maildir"])
def test_generated_messages_round_trip(kind: str, utf8: bool, tmp_path: Path) -> None:
    store = tmp_path / STORE_NAMES[kind]
    with catcher(kind, store, log=tmp_path / "server.log", utf8=utf8) as proc:
        _property(proc, store, EXAMPLES, utf8=utf8)()


@pytest.mark.slow
def test_generated_messages_round_trip_serve(tmp_path: Path) -> None:
    store = tmp_path / STORE_NAMES["serve"]
    with catcher("serve", store, log=tmp_path / "server.log") as proc:
        _property(proc, store, max(EXAMPLES * 3 // 5, 1), utf8=True)()


# --- regressions and hand-picked edges (fast; no hypothesis) ---------------------------------

TEXT = "From me\n.\n..hidden\nline\n"
REGRESSIONS: dict[str, MessageSpec] = {
    "from-and-dot-lines-8bit": MessageSpec(
        subject="plain subject",
        sender=Mailbox("", "a@example.com"),
        to=(Mailbox("", "reg1@example.com"),),
        note="",
        root=Leaf("text", "plain", ("Grüße\n" + TEXT).encode("utf-8"), "utf-8", "8bit"),
        header_mode="rfc2047",
    ),
    "line-of-998-octets-starting-with-dot": MessageSpec(
        subject="x",
        sender=Mailbox("", "a@example.com"),
        to=(Mailbox("", "reg2@example.com"),),
        note="",
        root=Leaf("text", "plain", b"." + b"y" * 997 + b"\n", "us-ascii", "7bit"),
        header_mode="rfc2047",
    ),
    "nested-with-utf16-qp-and-empty-attachment": MessageSpec(
        subject="Grüße aus 東京 — ✓",
        sender=Mailbox('Jörg "the" Müller', "j@example.com"),
        to=(Mailbox("", "reg3@example.com"), Mailbox("Ева", "eva@example.org")),
        note="n" * 1200,
        root=Multipart(
            "mixed",
            (
                Multipart(
                    "alternative",
                    (
                        Leaf(
                            "text",
                            "plain",
                            "日本語\n".encode("utf-16"),
                            "utf-16",
                            "quoted-printable",
                        ),
                        Leaf("text", "html", "<p>ü</p>".encode("iso-8859-1"), "iso-8859-1", "8bit"),
                    ),
                ),
                Leaf(
                    "application",
                    "octet-stream",
                    b"",
                    None,
                    "base64",
                    filename="empty.bin",
                    disposition="attachment",
                ),
                Leaf(
                    "image",
                    "png",
                    bytes(range(256)),
                    None,
                    "quoted-printable",
                    filename="ファイル名" * 10,
                    disposition="inline",
                ),
            ),
        ),
        header_mode="rfc2047",
        header_charset="shift_jis",
    ),
    # Found by hypothesis: compat32 refolded the client's headers on the way to disk; a
    # 75-character first encoded word moved to its own line and the value read back with
    # a leading space. Fixed: store.py writes parsed headers verbatim (_VerbatimHeaders).
    "long-first-encoded-word": MessageSpec(
        subject="\u200b" * 15,
        sender=Mailbox("", "a@example.com"),
        to=(Mailbox("", "reg4@example.com"),),
        note="",
        root=Leaf("text", "plain", b"", "us-ascii", "quoted-printable"),
        header_mode="rfc2047",
    ),
    # Found by hypothesis: the summary kept a folded subject's line breaks, so
    # Entry.subject (filters, listings) held "\r\n " where the reader sees " ".
    "folded-plain-subject": MessageSpec(
        subject=" ".join(["word"] * 40),
        sender=Mailbox("", "a@example.com"),
        to=(Mailbox("", "reg5@example.com"),),
        note="x, y;z " * 30 + "end",
        root=Leaf("text", "plain", b"", "us-ascii", "quoted-printable"),
        header_mode="rfc2047",
    ),
    # Found by hypothesis: compat32's Message.get() turns a raw UTF-8 header into a Header
    # whose str() is U+FFFD, so Entry.subject/sender/recipients lost RFC 6532 text.
    "raw-utf8-subject-and-addresses": MessageSpec(
        subject="¡",
        sender=Mailbox("Jörg", "jörg@example.com"),
        to=(Mailbox("", "reg6@example.com"), Mailbox("", "用户@example.org")),
        note="",
        root=Leaf("text", "plain", b"", "us-ascii", "quoted-printable"),
        header_mode="utf8",
    ),
}


@pytest.mark.parametrize("utf8", [False, True], ids=["rfc2047", "smtputf8"])
@pytest.mark.parametrize("kind", ["mailfile", "maildir"])
def test_regressions_round_trip(kind: str, utf8: bool, tmp_path: Path) -> None:
    store = tmp_path / STORE_NAMES[kind]
    with catcher(kind, store, log=tmp_path / "server.log", utf8=utf8) as proc:
        for name, spec in REGRESSIONS.items():
            if spec.needs_smtputf8 and not utf8:
                continue
            try:
                round_trip(proc, store, spec)
            except AssertionError as error:
                raise AssertionError(f"{name}: {error}") from error
