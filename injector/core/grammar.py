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
_DIGITS = re.compile(r"[0-9]{1,10}", re.ASCII)

# The container image reference grammar of the distribution project (what the kubelet's
# runtimes parse): [registry[:port]/]path[:tag][@digest], lowercase path components.
_IMAGE_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_IMAGE_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
_IMAGE_HOST = rf"(?:{_IMAGE_LABEL}(?:\.{_IMAGE_LABEL})*|\[[0-9A-Fa-f:.]+\])(?::[0-9]{{1,5}})?"
_IMAGE = re.compile(
    rf"(?:{_IMAGE_HOST}/)?{_IMAGE_COMPONENT}(?:/{_IMAGE_COMPONENT})*"
    r"(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?"
    r"(?:@[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[0-9a-fA-F]{32,})?",
    re.ASCII,
)
_MAX_IMAGE_LENGTH = 255

# Envoy's log levels (`--proxyLogLevel`), and `component:level` pairs for
# `--proxyComponentLogLevel`.
ENVOY_LEVELS = ("trace", "debug", "info", "warning", "warn", "error", "critical", "off")
_ENVOY_LEVEL = "|".join(ENVOY_LEVELS)
_ENVOY_COMPONENTS = re.compile(
    rf"[a-z0-9_]{{1,40}}:(?:{_ENVOY_LEVEL})(?:,[a-z0-9_]{{1,40}}:(?:{_ENVOY_LEVEL}))*", re.ASCII
)
# The agent's `--log_output_level`: a level, or `scope:level` pairs.
AGENT_LEVELS = ("debug", "info", "warn", "error", "fatal", "none")
_AGENT_LEVEL = "|".join(AGENT_LEVELS)
_AGENT_SCOPE = rf"(?:[a-z0-9_-]{{1,40}}:)?(?:{_AGENT_LEVEL})"
_AGENT_LEVELS = re.compile(rf"{_AGENT_SCOPE}(?:,{_AGENT_SCOPE})*", re.ASCII)
# A DNS-1123 label: a namespace name, a revision, one part of a domain.
DNS_LABEL = re.compile(r"[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?", re.ASCII)
_DNS_SUBDOMAIN = re.compile(
    r"[a-z0-9](?:[-a-z0-9]*[a-z0-9])?(?:\.[a-z0-9](?:[-a-z0-9]*[a-z0-9])?)*", re.ASCII
)


# A container image reference, in the grammar of the distribution project's reference
# package (what a container runtime parses): [host[:port]/]path[:tag][@digest], the path
# lower case, components joined by `.`, `_`, `__` or dashes.
_IMAGE_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_IMAGE_HOST = (
    r"(?:(?:[A-Za-z0-9]|[A-Za-z0-9][A-Za-z0-9-]*[A-Za-z0-9])"
    r"(?:\.(?:[A-Za-z0-9]|[A-Za-z0-9][A-Za-z0-9-]*[A-Za-z0-9]))*|\[[0-9A-Fa-f:]+\])"
    r"(?::[0-9]+)?"
)
_IMAGE = re.compile(
    rf"(?:{_IMAGE_HOST}/)?{_IMAGE_COMPONENT}(?:/{_IMAGE_COMPONENT})*"
    r"(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?"
    r"(?:@[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,})?",
    re.ASCII,
)
_MAX_IMAGE_NAME = 255


class GrammarError(ValueError):
    """A value does not follow its grammar; the message says why, without the value."""


def parse_bool(text: str) -> bool:
    """Parse a boolean the way Go's `strconv.ParseBool` does."""
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise GrammarError("expected one of true/false, True/False, TRUE/FALSE, t/f, 1/0")


def switch(text: str | None, default: bool) -> bool:
    """A switch as Istio reads it: Go's `strconv.ParseBool`, else `default` (absent or
    unparsable; Istio ignores what it cannot parse)."""
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    return default


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


def parse_uint(text: str, *, low: int, high: int) -> int:
    """Parse a decimal whole number from `low` to `high` (digits only, no sign or space)."""
    if _DIGITS.fullmatch(text) is None or not low <= int(text) <= high:
        raise GrammarError(f"expected a whole number from {low} to {high}")
    return int(text)


def parse_image(text: str) -> str:
    """Parse a container image reference such as registry.example/istio/proxyv2:1.20.8."""
    if len(text) > _MAX_IMAGE_LENGTH or _IMAGE.fullmatch(text) is None:
        raise GrammarError(
            "not an image reference such as docker.io/istio/proxyv2:1.20.8"
            " ([registry/]path[:tag][@sha256:digest], lowercase path)"
        )
    return text


def parse_envoy_level(text: str) -> str:
    """Parse one of Envoy's log levels."""
    if text not in ENVOY_LEVELS:
        raise GrammarError("expected one of " + ", ".join(ENVOY_LEVELS))
    return text


def parse_envoy_components(text: str) -> str:
    """Parse Envoy component levels, e.g. `misc:error,upstream:debug`."""
    if _ENVOY_COMPONENTS.fullmatch(text) is None:
        raise GrammarError(
            "expected component:level pairs separated by commas (e.g. misc:error),"
            " levels " + "/".join(ENVOY_LEVELS)
        )
    return text


def parse_agent_levels(text: str) -> str:
    """Parse the agent's output levels, e.g. `default:info,ads:debug` or `info`."""
    if _AGENT_LEVELS.fullmatch(text) is None:
        raise GrammarError(
            "expected a level or scope:level pairs separated by commas (e.g. default:info),"
            " levels " + "/".join(AGENT_LEVELS)
        )
    return text


def parse_object_name(text: str) -> str:
    """Parse a Kubernetes object name (a DNS-1123 subdomain, at most 253 characters)."""
    if len(text) > 253 or _DNS_SUBDOMAIN.fullmatch(text) is None:
        raise GrammarError("not an object name (lowercase a-z 0-9 - ., at most 253 characters)")
    return text


def parse_trust_domain(text: str) -> str:
    """Parse a mesh trust domain as Istio 1.20.8 validates one (its ValidateTrustDomain):
    DNS-1123 labels joined by dots, a trailing dot allowed."""
    labels = text.removesuffix(".").split(".") if text else [""]
    if not all(DNS_LABEL.fullmatch(label) for label in labels):
        raise GrammarError(
            f"{printable(text)} is not a trust domain (DNS labels of a-z 0-9 - joined by dots)"
        )
    return text


def printable(text: str, *, limit: int = 40) -> str:
    """Render an untrusted value for a message: escaped, quoted and cut to `limit`."""
    shown = text if len(text) <= limit else text[:limit] + "..."
    return repr(shown)


def check_image(text: str) -> str:
    """`text` if it is a container image reference (e.g. docker.io/istio/proxyv2:1.20.8,
    or name@sha256:...); GrammarError otherwise."""
    name = text.split("@", 1)[0].rsplit(":", 1)[0] if "/" in text else text
    if not _IMAGE.fullmatch(text) or len(name) > _MAX_IMAGE_NAME:
        raise GrammarError(
            "not an image reference ([registry[:port]/]path[:tag][@digest], path lower case)"
        )
    return text
