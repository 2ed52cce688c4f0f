"""Strict parsers for every value a user can put in an annotation.

Each parser accepts exactly the grammar Kubernetes (or the proxy's tooling) accepts and
nothing more: ASCII only, no surrounding whitespace, no control characters, matched with
`re.fullmatch` (`re.match(r"...$")` lets a trailing newline through). Lenient parsers such
as `kubernetes.utils.parse_quantity` accept `NaN`, `1_000` or full-width digits, which
kube-apiserver then rejects, so they are never used for validation.
"""

from __future__ import annotations

import ipaddress
import re
from decimal import Decimal

_MAX_QUANTITY_LENGTH = 64
# Caps on a list value (ports, CIDRs, interfaces), checked before any parsing: a review
# runs on the one event loop, and parsing 3 MiB of CIDRs costs seconds of CPU (every
# other review waits meanwhile). 256 entries of the longest IPv6 CIDR fit in 16 KiB;
# istio-iptables turns each entry into a rule, so a real list is far shorter.
MAX_LIST_BYTES = 16 * 1024
MAX_LIST_ENTRIES = 256

# Go's strconv.ParseBool, which is what Istio and kubectl users expect.
_TRUE = frozenset({"1", "t", "T", "TRUE", "true", "True"})
_FALSE = frozenset({"0", "f", "F", "FALSE", "false", "False"})

# apimachinery's quantity grammar: <sign><number><suffix>, where the exponent form `1e3`
# must be tried before the bare exa suffix `E`.
_QUANTITY = re.compile(
    r"(?P<sign>[+-]?)(?P<number>[0-9]+(?:\.[0-9]*)?|\.[0-9]+)"
    r"(?P<suffix>Ki|Mi|Gi|Ti|Pi|Ei|[eE][+-]?[0-9]+|m|k|M|G|T|P|E|)",
    re.ASCII,
)
_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {"m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}

_PORT = re.compile(r"[0-9]{1,5}", re.ASCII)
_CIDR_CHARS = re.compile(r"[0-9A-Fa-f:./]+", re.ASCII)
_INTERFACE = re.compile(r"[A-Za-z0-9_.-]{1,15}", re.ASCII)


class GrammarError(ValueError):
    """A value does not follow its grammar; the message says why, without the value."""


def parse_bool(text: str) -> bool:
    """Parse a boolean the way Go's `strconv.ParseBool` does."""
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise GrammarError("expected one of true/false, True/False, TRUE/FALSE, t/f, 1/0")


def parse_quantity(text: str) -> Decimal:
    """Parse a non-negative Kubernetes resource quantity and return its value."""
    if len(text) > _MAX_QUANTITY_LENGTH:
        raise GrammarError(f"longer than {_MAX_QUANTITY_LENGTH} characters")
    match = _QUANTITY.fullmatch(text)
    if match is None:
        raise GrammarError("not a Kubernetes quantity (examples: 100m, 0.5, 128Mi, 1G)")
    if match["sign"] == "-":
        raise GrammarError("must not be negative")
    number = Decimal(match["number"])
    suffix = match["suffix"]
    if suffix in _BINARY:
        return number * _BINARY[suffix]
    if suffix in _DECIMAL:
        return number.scaleb(_DECIMAL[suffix])
    exponent = int(suffix[1:])
    if abs(exponent) > 30:
        raise GrammarError("exponent out of range")
    return number.scaleb(exponent)


def check_list_size(text: str) -> None:
    """Refuse a list value over `MAX_LIST_BYTES` (UTF-8) or `MAX_LIST_ENTRIES`, cheaply."""
    size = len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))
    if size > MAX_LIST_BYTES:
        raise GrammarError(f"longer than {MAX_LIST_BYTES} bytes ({size})")
    if text.count(",") >= MAX_LIST_ENTRIES:
        raise GrammarError(f"more than {MAX_LIST_ENTRIES} entries")


def _tokens(text: str) -> list[str]:
    # Only ASCII spaces may pad a token; a tab or newline is a bad token, not padding.
    if text.strip(" ") == "":
        return []
    return [token.strip(" ") for token in text.split(",")]


def parse_ports(text: str, *, wildcard: bool = False) -> list[str]:
    """Parse a comma-separated list of TCP ports (1-65535); `*` alone when allowed."""
    check_list_size(text)
    if wildcard and text.strip(" ") == "*":
        return ["*"]
    ports: list[str] = []
    for token in _tokens(text):
        if _PORT.fullmatch(token) is None or not 1 <= int(token) <= 65535:
            raise GrammarError(f"port {printable(token)} is not a number from 1 to 65535")
        ports.append(str(int(token)))
    return ports


def parse_cidrs(text: str, *, wildcard: bool = False) -> list[str]:
    """Parse a comma-separated list of IPv4/IPv6 CIDRs; `*` alone when allowed."""
    check_list_size(text)
    if wildcard and text.strip(" ") == "*":
        return ["*"]
    cidrs: list[str] = []
    for token in _tokens(text):
        if _CIDR_CHARS.fullmatch(token) is None or "/" not in token:
            raise GrammarError(f"{printable(token)} is not a CIDR such as 10.0.0.0/8")
        try:
            network = ipaddress.ip_network(token, strict=False)
        except ValueError:
            raise GrammarError(f"{printable(token)} is not a CIDR such as 10.0.0.0/8") from None
        cidrs.append(str(network))
    return cidrs


def parse_interfaces(text: str) -> list[str]:
    """Parse a comma-separated list of Linux interface names."""
    check_list_size(text)
    names: list[str] = []
    for token in _tokens(text):
        if _INTERFACE.fullmatch(token) is None:
            raise GrammarError(
                f"{printable(token)} is not an interface name (A-Z a-z 0-9 _ . -, 1-15)"
            )
        names.append(token)
    return names


def printable(text: str, *, limit: int = 40) -> str:
    """Render an untrusted value for a message: escaped, quoted and cut to `limit`."""
    shown = text if len(text) <= limit else text[:limit] + "..."
    return repr(shown)
