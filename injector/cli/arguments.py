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

# RFC 1123 host names, lower or upper case, with an optional leading wildcard label
# (certificates may name *.example.com). Each label 1-63 characters, 253 in all.
_LABEL = r"[A-Za-z0-9]([-A-Za-z0-9]{0,61}[A-Za-z0-9])?"
_DNS_NAME = re.compile(rf"(\*\.)?{_LABEL}(\.{_LABEL})*", re.ASCII)

EXIT_STATUSES = """\
exit status:
  0  done (inject: every object injected, skipped or passed through)
  1  a refusal: inject denied an object, check's sample Pod was not injected,
     certs inspect found the certificate not valid now or not chaining, audit found drift
  2  a usage error or bad input: the message names the file, flag or key
  130  interrupted (Ctrl+C)
"""


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


def subcommand(verbs: Any, name: str, **options: Any) -> argparse.ArgumentParser:
    """A command's parser, with the shared formatter and the exit statuses."""
    parser: argparse.ArgumentParser = verbs.add_parser(
        name, formatter_class=HelpFormatter, epilog=EXIT_STATUSES, **options
    )
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
