"""`serve --kubeconfig --webhook-url`, end to end against the in-memory API: the server
registers itself at its URL with a caBundle that verifies it, learns the namespaces and
the API server's version, injects, and reports on the Pod's owner."""

from __future__ import annotations

import base64
import ssl
from pathlib import Path
from typing import Any

import httpx
import pytest
import support
from support import kube_versions, servers
from support.certs import wait_until
from support.fake_kube import FakeApi

from injector.certs import issuing, modes
from injector.cluster import kubeapi

WEBHOOKS = "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations"


def _registered(api: FakeApi) -> dict[str, Any] | None:
    found = api.objects.get(WEBHOOKS, {}).get("sidecar-injector")
    hooks = (found or {}).get("webhooks") or []
    return found if hooks and all(h["clientConfig"].get("caBundle") for h in hooks) else None


def test_serve_with_a_webhook_url_registers_itself_and_injects_pods(tmp_path: Path) -> None:
    api = FakeApi(version=("1", "30"))
    api.put(
        "/api/v1/namespaces",
        {"metadata": {"name": "shop", "labels": {"istio-injection": "enabled"}}},
    )
    with servers.running(tmp_path, cluster=kubeapi.Cluster(api), register=True) as instance:
        registered = wait_until(lambda: _registered(api), 15, "the webhook configuration")
        url = f"{instance.url}/inject"
        assert [h["clientConfig"]["url"] for h in registered["webhooks"]] == [url] * 4
        bundle = base64.b64decode(registered["webhooks"][0]["clientConfig"]["caBundle"])
        trust = ssl.create_default_context(cadata=bundle.decode())
        pod = {
            "metadata": {"generateName": "web-", "ownerReferences": [{
                "apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-1",
                "uid": "0f4e7a52-0000-4000-8000-000000000001", "controller": True}]},
            "spec": {"containers": [{"name": "web", "image": "nginx"}]},
        }  # fmt: skip
        wait_until(lambda: instance.server.state.namespaces("shop"), 15, "the namespace cache")
        with httpx.Client(verify=trust, timeout=10) as client:
            answer = client.post(url, json=support.review(pod, namespace="shop")).json()
        assert answer["response"]["auditAnnotations"]["reasons"] == "namespace_enabled"
        injected = support.apply(pod, answer)
        support.validate_pod(injected)
        init = injected["spec"]["initContainers"]
        assert [c["name"] for c in init] == ["istio-init", "istio-proxy"]
        assert init[1]["restartPolicy"] == "Always", "a 1.30 server gets a native sidecar"
        events = wait_until(lambda: api.calls_to("POST", "/namespaces/shop/events"), 15, "an Event")
        event = events[0].body
        assert (event["reason"], event["involvedObject"]["name"]) == ("Injected", "web-1")


@pytest.mark.parametrize(
    ("minor", "conditions"),
    [pytest.param("27", False, id="1.27"), pytest.param("30", True, id="1.30")],
)
def test_serve_registers_only_what_the_api_servers_version_has_on(
    tmp_path: Path, minor: str, conditions: bool
) -> None:
    api = FakeApi(version=("1", minor))
    with servers.running(tmp_path, cluster=kubeapi.Cluster(api), register=True):
        registered = wait_until(lambda: _registered(api), 15, "the webhook configuration")
    assert ["matchConditions" in h for h in registered["webhooks"]] == [conditions] * 4
    assert kube_versions.problems(registered, (1, int(minor))) == []


def test_the_dev_certificate_names_the_webhook_urls_host(tmp_path: Path) -> None:
    from cryptography import x509

    from injector.server import process

    options = process.Options(
        cert_dir=tmp_path / "certs",
        webhook_url="https://dev-box.example:9443/inject",
    )
    _state, served = process.assemble(options, kubeapi.Cluster(FakeApi()))
    try:
        sans = served.served.current.extensions.get_extension_for_class(
            x509.SubjectAlternativeName
        ).value
        assert "dev-box.example" in sans.get_values_for_type(x509.DNSName)
    finally:
        served.stop()


def test_serving_mounted_files_in_a_cluster_publishes_no_ca_bundle_and_keeps_no_secret(
    tmp_path: Path,
) -> None:
    """The cert-manager overlay's mode: cert-manager's cainjector owns the caBundle, so
    the injector must neither write the webhook configuration nor keep a Secret or a
    Lease (the overlay's RBAC grants none of them)."""
    pair = issuing.new_serving(
        issuing.new_ca(), dns_names=["sidecar-injector.sidecar-injector.svc"]
    )
    (tmp_path / "tls.crt").write_bytes(pair.cert_pem)
    (tmp_path / "tls.key").write_bytes(pair.key_pem)
    api = FakeApi(version=("1", "30"))
    files = modes.Options(tls_cert_file=tmp_path / "tls.crt", tls_key_file=tmp_path / "tls.key")
    with servers.running(tmp_path, cluster=kubeapi.Cluster(api), certs=files) as instance:
        assert instance.server.state.ready()
        wait_until(lambda: api.calls_to("GET", "/version"), 15, "the version check")
    written = [c for c in api.calls if c.method != "GET" and "/events" not in c.path]
    assert written == [], [(c.method, c.path) for c in written]
    touched = {c.path for c in api.calls}
    assert not any(
        "secrets" in p or "leases" in p or "mutatingwebhookconfigurations" in p for p in touched
    ), touched
