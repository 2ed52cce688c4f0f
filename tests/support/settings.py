"""Looking at the settings a running server injects with: a Pod's proxy env, and the
settings metrics in /metrics."""

from __future__ import annotations

import re
from typing import Any

import httpx

import support


def _pod() -> dict[str, Any]:
    return {
        "metadata": {"generateName": "web-"},
        "spec": {"containers": [{"name": "web", "image": "nginx"}]},
    }


def trust_domain(client: httpx.Client, url: str) -> str:
    """TRUST_DOMAIN in the proxy of a Pod injected now."""
    pod = _pod()
    answer = client.post(f"{url}/inject", json=support.review(pod, namespace="shop")).json()
    injected = support.apply(pod, answer)
    spec = injected["spec"]
    (proxy,) = [
        c for c in spec["containers"] + spec.get("initContainers", []) if c["name"] == "istio-proxy"
    ]
    return str({e["name"]: e.get("value") for e in proxy["env"]}["TRUST_DOMAIN"])


def metric(client: httpx.Client, url: str, name: str, **labels: str) -> float | None:
    """One sample of /metrics, or None when the series is not there."""
    text = client.get(f"{url}/metrics").text
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        found = re.fullmatch(rf"{name}\{{([^}}]*)\}} (\S+)", line)
        if found and ",".join(sorted(found[1].split(","))) == wanted:
            return float(found[2])
    return None
