"""`serve --istio-namespace`, end to end against the in-memory API over real HTTPS: Istio's
ConfigMaps are read before serving and followed; a change reaches the next review with no
restart, a broken or missing one keeps the last good settings while the server stays
ready, and the metrics and the log say so once."""

from __future__ import annotations

import base64
import contextlib
import logging
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from support import servers
from support.certs import wait_until
from support.fake_kube import FakeApi
from support.settings import metric, trust_domain

from injector.cluster import kubeapi

CONFIGMAPS = "/api/v1/namespaces/istio-system/configmaps"
WAIT = 15


def _configmap(name: str, **data: str) -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": "istio-system"}, "data": data}


def _mesh(api: FakeApi, text: str) -> str:
    """Put ConfigMap `istio` with `text` as its key `mesh`; its new resourceVersion."""
    stored = api.put(CONFIGMAPS, _configmap("istio", mesh=text))
    return str(stored["metadata"]["resourceVersion"])


SECRETS = "/api/v1/namespaces/sidecar-injector/secrets"


@contextlib.contextmanager
def serving(tmp_path: Path, api: FakeApi) -> Iterator[tuple[httpx.Client, str]]:
    """`serve --istio-namespace istio-system` against `api`, and a client that trusts the
    CA the server keeps in its Secret there."""
    with servers.running(
        tmp_path, cluster=kubeapi.Cluster(api), istio_namespace="istio-system"
    ) as instance:
        secret = api.objects[SECRETS]["sidecar-injector-certs"]
        trust = ssl.create_default_context(
            cadata=base64.b64decode(secret["data"]["ca.crt"]).decode()
        )
        with httpx.Client(verify=trust, timeout=10) as client:
            yield client, instance.url


@pytest.fixture
def api() -> FakeApi:
    api = FakeApi(version=("1", "28"), watch_seconds=0.05)
    api.put(CONFIGMAPS, _configmap("istio-sidecar-injector", values="{}", config=""))
    return api


@pytest.fixture
def served(tmp_path: Path, api: FakeApi) -> Iterator[tuple[httpx.Client, str]]:
    _mesh(api, "trustDomain: first.example\n")
    with serving(tmp_path, api) as (client, url):
        yield client, url


def test_istios_configmaps_are_read_before_the_first_review(
    served: tuple[httpx.Client, str], api: FakeApi
) -> None:
    client, url = served
    assert trust_domain(client, url) == "first.example"
    listed = [c for c in api.calls_to("GET", CONFIGMAPS) if "watch" not in c.query]
    # Read once each, in this order, before serving; then each watch lists again.
    first = [c.query["fieldSelector"] for c in listed[:2]]
    assert first == ["metadata.name=istio", "metadata.name=istio-sidecar-injector"]


def test_a_mesh_change_reaches_the_next_review_without_a_restart(
    served: tuple[httpx.Client, str], api: FakeApi
) -> None:
    client, url = served
    assert trust_domain(client, url) == "first.example"
    version = _mesh(api, "trustDomain: second.example\n")
    wait_until(lambda: trust_domain(client, url) == "second.example", WAIT, "the new trustDomain")
    info = metric(
        client, url, "sidecar_injector_settings_info", source="istio-mesh", version=version
    )
    assert info == 1.0
    watches = [c for c in api.calls_to("GET", CONFIGMAPS) if c.query.get("watch") == "1"]
    assert {c.query["fieldSelector"] for c in watches} == {
        "metadata.name=istio",
        "metadata.name=istio-sidecar-injector",
    }


def test_a_broken_mesh_keeps_the_last_good_settings_until_fixed(
    served: tuple[httpx.Client, str], api: FakeApi, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="injector.settings")
    client, url = served
    healthy = "sidecar_injector_settings_healthy"
    assert metric(client, url, healthy, source="istio-mesh") == 1.0
    _mesh(api, "trustDomain: [broken\n")
    wait_until(lambda: metric(client, url, healthy, source="istio-mesh") == 0.0, WAIT, "unhealthy")
    assert client.get(f"{url}/readyz").status_code == 200
    assert trust_domain(client, url) == "first.example"
    errors = metric(client, url, "sidecar_injector_settings_errors_total", source="istio-mesh")
    assert errors == 1.0
    # The watch is re-opened several times meanwhile: the bad version is still said once.
    reopened = len(api.calls_to("GET", CONFIGMAPS))
    wait_until(
        lambda: len(api.calls_to("GET", CONFIGMAPS)) > reopened + 4, WAIT, "re-opened watches"
    )
    said = [
        r.getMessage() for r in caplog.records if "keeping the settings in use" in r.getMessage()
    ]
    assert len(said) == 1, said
    assert said[0].startswith("ConfigMap istio-system/istio, key mesh: "), said[0]
    assert "\n" not in said[0]
    _mesh(api, "trustDomain: fixed.example\n")
    wait_until(lambda: metric(client, url, healthy, source="istio-mesh") == 1.0, WAIT, "healthy")
    assert trust_domain(client, url) == "fixed.example"


def test_a_configmap_that_is_not_a_mapping_is_refused_naming_it(
    served: tuple[httpx.Client, str], api: FakeApi, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="injector.settings")
    client, url = served
    api.put(CONFIGMAPS, _configmap("istio-sidecar-injector", values="[1, 2]", config=""))
    healthy = "sidecar_injector_settings_healthy"
    wait_until(
        lambda: metric(client, url, healthy, source="istio-injector") == 0.0, WAIT, "unhealthy"
    )
    assert metric(client, url, healthy, source="istio-mesh") == 1.0
    said = [
        r.getMessage() for r in caplog.records if "keeping the settings in use" in r.getMessage()
    ]
    assert [m.split(":")[0] for m in said] == [
        "ConfigMap istio-system/istio-sidecar-injector, key values"
    ]
    assert client.get(f"{url}/readyz").status_code == 200
    assert trust_domain(client, url) == "first.example"


def test_a_missing_configmap_is_said_once_and_the_others_still_apply(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="injector.settings")
    api = FakeApi(version=("1", "28"), watch_seconds=0.05)
    _mesh(api, "trustDomain: only-mesh.example\n")
    with serving(tmp_path, api) as (client, url):
        assert trust_domain(client, url) == "only-mesh.example"
        reopened = len(api.calls_to("GET", CONFIGMAPS))
        wait_until(lambda: len(api.calls_to("GET", CONFIGMAPS)) > reopened + 4, WAIT, "watches")
        healthy = "sidecar_injector_settings_healthy"
        assert metric(client, url, healthy, source="istio-injector") == 0.0
        assert client.get(f"{url}/readyz").status_code == 200
        api.put(CONFIGMAPS, _configmap("istio-sidecar-injector", values="{}"))
        wait_until(
            lambda: metric(client, url, healthy, source="istio-injector") == 1.0, WAIT, "found"
        )
    said = [r.getMessage() for r in caplog.records if "not found" in r.getMessage()]
    assert said == [
        "ConfigMap istio-system/istio-sidecar-injector not found; keeping our own settings"
    ]


def test_a_forbidden_read_is_said_once_and_the_server_still_starts(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="injector.settings")
    api = FakeApi(version=("1", "28"), watch_seconds=0.05)
    _mesh(api, "trustDomain: later.example\n")
    api.fail_next("GET", CONFIGMAPS, 403)
    with serving(tmp_path, api) as (client, url):
        assert client.get(f"{url}/readyz").status_code == 200
        # The read before serving was refused; the watch's own list succeeds.
        wait_until(lambda: trust_domain(client, url) == "later.example", WAIT, "a later read")
    said = [r.getMessage() for r in caplog.records if "cannot be read" in r.getMessage()]
    assert len(said) == 1, said
    assert said[0].startswith("ConfigMap istio-system/istio: cannot be read: 403 ")
    assert "components/istio-config" in said[0]


def test_istio_namespace_without_a_cluster_is_a_one_line_error(tmp_path: Path) -> None:
    from injector.cli.main import main

    with pytest.raises(SystemExit) as bad_flag:
        main(["serve", "--istio-namespace", "Istio_System"])
    assert bad_flag.value.code == 2
    (tmp_path / "config.yaml").write_text("istioNamespace: istio-system\n")
    from injector.server import process

    options = process.Options(cert_dir=tmp_path / "certs", config_file=tmp_path / "config.yaml")
    with pytest.raises(kubeapi.ConnectError, match="pass --kubeconfig"):
        process.build(options, cluster=None)
