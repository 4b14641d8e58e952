"""The pytest plugin, loaded into child pytest runs through its entry point (`pytester`)."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

from tests.support import port_is_free

# The child runs as strictly as this suite: a warning (an unclosed socket, aiosmtpd's
# AUTH-without-TLS warning) is an error, an unknown marker too. Hypothesis's plugin,
# unused here, costs 0.6 s per child run.
CHILD_INI = """
[pytest]
filterwarnings = error
addopts = -p no:cacheprovider -p no:hypothesispytest --strict-markers
asyncio_default_fixture_loop_scope = function
"""

SEND = """
import smtplib
import ssl


def send(mailcatcher, to="eva@example.com", subject="Hello", sender="app@example.com"):
    message = f"From: {sender}\\r\\nTo: {to}\\r\\nSubject: {subject}\\r\\n\\r\\nHi\\r\\n"
    with smtplib.SMTP(mailcatcher.host, mailcatcher.port) as client:
        client.sendmail(sender, [to], message.encode())
"""


@pytest.fixture
def child(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeini(CHILD_INI)
    pytester.makepyfile(sending=SEND)
    pytester.syspathinsert()
    return pytester


def readme_example() -> str:
    """The first Python block of the README's "Testing with pytest" section, as written."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme.split("## Testing with pytest", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert match is not None, "the README lost its pytest example"
    return match.group(1)


def test_the_readme_example_passes(child: pytest.Pytester) -> None:
    child.makepyfile(test_welcome=readme_example())
    child.runpytest().assert_outcomes(passed=1)


def test_a_failed_wait_lists_what_did_arrive(child: pytest.Pytester) -> None:
    child.makepyfile(
        test_wait="""
        from sending import send


        def test_wrong_recipient(mailcatcher):
            send(mailcatcher, to="bob@example.com", subject="Your invoice")
            send(mailcatcher, to="carol@example.com", subject="Welcome")
            mailcatcher.wait_for_message(0.2, to="eva@example.com")
        """
    )
    result = child.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "E   *MailTimeoutError: no message matching to='eva@example.com' arrived at "
            "127.0.0.1:* during this test within 0.2 s",
            "E * it holds 2 message(s), newest first:",
            "E *   *:*:* to carol@example.com from app@example.com: 'Welcome'",
            "E *   *:*:* to bob@example.com from app@example.com: 'Your invoice'",
        ]
    )
    # The frame shown is the test's own line, not the plugin's insides.
    result.stdout.fnmatch_lines(['>*mailcatcher.wait_for_message(0.2, to="eva@example.com")'])


def test_a_wait_in_a_test_that_caught_nothing_says_so(child: pytest.Pytester) -> None:
    child.makepyfile(
        test_wait="""
        def test_nothing(mailcatcher):
            mailcatcher.wait_for_message(0.05, subject="Reset your password")
        """
    )
    result = child.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "E   *no message matching subject='Reset your password' arrived * within 0.05 s",
            "E * nothing has arrived there",
        ]
    )


def test_messages_never_leak_into_the_next_test(child: pytest.Pytester) -> None:
    child.makepyfile(
        test_isolation="""
        import os

        from mailcatcher import get_messages
        from sending import send


        def test_first(mailcatcher):
            send(mailcatcher, subject="First")
            assert [m["Subject"] for m in mailcatcher.messages] == ["First"]
            assert len(get_messages(mailcatcher.path)) == 1


        def test_second(mailcatcher):
            assert mailcatcher.messages == []
            assert mailcatcher.get_latest_message() is None
            assert get_messages(mailcatcher.path) == []
            send(mailcatcher, subject="Second")
            send(mailcatcher, subject="Third")
            assert [m["Subject"] for m in mailcatcher.messages] == ["Second", "Third"]
            assert mailcatcher.get_latest_email()["Subject"] == "Third"
            assert mailcatcher.get_latest_message(subject="second")["Subject"] == "Second"
            assert mailcatcher.get_latest_message(to="nobody@example.com") is None
            mailcatcher.clear()
            assert mailcatcher.messages == []
            assert get_messages(mailcatcher.path) == []
        """
    )
    child.runpytest().assert_outcomes(passed=2)


def test_the_port_is_free_after_the_session(child: pytest.Pytester) -> None:
    child.makepyfile(
        test_port="""
        from sending import send


        def test_send(mailcatcher, pytestconfig):
            send(mailcatcher)
            (pytestconfig.rootpath / "port").write_text(str(mailcatcher.port))
        """
    )
    child.runpytest().assert_outcomes(passed=1)
    port = int((child.path / "port").read_text())
    assert port_is_free(port)


def test_a_factory_server_is_stopped_after_its_test(child: pytest.Pytester) -> None:
    child.makepyfile(
        test_factory="""
        import smtplib
        import socket

        import pytest

        from sending import send

        PORTS = []


        def test_two_servers(mailcatcher_factory, mailcatcher):
            first = mailcatcher_factory()
            second = mailcatcher_factory(auth_required=True)
            assert len({first.port, second.port, mailcatcher.port}) == 3
            send(first, subject="To the first")
            with smtplib.SMTP(second.host, second.port) as client:
                client.login("bob", "secret")
                client.sendmail("app@example.com", ["eva@example.com"], b"Subject: 2\\r\\n\\r\\n")
            assert [m["Subject"] for m in first.messages] == ["To the first"]
            assert second.entries[0].auth_user == "bob"
            assert mailcatcher.messages == []
            PORTS.extend([first.port, second.port])


        def test_ports_were_released():
            for port in PORTS:
                with pytest.raises(ConnectionRefusedError):
                    socket.create_connection(("127.0.0.1", port), timeout=2).close()


        def test_unknown_option(mailcatcher_factory):
            with pytest.raises(TypeError, match="unknown option.s. colour; the options are host"):
                mailcatcher_factory(colour="blue")
        """
    )
    child.runpytest().assert_outcomes(passed=3)


def test_wait_wakes_when_a_background_thread_sends(child: pytest.Pytester) -> None:
    child.makepyfile(
        test_background="""
        import threading
        import time

        from sending import send


        def test_background_worker(mailcatcher):
            worker = threading.Timer(0.3, send, (mailcatcher,), {"subject": "Later"})
            started = time.monotonic()
            worker.start()
            assert mailcatcher.get_latest_message() is None
            message = mailcatcher.wait_for_message(timeout=60, subject="later")
            waited = time.monotonic() - started
            worker.join()
            assert message["Subject"] == "Later"
            # Woken by the arrival, not by the timeout. How soon is bench/wakeup.py's
            # question: a loaded machine may take seconds here.
            assert 0.3 <= waited < 30, waited
        """
    )
    child.runpytest().assert_outcomes(passed=1)


def test_logins_are_recorded(child: pytest.Pytester) -> None:
    child.makepyfile(
        test_auth="""
        import smtplib

        import pytest

        from mailcatcher.message import auth_user


        def send_as(mailcatcher, user, mechanism):
            with smtplib.SMTP(mailcatcher.host, mailcatcher.port) as client:
                client.ehlo()
                client.user, client.password = user, "secret"
                method = client.auth_login if mechanism == "LOGIN" else client.auth_plain
                client.auth(mechanism, method)
                client.sendmail("app@example.com", ["eva@example.com"], b"Subject: x\\r\\n\\r\\n")


        @pytest.mark.parametrize("mechanism", ["PLAIN", "LOGIN"])
        def test_login(mailcatcher, mechanism):
            send_as(mailcatcher, f"{mechanism.lower()}-user", mechanism)
            message = mailcatcher.wait_for_message()
            assert auth_user(message) == f"{mechanism.lower()}-user"
            assert mailcatcher.entries[0].auth_user == f"{mechanism.lower()}-user"


        def test_no_login(mailcatcher):
            with smtplib.SMTP(mailcatcher.host, mailcatcher.port) as client:
                client.sendmail("app@example.com", ["eva@example.com"], b"Subject: x\\r\\n\\r\\n")
            assert auth_user(mailcatcher.wait_for_message()) is None


        @pytest.mark.mailcatcher(auth_required=True)
        def test_login_required(mailcatcher):
            with smtplib.SMTP(mailcatcher.host, mailcatcher.port) as client:
                with pytest.raises(smtplib.SMTPSenderRefused, match="Authentication required"):
                    client.sendmail("app@example.com", ["eva@example.com"], b"\\r\\n")
            send_as(mailcatcher, "eva", "PLAIN")
            assert auth_user(mailcatcher.wait_for_message()) == "eva"
        """
    )
    child.runpytest().assert_outcomes(passed=4)


def test_each_login_is_an_inbox_the_fixture_filters_on(child: pytest.Pytester) -> None:
    child.makepyfile(
        test_inboxes="""
        import asyncio
        import smtplib
        import threading

        import pytest

        from mailcatcher.query import MailTimeoutError


        def send_as(mailcatcher, user, subject, to="eva@example.com"):
            with smtplib.SMTP(mailcatcher.host, mailcatcher.port) as client:
                if user is not None:
                    client.login(user, "secret")
                message = f"To: {to}\\r\\nSubject: {subject}\\r\\n\\r\\nHi\\r\\n"
                client.sendmail("app@example.com", [to], message.encode())


        def test_inboxes(mailcatcher):
            send_as(mailcatcher, "app1", "one")
            send_as(mailcatcher, "app2", "two", to="eva+welcome@example.com")
            send_as(mailcatcher, None, "anonymous")
            assert mailcatcher.get_latest_message(inbox="app1")["Subject"] == "one"
            assert mailcatcher.get_latest_message(inbox="default")["Subject"] == "anonymous"
            assert mailcatcher.get_latest_message(inbox="app3") is None
            assert mailcatcher.get_latest_message(tags="welcome")["Subject"] == "two"
            assert [e.inbox for e in mailcatcher.entries] == ["app1", "app2", "default"]
            worker = threading.Timer(0.2, send_as, (mailcatcher, "app3", "three"))
            worker.start()
            assert mailcatcher.wait_for_message(30, inbox="app3")["Subject"] == "three"
            worker.join()
            with pytest.raises(MailTimeoutError, match="inbox='app4'"):
                mailcatcher.wait_for_message(0.2, inbox="app4")


        def test_inboxes_async(mailcatcher):
            async def main():
                waiting = asyncio.ensure_future(
                    mailcatcher.wait_for_message_async(30, inbox="late")
                )
                await asyncio.to_thread(send_as, mailcatcher, "early", "no")
                await asyncio.to_thread(send_as, mailcatcher, "late", "yes")
                return await waiting

            assert asyncio.run(main())["Subject"] == "yes"
        """
    )
    child.runpytest().assert_outcomes(passed=2)


def test_starttls_through_the_marker(child: pytest.Pytester) -> None:
    child.makepyfile(
        test_tls="""
        import smtplib
        import ssl

        import pytest


        @pytest.mark.mailcatcher(tls=True)
        def test_verified(mailcatcher):
            context = ssl.create_default_context(cafile=mailcatcher.ca_path)
            with smtplib.SMTP(mailcatcher.host, mailcatcher.port) as client:
                client.starttls(context=context)
                assert client.sock.version() is not None
                client.login("eva", "secret")
                client.sendmail("app@example.com", ["bob@example.com"], b"Subject: s\\r\\n\\r\\n")
            assert mailcatcher.wait_for_message()["X-Mailcatcher-Auth-User"] == "eva"


        @pytest.mark.mailcatcher(tls=True)
        def test_untrusted_ca_fails(mailcatcher, tmp_path):
            # A client trusting another CA. Not the system's default store: in a process
            # where Django is configured, the fixture points SSL_CERT_FILE (which default
            # contexts read) at its own CA for the test, as Django's backend needs.
            import trustme

            other = tmp_path / "other-ca.pem"
            trustme.CA().cert_pem.write_to_path(str(other))
            with smtplib.SMTP(mailcatcher.host, mailcatcher.port) as client:
                with pytest.raises(ssl.SSLCertVerificationError):
                    client.starttls(context=ssl.create_default_context(cafile=str(other)))


        def test_default_server_offers_no_tls(mailcatcher):
            assert mailcatcher.ca_path is None
            with smtplib.SMTP(mailcatcher.host, mailcatcher.port) as client:
                client.ehlo()
                assert not client.has_extn("starttls")
        """
    )
    child.runpytest().assert_outcomes(passed=3)


def test_a_bad_marker_is_reported(child: pytest.Pytester) -> None:
    child.makepyfile(
        test_marker="""
        import pytest


        @pytest.mark.mailcatcher(tsl=True)
        def test_typo(mailcatcher):
            pass


        @pytest.mark.mailcatcher(True)
        def test_positional(mailcatcher):
            pass
        """
    )
    result = child.runpytest()
    result.assert_outcomes(errors=2)
    result.stdout.fnmatch_lines(
        [
            "*@pytest.mark.mailcatcher: unknown option(s) tsl; the options are host, port, tls*",
            "*@pytest.mark.mailcatcher takes keyword options only, got (True,)*",
        ]
    )


def test_options_can_be_overridden_for_a_whole_suite(child: pytest.Pytester) -> None:
    child.makeconftest(
        """
        import pytest

        from mailcatcher.server import ServerOptions


        @pytest.fixture(scope="session")
        def mailcatcher_options():
            return ServerOptions(auth_required=True, max_recipients=1)
        """
    )
    child.makepyfile(
        test_options="""
        import smtplib

        import pytest


        def test_login_is_required(mailcatcher):
            assert mailcatcher.options.auth_required
            with smtplib.SMTP(mailcatcher.host, mailcatcher.port) as client:
                with pytest.raises(smtplib.SMTPSenderRefused):
                    client.sendmail("app@example.com", ["eva@example.com"], b"\\r\\n")


        @pytest.mark.mailcatcher(auth_required=False)
        def test_marker_on_top(mailcatcher):
            assert mailcatcher.options.max_recipients == 1
            with smtplib.SMTP(mailcatcher.host, mailcatcher.port) as client:
                to = ["a@example.com", "b@example.com"]
                refused = client.sendmail("app@example.com", to, b"")
            assert refused == {"b@example.com": (452, b"4.5.3 Too many recipients")}
        """
    )
    child.runpytest().assert_outcomes(passed=2)


def test_server_errors_fail_the_test(child: pytest.Pytester) -> None:
    child.makepyfile(
        test_errors="""
        import smtplib

        import pytest

        from sending import send


        def break_the_maildir(mailcatcher):
            tmp = mailcatcher.path / "tmp"
            tmp.rmdir()
            tmp.write_text("a file where the Maildir's tmp/ should be")
            return tmp


        def test_swallowed_failure(mailcatcher):
            tmp = break_the_maildir(mailcatcher)
            try:
                send(mailcatcher)
            except smtplib.SMTPDataError:
                pass  # an app that sends with fail_silently=True
            finally:
                tmp.unlink()
                tmp.mkdir()


        def test_expected_failure(mailcatcher):
            tmp = break_the_maildir(mailcatcher)
            try:
                with pytest.raises(smtplib.SMTPDataError):
                    send(mailcatcher)
            finally:
                tmp.unlink()
                tmp.mkdir()
            assert len(mailcatcher.errors) == 1
            mailcatcher.errors.clear()


        def test_after(mailcatcher):
            send(mailcatcher)
            assert len(mailcatcher.messages) == 1
        """
    )
    result = child.runpytest()
    result.assert_outcomes(passed=3, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*ERROR at teardown of test_swallowed_failure*",
            "the mail catcher at 127.0.0.1:* logged errors during this test*",
            "mailcatcher: cannot write *",
        ]
    )


def test_xdist_workers_each_get_their_own_server(child: pytest.Pytester) -> None:
    count = 40
    child.makepyfile(
        test_many=textwrap.dedent(
            """
            import os

            import pytest

            from sending import send


            @pytest.mark.parametrize("n", range({count}))
            def test_send(mailcatcher, n, pytestconfig):
                send(mailcatcher, to=f"user{{n}}@example.com", subject=f"Test {{n}}")
                message = mailcatcher.wait_for_message(to=f"user{{n}}@example.com")
                assert [m["Subject"] for m in mailcatcher.messages] == [f"Test {{n}}"]
                worker = os.environ.get("PYTEST_XDIST_WORKER", "none")
                record = pytestconfig.rootpath / f"port-{{worker}}"
                record.write_text(str(mailcatcher.port))
            """
        ).format(count=count)
    )
    result = child.runpytest_subprocess("-n", "4")
    result.assert_outcomes(passed=count)
    ports = {path.name: int(path.read_text()) for path in child.path.glob("port-gw*")}
    assert len(ports) == 4, ports
    assert len(set(ports.values())) == 4, ports
    assert all(port_is_free(port) for port in ports.values())
