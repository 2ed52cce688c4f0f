"""Running the webhook: certificates, TLS, the app and uvicorn, wired together."""

from __future__ import annotations

import dataclasses
import functools
import gc
import ipaddress
import logging
import os
import signal
import socket
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any, Literal, Protocol

import uvicorn

from injector.certs import issuing, modes
from injector.certs.tls_context import ServingTLS
from injector.cluster import kubeapi, registration
from injector.cluster.server_version import KnownVersion
from injector.core import config
from injector.server import cluster_features, edge, preflight, settings_followers
from injector.server.app import State, create_app
from injector.server.live_settings import LiveSettings
from injector.telemetry.metrics import Metrics

log = logging.getLogger("injector.server")

GC_YOUNG_THRESHOLD = 20_000


@dataclass(frozen=True)
class Options:
    host: str = "127.0.0.1"
    port: int = 9443
    cert_dir: Path = Path("certs")
    config_file: Path | None = None
    client_ca_file: Path | None = None
    certificates: modes.Options = field(default_factory=modes.Options)
    # Dev registration: the webhook is called at this URL instead of the Service.
    webhook_url: str | None = None
    webhook_config_name: str = registration.DEFAULT_NAME
    # Log every admission decision at info (text logs, a person at a terminal).
    log_decisions: bool = False
    # Istio's ConfigMaps are read from this namespace (over the file's istioNamespace).
    istio_namespace: str | None = None


class Background(Protocol):
    """Something that runs beside the server (threads), started and stopped with it."""

    def start(self) -> None: ...

    def stop(self) -> None: ...


class DrainingServer(uvicorn.Server):
    """uvicorn, with a drain window between SIGTERM and closing the listener.

    kube-apiserver keeps sending to a terminating Pod over connections it already has
    until the endpoints update reaches it. So the first signal only starts draining:
    readiness fails and each answer closes its connection, while new connections are
    still accepted. After `drain_seconds` uvicorn stops listening, finishes the requests
    in flight and exits. A second signal exits at once.
    """

    def __init__(
        self,
        config: uvicorn.Config,
        state: State,
        drain_seconds: float,
        background: Sequence[Background] = (),
    ) -> None:
        super().__init__(config)
        self.state, self.drain_seconds = state, drain_seconds
        self.background = list(background)

    async def serve(self, sockets: list[socket.socket] | None = None) -> None:
        """Serve, with the background loops running for exactly as long."""
        for task in self.background:
            task.start()
        try:
            await super().serve(sockets)
        finally:
            self._stop_background()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started:  # bound and listening: now the URL can be called
            config = self.config
            log.info("listening on https://%s:%d/inject", config.host, config.port)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        # The background stops first: a leader gives its Lease up at once and issues
        # nothing more, instead of renewing (even rotating) while uvicorn waits for
        # connections to close. Stopped here, not only after `serve`: after a signal
        # uvicorn re-raises it once serving is over, which ends the process before a
        # `finally` could run.
        self._stop_background()
        await super().shutdown(sockets)

    def _stop_background(self) -> None:
        while self.background:
            self.background.pop().stop()

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        # Ctrl+C is a person at a terminal: stop now. Only SIGTERM (what the kubelet
        # sends) starts the drain window.
        if sig == signal.SIGINT or self.state.draining or self.drain_seconds <= 0:
            super().handle_exit(sig, frame)
            return
        self.state.draining = True
        log.info("draining before shutdown", extra={"seconds": self.drain_seconds})
        timer = threading.Timer(self.drain_seconds, super().handle_exit, (sig, frame))
        timer.daemon = True
        timer.start()


def local_names(cfg: config.Config, host: str) -> tuple[list[str], list[str]]:
    """DNS names and IPs for a certificate made for running outside a cluster."""
    dns = ["localhost", *issuing.service_names(cfg.certificates.service, cfg.injectorNamespace)]
    dns += list(cfg.certificates.extraDNSNames)
    ips = list(dict.fromkeys(["127.0.0.1", *cfg.certificates.extraIPs]))
    if host not in ("0.0.0.0", "::", "localhost") and host not in ips:  # noqa: S104
        try:
            ipaddress.ip_address(host)
            ips.append(host)
        except ValueError:
            dns.append(host)
    return dns, ips


def certificate_names(options: Options, cfg: config.Config) -> tuple[list[str], list[str]]:
    """The serving certificate's DNS names and IPs, each once: the local names plus the
    dev webhook URL's host (often 127.0.0.1 too)."""
    dns, ips = local_names(cfg, options.host)
    if options.webhook_url is not None:
        url_dns, url_ips = registration.url_names(options.webhook_url)
        dns, ips = [*dns, *url_dns], [*ips, *url_ips]
    return list(dict.fromkeys(dns)), list(dict.fromkeys(ips))


# -- certificates ----------------------------------------------------------------------

# `build`'s default: connect to a cluster when one is configured (modes.cluster_for).
AUTO: Literal["auto"] = "auto"


def webhook_renderer(
    options: Options, cfg: config.Config, cluster: kubeapi.Cluster
) -> registration.Render:
    """What the caBundle publisher renders for a bundle: our whole webhook configuration,
    as the manifest has it (Service) or for a dev URL, with the bundle in both entries,
    and what the cluster's version supports (matchConditions from 1.28). Of it, the
    publisher applies only the caBundle, unless it must create the object."""
    return registration.renderer(
        name=options.webhook_config_name,
        namespace=cfg.injectorNamespace,
        service=cfg.certificates.service,
        url=options.webhook_url,
        system_namespaces=cfg.systemNamespaces,
        server_version=KnownVersion(cluster),
        revision=cfg.revision,
        tags=cfg.tags,
    )


def prepare_certificates(
    options: Options,
    cfg: config.Config,
    metrics: Metrics,
    cluster: kubeapi.Cluster | None,
) -> modes.Certificates:
    """The serving certificate in the mode the options and the environment call for."""
    flags = options.certificates
    namespace = os.environ.get("POD_NAMESPACE") or cfg.injectorNamespace
    if cluster is not None:
        cfg = dataclasses.replace(cfg, injectorNamespace=namespace)
    if options.cert_dir.exists() and not options.cert_dir.is_dir():
        raise config.ConfigError(f"--cert-dir {options.cert_dir}: not a directory")
    dns, ips = certificate_names(options, cfg)
    issuer = modes.settings(cfg.certificates, flags, dns_names=dns, ips=ips)
    client_ca = options.client_ca_file
    if flags.tls_cert_file is not None or flags.tls_key_file is not None:
        return modes.from_files(
            flags, cfg.certificates, scratch=options.cert_dir, metrics=metrics, client_ca=client_ca
        )
    if cluster is not None:
        return modes.in_cluster(
            cluster,
            namespace=namespace,
            section=cfg.certificates,
            issuer=issuer,
            render=webhook_renderer(options, cfg, cluster),
            scratch=options.cert_dir,
            metrics=metrics,
            client_ca=client_ca,
        )
    return modes.in_directory(options.cert_dir, issuer, metrics, client_ca)


def settings(
    options: Options, cluster: kubeapi.Cluster | None
) -> tuple[LiveSettings, settings_followers.Followers]:
    """The first settings (a bad file stops the server here) and their watches."""
    return settings_followers.start_settings(
        options.config_file, istio_namespace=options.istio_namespace, cluster=cluster
    )


def assemble(
    options: Options, cluster: kubeapi.Cluster | None, *, live: LiveSettings | None = None
) -> tuple[State, modes.Certificates]:
    """Load configuration and template, set up the certificate, build the state; from
    then on a new engine in `live` goes into the state."""
    if live is None:
        live, _follow = settings(options, cluster)
    state = State(
        engine=live.engine,
        metrics=live.metrics,
        decisions_at_info=options.log_decisions,
        require_client_certificate=bool(options.client_ca_file),
    )
    live.publish = functools.partial(setattr, state, "engine")
    if cluster is not None:  # its outages in the metrics (cluster.reachability)
        cluster.reachability.bind(state.metrics)
    served = prepare_certificates(options, live.engine.config, state.metrics, cluster)
    state.ready = served.ready
    log.info("certificates: %s", served.describe, extra={"mode": served.mode})
    return state, served


def uvicorn_config(
    app: Any,
    tls: ServingTLS,
    host: str,
    port: int,
    limits: config.Server,
    *,
    metrics: Metrics | None = None,
) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        # httptools, with the limits on connections and request heads it lacks (edge.py).
        http=edge.protocol(limits, metrics or Metrics()),
        ssl_context_factory=lambda _config, _default: tls.listening,
        # kube-apiserver keeps idle connections to webhooks for up to 90 s and reuses
        # them, so the server must keep them longer (uvicorn's default is 5 s).
        timeout_keep_alive=limits.keepAliveSeconds,
        timeout_graceful_shutdown=int(limits.shutdownTimeoutSeconds),
        log_config=None,
        access_log=False,
        server_header=False,
    )


def build(
    options: Options, *, cluster: kubeapi.Cluster | Literal["auto"] | None = AUTO
) -> DrainingServer:
    """The complete server for `serve`, ready to run. `cluster` is where certificates
    are kept: by default the configured one, if any; None forces the cert directory."""
    preflight.client_ca(options.client_ca_file)
    preflight.address(options.host, options.port)
    if cluster == AUTO:
        cluster = modes.cluster_for(options.certificates)
    if cluster is None and options.webhook_url is not None:
        raise kubeapi.ConnectError("--webhook-url registers with a cluster: pass --kubeconfig")
    live, follow = settings(options, cluster)
    state, served = assemble(options, cluster, live=live)
    background: list[Background] = [served, follow]
    if cluster is not None:
        background.append(
            cluster_features.cluster_features(
                cluster,
                state,
                webhook_url=options.webhook_url,
                webhook_config_name=options.webhook_config_name,
                namespace=os.environ.get("POD_NAMESPACE") or state.engine.config.injectorNamespace,
            )
        )
    limits = state.engine.config.server
    app_config = uvicorn_config(
        create_app(state), served.tls, options.host, options.port, limits, metrics=state.metrics
    )
    return DrainingServer(app_config, state, limits.drainSeconds, background=background)


def tune_runtime() -> None:
    """Garbage collection for a server whose every request allocates a whole Pod.

    What start-up made (modules, templates, configuration) is frozen out of the
    collector's sight, and young collections run less often: decoding a large Pod
    allocates thousands of objects, and the default threshold (700) then runs several
    collections per review, for nothing: the Pod is garbage as a whole once answered.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_YOUNG_THRESHOLD, 20, 20)


def serve(options: Options) -> None:
    server = build(options)
    tune_runtime()
    try:
        server.run()
    except KeyboardInterrupt:
        # uvicorn re-raises the Ctrl+C it handled once it has shut down cleanly.
        log.info("stopped")
