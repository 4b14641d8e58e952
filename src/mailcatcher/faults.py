"""Faults a test injects into the SMTP server: a reply refused, a connection dropped, a delay.

Apps must cope with a server that answers ``451`` or ``550``, hangs up, or is slow; a test
makes that happen on demand by adding a `Fault` to the server's `Faults` table. The server
(`mailcatcher.server`) consults the table at six points of a session, named after the
command whose reply the fault replaces:

    CONNECT   the greeting (RFC 5321 4.3.1: ``220``, or ``554``/``421`` to refuse)
    MAIL      the reply to MAIL FROM
    RCPT      the reply to each RCPT TO
    DATA      the reply after the end of data (RFC 5321 4.1.1.4): a message refused
              there is not stored
    AUTH      the reply to AUTH (RFC 4954)
    STARTTLS  the reply to STARTTLS (RFC 3207)

A fault applies to the next ``times`` uses of its command (``None``: every use) and is
then gone. Besides these, the table holds Mailpit's "Chaos" triggers: an error code
returned at MAIL, RCPT or AUTH with a probability, set over HTTP by ``mailcatcher serve
--enable-chaos`` so that tools written for Mailpit work unchanged.

The table is consulted on the server's thread and changed from others (a test, a web
request), so it takes a lock; a server with no faults pays one attribute read per command.
"""

from __future__ import annotations

import random
import re
import threading
from dataclasses import dataclass
from typing import Literal

__all__ = [
    "CHAOS_TRIGGERS",
    "COMMANDS",
    "ChaosTrigger",
    "Fault",
    "Faults",
]

#: The points of an SMTP session a fault can hit.
COMMANDS = ("CONNECT", "MAIL", "RCPT", "DATA", "AUTH", "STARTTLS")

#: RFC 5321 4.2: a reply is a three-digit code and text; a fault's is an error (4yz or 5yz).
_REPLY = re.compile(r"[45][0-5][0-9](?:[ -][^\r\n]*)?")

_DEFAULT_REPLY = "451 4.3.0 Try again later"

#: Mailpit's Chaos triggers: which command each hits, its default code and its reply text
#: (Mailpit's ``internal/smtpd/smtpd.go`` answers "<code> Chaos sender error" and so on).
CHAOS_TRIGGERS: dict[str, tuple[str, int, str]] = {
    "Sender": ("MAIL", 451, "Chaos sender error"),
    "Recipient": ("RCPT", 451, "Chaos recipient error"),
    "Authentication": ("AUTH", 535, "Chaos authentication error"),
}


@dataclass(frozen=True)
class Fault:
    """One fault: what to do at `command`, for how many of its uses.

    Build one with `fail`, `drop` or `delay`, which check their arguments.
    """

    command: str
    action: Literal["fail", "drop", "delay"]
    #: The reply sent instead of the normal one (``fail``).
    reply: str = _DEFAULT_REPLY
    #: How long the reply is held back (``delay``).
    seconds: float = 0.0
    #: The next `times` uses of `command`; ``None`` for every use.
    times: int | None = 1

    @classmethod
    def fail(cls, command: str, reply: str = _DEFAULT_REPLY, times: int | None = 1) -> Fault:
        """The next `times` uses of `command` get `reply` instead of the normal answer."""
        if not _REPLY.fullmatch(str(reply)):
            raise ValueError(
                f"a fault's reply is an SMTP error reply, a 4xx or 5xx code and text such as "
                f"'451 4.3.0 Try again later' (RFC 5321 4.2), got {reply!r}"
            )
        return cls(_command(command), "fail", reply=reply, times=_times(times))

    @classmethod
    def drop(cls, command: str, times: int | None = 1) -> Fault:
        """At the next `times` uses of `command`, the server closes the connection."""
        return cls(_command(command), "drop", times=_times(times))

    @classmethod
    def delay(cls, command: str, seconds: float, times: int | None = 1) -> Fault:
        """The reply to the next `times` uses of `command` comes `seconds` late."""
        if not 0 <= seconds < 3600:
            raise ValueError(f"a delay is between 0 and 3600 seconds, got {seconds!r}")
        return cls(_command(command), "delay", seconds=float(seconds), times=_times(times))


def _command(command: str) -> str:
    name = str(command).upper()
    if name not in COMMANDS:
        raise ValueError(f"a fault's command is one of {', '.join(COMMANDS)}, got {command!r}")
    return name


def _times(times: int | None) -> int | None:
    if times is not None and times < 1:
        raise ValueError(f"times is a whole number of at least 1 (or None: always), got {times!r}")
    return times


@dataclass(frozen=True)
class ChaosTrigger:
    """One of Mailpit's Chaos triggers: answer `error_code` with `probability` percent."""

    error_code: int
    probability: int

    def __post_init__(self) -> None:
        # Mailpit's chaos.Set: the same bounds and the same words.
        if not 400 <= self.error_code <= 599:
            raise ValueError("error code must be between 400 and 599")
        if not 0 <= self.probability <= 100:
            raise ValueError("probability must be between 0 and 100")


@dataclass
class _Queued:
    fault: Fault
    left: int | None  # uses left; None: unlimited


class Faults:
    """The fault table one server consults: faults queued by tests, and Chaos triggers."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queued: list[_Queued] = []  # in the order added
        self._chaos = {name: ChaosTrigger(code, 0) for name, (_, code, _) in CHAOS_TRIGGERS.items()}
        self._chaos_on = False
        self._random = random.Random()

    def add(self, fault: Fault) -> None:
        """Queue `fault`; it hits the next uses of its command."""
        with self._lock:
            self._queued.append(_Queued(fault, fault.times))

    def clear(self) -> None:
        """Forget every queued fault (a test's teardown); Chaos triggers stay."""
        with self._lock:
            self._queued.clear()

    @property
    def pending(self) -> list[Fault]:
        """The queued faults not used up yet, oldest first."""
        with self._lock:
            return [queued.fault for queued in self._queued]

    def take(self, command: str) -> Fault | None:
        """The fault for this use of `command`, if any, counting the use.

        Queued faults come first, oldest first; then a Chaos trigger, by its chance.
        """
        if not self._queued and not self._chaos_on:
            return None  # the common case, without the lock
        with self._lock:
            for index, queued in enumerate(self._queued):
                if queued.fault.command != command:
                    continue
                if queued.left is not None:
                    queued.left -= 1
                    if queued.left == 0:
                        del self._queued[index]
                return queued.fault
            if self._chaos_on:
                for name, (hit, _, text) in CHAOS_TRIGGERS.items():
                    trigger = self._chaos[name]
                    # Mailpit: a number in 0-99 below the probability triggers.
                    if hit == command and self._random.randrange(100) < trigger.probability:
                        return Fault(command, "fail", reply=f"{trigger.error_code} {text}")
        return None

    def chaos(self) -> dict[str, ChaosTrigger]:
        """The Chaos triggers, by Mailpit's names (Sender, Recipient, Authentication)."""
        with self._lock:
            return dict(self._chaos)

    def set_chaos(self, triggers: dict[str, ChaosTrigger]) -> None:
        """Replace the Chaos triggers; one not given goes back to its default, off."""
        unknown = sorted(set(triggers) - set(CHAOS_TRIGGERS))
        if unknown:
            raise ValueError(f"unknown key {unknown[0]}")
        new = {
            name: triggers.get(name, ChaosTrigger(code, 0))
            for name, (_, code, _) in CHAOS_TRIGGERS.items()
        }
        with self._lock:
            self._chaos = new
            self._chaos_on = any(trigger.probability for trigger in new.values())
