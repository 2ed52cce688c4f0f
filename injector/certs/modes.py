"""Choosing the certificate mode of `serve` and wiring its parts together.

Three modes, decided once at start:
- files: `--tls-cert-file/--tls-key-file` (e.g. cert-manager) are served, watched and
  hot-reloaded; nothing is issued (`external_files`);
- cluster: a cluster is configured (`--kubeconfig`, or running in a Pod: both
  KUBERNETES_SERVICE_HOST and POD_NAMESPACE are set): one replica issues into the Secret,
  every replica serves from it, the leader publishes the caBundle (`cluster_store`);
- directory: otherwise, our own CA in the cert directory (`directory_store`).

Each mode yields a `Certificates`: the TLS context to listen with, `ready()` for the
readiness probe, and `start()`/`stop()` for its background threads.
"""

from __future__ import annotations

import datetime
import os
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from injector.certs import authority, issuing
from injector.certs.cabundle import Publisher
from injector.certs.cluster_store import ClusterKeeper, SecretView, first_certificate
from injector.certs.directory_store import DirectoryKeeper, check_not_generated, check_ours
from injector.certs.external_files import CertificateFiles
from injector.certs.leader import Elector
from injector.certs.serving_cert import ServedCertificate
from injector.certs.tls_context import ServingTLS
from injector.cluster import kubeapi
from injector.cluster.registration import Render
from injector.core import config, durations
from injector.telemetry.metrics import Metrics


@dataclass(frozen=True)
class Options:
    """The certificate flags of `serve`; None means "as the configuration file says"."""

    validity: datetime.timedelta | None = None
    ca_validity: datetime.timedelta | None = None
    renew_before: float | None = None
    tls_cert_file: Path | None = None
    tls_key_file: Path | None = None
    kubeconfig: Path | None = None


@dataclass
class Certificates:
    """A running certificate mode."""

    mode: str
    served: ServedCertificate
    ready: Callable[[], bool]
    start: Callable[[], None]
    stop: Callable[[], None]
    # Where the certificate comes from, for the start-up log line.
    describe: str = ""

    @property
    def tls(self) -> ServingTLS:
        return self.served.tls


def settings(
    section: config.Certificates, options: Options, *, dns_names: list[str], ips: list[str]
) -> authority.Settings:
    """The issuer's settings: flags win over the configuration file."""
    validity, ca_validity = lifetimes(
        section, options.validity, options.ca_validity, flags=("--cert-validity", "--ca-validity")
    )
    return authority.Settings(
        dns_names=tuple(dns_names),
        ips=tuple(ips),
        validity=validity,
        ca_validity=ca_validity,
        renew_before=options.renew_before or section.renewBefore,
        publish_grace=durations.parse(section.publishGrace),
    )


def lifetimes(
    section: config.Certificates,
    validity: datetime.timedelta | None,
    ca_validity: datetime.timedelta | None,
    *,
    flags: tuple[str, str],
) -> tuple[datetime.timedelta, datetime.timedelta]:
    """The serving certificate's and the CA's lifetimes, from the flags (when given) or
    the configuration; ConfigError, saying where each figure came from, unless the
    certificate's is the shorter."""
    leaf = validity or durations.parse(section.validity)
    ca = ca_validity or durations.parse(section.caValidity)
    if leaf < ca:
        return leaf, ca
    leaf_text, ca_text = durations.format_duration(leaf), durations.format_duration(ca)
    said = (
        f"{flags[0]} {leaf_text}"
        if validity
        else f"the certificate's {leaf_text} (the default: certificates.validity)"
    )
    whence = (
        f"{flags[1]}"
        if ca_validity
        else f"the default: certificates.caValidity; {flags[1]} sets another"
    )
    raise config.ConfigError(f"{said} must be shorter than the CA's {ca_text} ({whence})")


def cluster_for(options: Options) -> kubeapi.Cluster | None:
    """The cluster to keep certificates in, if any (see the module docstring)."""
    if options.kubeconfig is not None:
        return kubeapi.connect(options.kubeconfig)
    if os.environ.get("KUBERNETES_SERVICE_HOST") and os.environ.get("POD_NAMESPACE"):
        return kubeapi.connect()
    return None


def identity() -> str:
    """Who holds the Lease: the Pod's name, or a name unique to this process."""
    return os.environ.get("POD_NAME") or f"{socket.gethostname()}_{uuid.uuid4().hex[:8]}"


def in_directory(
    directory: Path, issuer: authority.Settings, metrics: Metrics, client_ca: Path | None
) -> Certificates:
    check_ours(directory, flag="--cert-dir")
    check_not_generated(directory, flag="--cert-dir")
    keeper = DirectoryKeeper(directory, issuer, metrics)
    keeper.tick()  # the first certificate, before the server listens
    keeper.tick()  # and read back, so that readiness knows the published bundle
    assert keeper.material is not None
    leaf = keeper.material.leaf
    keeper.served = ServedCertificate.first(
        leaf.cert_pem, leaf.key_pem, scratch=directory, metrics=metrics, client_ca_file=client_ca
    )
    where = f"made and renewed here, in {directory}/ (clients trust {directory / 'ca.crt'})"
    return Certificates(
        "directory", keeper.served, keeper.ready, keeper.loop.start, keeper.loop.stop, where
    )


def from_files(
    options: Options,
    section: config.Certificates,
    *,
    scratch: Path,
    metrics: Metrics,
    client_ca: Path | None,
) -> Certificates:
    cert_file, key_file = options.tls_cert_file, options.tls_key_file
    if cert_file is None or key_file is None:
        raise config.ConfigError("--tls-cert-file and --tls-key-file go together")
    cert_pem, key_pem = cert_file.read_bytes(), key_file.read_bytes()
    served = ServedCertificate.first(
        cert_pem, key_pem, scratch=scratch, metrics=metrics, client_ca_file=client_ca
    )
    interval = durations.parse(section.fileCheckInterval).total_seconds()
    files = CertificateFiles(cert_file, key_file, served, metrics, interval=interval)
    where = f"served from {cert_file} and {key_file}, reloaded when they change"
    return Certificates("files", served, files.ready, files.start, files.stop, where)


def in_cluster(
    cluster: kubeapi.Cluster,
    *,
    namespace: str,
    section: config.Certificates,
    issuer: authority.Settings,
    render: Render,
    scratch: Path,
    metrics: Metrics,
    client_ca: Path | None,
) -> Certificates:
    first = first_certificate(
        cluster, namespace=namespace, name=section.secretName, settings=issuer
    )
    served = ServedCertificate.first(
        first.cert_pem, first.key_pem, scratch=scratch, metrics=metrics, client_ca_file=client_ca
    )
    elector = Elector(
        cluster,
        namespace=namespace,
        name=section.leaseName,
        identity=identity(),
        duration=section.leaseDurationSeconds,
    )
    keeper = ClusterKeeper(
        view=SecretView(cluster, namespace, section.secretName),
        publisher=Publisher(cluster, render, metrics, clock=issuing.now_utc),
        elector=elector,
        served=served,
        settings=issuer,
        metrics=metrics,
    )
    where = (
        f"shared through Secret {namespace}/{section.secretName}; the Lease holder issues"
        " them and publishes the CA bundle"
    )
    return Certificates("cluster", served, keeper.ready, keeper.start, keeper.stop, where)
