"""The strict grammars for annotation values."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from injector.core import grammar


@pytest.mark.parametrize(
    ("text", "value"),
    [
        pytest.param("100m", Decimal("0.1"), id="millicores"),
        pytest.param("2", Decimal(2), id="whole"),
        pytest.param("0.5", Decimal("0.5"), id="fraction"),
        pytest.param(".5", Decimal("0.5"), id="leading-dot"),
        pytest.param("1.", Decimal(1), id="trailing-dot"),
        pytest.param("128Mi", Decimal(128 * 2**20), id="mebibytes"),
        pytest.param("1G", Decimal(10**9), id="gigabytes"),
        pytest.param("1E", Decimal(10**18), id="exa-suffix"),
        pytest.param("1e3", Decimal(1000), id="exponent"),
        pytest.param("1E-3", Decimal("0.001"), id="negative-exponent"),
        pytest.param("+1", Decimal(1), id="explicit-plus"),
        pytest.param("0", Decimal(0), id="zero"),
    ],
)
def test_valid_quantities_parse_to_their_value(text: str, value: Decimal) -> None:
    assert grammar.parse_quantity(text) == value


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("", id="empty"),
        pytest.param("NaN", id="nan"),
        pytest.param("Infinity", id="infinity"),
        pytest.param("1_000", id="underscore"),
        pytest.param("１２", id="full-width-digits"),
        pytest.param("100m\n", id="trailing-newline"),
        pytest.param(" 1", id="leading-space"),
        pytest.param("1 ", id="trailing-space"),
        pytest.param("100m\x00", id="nul"),
        pytest.param("100m\r", id="carriage-return"),
        pytest.param("100m\t", id="tab"),
        pytest.param('100m"\n  - name: injected', id="yaml-injection"),
        pytest.param("-1", id="negative"),
        pytest.param("1..2", id="two-dots"),
        pytest.param(".", id="dot"),
        pytest.param("1Ki1", id="suffix-then-digits"),
        pytest.param("1mi", id="unknown-suffix"),
        pytest.param("1e999", id="huge-exponent"),
        pytest.param("1" * 65, id="too-long"),
    ],
)
def test_invalid_quantities_are_refused(text: str) -> None:
    with pytest.raises(grammar.GrammarError):
        grammar.parse_quantity(text)


@pytest.mark.parametrize("text", ["1", "t", "T", "TRUE", "true", "True"])
def test_go_parsebool_true_spellings_are_true(text: str) -> None:
    assert grammar.parse_bool(text) is True


@pytest.mark.parametrize("text", ["0", "f", "F", "FALSE", "false", "False"])
def test_go_parsebool_false_spellings_are_false(text: str) -> None:
    assert grammar.parse_bool(text) is False


@pytest.mark.parametrize(
    "text", ["", "tRuE", "fAlSe", " true", "true ", "true\n", "yes", "no", "on", "y", "２"]
)
def test_other_boolean_spellings_are_refused(text: str) -> None:
    with pytest.raises(grammar.GrammarError):
        grammar.parse_bool(text)


@pytest.mark.parametrize(
    ("text", "ports"),
    [
        pytest.param("", [], id="empty"),
        pytest.param("80", ["80"], id="one"),
        pytest.param("80,443", ["80", "443"], id="two"),
        pytest.param("80, 443", ["80", "443"], id="space-padded"),
        pytest.param("0080", ["80"], id="leading-zero-normalized"),
        pytest.param("65535", ["65535"], id="highest"),
    ],
)
def test_port_lists_parse(text: str, ports: list[str]) -> None:
    assert grammar.parse_ports(text) == ports


@pytest.mark.parametrize(
    "text", ["abc", "80,abc", "-1", "0", "70000", "80;443", "80,", "8\n0", "８０", "80\t", "*"]
)
def test_bad_port_lists_are_refused(text: str) -> None:
    with pytest.raises(grammar.GrammarError):
        grammar.parse_ports(text)


def test_the_port_wildcard_is_allowed_only_where_it_means_all() -> None:
    assert grammar.parse_ports("*", wildcard=True) == ["*"]
    with pytest.raises(grammar.GrammarError):
        grammar.parse_ports("*,80", wildcard=True)


@pytest.mark.parametrize(
    ("text", "cidrs"),
    [
        pytest.param("10.0.0.0/8", ["10.0.0.0/8"], id="ipv4"),
        pytest.param("10.1.2.3/8", ["10.0.0.0/8"], id="host-bits-normalized"),
        pytest.param("fd00::/8,10.0.0.0/16", ["fd00::/8", "10.0.0.0/16"], id="mixed"),
        pytest.param("", [], id="empty"),
    ],
)
def test_cidr_lists_parse(text: str, cidrs: list[str]) -> None:
    assert grammar.parse_cidrs(text) == cidrs


@pytest.mark.parametrize(
    "text", ["10.0.0.0/33", "10.0.0.0", "10.0.0/8", "300.0.0.0/8", "１０.0.0.0/8", "*", "a/b"]
)
def test_bad_cidr_lists_are_refused(text: str) -> None:
    with pytest.raises(grammar.GrammarError):
        grammar.parse_cidrs(text)


@pytest.mark.parametrize("text", ["eth0;rm -rf", "a" * 16, "eth 0", "eth0\n", "ｅｔｈ0"])
def test_bad_interface_names_are_refused(text: str) -> None:
    with pytest.raises(grammar.GrammarError):
        grammar.parse_interfaces(text)


def test_interface_lists_parse() -> None:
    assert grammar.parse_interfaces("eth0,net1.100,veth_a-b") == ["eth0", "net1.100", "veth_a-b"]


def test_printable_escapes_and_cuts_untrusted_values() -> None:
    assert grammar.printable("a\nb") == "'a\\nb'"
    assert grammar.printable("x" * 100, limit=5) == "'xxxxx...'"


@pytest.mark.parametrize(
    ("parse", "text", "cap"),
    [
        pytest.param(grammar.parse_ports, "1," * 9000 + "1", "bytes", id="ports-over-bytes"),
        pytest.param(grammar.parse_ports, ",".join(["80"] * 257), "entries", id="ports-entries"),
        pytest.param(
            grammar.parse_cidrs, ",".join(["::1/128"] * 3000), "bytes", id="cidrs-over-bytes"
        ),
        pytest.param(
            grammar.parse_cidrs, ",".join(["10.0.0.0/8"] * 257), "entries", id="cidrs-entries"
        ),
        pytest.param(
            grammar.parse_interfaces, ",".join(["eth0"] * 257), "entries", id="interfaces"
        ),
        pytest.param(grammar.parse_ports, "9" * 20_000, "bytes", id="one-huge-token"),
    ],
)
def test_a_list_over_its_caps_is_refused_before_parsing(parse: Any, text: str, cap: str) -> None:
    with pytest.raises(grammar.GrammarError, match=cap):
        parse(text)


def test_a_list_at_its_caps_is_accepted() -> None:
    ports = ",".join(str(1000 + n) for n in range(grammar.MAX_LIST_ENTRIES))
    assert len(grammar.parse_ports(ports)) == grammar.MAX_LIST_ENTRIES


def test_a_non_ascii_list_is_measured_in_bytes() -> None:
    text = "é" * (grammar.MAX_LIST_BYTES // 2 + 1)  # fewer characters than the cap
    with pytest.raises(grammar.GrammarError, match="bytes"):
        grammar.parse_interfaces(text)


@pytest.mark.parametrize(
    ("parse", "token"),
    [
        pytest.param(grammar.parse_ports, "x" * 10_000, id="port"),
        pytest.param(grammar.parse_cidrs, "1" * 10_000, id="cidr"),
        pytest.param(grammar.parse_interfaces, "!" * 10_000, id="interface"),
    ],
)
def test_an_error_shows_a_bad_token_cut_short(parse: Any, token: str) -> None:
    with pytest.raises(grammar.GrammarError) as raised:
        parse(token)
    assert len(str(raised.value)) < 200
