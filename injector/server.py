"""Running the webhook: certificates, TLS, the app and uvicorn, wired together."""

from __future__ import annotations

import ipaddress
import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

import uvicorn

from injector import certs, config, template
from injector.app import State, create_app
from injector.engine import Engine
from injector.tls import ServingTLS

log = logging.getLogger("injector.server")


@dataclass(frozen=True)
class Options:
    host: str = "127.0.0.1"
    port: int = 9443
    cert_dir: Path = Path("certs")
    config_file: Path | None = None
    client_ca_file: Path | None = None


class DrainingServer(uvicorn.Server):
    """uvicorn, with a drain window between SIGTERM and closing the listener.

    kube-apiserver keeps sending to a terminating Pod over connections it already has
    until the endpoints update reaches it. So the first signal only starts draining:
    readiness fails and each answer closes its connection, while new connections are
    still accepted. After `drain_seconds` uvicorn stops listening, finishes the requests
    in flight and exits. A second signal exits at once.
    """

    def __init__(self, config: uvicorn.Config, state: State, drain_seconds: float) -> None:
        super().__init__(config)
        self.state, self.drain_seconds = state, drain_seconds

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if self.state.draining or self.drain_seconds <= 0:
            super().handle_exit(sig, frame)
            return
        self.state.draining = True
        log.info("draining before shutdown", extra={"seconds": self.drain_seconds})
        timer = threading.Timer(self.drain_seconds, super().handle_exit, (sig, frame))
        timer.daemon = True
        timer.start()


def local_names(cfg: config.Config, host: str) -> tuple[list[str], list[str]]:
    """DNS names and IPs for a certificate made for running outside a cluster."""
    dns = ["localhost", *certs.service_names(cfg.certificates.service, cfg.injectorNamespace)]
    dns += list(cfg.certificates.extraDNSNames)
    ips = list(dict.fromkeys(["127.0.0.1", *cfg.certificates.extraIPs]))
    if host not in ("0.0.0.0", "::", "localhost") and host not in ips:  # noqa: S104
        try:
            ipaddress.ip_address(host)
            ips.append(host)
        except ValueError:
            dns.append(host)
    return dns, ips


def prepare(options: Options) -> tuple[State, ServingTLS]:
    """Load configuration and template, make certificates if needed, build the state."""
    cfg = config.load(options.config_file)
    tpl = template.load(cfg.templates)
    dns, ips = local_names(cfg, options.host)
    if certs.ensure_dir(options.cert_dir, dns_names=dns, ips=ips):
        log.info("generated a CA and a serving certificate", extra={"dir": str(options.cert_dir)})
    tls = ServingTLS(
        options.cert_dir / certs.CERT_FILE,
        options.cert_dir / certs.KEY_FILE,
        options.client_ca_file,
    )
    return State(engine=Engine(cfg, tpl)), tls


def uvicorn_config(
    app: Any, tls: ServingTLS, host: str, port: int, limits: config.Server
) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        ssl_context_factory=lambda _config, _default: tls.listening,
        # kube-apiserver keeps idle connections to webhooks for up to 90 s and reuses
        # them, so the server must keep them longer (uvicorn's default is 5 s).
        timeout_keep_alive=limits.keepAliveSeconds,
        timeout_graceful_shutdown=int(limits.shutdownTimeoutSeconds),
        log_config=None,
        access_log=False,
        server_header=False,
    )


def build(options: Options) -> DrainingServer:
    """The complete server for `serve`, ready to run."""
    state, tls = prepare(options)
    limits = state.engine.config.server
    app_config = uvicorn_config(create_app(state), tls, options.host, options.port, limits)
    return DrainingServer(app_config, state, limits.drainSeconds)


def serve(options: Options) -> None:
    server = build(options)
    log.info("serving", extra={"url": f"https://{options.host}:{options.port}/inject"})
    server.run()
