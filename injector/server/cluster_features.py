"""Running the injector against a cluster: the background parts, started together.

When `serve` finds a cluster (`--kubeconfig`, or the in-cluster service account),
`cluster_features` builds, and hooks into the app's state:
- the namespace cache, which becomes the state's namespace lookup;
- the API server version check, which sets `engine.native_supported`;
- the Event sender, an observer of every answer.
`start` asks the version once (so the first Pods already get the right kind of sidecar)
and runs the three loops on daemon threads; `stop` ends them: the object is one of the
server's background tasks. `render` is what the certificate publisher applies whenever
the CA bundle changes; passing `ca_bundle_pem` registers once, before serving.

Nothing here runs on the admission path except the observer, which only enqueues.
"""

from __future__ import annotations

import argparse
import functools
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from injector.cluster import kubeapi, registration, watch
from injector.cluster.events import EventSender
from injector.cluster.namespace_cache import NamespaceCache
from injector.cluster.server_version import KnownVersion, VersionCheck
from injector.server.app import State


@dataclass
class ClusterFeatures:
    """The cluster features of one server: `start` them, then `stop` them."""

    namespaces: NamespaceCache
    versions: VersionCheck
    events: EventSender
    render: registration.Render
    registered: dict[str, Any] | None = None
    stop_event: threading.Event = field(default_factory=threading.Event)
    threads: list[threading.Thread] = field(default_factory=list)

    def start(self) -> None:
        self.versions.check()
        loops: dict[str, Callable[[threading.Event], None]] = {
            "namespace-cache": self.namespaces.run,
            "api-version": self.versions.run,
            "events": self.events.run,
        }
        for name, loop in loops.items():
            self.threads.append(watch.start(name, functools.partial(loop, self.stop_event)))

    def stop(self, timeout: float = 5.0) -> None:
        self.stop_event.set()
        for thread in self.threads:
            thread.join(timeout)


def cluster_features(
    cluster: kubeapi.Cluster,
    state: State,
    *,
    webhook_url: str | None,
    webhook_config_name: str = registration.DEFAULT_NAME,
    ca_bundle_pem: bytes | None = None,
    namespace: str | None = None,
) -> ClusterFeatures:
    """Build the cluster features into `state` (not started). With `ca_bundle_pem`, the
    webhook configuration is registered now (`registration.RegistrationError` if that
    is refused), so that `serve` can stop with a clear message before serving.
    `namespace` is the injector's own (default: the configuration's injectorNamespace)."""
    config = state.engine.config
    render = registration.renderer(
        name=webhook_config_name,
        namespace=namespace or config.injectorNamespace,
        service=config.certificates.service,
        url=webhook_url,
        system_namespaces=config.systemNamespaces,
        server_version=KnownVersion(cluster),
        revision=config.revision,
        tags=config.tags,
    )
    registered = None
    if ca_bundle_pem is not None:
        registered = registration.register(cluster, render, ca_bundle_pem)

    def publish(supported: bool) -> None:
        # The engine in the state at the time: a reloaded one gets it at the next check.
        state.engine.native_supported = supported

    features = ClusterFeatures(
        namespaces=NamespaceCache(cluster, metrics=state.metrics),
        versions=VersionCheck(cluster, publish, metrics=state.metrics),
        # No Event in a system namespace or our own: skips there are by design.
        events=EventSender(
            cluster,
            metrics=state.metrics,
            excluded=[*config.systemNamespaces, namespace or config.injectorNamespace],
        ),
        render=render,
        registered=registered,
    )
    state.namespaces = features.namespaces.lookup
    state.observers.append(features.events.record)
    return features


def start_cluster_features(
    cluster: kubeapi.Cluster, state: State, **options: Any
) -> ClusterFeatures:
    """`cluster_features` (same arguments), started."""
    features = cluster_features(cluster, state, **options)
    features.start()
    return features


def _argument(check: Callable[[str], str]) -> Callable[[str], str]:
    """An argparse type that shows the checker's own message."""

    def parse(text: str) -> str:
        try:
            return check(text)
        except ValueError as err:
            raise argparse.ArgumentTypeError(str(err)) from None

    return parse


def add_serve_arguments(parser: argparse.ArgumentParser) -> None:
    """`serve`'s registration flags, --webhook-url and --webhook-config-name, checked as
    kube-apiserver would check them. (--kubeconfig is a serve flag of cli/certs_command.)"""
    group = parser.add_argument_group("registration")
    group.add_argument(
        "--webhook-url",
        type=_argument(registration.check_webhook_url),
        metavar="URL",
        help="register the webhook with this https URL (development, from outside the"
        " cluster; needs --kubeconfig); without it, the Service-based configuration of"
        " the manifest is managed",
    )
    group.add_argument(
        "--webhook-config-name",
        type=_argument(registration.check_name),
        default=registration.DEFAULT_NAME,
        metavar="NAME",
        help="name of the MutatingWebhookConfiguration (kube-apiserver calls webhooks"
        " in the order of their configurations' names)",
    )


def connect(kubeconfig: Path | None, webhook_url: str | None) -> kubeapi.Cluster | None:
    """The cluster `serve` runs against, or None (standalone); a webhook URL without
    a cluster is an error (kubeapi.ConnectError)."""
    cluster = kubeapi.connect(kubeconfig)
    if cluster is None and webhook_url is not None:
        raise kubeapi.ConnectError("--webhook-url registers with a cluster: pass --kubeconfig")
    return cluster
