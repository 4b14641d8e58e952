"""The ``mailcatcher`` command: run a catcher, and read what it caught.

``serve`` runs a `MailDir` catcher (and the web inbox) on one asyncio loop; ``web``
serves the inbox over a store another process writes; ``show``, ``links``, ``wait``,
``list`` and ``clear`` read a store from the command line. The readers take the path
a catcher writes to (a `MailFile` file or a `MailDir` directory), so they work the
same over ``mailcatcher serve --dir``, the stock ``aiosmtpd`` command and a test.

A user's mistake ends in one line on stderr and a documented exit status, never a
traceback (see ``EXIT_STATUSES``).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.metadata
import io
import os
import sys
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, NoReturn, TextIO

from .. import message as _message
from .. import query
from ..query import Filter, Match
from ..server import ServerOptions
from ..store import (
    POSTGRES_EXTRA,
    NotAMessageError,
    Store,
    is_database_url,
    is_maildir,
    location,
    open_store,
)
from . import _check, _serve
from ._render import (
    EXIT_INTERRUPTED,
    EXIT_NO_STORE,
    EXIT_NOT_FOUND,
    EXIT_OK,
    EXIT_PROBLEMS,
    EXIT_STATUSES,
    EXIT_TIMEOUT,
    EXIT_USAGE,
    CommandError,
    entry_json,
    envelope_line,
    message_json,
    plural,
    print_json,
    printable,
    show_text,
    summary,
)

__all__ = ["main"]

DEFAULT_SMTP = ("127.0.0.1", 1025)  # Mailpit's and MailHog's port: existing app settings work
DEFAULT_WAIT = 30.0
#: The distribution whose version ``--version`` prints (the import name is ``mailcatcher``).
DISTRIBUTION = "aiosmtpd-mailcatcher"


class _Parser(argparse.ArgumentParser):
    """An `ArgumentParser` whose errors are one line that points at ``--help``."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def version() -> str:
    """``mailcatcher <version>``, the installed distribution's version (``--version``)."""
    try:
        number = importlib.metadata.version(DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:  # run from a source tree, not installed
        number = "(not installed)"
    return f"mailcatcher {number}"


class _Version(argparse.Action):
    """``--version``: print `version` and exit 0; looked up only when asked for."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, *args: object) -> NoReturn:
        print(version())
        parser.exit(EXIT_OK)


def _address(default_host: str) -> Callable[[str], tuple[str, int]]:
    """An argparse type for ``HOST:PORT`` (or ``:PORT``, ``PORT``, ``[::1]:PORT``)."""

    def parse(value: str) -> tuple[str, int]:
        host, colon, port = value.rpartition(":")
        if not colon:
            host, port = "", value
        host = host.strip("[]") or default_host
        if not port.isdigit() or not 0 <= int(port) <= 65535:
            raise argparse.ArgumentTypeError(
                f"expected HOST:PORT with a port from 0 to 65535, got {value!r}"
            )
        return host, int(port)

    return parse


def _positive(value: str) -> int:
    """An argparse type for a whole number of at least 1."""
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {value!r}")
    return number


def _size_limit(value: str) -> int:
    """An argparse type for a size in bytes, 0 meaning no limit."""
    if not value.isdigit():
        raise argparse.ArgumentTypeError(f"expected a number of bytes (0: no limit), got {value!r}")
    return int(value)


def _seconds(value: str) -> float:
    """An argparse type for a duration in seconds (0 or more)."""
    try:
        number = float(value)
    except ValueError:
        number = -1.0
    if not 0 <= number < float("inf"):
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {value!r}")
    return number


def _positive_seconds(value: str) -> float:
    """An argparse type for a duration of more than 0 seconds."""
    number = _seconds(value)
    if number == 0:
        raise argparse.ArgumentTypeError(f"expected more than 0 seconds, got {value!r}")
    return number


#: ``serve``'s limits, one row each: option, metavar, argparse type, the `ServerOptions`
#: field it sets (its default is the field's), and help.
_LIMITS: list[tuple[str, str, Callable[[str], object], str, str]] = [
    (
        "--max-size",
        "BYTES",
        _size_limit,
        "data_size_limit",
        "largest message accepted, RFC 1870 SIZE; 0: no limit (default: %(default)s, 32 MiB)",
    ),
    (
        "--max-recipients",
        "N",
        _positive,
        "max_recipients",
        "recipients per message (default: %(default)s)",
    ),
    (
        "--idle-timeout",
        "S",
        _positive_seconds,
        "timeout",
        "close a connection idle this many seconds (default: %(default)g)",
    ),
    (
        "--max-connections",
        "N",
        _positive,
        "max_connections",
        "connections at once (default: %(default)s)",
    ),
]


#: ``serve``'s and ``web``'s HTTP limits, one row each: option, metavar, argparse type,
#: the `mailcatcher.web.start_web` keyword it sets, and help. Left out, the web inbox's
#: own default applies (`mailcatcher.web.connections`; the help repeats it, and a test
#: checks that the two agree): the CLI cannot import the web extra to ask.
_HTTP_LIMITS: list[tuple[str, str, Callable[[str], object], str, str]] = [
    (
        "--http-idle-timeout",
        "S",
        _positive_seconds,
        "idle_timeout",
        "close an HTTP connection that sends no complete request for S seconds (default: 30)",
    ),
    (
        "--http-max-connections",
        "N",
        _positive,
        "max_connections",
        "HTTP connections at once; the next is answered 503 (default: 200)",
    ),
]


def _add_http_limits(parser: argparse.ArgumentParser) -> None:
    for flag, metavar, kind, keyword, text in _HTTP_LIMITS:
        parser.add_argument(flag, metavar=metavar, type=kind, dest=f"http_{keyword}", help=text)


def _http_limits(args: argparse.Namespace) -> dict[str, Any]:
    """The HTTP limits given on the command line, as `start_web` keywords."""
    given = {keyword: getattr(args, f"http_{keyword}") for *_, keyword, _ in _HTTP_LIMITS}
    return {keyword: value for keyword, value in given.items() if value is not None}


def _credentials(value: str) -> tuple[str, str]:
    user, colon, password = value.partition(":")
    if not colon or not user:
        raise argparse.ArgumentTypeError(f"expected USER:PASSWORD, got {value!r}")
    return user, password


# --- reading -----------------------------------------------------------------------------


_GIVE_A_STORE = "give the file or Maildir a catcher writes to"
_STORE_HELP = "the mail file, Maildir or postgresql:// URL a catcher writes to"


def _store_path(value: str) -> Any:
    """An argparse type for a store: a path as given, or a URL as a masked location.

    A ``postgresql://`` URL may hold a password; as a `store.DatabaseLocation` it
    prints masked in every message the command writes, and still opens the database.
    """
    return location(value) if is_database_url(value) else value


@contextlib.contextmanager
def _reading(path: str, *, may_be_missing: bool = False) -> Iterator[Store]:
    """The store at `path`, open for the block: the one place a command opens a store.

    What is wrong with the store itself ends the command with `EXIT_NO_STORE` and one
    line: a path that holds no store, a file that holds no mail message (the store
    raises `NotAMessageError` when it lists it), a file that cannot be read.

    With `may_be_missing`, a path that does not exist yet is fine when its directory
    does: `MailFile` writes its file only when the first message arrives.
    """
    if is_database_url(path):
        store = _open_database(path)
        try:
            yield store
        except OSError as error:  # the store's text names it, password masked
            if isinstance(error, (BrokenPipeError, TimeoutError)):
                raise
            raise CommandError(EXIT_NO_STORE, str(error)) from None
        finally:
            store.close()
        return
    target = Path(path)
    if not target.exists() and not (may_be_missing and target.parent.is_dir()):
        raise CommandError(EXIT_NO_STORE, f"no such file or directory: {path} ({_GIVE_A_STORE})")
    if target.is_dir() and not is_maildir(target):
        raise CommandError(
            EXIT_NO_STORE, f"{path} is a directory but not a Maildir (no cur/ and new/ inside)"
        )
    store = open_store(target)
    try:
        yield store
    except NotAMessageError as error:
        raise CommandError(EXIT_NO_STORE, f"{error} ({_GIVE_A_STORE})") from None
    except OSError as error:
        if isinstance(error, (BrokenPipeError, TimeoutError)):
            raise  # the reader of our output went away; a wait's own timeout
        raise CommandError(
            EXIT_NO_STORE, f"cannot read {path}: {error.strerror or error}"
        ) from None
    finally:
        store.close()


def _open_database(path: str) -> Store:
    try:
        return open_store(path)
    except ModuleNotFoundError:
        raise CommandError(EXIT_USAGE, POSTGRES_EXTRA) from None


def _filter(args: argparse.Namespace, *, since: float | None = None) -> Filter:
    return Filter(
        to=args.to,
        sender=args.sender,
        subject=args.subject,
        since=since,
        inbox=args.inbox,
        tags=args.tags,
    )


def _latest(store: Store, args: argparse.Namespace) -> Match:
    """The newest matching entry and its message, or fail with `EXIT_NOT_FOUND`."""
    wanted = _filter(args)
    found = query.latest(store, wanted)
    if found is not None:
        return found
    entries = store.entries()
    if not entries:
        raise CommandError(EXIT_NOT_FOUND, f"no message in {args.path} yet")
    raise CommandError(
        EXIT_NOT_FOUND,
        f"no message matching {wanted.describe()} in {args.path}; it holds "
        f"{plural(len(entries), 'message')} (see: mailcatcher list {args.path})",
    )


def _cmd_show(args: argparse.Namespace) -> int:
    with _reading(args.path) as store:
        entry, message = _latest(store, args)
        raw = store.read_bytes(entry.id) if args.raw else b""
    if args.raw:
        sys.stdout.flush()
        sys.stdout.buffer.write(raw)
        sys.stdout.buffer.flush()
    elif args.json:
        print_json(message_json(entry, message))
    elif args.html:
        html = _message.html_body(message)
        if html is None:
            raise CommandError(EXIT_NOT_FOUND, f"the message {entry.id} has no HTML part")
        print(printable(html.rstrip("\n")))
    else:
        print(show_text(entry, message))
    return EXIT_OK


def _cmd_links(args: argparse.Namespace) -> int:
    with _reading(args.path) as store:
        entry, message = _latest(store, args)
    found = _message.links(message)
    if args.json:
        print_json(found)
    elif not found:
        raise CommandError(EXIT_NOT_FOUND, f"the message {entry.id} has no http(s) links")
    else:
        print(printable("\n".join(found)))
    return EXIT_OK


def _cmd_check(args: argparse.Namespace) -> int:
    with _reading(args.path) as store:
        entry, message = _latest(store, args)
        try:
            raw = store.read_bytes(entry.id)  # the rules on line ends need the bytes
        except KeyError:
            raise CommandError(EXIT_NOT_FOUND, f"the message {entry.id} was deleted") from None
    report = _message.check(message, raw)
    if args.json:
        print_json(_check.report_json(entry, report))
    else:
        print(_check.report_text(entry, report))
    return EXIT_PROBLEMS if report.errors else EXIT_OK


def _cmd_list(args: argparse.Namespace) -> int:
    if args.inboxes:
        return _list_inboxes(args)
    with _reading(args.path) as store:
        entries = _filter(args).select(store, store.entries())
    if args.limit is not None:
        entries = entries[: args.limit]
    if args.json:
        print_json([entry_json(entry) for entry in entries])
    elif entries:
        print("\n".join(summary(entry) for entry in entries))
    else:
        print(f"mailcatcher: no messages in {args.path}", file=sys.stderr)
    return EXIT_OK


def _list_inboxes(args: argparse.Namespace) -> int:
    """``list --inboxes``: each inbox (AUTH login) and how many messages it holds."""
    with _reading(args.path) as store:
        counts = Filter(inbox=args.inbox, tags=args.tags).select(store, store.entries())
        inboxes: dict[str, int] = {}
        for entry in counts:
            inboxes[entry.inbox] = inboxes.get(entry.inbox, 0) + 1
    if args.json:
        print_json([{"inbox": name, "messages": count} for name, count in sorted(inboxes.items())])
    elif inboxes:
        width = max(len(str(count)) for count in inboxes.values())
        print(
            printable(
                "\n".join(f"{count:>{width}}  {name}" for name, count in sorted(inboxes.items()))
            )
        )
    else:
        print(f"mailcatcher: no messages in {args.path}", file=sys.stderr)
    return EXIT_OK


def _cmd_wait(args: argparse.Namespace) -> int:
    since = time.time() if args.since_now else None
    with _reading(args.path, may_be_missing=True) as store:
        try:
            found = query.wait(
                store, _filter(args, since=since), args.timeout, where=str(args.path)
            )
        except query.MailTimeoutError as error:
            # The one timeout text (query.timeout_message): what was wanted, what arrived.
            raise CommandError(EXIT_TIMEOUT, str(error)) from None
    print(envelope_line(found.message))
    return EXIT_OK


def _cmd_clear(args: argparse.Namespace) -> int:
    with _reading(args.path) as opened:
        store = opened if args.inbox is None else opened.view(args.inbox)
        count = len(store.entries())
        store.clear()
    where = "" if args.inbox is None else f" (inbox {args.inbox})"
    print(printable(f"Removed {plural(count, 'message')} from {args.path}{where}"))
    return EXIT_OK


def _cmd_serve(args: argparse.Namespace) -> int:
    options = ServerOptions(
        host=args.smtp[0],
        port=args.smtp[1],
        tls=args.tls,
        auth_required=args.auth_required,
        **{field: getattr(args, field) for _, _, _, field, _ in _LIMITS},
        enable_SMTPUTF8=True,  # RFC 6531: apps send UTF-8 addresses; catch those too
    )
    config = _serve.ServeConfig(
        options,
        directory=args.store or args.dir,
        keep=args.keep,
        http=args.http,
        no_http=args.no_http,
        http_auth=args.http_auth,
        http_limits=_http_limits(args),
        quiet=args.quiet,
        enable_chaos=args.enable_chaos,
    )
    return _serve.serve(config)


def _cmd_web(args: argparse.Namespace) -> int:
    with _reading(args.path, may_be_missing=True) as store:
        store.entries()  # a file that is not mail fails here, as it does for the readers
    return _serve.web(args.path, args.http, args.http_auth, _http_limits(args))


# --- the parser --------------------------------------------------------------------------


def _add_filters(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", metavar="PATH", type=_store_path, help=_STORE_HELP)
    parser.add_argument("--to", metavar="ADDR", help="an envelope recipient (RCPT TO)")
    parser.add_argument("--sender", metavar="ADDR", help="the envelope sender (MAIL FROM)")
    parser.add_argument("--subject", metavar="TEXT", help="a part of the subject (any case)")
    _add_inbox(parser)
    parser.add_argument(
        "--tag",
        metavar="TAG",
        action="append",
        dest="tags",
        help="a tag the message has (any case; repeat for several, all must match)",
    )


def _add_inbox(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--inbox",
        metavar="NAME",
        help="only this inbox: the AUTH login the mail was sent with ('default': none)",
    )


def _subcommand(
    commands: Any, name: str, summary: str, example: str, handler: Callable[..., int]
) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = commands.add_parser(
        name,
        help=summary,
        description=summary,
        epilog=f"example:\n{example}\n\n{EXIT_STATUSES}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.set_defaults(handler=handler)
    return parser


def _parser() -> argparse.ArgumentParser:
    defaults = ServerOptions()
    parser = _Parser(
        prog="mailcatcher",
        description="Catch the email your code sends, and read it back.",
        epilog=(
            "examples:\n"
            "  mailcatcher serve --dir mail/\n"
            "  mailcatcher wait mail/ --to eva@example.com --timeout 30\n"
            '  xdg-open "$(mailcatcher links mail/ --to eva@example.com | head -n1)"\n\n'
            f"{EXIT_STATUSES}"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--version", action=_Version, help="print the version (mailcatcher X.Y.Z) and exit"
    )
    commands = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)

    serve = _subcommand(
        commands,
        "serve",
        "run a catcher: SMTP in, every message kept in a Maildir, a web inbox",
        "  mailcatcher serve --smtp 127.0.0.1:2525 --dir mail/ --keep 500\n"
        "  # then point the app at 127.0.0.1:2525 (no TLS, any login) and read with\n"
        "  mailcatcher show mail/ --to eva@example.com",
        _cmd_serve,
    )
    serve.add_argument(
        "--smtp",
        metavar="HOST:PORT",
        type=_address(DEFAULT_SMTP[0]),
        default=DEFAULT_SMTP,
        help="where to accept mail (default: 127.0.0.1:1025)",
    )
    where = serve.add_mutually_exclusive_group()
    where.add_argument(
        "--dir",
        metavar="PATH",
        help="the Maildir to keep messages in, created if missing "
        "(default: a temporary one, removed on exit)",
    )
    where.add_argument(
        "--store",
        metavar="DIR|URL",
        help="a Maildir as --dir, or a postgresql://user:password@host/db URL: one table "
        "that several catchers share (the postgres extra)",
    )
    serve.add_argument(
        "--keep", metavar="N", type=_positive, help="keep only the newest N (default: keep all)"
    )
    serve.add_argument(
        "--tls", action="store_true", help="offer STARTTLS with a throwaway certificate"
    )
    web_options = serve.add_mutually_exclusive_group()
    web_options.add_argument(
        "--http",
        metavar="HOST:PORT",
        type=_address(_serve.DEFAULT_HTTP[0]),
        help="where to serve the web inbox (default: 127.0.0.1:8025)",
    )
    web_options.add_argument("--no-http", action="store_true", help="no web inbox")
    serve.add_argument(
        "--http-auth", metavar="USER:PASSWORD", type=_credentials, help="protect the web inbox"
    )
    _add_http_limits(serve)
    serve.add_argument(
        "--auth-required", action="store_true", help="refuse mail until the client logs in"
    )
    for flag, metavar, kind, field, text in _LIMITS:
        serve.add_argument(
            flag,
            metavar=metavar,
            type=kind,
            dest=field,
            default=getattr(defaults, field),
            help=text,
        )
    serve.add_argument("-q", "--quiet", action="store_true", help="no line per caught message")
    serve.add_argument(
        "--enable-chaos",
        action="store_true",
        help="serve Mailpit's Chaos API (PUT /api/v1/chaos): SMTP errors at MAIL, RCPT, "
        "AUTH with a probability (default: off)",
    )

    web = _subcommand(
        commands,
        "web",
        "serve the web inbox over a store another process writes",
        "  aiosmtpd -n -c mailcatcher.catcher.MailDir -- mail/ &\n  mailcatcher web mail/",
        _cmd_web,
    )
    web.add_argument("path", metavar="PATH", type=_store_path, help=_STORE_HELP)
    web.add_argument(
        "--http",
        metavar="HOST:PORT",
        type=_address(_serve.DEFAULT_HTTP[0]),
        default=_serve.DEFAULT_HTTP,
        help="where to serve it (default: 127.0.0.1:8025)",
    )
    web.add_argument(
        "--http-auth", metavar="USER:PASSWORD", type=_credentials, help="protect the web inbox"
    )
    _add_http_limits(web)

    show = _subcommand(
        commands,
        "show",
        "show the latest (matching) message: envelope, headers, text, attachments, links",
        "  mailcatcher show mail/ --to eva@example.com",
        _cmd_show,
    )
    _add_filters(show)
    form = show.add_mutually_exclusive_group()
    form.add_argument("--html", action="store_true", help="print the HTML body's source")
    form.add_argument("--raw", action="store_true", help="print the message exactly as stored")
    form.add_argument("--json", action="store_true", help="print it as JSON (see the README)")

    links = _subcommand(
        commands,
        "links",
        "print the http(s) links of the latest (matching) message, one per line",
        '  xdg-open "$(mailcatcher links mail/ --to eva@example.com | head -n1)"',
        _cmd_links,
    )
    _add_filters(links)
    links.add_argument("--json", action="store_true", help="print a JSON array")

    check = _subcommand(
        commands,
        "check",
        "check the latest (matching) message: standards, links, deliverability, client "
        "support; offline",
        "  mailcatcher check mail/ --to eva@example.com || echo 'fix the mail'",
        _cmd_check,
    )
    _add_filters(check)
    check.add_argument("--json", action="store_true", help="print the report as JSON")

    wait = _subcommand(
        commands,
        "wait",
        "wait until a matching message is stored, then print one line about it",
        "  mailcatcher wait mail/ --to eva@example.com --since-now --timeout 30",
        _cmd_wait,
    )
    _add_filters(wait)
    wait.add_argument(
        "--timeout",
        metavar="S",
        type=_seconds,
        default=DEFAULT_WAIT,
        help="give up after S seconds (default: %(default)g)",
    )
    wait.add_argument(
        "--since-now",
        action="store_true",
        help="only a message stored after the command starts counts",
    )

    listing = _subcommand(
        commands,
        "list",
        "one line per message, newest first: time, sender -> recipients, subject, size",
        "  mailcatcher list mail/ --to eva@example.com",
        _cmd_list,
    )
    _add_filters(listing)
    listing.add_argument("-n", "--limit", metavar="N", type=_positive, help="only the newest N")
    listing.add_argument("--json", action="store_true", help="print a JSON array")
    listing.add_argument(
        "--inboxes", action="store_true", help="one line per inbox instead: messages, name"
    )

    clear = _subcommand(
        commands,
        "clear",
        "delete every message in a store",
        "  mailcatcher clear mail/",
        _cmd_clear,
    )
    clear.add_argument("path", metavar="PATH", type=_store_path, help=_STORE_HELP)
    _add_inbox(clear)
    return parser


def _print_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: TextIO | None = None,
    line: str | None = None,
) -> None:
    """Show a warning (such as a skipped unreadable message) as one line."""
    print(printable(f"mailcatcher: warning: {message}"), file=sys.stderr, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``mailcatcher`` command; return its exit status.

    Args:
        argv: The arguments after the program name; ``sys.argv[1:]`` when ``None``.

    Returns:
        One of the statuses in `EXIT_STATUSES`.
    """
    if isinstance(sys.stdout, io.TextIOWrapper):
        # A message may hold any character; a terminal that cannot show one gets "?".
        sys.stdout.reconfigure(errors="replace")
    with warnings.catch_warnings():
        warnings.simplefilter("default")
        warnings.showwarning = _print_warning
        try:
            args = _parser().parse_args(argv)
            handler: Callable[[argparse.Namespace], int] = args.handler
            return handler(args)
        except SystemExit as exit:  # argparse: --help, or a usage error
            return exit.code if isinstance(exit.code, int) else EXIT_USAGE
        except CommandError as failure:
            # The text may quote the mail: wait's timeout lists the messages it found.
            print(printable(f"mailcatcher: {failure.text}"), file=sys.stderr)
            return failure.status
        except KeyboardInterrupt:
            return EXIT_INTERRUPTED
        except BrokenPipeError:
            # The reader went away (`mailcatcher links ... | head -n1`): not an error.
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            return EXIT_OK
        except OSError as error:
            # The store changed under the command (removed, permissions) halfway through.
            where = f" {error.filename}" if error.filename else ""
            print(f"mailcatcher: cannot use{where}: {error.strerror or error}", file=sys.stderr)
            return EXIT_NO_STORE
