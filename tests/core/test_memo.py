"""The engine's and the template's caches hold a bounded number of bytes, whatever
the Pods that fill them (their keys come from what a Pod's author wrote)."""

from __future__ import annotations

import copy
import ipaddress
from typing import Any

import orjson
import pytest
import support
from support.http_cases import FIXTURES

from injector.core import config, handler, memo, names, review, template
from injector.core.engine import Engine, _outcome_bytes


def _key_bytes(key: Any) -> int:
    """The bytes of the strings a cache key holds (what a unique Pod pins)."""
    if isinstance(key, str | bytes):
        return len(key)
    if isinstance(key, tuple | list):
        return sum(_key_bytes(part) for part in key)
    return 0


def _held_by_keys(engine: Engine) -> dict[str, int]:
    caches = {
        "settings": engine._settings,
        "outcomes": engine._outcomes,
        "renders": engine.template._cache,
    }
    return {name: sum(_key_bytes(key) for key in cache) for name, cache in caches.items()}


def _fresh_engine() -> Engine:
    return Engine(config.Config(), template.load(config.DEFAULT_TEMPLATES))


def test_unique_pods_with_large_port_lists_pin_a_bounded_number_of_bytes(
    pod: dict[str, Any],
) -> None:
    engine = _fresh_engine()
    for n in range(200):
        unique = copy.deepcopy(pod)
        # About 117 KiB of valid container ports, each Pod's list different.
        ports = [{"containerPort": 20000 + n + i} for i in range(5400)]
        unique["spec"]["containers"][0]["ports"] = ports
        assert engine.inject(unique, namespace="shop", ns=None).result == "injected"
    held = _held_by_keys(engine)
    assert all(size <= memo.DEFAULT_MAX_BYTES for size in held.values()), held


def test_unique_pods_with_long_annotations_pin_a_bounded_number_of_bytes(
    pod: dict[str, Any],
) -> None:
    engine = _fresh_engine()
    base = ipaddress.ip_address("fd00::")
    for n in range(500):
        cidrs = ",".join(f"{base + n * 256 + i}/128" for i in range(256))
        unique = copy.deepcopy(pod)
        unique["metadata"]["annotations"] = {names.EXCLUDE_OUTBOUND_IP_RANGES: cidrs}
        assert engine.inject(unique, namespace="shop", ns=None).result == "injected"
    held = _held_by_keys(engine)
    assert all(size <= memo.DEFAULT_MAX_BYTES for size in held.values()), held
    assert len(engine._settings) > 0  # within the bounds, they are still remembered


def test_a_memo_drops_its_oldest_entries_to_stay_within_its_bytes() -> None:
    table: memo.Memo[str, int] = memo.Memo(max_entries=100, max_bytes=1000, max_entry_bytes=400)
    for n in range(10):
        table.put(f"k{n}", n, size=300)
    assert table.bytes_held <= 1000
    assert list(table) == ["k7", "k8", "k9"]
    assert table.get("k9") == 9
    assert table.get("k0") is None


def test_a_memo_does_not_keep_an_entry_larger_than_its_entry_cap() -> None:
    table: memo.Memo[str, int] = memo.Memo(max_entries=100, max_bytes=1000, max_entry_bytes=400)
    table.put("small", 1, size=10)
    table.put("large", 2, size=401)
    assert table.get("large") is None
    assert list(table) == ["small"]
    assert table.bytes_held == 10


@pytest.mark.parametrize("count", [pytest.param(3, id="at-the-cap"), pytest.param(7, id="past")])
def test_a_memo_keeps_at_most_its_entry_count(count: int) -> None:
    table: memo.Memo[int, int] = memo.Memo(max_entries=3)
    for n in range(count):
        table.put(n, n, size=1)
    assert list(table) == list(range(count - 3, count))


@pytest.mark.parametrize("env_entries", [0, 1200], ids=["small", "60KB"])
def test_a_pod_remembered_by_its_content_is_charged_for_it_and_never_confused(
    pod: dict[str, Any], env_entries: int
) -> None:
    engine = _fresh_engine()
    pod["metadata"]["labels"] = {"app": "first"}
    env = [{"name": f"SETTING_{i:05d}", "value": f"value-{i:08d}"} for i in range(env_entries)]
    pod["spec"]["containers"][0]["env"] = env
    assert len(orjson.dumps(pod)) > 50_000 or not env_entries
    other = copy.deepcopy(pod)
    other["metadata"]["labels"]["app"] = "second"
    for each in (pod, other, copy.deepcopy(pod)):
        assert engine.inject(each, namespace="shop", ns=None).result == "injected"
    again = engine.inject(copy.deepcopy(other), namespace="shop", ns=None)
    named = [op["value"] for op in again.ops or [] if op["path"].endswith("canonical-name")]
    assert named == ["second"]
    assert len(engine._outcomes) == 2
    # Each key holds the Pod it was made from: the table is charged those bytes too.
    outcomes = sum(_outcome_bytes(value) for value, _size in engine._outcomes._items.values())
    keys = engine._outcomes.bytes_held - outcomes
    assert keys >= len(orjson.dumps(pod)) + len(orjson.dumps(other))


V1 = "admission.k8s.io/v1"


def _answer_without_uid(handled: handler.Handled) -> dict[str, Any]:
    answer = copy.deepcopy(handled.answer)
    del answer["response"]["uid"]
    return answer


@pytest.mark.parametrize("api_version", [V1, "admission.k8s.io/v1beta1"])
def test_after_uid_is_what_follows_the_uid_in_kube_apiservers_layout(
    pod: dict[str, Any], api_version: str
) -> None:
    raw = orjson.dumps(support.review(pod, uid="u-1", api_version=api_version))
    tail = review.after_uid(raw, api_version, "u-1")
    assert tail is not None
    assert raw == raw[: len(raw) - len(tail)] + tail
    assert raw[: len(raw) - len(tail)].endswith(b'"request":{"uid":"u-1"')
    assert review.after_uid(bytearray(raw), api_version, "u-1") == tail


@pytest.mark.parametrize(
    ("what", "layout", "given_uid", "api_version"),
    [
        ("apiVersion first", "other", "u-1", V1),
        ("another apiVersion than the body's", "kube", "u-1", "admission.k8s.io/v1beta1"),
        ("another uid than the body's", "kube", "u-2", V1),
        ("a prefix of the body's uid", "kube", "u-", V1),
    ],
)
def test_after_uid_is_none_for_any_other_body(
    pod: dict[str, Any], what: str, layout: str, given_uid: str, api_version: str
) -> None:
    body = support.review(pod, uid="u-1")
    if layout == "other":
        body = {"apiVersion": body["apiVersion"], "kind": body["kind"], "request": body["request"]}
    assert review.after_uid(orjson.dumps(body), api_version, given_uid) is None, what


@pytest.mark.parametrize("uid", ['a"b', "a\\b", "a<b", "a>b", "a&b", "a\nb", "a\u2028b"])
def test_after_uid_is_none_for_a_uid_json_would_escape(pod: dict[str, Any], uid: str) -> None:
    raw = orjson.dumps(support.review(pod, uid=uid))
    assert review.after_uid(raw, V1, uid) is None


def test_a_pod_sent_again_under_a_new_uid_is_answered_from_memory_by_its_body(
    pod: dict[str, Any],
) -> None:
    engine = _fresh_engine()
    pod["metadata"]["labels"] = {"app": "first"}
    other = copy.deepcopy(pod)
    other["metadata"]["labels"]["app"] = "second"
    answers = []
    for number, each in enumerate([pod, pod, other, other]):
        raw = orjson.dumps(support.review(each, uid=f"uid-{number}"))
        handled = handler.handle(orjson.loads(raw), engine=engine, raw=raw)
        assert handled.answer["response"]["uid"] == f"uid-{number}"
        answers.append(_answer_without_uid(handled))
    assert answers[0] == answers[1] != answers[2] == answers[3]
    named = [
        [op["value"] for op in support.patch_of(a) or [] if op["path"].endswith("canonical-name")]
        for a in (answers[0], answers[2])
    ]
    assert named == [["first"], ["second"]]
    # One entry per Pod, each keyed by the body after its uid.
    assert len(engine._outcomes) == 2
    assert all(context.startswith(b'["body",') for _content, context in engine._outcomes)


def test_a_body_in_another_layout_is_remembered_by_its_pod(pod: dict[str, Any]) -> None:
    engine = _fresh_engine()
    for uid in ("uid-1", "uid-2"):
        body = support.review(pod, uid=uid)
        raw = orjson.dumps({"apiVersion": body["apiVersion"], "kind": body["kind"],
                            "request": body["request"]})  # fmt: skip
        assert handler.handle(orjson.loads(raw), engine=engine, raw=raw).result == "injected"
    assert len(engine._outcomes) == 1
    assert all(context.startswith(b'["pod",') for _content, context in engine._outcomes)


@pytest.mark.parametrize("fixture", sorted(FIXTURES.glob("*.json")), ids=lambda p: p.stem)
def test_every_fixture_gets_the_same_answer_with_its_raw_body_as_without(fixture: Any) -> None:
    raw = fixture.read_bytes()
    for layout in ("as written", "compact"):
        body = raw if layout == "as written" else orjson.dumps(orjson.loads(raw))
        try:
            with_raw = handler.handle(orjson.loads(body), engine=_fresh_engine(), raw=body)
        except review.ReviewError:
            with pytest.raises(review.ReviewError):
                handler.handle(orjson.loads(body), engine=_fresh_engine())
            continue
        without = handler.handle(orjson.loads(body), engine=_fresh_engine())
        assert with_raw.answer == without.answer
