"""The webhook configuration built in code: equal to the manifest, valid for Kubernetes,
strict about URLs, and registered with one server-side apply."""

from __future__ import annotations

import argparse
import base64
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from support.fake_kube import FakeApi

from injector.certs import issuing
from injector.cli import certs_command
from injector.cluster import kubeapi, registration
from injector.core import config_file
from injector.server import cluster_features as wiring
from injector.server import process

ROOT = Path(__file__).resolve().parents[2]
MANIFEST = ROOT / "manifests" / "mutatingwebhookconfiguration.yaml"
# As tests/manifests/test_manifests.py: the oldest Kubernetes the base supports.
KUBERNETES_VERSION = "1.30.0"
URL = "https://host.docker.internal:9443/inject"
WEBHOOKS = "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations"


@pytest.fixture(scope="module")
def pem() -> bytes:
    return issuing.new_ca().cert_pem


def _render(pem: bytes, **overrides: Any) -> dict[str, Any]:
    arguments: dict[str, Any] = {
        "namespace": "sidecar-injector",
        "service": "sidecar-injector",
        "url": None,
        "ca_bundle_pem": pem,
    }
    return registration.webhook_configuration(**{**arguments, **overrides})


def test_the_default_rendering_is_the_manifest_plus_the_ca_bundle(pem: bytes) -> None:
    expected = yaml.safe_load(MANIFEST.read_text(encoding="utf-8"))
    for hook in expected["webhooks"]:
        hook["clientConfig"]["caBundle"] = base64.b64encode(pem).decode()
    assert _render(pem) == expected


def test_the_ca_bundle_is_the_base64_of_the_whole_pem_bundle(pem: bytes) -> None:
    bundle = pem + issuing.new_ca(name="next-ca").cert_pem
    for hook in _render(bundle)["webhooks"]:
        assert base64.b64decode(hook["clientConfig"]["caBundle"], validate=True) == bundle


@pytest.mark.parametrize(
    "url",
    [pytest.param(None, id="service"), pytest.param(URL, id="url")],
)
def test_a_rendering_is_valid_for_kubernetes_in_strict_mode(pem: bytes, url: str | None) -> None:
    kubernetes_validate.validate(_render(pem, url=url), KUBERNETES_VERSION, strict=True)


def test_a_url_rendering_calls_the_url_and_no_service(pem: bytes) -> None:
    for hook in _render(pem, url=URL)["webhooks"]:
        assert hook["clientConfig"]["url"] == URL
        assert "service" not in hook["clientConfig"]


def test_a_url_rendering_keeps_the_manifests_selectors_and_settings(pem: bytes) -> None:
    by_url, by_service = _render(pem, url=URL), _render(pem)

    def without_client_config(hook: dict[str, Any]) -> dict[str, Any]:
        return {key: value for key, value in hook.items() if key != "clientConfig"}

    assert [without_client_config(h) for h in by_url["webhooks"]] == [
        without_client_config(h) for h in by_service["webhooks"]
    ]


def test_the_namespace_exclusions_name_the_injectors_own_namespace(pem: bytes) -> None:
    rendered = _render(pem, namespace="mesh-system", service="injector")
    for hook in rendered["webhooks"]:
        (by_name,) = [
            e
            for e in hook["namespaceSelector"]["matchExpressions"]
            if e["key"] == "kubernetes.io/metadata.name"
        ]
        assert by_name["operator"] == "NotIn"
        assert by_name["values"] == ["kube-system", "kube-public", "kube-node-lease", "mesh-system"]
        assert hook["clientConfig"]["service"]["namespace"] == "mesh-system"
        assert hook["clientConfig"]["service"]["name"] == "injector"


def test_the_configuration_name_is_configurable(pem: bytes) -> None:
    assert _render(pem, name="zz-sidecar-injector")["metadata"] == {"name": "zz-sidecar-injector"}


def test_registering_a_bundle_without_a_certificate_is_refused() -> None:
    api = FakeApi()
    render = registration.renderer(name="x", namespace="n", service="s", url=None)
    with pytest.raises(ValueError, match="no PEM certificate"):
        registration.register(kubeapi.Cluster(api), render, b"not a certificate")
    assert api.calls == []


# ---- --webhook-url and --webhook-config-name -------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        pytest.param("https://host.docker.internal:9443/inject", id="dns-name-and-port"),
        pytest.param("https://192.168.49.1:9443/inject", id="ipv4"),
        pytest.param("https://[::1]:9443/inject", id="ipv6"),
        pytest.param("https://proxy.example.com/team-a/inject", id="path-prefix"),
    ],
)
def test_a_webhook_url_kube_apiserver_accepts_is_accepted(url: str) -> None:
    assert registration.check_webhook_url(url) == url


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        pytest.param("http://127.0.0.1:9443/inject", "scheme must be https", id="http"),
        pytest.param("https://:9443/inject", "must name a host", id="no-host"),
        pytest.param("https://me:secret@host/inject", "user information", id="user-pass"),
        pytest.param("https://me@host/inject", "user information", id="user"),
        pytest.param("https://host/inject?x=1", "query parameters", id="query"),
        pytest.param("https://host/inject?", "query parameters", id="empty-query"),
        pytest.param("https://host/inject#top", "fragment", id="fragment"),
        pytest.param("https://host:99999/inject", "port must be a number", id="port-range"),
        pytest.param("https://host:https/inject", "port must be a number", id="port-name"),
        pytest.param("https://host:9443/", "must end with /inject", id="root-path"),
        pytest.param("https://host:9443", "must end with /inject", id="no-path"),
        pytest.param("https://host /inject", "printable ASCII", id="space"),
        pytest.param("https://hôst/inject", "printable ASCII", id="non-ascii"),
    ],
)
def test_a_webhook_url_kube_apiserver_would_refuse_is_refused_with_the_reason(
    url: str, problem: str
) -> None:
    with pytest.raises(ValueError, match=problem):
        registration.check_webhook_url(url)


@pytest.mark.parametrize(
    ("url", "names"),
    [
        pytest.param(URL, (["host.docker.internal"], []), id="dns-name"),
        pytest.param("https://192.168.49.1:9443/inject", ([], ["192.168.49.1"]), id="ipv4"),
        pytest.param("https://[::1]:9443/inject", ([], ["::1"]), id="ipv6"),
    ],
)
def test_the_serving_certificate_must_name_the_urls_host(
    url: str, names: tuple[list[str], list[str]]
) -> None:
    assert registration.url_names(url) == names


@pytest.mark.parametrize(
    "name",
    [
        pytest.param("Sidecar-Injector", id="uppercase"),
        pytest.param("sidecar_injector", id="underscore"),
        pytest.param("-sidecar", id="leading-dash"),
        pytest.param("a" * 254, id="too-long"),
        pytest.param("", id="empty"),
    ],
)
def test_a_configuration_name_that_is_not_a_dns_subdomain_is_refused(name: str) -> None:
    with pytest.raises(ValueError, match="not a valid name"):
        registration.check_name(name)


def _serve_parser() -> argparse.ArgumentParser:
    """`serve`'s flags as the CLI has them: the certificates' and the registration's."""
    parser = argparse.ArgumentParser(prog="serve")
    certs_command.add_serve_flags(parser)
    wiring.add_serve_arguments(parser)
    return parser


def test_serve_flags_reject_a_bad_webhook_url_with_the_reason(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit):
        _serve_parser().parse_args(["--webhook-url", "http://127.0.0.1:9443/inject"])
    assert "scheme must be https" in capsys.readouterr().err


def test_serve_flags_take_the_dev_registration_command_line() -> None:
    args = _serve_parser().parse_args(
        ["--kubeconfig", "kc", "--webhook-url", URL, "--webhook-config-name", "dev-injector"]
    )
    assert (args.kubeconfig, args.webhook_url) == (Path("kc"), URL)
    assert args.webhook_config_name == "dev-injector"
    assert _serve_parser().parse_args([]).webhook_config_name == "sidecar-injector"


# ---- register --------------------------------------------------------------------------


def test_register_server_side_applies_the_rendering_as_the_registration_manager(
    pem: bytes,
) -> None:
    api = FakeApi()
    render = registration.renderer(
        name="sidecar-injector-dev", namespace="sidecar-injector", service="x", url=URL
    )
    registration.register(kubeapi.Cluster(api), render, pem)
    (call,) = api.calls
    assert (call.method, call.path) == ("PATCH", f"{WEBHOOKS}/sidecar-injector-dev")
    # Not the publisher's manager: its caBundle-only applies must not drop the rest.
    assert call.query == {"fieldManager": "sidecar-injector-registration", "force": "true"}
    assert call.content_type == "application/apply-patch+yaml"
    assert call.body == render(pem)
    stored = api.objects[WEBHOOKS]["sidecar-injector-dev"]
    assert [h["clientConfig"]["url"] for h in stored["webhooks"]] == [URL, URL]


def test_register_twice_leaves_one_configuration_with_the_new_bundle(pem: bytes) -> None:
    api = FakeApi()
    render = registration.renderer(name="sidecar-injector", namespace="n", service="s", url=URL)
    registration.register(kubeapi.Cluster(api), render, pem)
    newer = issuing.new_ca(name="newer").cert_pem
    registration.register(kubeapi.Cluster(api), render, newer)
    assert list(api.objects[WEBHOOKS]) == ["sidecar-injector"]
    stored = api.objects[WEBHOOKS]["sidecar-injector"]
    bundles = {h["clientConfig"]["caBundle"] for h in stored["webhooks"]}
    assert bundles == {base64.b64encode(newer).decode()}


@pytest.mark.parametrize(
    ("status", "hint"),
    [
        pytest.param(403, "may not create or patch", id="forbidden"),
        pytest.param(422, "another manager owns", id="invalid"),
    ],
)
def test_a_refused_registration_says_why(pem: bytes, status: int, hint: str) -> None:
    api = FakeApi()
    api.fail_next("PATCH", WEBHOOKS, status)
    render = registration.renderer(name="sidecar-injector", namespace="n", service="s", url=URL)
    with pytest.raises(registration.RegistrationError, match=hint):
        registration.register(kubeapi.Cluster(api), render, pem)


def test_a_renderer_refuses_a_bad_url_before_any_bundle_arrives() -> None:
    with pytest.raises(ValueError, match="scheme must be https"):
        registration.renderer(name="n", namespace="n", service="s", url="http://h/inject")


def test_the_configured_system_namespaces_are_excluded_not_a_fixed_list(pem: bytes) -> None:
    cfg = config_file.from_mapping({"systemNamespaces": ["kube-system", "platform"]})
    render = process.webhook_renderer(process.Options(), cfg)
    for hook in render(pem)["webhooks"]:
        (by_name,) = [
            e
            for e in hook["namespaceSelector"]["matchExpressions"]
            if e["key"] == "kubernetes.io/metadata.name"
        ]
        assert by_name["values"] == ["kube-system", "platform", "sidecar-injector"]


def test_ca_bundle_only_carries_our_entries_names_and_bundles(pem: bytes) -> None:
    render = registration.renderer(name="sidecar-injector", namespace="n", service="s", url=None)
    only = registration.ca_bundle_only(render(pem))
    bundle = base64.b64encode(pem).decode()
    assert only == {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "MutatingWebhookConfiguration",
        "metadata": {"name": "sidecar-injector"},
        "webhooks": [
            {"name": registration.NAMESPACE_WEBHOOK, "clientConfig": {"caBundle": bundle}},
            {"name": registration.OBJECT_WEBHOOK, "clientConfig": {"caBundle": bundle}},
        ],
    }
