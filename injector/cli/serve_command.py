"""`serve`: run the webhook over HTTPS (standalone, or against a cluster)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from injector.certs import serving_cert
from injector.cli import arguments, certs_command
from injector.cluster import kubeapi, registration
from injector.core import config, config_file
from injector.server import cluster_features, process
from injector.telemetry import logs


def _namespace(text: str) -> str:
    try:
        return config_file.check_namespace(text, "--istio-namespace")
    except config.ConfigError as err:
        raise argparse.ArgumentTypeError(str(err).removeprefix("--istio-namespace: ")) from None


def cmd_serve(args: argparse.Namespace) -> int:
    logs.setup(level=args.log_level, fmt=args.log_format)
    options = process.Options(
        host=args.host,
        port=args.port,
        cert_dir=args.cert_dir,
        config_file=args.config,
        client_ca_file=args.client_ca_file,
        certificates=certs_command.serve_options(args),
        webhook_url=args.webhook_url,
        webhook_config_name=args.webhook_config_name,
        log_decisions=args.log_format == "text",
        istio_namespace=args.istio_namespace,
    )
    try:
        process.serve(options)
    except (serving_cert.Refused, kubeapi.ConnectError, registration.RegistrationError) as err:
        print(f"sidecar-injector: serve: {err}", file=sys.stderr)
        return 2
    return 0


def add_command(verbs: Any) -> None:
    serve = arguments.subcommand(
        verbs,
        "serve",
        help="serve the webhook over HTTPS",
        description="Serve the webhook over HTTPS: /inject, /healthz, /readyz, /metrics.",
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on")
    serve.add_argument("--port", type=arguments.port, default=9443, help="port to listen on")
    serve.add_argument(
        "--cert-dir",
        type=Path,
        default=Path("certs"),
        help="directory of ca.crt/tls.crt/tls.key; generated when empty",
    )
    serve.add_argument("--config", type=Path, help="configuration file (YAML)")
    serve.add_argument(
        "--istio-namespace",
        type=_namespace,
        metavar="NS",
        help="read Istio's configuration from its ConfigMaps in this namespace (istio,"
        " istio-sidecar-injector; -<revision> for another revision) through the API and"
        " follow their changes; needs a cluster (overrides the istioNamespace key)",
    )
    serve.add_argument(
        "--client-ca-file",
        type=Path,
        help="answer /inject only for clients with a certificate signed by this CA"
        " (kube-apiserver's); health and metrics stay open for probes",
    )
    serve.add_argument(
        "--log-level",
        default="info",
        choices=["debug", "info", "warning", "error"],
        help="least severe log level written",
    )
    serve.add_argument(
        "--log-format",
        default="json",
        choices=["json", "text"],
        help="json: one object a line, for collectors; text: for a terminal, one line per"
        " admission decision",
    )
    certs_command.add_serve_flags(serve)
    cluster_features.add_serve_arguments(serve)
    serve.set_defaults(run=cmd_serve)
