"""Memory stays flat however many distinct Pods come: every structure the engine keeps
across reviews holds at most its bound, counted in entries and bytes (not RSS, which
the allocator blurs). Pods of one workload differing in a label are what a rollout, a
Job or a CronJob run sends: each is new to the remembered outcomes, none to the renders,
settings and render plans, which depend only on what shapes the sidecar."""

from __future__ import annotations

import copy
from typing import Any

import orjson
import support

from injector.core import config_file, handler, names, template
from injector.core.engine import (
    OUTCOME_CACHE_SIZE,
    PLAN_CACHE_SIZE,
    SETTINGS_CACHE_SIZE,
    Engine,
)
from injector.core.template import RENDER_CACHE_SIZE

DISTINCT_PODS = 3 * OUTCOME_CACHE_SIZE + 7


def _engine() -> Engine:
    cfg = config_file.from_mapping({})
    return Engine(cfg, template.load(cfg.templates))


def _pod(number: int) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "generateName": "web-5d9c7b8f4-",
            "labels": {"app": "web", "run": f"run-{number:08d}"},
        },
        "spec": {
            "containers": [{"name": "web", "image": "nginx", "ports": [{"containerPort": 80}]}]
        },
    }


def _kept(engine: Engine) -> dict[str, int]:
    held = [value for value, _size in engine._outcomes._items.values()]
    return {
        "outcomes": len(engine._outcomes),
        # What the outcomes really hold (their patches and messages), not their charge.
        "outcome_bytes": sum(len(o.patch or "") + len(o.message or "") for o in held),
        "settings": len(engine._settings),
        "renders": len(engine.template._cache),
        "plans": len(engine._plans),
    }


def test_distinct_pods_never_grow_what_is_remembered_past_its_bound() -> None:
    engine = _engine()
    first = handler.handle(support.review(_pod(0)), engine=engine)
    largest_patch = len(first.answer["response"]["patch"])
    peak = {"outcomes": 0, "outcome_bytes": 0, "settings": 0, "renders": 0, "plans": 0}
    for number in range(1, DISTINCT_PODS):
        handled = handler.handle(support.review(_pod(number)), engine=engine)
        assert handled.result == "injected"
        largest_patch = max(largest_patch, len(handled.answer["response"]["patch"]))
        peak = {key: max(value, _kept(engine)[key]) for key, value in peak.items()}
    # Outcomes are remembered (many at once), never more than the bound.
    assert 1 < peak["outcomes"] <= OUTCOME_CACHE_SIZE < DISTINCT_PODS
    assert peak["outcome_bytes"] <= min(
        OUTCOME_CACHE_SIZE * largest_patch, engine._outcomes.max_bytes
    )
    assert peak["settings"] == 1 <= SETTINGS_CACHE_SIZE
    assert peak["renders"] == 1 <= RENDER_CACHE_SIZE
    assert peak["plans"] == 1 <= PLAN_CACHE_SIZE


def test_distinct_settings_never_grow_the_render_plans_past_their_bound() -> None:
    # Each Pod asks for its own proxy metadata: a ProxyConfig, and so a plan, of its own.
    # The metadata is large (it lands in both containers' env), so the bytes bound comes
    # before the count.
    engine = _engine()
    peak_plans, peak_bytes = 0, 0
    for number in range(PLAN_CACHE_SIZE + 50):
        pod = _pod(number)
        metadata = {f"KEY_{key:03d}": f"{number:08d}" * 12 for key in range(120)}
        pod["metadata"]["annotations"] = {
            names.PROXY_CONFIG: orjson.dumps({"proxyMetadata": metadata}).decode()
        }
        handled = handler.handle(support.review(pod), engine=engine)
        assert handled.result == "injected"
        peak_plans = max(peak_plans, len(engine._plans))
        peak_bytes = max(peak_bytes, engine._plans.bytes_held)
    assert 1 < peak_plans <= PLAN_CACHE_SIZE
    assert peak_plans < PLAN_CACHE_SIZE, "the bytes bound, not the count, limited them"
    assert peak_bytes <= engine._plans.max_bytes


def test_a_pod_seen_again_after_many_others_gets_the_same_answer() -> None:
    engine = _engine()
    before = handler.handle(support.review(_pod(0)), engine=engine).answer
    for number in range(1, OUTCOME_CACHE_SIZE + 2):
        handler.handle(support.review(_pod(number)), engine=engine)
    again = handler.handle(support.review(copy.deepcopy(_pod(0))), engine=engine).answer
    assert again == before
