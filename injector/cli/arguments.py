"""What every command shares: argument types that say what is wrong with a value, the
help formatter (defaults shown), and the exit statuses documented in `--help`.

An argument type raises `argparse.ArgumentTypeError`; argparse then prints
`sidecar-injector serve: error: argument --port: 99999 is not a port number (1-65535)`
and exits 2, before anything runs.
"""

from __future__ import annotations

import argparse
import ipaddress
import re
from typing import Any

from injector.core import grammar

# RFC 1123 host names, lower or upper case, with an optional leading wildcard label
# (certificates may name *.example.com). Each label 1-63 characters, 253 in all.
_LABEL = r"[A-Za-z0-9]([-A-Za-z0-9]{0,61}[A-Za-z0-9])?"
_DNS_NAME = re.compile(rf"(\*\.)?{_LABEL}(\.{_LABEL})*", re.ASCII)

# Each command's own exit statuses, shown at the end of its --help; the top level shows
# them all. 2 and 130 are every command's.
USAGE_ERROR = "2  a usage error or bad input: the message names the file, flag or key"
INTERRUPTED = "130  interrupted (Ctrl+C), one line, no traceback"
STATUSES: dict[str, tuple[str, ...]] = {
    "serve": ("0  stopped (SIGTERM after the drain, or Ctrl+C)",),
    "inject": (
        "0  every object injected, skipped or passed through",
        "1  an object was denied (its report line says why)",
    ),
    "check": ("0  the configuration and template are valid", "1  the sample Pod was not injected"),
    "audit": (
        "0  no drift",
        "1  drift: a Pod's sidecar is missing or outdated",
        "2  also: the cluster could not be read (the message says what failed)",
    ),
    "plan": (
        "0  labelling is safe",
        "1  something would break: a quota, a LimitRange or a Pod Security level",
        "2  also: the cluster could not be read (the message says what failed)",
    ),
    "doctor": (
        "0  no check fails (warnings do not count)",
        "1  a check fails: something stops or misdirects injection",
        "2  also: the cluster could not be read (the message says what failed)",
    ),
    "certs generate": ("0  the files were written",),
    "certs inspect": (
        "0  valid now, and chains to --bundle",
        "1  not valid now, or does not chain",
    ),
}


def exit_statuses(*commands: str) -> str:
    """The epilog of these commands' --help: their exit statuses, each once."""
    rows: list[tuple[str, str]] = []
    for command in commands:
        prefix = f"{command}: " if len(commands) > 1 else ""
        for line in STATUSES.get(command, ()):
            code, text = line.split(None, 1)
            rows.append((code, prefix + text))
    for line in (USAGE_ERROR, INTERRUPTED):
        code, text = line.split(None, 1)
        rows.append((code, text))
    return "exit status:\n" + "".join(f"  {code:>3}  {text}\n" for code, text in rows)


EXIT_STATUSES = exit_statuses(*STATUSES)


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Shows each option's default after its help, when it has a meaningful one."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        default = action.default
        meaningless = (
            default is None or default is False or default == [] or default is argparse.SUPPRESS
        )
        if "%(default)" in text or meaningless or not action.option_strings:
            return text
        return f"{text} (default: %(default)s)"


def subcommand(
    verbs: Any, name: str, *, statuses: tuple[str, ...] | None = None, **options: Any
) -> argparse.ArgumentParser:
    """A command's parser, with the shared formatter and its own exit statuses (those of
    `statuses`, by default of the command itself). It is remembered in the parsed
    arguments (`command_parser`), so that a flag it does not know is reported with its
    own usage, not the top level's."""
    parser: argparse.ArgumentParser = verbs.add_parser(
        name, formatter_class=HelpFormatter, **options
    )
    command = parser.prog.removeprefix("sidecar-injector ")
    parser.epilog = exit_statuses(*(statuses if statuses is not None else (command,)))
    parser.set_defaults(command_parser=parser)
    return parser


def port(text: str) -> int:
    """A TCP port to listen on, 1-65535."""
    if not re.fullmatch(r"-?[0-9]{1,6}", text, re.ASCII):
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number (1-65535)")
    number = int(text)
    if not 1 <= number <= 65535:
        raise argparse.ArgumentTypeError(f"{number} is not a port number (1-65535)")
    return number


def ip_address(text: str) -> str:
    """An IPv4 or IPv6 address, written back in its canonical form."""
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an IP address") from None


def dns_name(text: str) -> str:
    """A DNS name a certificate can carry (RFC 1123, optionally *.name)."""
    if len(text) > 253 or not _DNS_NAME.fullmatch(text):
        raise argparse.ArgumentTypeError(f"{text!r} is not a DNS name")
    return text


def namespace(text: str) -> str:
    """A namespace name: a lowercase RFC 1123 label, as Kubernetes requires."""
    if not grammar.DNS_LABEL.fullmatch(text):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a namespace name (lowercase letters, digits and '-',"
            " at most 63, starting and ending with a letter or digit)"
        )
    return text
