"""Quantity arithmetic: exact, in both suffix families, and refusing what the API refuses."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from injector.planning import quantities
from injector.planning.quantities import parse, render


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        pytest.param(parse("100m") * 3, "300m", id="100m-times-3"),
        pytest.param(parse("128Mi") + parse("1Gi"), "1152Mi", id="128Mi-plus-1Gi"),
        pytest.param(parse("2000m") * 3, "6", id="whole-cores"),
        pytest.param(parse("0.1") + parse("100m"), "200m", id="decimal-and-milli"),
        pytest.param(parse("1G") * 2, "2G", id="decimal-suffix-stays-decimal"),
        pytest.param(parse("1Gi") * 3, "3Gi", id="binary-suffix-stays-binary"),
        pytest.param(parse("1k") + parse("24"), "1Ki", id="1024-bytes-is-1Ki"),
        pytest.param(parse("1k") + parse("1"), "1001", id="no-suffix-fits"),
        pytest.param(parse("1e3"), "1k", id="exponent"),
        pytest.param(parse("500u") * 2, "1m", id="micro"),
        pytest.param(parse("3n"), "3n", id="nano"),
        pytest.param(parse("128Mi") * 0, "0", id="zero"),
    ],
)
def test_arithmetic_is_exact_and_rendered_in_the_shortest_form(
    expression: Fraction, expected: str
) -> None:
    assert render(expression) == expected


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("NaN", id="nan"),
        pytest.param("Infinity", id="infinity"),
        pytest.param("1_000", id="underscore"),
        pytest.param("１００m", id="full-width-digits"),
        pytest.param("100m\n", id="trailing-newline"),
        pytest.param("-1", id="negative"),
        pytest.param("1mu", id="two-suffixes"),
        pytest.param("u", id="suffix-alone"),
        pytest.param("", id="empty"),
    ],
)
def test_what_kube_apiserver_refuses_is_refused(text: str) -> None:
    with pytest.raises(quantities.QuantityError):
        parse(text)


# Values as the API keeps them: whole nanos (cpu) or whole bytes times a suffix.
nanos = st.integers(min_value=0, max_value=10**21).map(lambda n: Fraction(n, 10**9))
suffixed = st.builds(
    lambda n, suffix: parse(f"{n}{suffix}"),
    st.integers(min_value=0, max_value=10**6),
    st.sampled_from(["", "m", "k", "M", "G", "T", "Ki", "Mi", "Gi", "Ti", "Pi"]),
)
values = st.one_of(nanos, suffixed)


@given(values)
def test_a_rendered_quantity_parses_back_to_the_same_value(value: Fraction) -> None:
    assert parse(render(value)) == value


@given(values, values)
def test_a_sum_is_exact(a: Fraction, b: Fraction) -> None:
    assert parse(render(a + b)) == parse(render(a)) + parse(render(b))


@given(values, st.integers(min_value=0, max_value=10_000))
def test_a_product_by_replicas_is_exact(value: Fraction, replicas: int) -> None:
    assert parse(render(value * replicas)) == value * replicas
    assert sum([value] * min(replicas, 50), Fraction(0)) == value * min(replicas, 50)


@given(values)
def test_the_rendered_form_is_in_the_api_grammar(value: Fraction) -> None:
    text = render(value)
    assert text.isascii() and text.isprintable() and " " not in text
    assert len(text) <= 64
