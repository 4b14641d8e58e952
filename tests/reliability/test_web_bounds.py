"""Hostile web clients cost bounded work, and never stall SMTP or the inbox (issue #11).

The web side of issue #11's findings 4, 6 and 12 and its rule "work over a small budget
runs off the event loop, so SMTP never waits for a web request". Every test runs real
``mailcatcher serve`` or ``mailcatcher web`` processes (`tests.support`) and real clients
(`urllib`, `smtplib`, raw sockets). What they assert is *correct answers, given at all
within a generous bound* (10 s, or 3 s for an SMTP reply); how fast is `bench/web_bounds.py`'s
business. Before the fixes:

- 616 words of search were run word by word, a parse of every message per ``cc:`` word:
  eight searches of 32 words kept a list request waiting 18 s.
- a silent HTTP connection stayed open for an hour; there was no cap.
- ``DELETE`` and ``PUT`` with a thousand nested arrays answered 500; a body that stopped
  coming held its connection forever.
- 5 MB bodies, link floods and deep nesting were decoded, walked and encoded on the event
  loop the SMTP server runs on: two clients reading a 5 MB line of HTML links kept an SMTP
  ``NOOP`` waiting 5.2 s.

The tests of each of these fail on that code. The SMTP checks for the link flood, the deep
nesting, the 5 MB text line and the searches at the cap passed on it too (their work on the
loop was already small, or already in a thread); they keep it that way.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import json
import smtplib
import socket
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from mailcatcher.web.search import MAX_TERMS
from tests.reliability.harness import data_reply
from tests.support import HOST, Proc, catcher, web
from tests.web.support import add, mail

SENDER = "app@example.com"
#: How long any answer may take before a test calls it starved. Generous: a busy 2-core
#: CI machine. Before the fixes these waits were 18 s to minutes, or forever.
ANSWERED_WITHIN = 10.0
#: How long an SMTP reply may take while hostile web requests run (the issue asks 1 s).
SMTP_WITHIN = 3.0


# --- clients -------------------------------------------------------------------------------


def request(
    url: str, *, method: str = "GET", body: bytes | None = None, timeout: float = ANSWERED_WITHIN
) -> tuple[int, bytes]:
    """The status and body of one HTTP request, errors included."""
    ask = urllib.request.Request(url, data=body, method=method)
    try:
        with urllib.request.urlopen(ask, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.read()


def search_url(proc: Proc, query: str) -> str:
    return f"{proc.url}api/v1/search?" + urllib.parse.urlencode({"query": query, "limit": 1})


def timed(action: Callable[[], object]) -> float:
    """Run `action`; return how many seconds it took."""
    started = time.monotonic()
    action()
    return time.monotonic() - started


def smtp_send(proc: Proc, subject: str, timeout: float = ANSWERED_WITHIN) -> None:
    """Send one small message through `proc`'s SMTP port; fail unless it is accepted."""
    with smtplib.SMTP(HOST, proc.port, timeout=timeout) as client:
        client.send_message(mail(subject, to=["probe@example.com"]))


@dataclass
class Hammer:
    """Threads each running `call` `rounds` times; leaving the block waits for them.

    An exception in a call is kept in `errors` (the test asserts there are none).
    """

    calls: list[Callable[[], None]]
    rounds: int
    done: int = 0
    errors: list[str] = field(default_factory=list)
    _threads: list[threading.Thread] = field(default_factory=list)

    def __enter__(self) -> Hammer:
        for call in self.calls:
            thread = threading.Thread(target=self._run, args=(call,), daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def _run(self, call: Callable[[], None]) -> None:
        for _ in range(self.rounds):
            try:
                call()
            except Exception as error:  # reported by the test, with the others
                self.errors.append(repr(error))
            self.done += 1

    def __exit__(self, *exc: object) -> None:
        for thread in self._threads:
            thread.join(300)
        assert not any(thread.is_alive() for thread in self._threads)


# --- finding 4: search amplification -------------------------------------------------------


@pytest.fixture(scope="module")
def inbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proc]:
    """``mailcatcher web`` over a Maildir of three small messages."""
    store = tmp_path_factory.mktemp("web-bounds") / "mail"
    add(store, *(mail(f"small {n}", headers={"Cc": f"c{n}@example.com"}) for n in range(3)))
    with web(store) as proc:
        yield proc


def words(count: int) -> str:
    """A search of `count` short ``-cc:`` words (616 of them fit a URL, as in the issue)."""
    return " ".join(f"-cc:x{n}" for n in range(count))


def test_a_search_may_have_32_words(inbox: Proc) -> None:
    status, body = request(search_url(inbox, words(MAX_TERMS)))
    assert status == 200, body
    assert json.loads(body)["messages_count"] == 3


@pytest.mark.parametrize("count", [MAX_TERMS + 1, 616])
def test_a_search_of_more_words_is_refused_naming_the_cap(inbox: Proc, count: int) -> None:
    # Before: 616 words over 100 messages of 60 KB ran for 98-130 s.
    status, body = request(search_url(inbox, words(count)))
    assert status == 400
    assert body.decode() == f"Error: a search may have at most 32 words, this one has {count}"


def test_a_search_to_mark_read_is_refused_past_the_cap_too(inbox: Proc) -> None:
    body = json.dumps({"Search": words(MAX_TERMS + 1), "Read": True}).encode()
    status, answer = request(f"{inbox.url}api/v1/messages", method="PUT", body=body)
    assert status == 400
    assert b"at most 32 words" in answer


@pytest.fixture(scope="module")
def bulk(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A Maildir of 100 messages of 60 KB, each with its own Cc (the issue's corpus)."""
    store = tmp_path_factory.mktemp("bulk") / "mail"
    line = "lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod\n"
    body = line * (60_000 // len(line))
    add(
        store,
        *(mail(f"bulk {n}", text=body, headers={"Cc": f"c{n}@x.example"}) for n in range(100)),
    )
    return store


def test_parallel_searches_at_the_cap_leave_lists_and_smtp_answering(bulk: Path) -> None:
    # Before: eight of these searches kept a list request waiting 18 s (616 words: 80-96 s).
    hostile = "subject:bulk " + words(MAX_TERMS - 1)
    with catcher("serve", bulk, http=True) as proc:
        url = search_url(proc, hostile)

        def search() -> None:
            status, body = request(url, timeout=120)
            assert status == 200, body
            assert json.loads(body)["messages_count"] == 100

        with Hammer([search] * 8, rounds=2) as hammer:
            for n in range(3):
                # Each answered at all, and soon, while the searches run.
                listed = timed(lambda: request(f"{proc.url}api/v1/messages?limit=1"))
                sent = timed(functools.partial(smtp_send, proc, f"probe {n}"))
                assert listed < ANSWERED_WITHIN, f"a list waited {listed:.1f} s"
                assert sent < ANSWERED_WITHIN, f"SMTP waited {sent:.1f} s"
        assert hammer.errors == []
        assert hammer.done == 16
        status, body = request(f"{proc.url}api/v1/search?query=probe")
        assert json.loads(body)["messages_count"] == 3


# --- finding 12 (web part): nested JSON bodies ---------------------------------------------


@pytest.mark.parametrize("method", ["DELETE", "PUT"])
def test_deeply_nested_json_answers_400_and_deletes_nothing(inbox: Proc, method: str) -> None:
    # Before: 500 (RecursionError in the JSON decoder). 1,000 levels is the smallest
    # depth that reaches Python's recursion limit.
    nested = b"[" * 1000 + b"]" * 1000
    status, body = request(f"{inbox.url}api/v1/messages", method=method, body=nested)
    assert status == 400
    assert body.decode().startswith("Error: ")
    assert "\n" not in body.decode().strip()
    listed = json.loads(request(f"{inbox.url}api/v1/messages")[1])
    assert listed["total"] == 3


# --- finding 6: HTTP idle timeout and connection cap ---------------------------------------


def closed_within(sock: socket.socket, seconds: float) -> float | None:
    """Seconds until the server closed `sock` (EOF or reset), or None if it did not."""
    started = time.monotonic()
    sock.settimeout(seconds)
    try:
        while sock.recv(4096):
            pass
    except TimeoutError:
        return None
    except ConnectionError:
        pass
    return time.monotonic() - started


def connect(proc: Proc) -> socket.socket:
    assert proc.http_port is not None
    return socket.create_connection((HOST, proc.http_port), timeout=ANSWERED_WITHIN)


def keep_alive_request(sock: socket.socket) -> bytes:
    """Send one keep-alive request for ``/livez``; return the answer's status line."""
    sock.sendall(b"GET /livez HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    answer = b""
    while b"\r\n\r\n" not in answer:
        chunk = sock.recv(4096)
        if not chunk:
            break
        answer += chunk
    return answer.partition(b"\r\n")[0]


def admitted(proc: Proc) -> socket.socket:
    """A connection the server admitted and answered once, kept open (idle).

    The harness's probe (is it listening yet?) may hold a place for a moment after it
    closed, until the server notices: a 503 is tried again.
    """
    deadline = time.monotonic() + ANSWERED_WITHIN
    while True:
        sock = connect(proc)
        if keep_alive_request(sock) == b"HTTP/1.1 200 OK":
            return sock
        sock.close()
        assert time.monotonic() < deadline, "no connection was admitted in 10 s"
        time.sleep(0.05)


def test_a_silent_http_connection_is_closed_after_the_idle_timeout(tmp_path: Path) -> None:
    # Before: open for an hour (aiohttp's default keep-alive of 3,630 s), by any count.
    options = ["--http-idle-timeout", "1"]
    with catcher("serve", tmp_path / "mail", http=True, options=options) as proc:
        with connect(proc) as silent:
            after = closed_within(silent, ANSWERED_WITHIN)
        assert after is not None, "a silent connection was still open after 10 s"
        assert after >= 0.5  # closed by the timeout, not refused
        # The same for a connection that has been answered once and then says nothing.
        with connect(proc) as idle:
            assert keep_alive_request(idle) == b"HTTP/1.1 200 OK"
            assert closed_within(idle, ANSWERED_WITHIN) is not None
        assert request(f"{proc.url}livez")[0] == 200


def test_a_slowloris_request_head_is_cut_off_after_the_idle_timeout(tmp_path: Path) -> None:
    options = ["--http-idle-timeout", "1"]
    with (
        catcher("serve", tmp_path / "mail", http=True, options=options) as proc,
        connect(proc) as slow,
    ):
        slow.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        deadline = time.monotonic() + ANSWERED_WITHIN
        cut_off = False
        while time.monotonic() < deadline and not cut_off:
            try:
                slow.sendall(b"X-Slow: a\r\n")  # a header line a quarter second, forever
                slow.settimeout(0.25)
                cut_off = slow.recv(4096) == b""
            except TimeoutError:
                continue
            except ConnectionError:
                cut_off = True
        assert cut_off, "a request head sent a line a quarter second was never cut off"


def test_a_request_body_that_stops_coming_gets_408(tmp_path: Path) -> None:
    # Before: the handler waited for the rest of the body forever, holding a connection.
    options = ["--http-idle-timeout", "1"]
    store = tmp_path / "mail"
    add(store, mail("kept"))
    with (
        catcher("serve", store, http=True, options=options) as proc,
        connect(proc) as stalled,
    ):
        stalled.sendall(
            b"DELETE /api/v1/messages HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"
        )
        stalled.settimeout(ANSWERED_WITHIN)
        assert stalled.recv(4096).startswith(b"HTTP/1.1 408 Request Timeout\r\n")
        listed = json.loads(request(f"{proc.url}api/v1/messages")[1])
        assert [m["Subject"] for m in listed["messages"]] == ["kept"]


def test_past_the_connection_cap_http_gets_503_and_smtp_is_served(tmp_path: Path) -> None:
    # Before: no cap; 1,100 idle HTTP connections made SMTP time out (open-file limit 1,024).
    cap = 20
    options = ["--http-max-connections", str(cap)]
    with catcher("serve", tmp_path / "mail", http=True, options=options) as proc:
        with contextlib.ExitStack() as held:
            # Each one admitted, answered, and now idle.
            idle = [held.enter_context(admitted(proc)) for _ in range(cap)]
            with connect(proc) as extra:
                extra.settimeout(ANSWERED_WITHIN)
                answer = b""
                while chunk := extra.recv(4096):
                    answer += chunk
            assert answer.startswith(b"HTTP/1.1 503 Service Unavailable\r\n"), answer
            assert b"serves 20 at once" in answer
            sent = timed(lambda: smtp_send(proc, "while the web is full"))
            assert sent < ANSWERED_WITHIN
            for sock in idle[: cap // 2]:
                sock.close()
        # Closed by the client: their places are free again (the server notices soon).
        deadline = time.monotonic() + ANSWERED_WITHIN
        status = 0
        while status != 200 and time.monotonic() < deadline:
            with contextlib.suppress(OSError):
                status = request(f"{proc.url}api/v1/messages")[0]
        assert status == 200
        listed = json.loads(request(f"{proc.url}api/v1/messages")[1])
        assert [m["Subject"] for m in listed["messages"]] == ["while the web is full"]


# --- the rule: SMTP never waits for a web request ------------------------------------------


def one_line(subject: str, content_type: str, body: bytes) -> bytes:
    """A message whose body is `body` on one line, in base64: SMTP allows 1,000 octets."""
    encoded = base64.encodebytes(body).replace(b"\n", b"\r\n")
    head = (
        f"From: app@example.com\r\nTo: eva@example.com\r\nSubject: {subject}\r\n"
        f"MIME-Version: 1.0\r\nContent-Type: {content_type}; charset=us-ascii\r\n"
        "Content-Transfer-Encoding: base64\r\n\r\n"
    )
    return head.encode() + encoded


def link_flood() -> bytes:
    """The issue's link flood: ``http://a`` and 150,000 closing brackets (200 KB)."""
    return one_line("links", "text/plain", b"http://a" + b")" * 150_000)


def nested(levels: int) -> bytes:
    """A message whose multiparts nest `levels` deep around one text part."""
    data = b"From: app@example.com\r\nTo: eva@example.com\r\nSubject: deep\r\nMIME-Version: 1.0\r\n"
    for level in range(levels):
        data += b'Content-Type: multipart/mixed; boundary="b%d"\r\n\r\n--b%d\r\n' % (level, level)
    data += b"Content-Type: text/plain\r\n\r\nsee https://example.com/deep\r\n"
    for level in reversed(range(levels)):
        data += b"--b%d--\r\n" % level
    return data


def long_line(kind: str) -> bytes:
    """A 5 MB body on one line, as text or as HTML full of links."""
    if kind == "html":
        link = b'<a href="https://example.com/x">x</a> '
        return one_line("long html", "text/html", b"<p>" + link * (5_000_000 // len(link)))
    return one_line("long text", "text/plain", b"word " * 1_000_000)


#: Each hostile message, and the requests that parse or render it the costly way.
HOSTILE = {
    "link flood": (link_flood(), ["api/v1/message/{id}/links", "view/{id}.txt"]),
    "3,000 levels": (nested(3000), ["api/v1/message/{id}", "api/v1/message/{id}/part/1"]),
    "5 MB text line": (long_line("text"), ["api/v1/message/{id}", "view/{id}.txt"]),
    "5 MB HTML line": (long_line("html"), ["view/{id}.html", "api/v1/message/{id}/links"]),
}


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Proc, dict[str, str]]]:
    """``serve`` holding each `HOSTILE` message, sent over SMTP; and their IDs."""
    store = tmp_path_factory.mktemp("hostile") / "mail"
    with catcher("serve", store, http=True) as proc:
        ids: dict[str, str] = {}
        for name, (data, _) in HOSTILE.items():
            code, reply = data_reply(proc.port, SENDER, ["eva@example.com"], data)
            assert code == 250, reply
            status, body = request(f"{proc.url}api/v1/messages?limit=1")
            ids[name] = json.loads(body)["messages"][0]["ID"]
        yield proc, ids


def smtp_replies(proc: Proc, until: threading.Event) -> list[float]:
    """SMTP round trips (``NOOP``) on one connection, as fast as they come, until `until`."""
    waits: list[float] = []
    with smtplib.SMTP(HOST, proc.port, timeout=30) as client:
        client.ehlo("probe.example")
        while not until.is_set() and len(waits) < 10_000:
            started = time.monotonic()
            assert client.noop()[0] == 250
            waits.append(time.monotonic() - started)
            time.sleep(0.02)
    return waits


@pytest.mark.parametrize("name", list(HOSTILE))
def test_smtp_keeps_answering_while_hostile_web_requests_run(
    hostile: tuple[Proc, dict[str, str]], name: str
) -> None:
    proc, ids = hostile

    def read_all_routes() -> None:
        for route in HOSTILE[name][1]:
            status, body = request(proc.url + route.format(id=ids[name]), timeout=120)
            assert status == 200, (route, status, body[:200])

    done = threading.Event()
    waits: list[float] = []
    prober = threading.Thread(target=lambda: waits.extend(smtp_replies(proc, done)))
    prober.start()
    try:
        with Hammer([read_all_routes] * 2, rounds=1) as hammer:
            pass
    finally:
        done.set()
        prober.join(60)
    assert hammer.errors == []
    assert waits, "no SMTP reply at all"
    assert max(waits) < SMTP_WITHIN, f"SMTP waited {max(waits):.2f} s for a web request"
    # And the message itself was served: its text, decoded.
    status, body = request(f"{proc.url}view/{ids[name]}.txt")
    assert status == 200


def test_smtp_keeps_answering_while_searches_at_the_cap_run(bulk: Path, tmp_path: Path) -> None:
    hostile_search = "subject:bulk " + words(MAX_TERMS - 1)
    with catcher("serve", bulk, http=True) as proc:
        url = search_url(proc, hostile_search)

        def search() -> None:
            assert request(url, timeout=120)[0] == 200

        done = threading.Event()
        waits: list[float] = []
        prober = threading.Thread(target=lambda: waits.extend(smtp_replies(proc, done)))
        prober.start()
        try:
            with Hammer([search] * 8, rounds=1) as hammer:
                pass
        finally:
            done.set()
            prober.join(60)
    assert hammer.errors == []
    assert waits
    assert max(waits) < SMTP_WITHIN, f"SMTP waited {max(waits):.2f} s for a search"


def test_a_request_aiohttp_cannot_parse_is_logged_in_one_line(tmp_path: Path) -> None:
    # Before: a request line over 8,190 bytes got its 400 and a full traceback in the log
    # ("Error handling request"), which reads like a crash. The harness fails on any
    # "Traceback" in the output when the process stops.
    with web(tmp_path / "latest.mail") as proc:
        assert proc.http_port is not None
        with socket.create_connection((HOST, proc.http_port), timeout=30) as sock:
            sock.sendall(b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
            assert sock.recv(64).startswith(b"HTTP/1.")
        deadline = time.monotonic() + 30
        while "answered 400" not in proc.output() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert "answered 400" in proc.output()
