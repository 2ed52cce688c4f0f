"""docs/beside-istiod.md shows `doctor`'s real output for the case it describes: istioctl
install's webhooks (istio-sidecar-injector deactivated, istio-revision-tag-default
active), our injector as the manifest ships it, two namespaces labelled
istio-injection=enabled, an API server 1.28. Only the dates differ from run to run."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import pytest
from support import doctor_cluster, istio_chart
from support.fake_kube import FakeApi

from injector.certs import issuing
from injector.cli import main
from injector.cluster import kubeapi

PAGE = Path(__file__).resolve().parents[2] / "docs" / "beside-istiod.md"
DATE = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")


def _documented() -> str:
    text = PAGE.read_text()
    start = text.index("\n```\n[pass] webhook-registered:") + len("\n```\n")
    return text[start : text.index("```", start)]


def test_the_page_shows_doctors_real_output(monkeypatch: pytest.MonkeyPatch) -> None:
    api = FakeApi(version=("1", "28"))
    doctor_cluster.healthy(api, issuing.now_utc())
    api.put(
        doctor_cluster.NAMESPACES, doctor_cluster.namespace("web", **{"istio-injection": "enabled"})
    )
    for configuration in (
        istio_chart.deactivated(istio_chart.sidecar_injector()),
        istio_chart.revision_tag_default(),
    ):
        api.put(doctor_cluster.WEBHOOKS, configuration)
    monkeypatch.setattr(kubeapi, "connect_user", lambda *_a, **_k: kubeapi.Cluster(api))
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        status = main.main(["doctor"])
    assert status == 1
    assert DATE.sub("DATE", out.getvalue()) == DATE.sub("DATE", _documented())
