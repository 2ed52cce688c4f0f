"""Kubernetes resource quantities as exact numbers: parsed, added, multiplied, shown.

Parsing is the project's own strict grammar (`core.grammar.parse_quantity`, which refuses
what kube-apiserver refuses) plus the two small decimal suffixes it leaves out, `n` and
`u`, which a quota's `used` may carry. Values are `Fraction`s: `100m` x 3 is exactly
`300m`, and no sum ever drifts the way floats would.
"""

from __future__ import annotations

import decimal
from fractions import Fraction

from injector.core import grammar

_SMALL = {"n": Fraction(1, 10**9), "u": Fraction(1, 10**6)}
_BINARY = (("Ei", 2**60), ("Pi", 2**50), ("Ti", 2**40), ("Gi", 2**30), ("Mi", 2**20), ("Ki", 2**10))
_DECIMAL = (("E", 10**18), ("P", 10**15), ("T", 10**12), ("G", 10**9), ("M", 10**6), ("k", 10**3))


class QuantityError(ValueError):
    """Not a Kubernetes quantity; the message says why."""


def parse(text: str) -> Fraction:
    """The value of a quantity such as `100m`, `128Mi`, `1.5`, `2e3` or `500u`."""
    if not isinstance(text, str):
        raise QuantityError("not a quantity (a string such as 100m or 128Mi)")
    suffix = text[-1:]
    scale = _SMALL.get(suffix)
    body = text[:-1] if scale is not None else text
    if scale is not None and not body[-1:].isdigit() and not body.endswith("."):
        raise QuantityError("not a Kubernetes quantity (examples: 100m, 0.5, 128Mi, 1G)")
    try:
        # Exact: a 64-character quantity times 2**60 stays far within 100 digits, where
        # the default context (28 digits) would round a large value.
        with decimal.localcontext(prec=100):
            value = Fraction(grammar.parse_quantity(body))
    except grammar.GrammarError as err:
        raise QuantityError(str(err)) from None
    return value * scale if scale is not None else value


def _whole(value: Fraction, units: tuple[tuple[str, int], ...]) -> str | None:
    for suffix, size in units:
        if value >= size and value % size == 0:
            return f"{value // size}{suffix}"
    return None


def render(value: Fraction) -> str:
    """The shortest exact spelling: `300m`, `2`, `1152Mi`, `2G`; below a milli, `u` or `n`."""
    if value == 0:
        return "0"
    if value.denominator == 1:
        candidates = [c for c in (_whole(value, _BINARY), _whole(value, _DECIMAL)) if c]
        candidates.append(str(value.numerator))
        return min(candidates, key=len)
    milli = value * 1000
    if milli.denominator == 1:
        return f"{milli.numerator}m"
    micro = value * 10**6
    if micro.denominator == 1:
        return f"{micro.numerator}u"
    nano = value * 10**9
    if nano.denominator == 1:
        return f"{nano.numerator}n"
    # Finer than the API keeps: kube-apiserver rounds up to the nano, and so does this.
    return f"{-(-nano.numerator // nano.denominator)}n"
