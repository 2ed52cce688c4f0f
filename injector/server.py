"""Running the webhook: certificates, TLS, the app and uvicorn, wired together."""

from __future__ import annotations

import ipaddress
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvicorn

from injector import certs, config, template
from injector.app import State, create_app
from injector.engine import Engine
from injector.tls import ServingTLS

log = logging.getLogger("injector.server")

# kube-apiserver keeps idle connections to webhooks for up to 90 s and reuses them, so
# the server must keep them longer (uvicorn's default is 5 s).
KEEP_ALIVE_SECONDS = 120


@dataclass(frozen=True)
class Options:
    host: str = "127.0.0.1"
    port: int = 9443
    cert_dir: Path = Path("certs")
    config_file: Path | None = None


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
    tls = ServingTLS(options.cert_dir / certs.CERT_FILE, options.cert_dir / certs.KEY_FILE)
    return State(engine=Engine(cfg, tpl)), tls


def uvicorn_config(app: Any, tls: ServingTLS, host: str, port: int) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        ssl_context_factory=lambda _config, _default: tls.listening,
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
        log_config=None,
        access_log=False,
        server_header=False,
    )


def serve(options: Options) -> None:
    state, tls = prepare(options)
    app = create_app(state)
    log.info("serving", extra={"url": f"https://{options.host}:{options.port}/inject"})
    uvicorn.Server(uvicorn_config(app, tls, options.host, options.port)).run()
