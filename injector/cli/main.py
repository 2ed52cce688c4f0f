"""The command line: `serve`, `inject`, `check`, `audit`, `plan`, `doctor` and `certs`.

Errors a user can fix (a bad configuration file, unreadable input) are printed as one
line on stderr with exit status 2; no stack trace. Each command's `--help` lists its own
exit statuses (arguments.STATUSES). Ctrl+C stops any command at once: one line, exit
status 130 (128 + SIGINT), as shells report it.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from injector import __version__
from injector.certs import serving_cert
from injector.cli import (
    arguments,
    audit_command,
    certs_command,
    doctor_command,
    offline_command,
    plan_command,
    serve_command,
)
from injector.core import config, template


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="sidecar-injector",
        description="Inject a mesh proxy sidecar into Pods.",
        formatter_class=arguments.HelpFormatter,
        epilog=arguments.EXIT_STATUSES,
    )
    top.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    verbs = top.add_subparsers(title="commands", metavar="COMMAND", required=True)

    serve_command.add_command(verbs)
    offline_command.add_commands(verbs)
    audit_command.add_command(verbs)
    plan_command.add_command(verbs)
    doctor_command.add_command(verbs)
    certs_command.add_commands(verbs)
    return top


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    """The arguments; a flag the command does not know is reported with the command's
    own usage (argparse would show the top level's)."""
    args, unknown = parser().parse_known_args(argv)
    if unknown:
        args.command_parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    try:
        return _run(argv)
    except KeyboardInterrupt:
        # Ctrl+C (e.g. while `inject -f -` waits on standard input): one line, no traceback.
        print("sidecar-injector: interrupted", file=sys.stderr)
        return 130


def _run(argv: Sequence[str] | None) -> int:
    # Commands other than `serve` (which sets up logs) report errors as one line of their
    # own: log records go nowhere, not to Python's last-resort handler on stderr.
    ours = logging.getLogger("injector")
    if not ours.handlers:
        ours.addHandler(logging.NullHandler())
    args = _parse(argv)
    try:
        return int(args.run(args))
    except (config.ConfigError, template.TemplateError, serving_cert.Refused) as err:
        print(f"sidecar-injector: {err}", file=sys.stderr)
        return 2
    except OSError as err:
        print(f"sidecar-injector: {err.filename or ''}: {err.strerror}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("sidecar-injector: interrupted", file=sys.stderr)
        return 130
