"""Faults a test injects: `fail_next`, `drop_next`, `delay_next` and the marker's `faults`.

Real smtplib clients see each fault as an app would; the Maildir, read back with the
standard library's `mailbox`, proves a refused message was not stored.
"""

from __future__ import annotations

import mailbox
import smtplib
import ssl
import time
from collections.abc import Callable

import pytest

from mailcatcher.faults import ChaosTrigger, Fault, Faults
from mailcatcher.pytest_plugin import Mailcatcher

from .test_plugin import CHILD_INI, SEND

MESSAGE = b"From: app@example.com\r\nTo: eva@example.com\r\nSubject: Hello\r\n\r\nHi\r\n"


def send(mailcatcher: Mailcatcher, to: str = "eva@example.com") -> None:
    with smtplib.SMTP(mailcatcher.host, mailcatcher.port, timeout=30) as client:
        client.sendmail("app@example.com", [to], MESSAGE)


def stored(mailcatcher: Mailcatcher) -> int:
    return len(mailbox.Maildir(mailcatcher.path, create=False))


def test_fail_next_mail(mailcatcher: Mailcatcher) -> None:
    mailcatcher.fail_next("MAIL")
    with pytest.raises(smtplib.SMTPSenderRefused) as refused:
        send(mailcatcher)
    assert (refused.value.smtp_code, refused.value.smtp_error) == (451, b"4.3.0 Try again later")
    send(mailcatcher)  # once only: the next attempt goes through
    assert len(mailcatcher.messages) == 1


def test_fail_next_rcpt_with_a_permanent_reply(mailcatcher: Mailcatcher) -> None:
    mailcatcher.fail_next("rcpt", "550 5.1.1 No such user")
    with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
        send(mailcatcher, to="nobody@example.com")
    assert refused.value.recipients == {"nobody@example.com": (550, b"5.1.1 No such user")}
    assert mailcatcher.messages == []


def test_a_refused_data_is_not_stored(mailcatcher: Mailcatcher) -> None:
    mailcatcher.fail_next("DATA", "554 5.6.0 Message rejected")
    with pytest.raises(smtplib.SMTPDataError) as refused:
        send(mailcatcher)
    assert refused.value.smtp_code == 554
    assert mailcatcher.messages == []
    assert stored(mailcatcher) == 0
    send(mailcatcher)
    assert stored(mailcatcher) == 1


def test_times_counts_uses(mailcatcher: Mailcatcher) -> None:
    mailcatcher.fail_next("MAIL", times=2)
    for _ in range(2):
        with pytest.raises(smtplib.SMTPSenderRefused):
            send(mailcatcher)
    send(mailcatcher)
    assert len(mailcatcher.messages) == 1


@pytest.mark.parametrize("command", ["CONNECT", "MAIL", "RCPT", "DATA"])
def test_drop_next_closes_the_connection(mailcatcher: Mailcatcher, command: str) -> None:
    mailcatcher.drop_next(command)
    with pytest.raises(smtplib.SMTPServerDisconnected):
        send(mailcatcher)
    assert stored(mailcatcher) == 0
    send(mailcatcher)
    assert stored(mailcatcher) == 1


def test_fail_next_connect_refuses_the_greeting(mailcatcher: Mailcatcher) -> None:
    mailcatcher.fail_next("CONNECT", "554 5.3.2 Not accepting mail")
    with pytest.raises(smtplib.SMTPConnectError) as refused:
        send(mailcatcher)
    assert refused.value.smtp_code == 554


def test_delay_next_holds_the_reply_back(mailcatcher: Mailcatcher) -> None:
    mailcatcher.delay_next("MAIL", 0.3)
    with smtplib.SMTP(mailcatcher.host, mailcatcher.port, timeout=30) as client:
        client.ehlo()
        started = time.monotonic()
        assert client.mail("app@example.com")[0] == 250
        assert time.monotonic() - started >= 0.3
        # The proof the timing means something: the next MAIL is not held back.
        client.rset()
        assert client.mail("app@example.com")[0] == 250


def test_delay_next_longer_than_the_client_waits(mailcatcher: Mailcatcher) -> None:
    mailcatcher.delay_next("DATA", 30)
    with (
        pytest.raises(smtplib.SMTPServerDisconnected, match="timed out"),
        smtplib.SMTP(mailcatcher.host, mailcatcher.port, timeout=0.5) as client,
    ):
        client.sendmail("app@example.com", ["eva@example.com"], MESSAGE)


def test_fail_next_auth(mailcatcher: Mailcatcher) -> None:
    # smtplib's login() tries each mechanism the server offers (PLAIN, then LOGIN).
    mailcatcher.fail_next("AUTH", "535 5.7.8 Authentication credentials invalid", times=2)
    with smtplib.SMTP(mailcatcher.host, mailcatcher.port, timeout=30) as client:
        with pytest.raises(smtplib.SMTPAuthenticationError):
            client.login("app-user", "secret")
        assert client.login("app-user", "secret")[0] == 235


@pytest.mark.mailcatcher(tls=True)
def test_fail_next_starttls(mailcatcher: Mailcatcher) -> None:
    mailcatcher.fail_next("STARTTLS", "454 4.7.0 TLS not available due to temporary reason")
    context = ssl.create_default_context(cafile=mailcatcher.ca_path)
    with smtplib.SMTP(mailcatcher.host, mailcatcher.port, timeout=30) as client:
        with pytest.raises(smtplib.SMTPResponseException) as refused:
            client.starttls(context=context)
        assert refused.value.smtp_code == 454
        client.starttls(context=context)


def test_an_app_retry_loop_sees_the_451_then_succeeds(mailcatcher: Mailcatcher) -> None:
    def send_with_retries(attempts: int = 3) -> int:
        # The app under test: retries a temporary (4xx) failure, gives up on the rest.
        for attempt in range(1, attempts + 1):
            try:
                send(mailcatcher)
                return attempt
            except smtplib.SMTPResponseException as error:
                if not 400 <= error.smtp_code < 500:
                    raise
        raise RuntimeError("gave up")

    mailcatcher.fail_next("DATA", "451 4.3.0 Try again later")
    assert send_with_retries() == 2
    assert len(mailcatcher.messages) == 1


@pytest.mark.mailcatcher(faults=[Fault.fail("RCPT", "550 5.1.1 No such user", times=None)])
def test_the_marker_sets_faults_for_the_test(mailcatcher: Mailcatcher) -> None:
    for _ in range(3):
        with pytest.raises(smtplib.SMTPRecipientsRefused):
            send(mailcatcher)


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (lambda m: m.fail_next("HELO"), "one of CONNECT, MAIL, RCPT, DATA, AUTH, STARTTLS"),
        (lambda m: m.fail_next("MAIL", "250 OK"), "4xx or 5xx code"),
        (lambda m: m.fail_next("MAIL", times=0), "at least 1"),
        (lambda m: m.delay_next("MAIL", -1), "between 0 and 3600"),
    ],
)
def test_a_wrong_fault_is_refused_when_set(
    mailcatcher: Mailcatcher, call: Callable[[Mailcatcher], None], error: str
) -> None:
    with pytest.raises(ValueError, match=error):
        call(mailcatcher)


def test_a_wrong_marker_fault_fails_the_test(pytester: pytest.Pytester) -> None:
    pytester.makeini(CHILD_INI)
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.mailcatcher(faults=[("fail", "MAIL")])
        def test_it(mailcatcher):
            pass
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*faults holds mailcatcher.faults.Fault values*"])


def test_nothing_connected_is_a_hint(mailcatcher: Mailcatcher) -> None:
    with pytest.raises(AssertionError) as failed:
        mailcatcher.wait_for_message(timeout=0.1)
    assert str(failed.value).endswith(
        f"hint: nothing connected to {mailcatcher.host}:{mailcatcher.port} during this test: "
        f"is the app sending to another host or port? (mailcatcher.host, mailcatcher.port)"
    )


def test_a_connection_without_mail_is_no_such_hint(mailcatcher: Mailcatcher) -> None:
    mailcatcher.fail_next("MAIL")
    with pytest.raises(smtplib.SMTPSenderRefused):
        send(mailcatcher)
    with pytest.raises(AssertionError) as failed:
        mailcatcher.wait_for_message(timeout=0.1)
    assert "hint" not in str(failed.value)


def test_the_chaos_triggers_follow_mailpit() -> None:
    faults = Faults()
    assert faults.take("MAIL") is None
    faults.set_chaos({"Sender": ChaosTrigger(550, 100)})
    fault = faults.take("MAIL")
    assert fault is not None
    assert fault.reply == "550 Chaos sender error"
    assert faults.take("RCPT") is None
    faults.add(Fault.drop("MAIL"))
    assert faults.take("MAIL") == Fault.drop("MAIL")  # a queued fault comes first


LEAK = """
import smtplib

import pytest

from sending import send


@pytest.mark.parametrize("round", range(16))
def test_faults_end_with_their_test(mailcatcher, round):
    # Every test leaves faults behind, set to hit every use; each next test on the same
    # worker sends as if none were ever set.
    send(mailcatcher)
    assert len(mailcatcher.messages) == 1
    for command in ("CONNECT", "MAIL", "RCPT", "DATA"):
        mailcatcher.fail_next(command, "451 4.3.0 Try again later", times=None)
"""


@pytest.mark.parametrize("workers", [[], ["-n", "4"]], ids=["plain", "xdist"])
def test_faults_never_leak_into_the_next_test(
    pytester: pytest.Pytester, workers: list[str]
) -> None:
    pytester.makeini(CHILD_INI)
    pytester.makepyfile(sending=SEND, test_leak=LEAK)
    pytester.syspathinsert()
    pytester.runpytest_subprocess(*workers).assert_outcomes(passed=16)
