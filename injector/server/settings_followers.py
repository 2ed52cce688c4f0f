"""Watching where the settings come from, and offering each new version to `LiveSettings`.

- Our `--config` file. In a cluster it is a mounted ConfigMap, which the kubelet updates
  by swapping the `..data` symlink of the directory, after which a watch on the file
  itself goes silent (kubernetes#111947); so the *directory* is watched (watchfiles),
  and the file is also read every `interval` seconds in case an event is missed. The
  bytes read are the bytes hashed (the version) and validated.
- With `istioNamespace` and a cluster, Istio's ConfigMaps through the API
  (`configmap_follower`): `istio` (key `mesh`) and `istio-sidecar-injector` (keys
  `values` and `config`), both with `-<revision>` for a revision other than `default`,
  as Istio's chart names them. Each is read once before serving, so the first reviews
  already use them, then watched.

`Followers` is one of the server's background tasks: `start` and `stop` its loops.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import watchfiles

from injector.cluster import kubeapi, watch
from injector.cluster.configmap_follower import ConfigMapFollower
from injector.core import config_file
from injector.core.config import Config, ConfigError
from injector.istio_config import configmaps
from injector.server.live_settings import INJECTOR, MESH, Inputs, LiveSettings, file_version
from injector.telemetry.metrics import Metrics

log = logging.getLogger("injector.settings")

FILE_CHECK_SECONDS = 10.0

Loop = Callable[[threading.Event], None]


class ConfigFile:
    """Our configuration file, offered to `live` at each new content."""

    def __init__(self, path: Path, live: LiveSettings, interval: float = FILE_CHECK_SECONDS):
        self.path, self.live, self.interval = path, live, interval

    def check(self) -> None:
        try:
            raw = self.path.read_bytes()
        except OSError as err:
            problem = ConfigError(f"{self.path}: cannot read: {err.strerror}")
            self.live.offer_file(f"unreadable: {err.strerror}", problem)
            return
        try:
            parsed: Config | ConfigError = config_file.parse(raw, self.path)
        except ConfigError as err:
            parsed = err
        self.live.offer_file(file_version(raw), parsed)

    def run(self, stop: threading.Event) -> None:
        """Watch the file's directory until `stop`; each change, and each `interval`,
        leads to a check (the same content is judged once, by `live`)."""
        while not stop.is_set():
            try:
                for _changes in watchfiles.watch(
                    self.path.parent,
                    watch_filter=None,
                    debounce=100,
                    stop_event=stop,
                    rust_timeout=int(self.interval * 1000),
                    yield_on_timeout=True,
                    recursive=False,
                ):
                    self.check()
            except Exception as err:  # the directory went away: look again later
                log.warning("cannot watch %s: %s", self.path.parent, err)
                stop.wait(self.interval)
                self.check()


def istio_followers(
    cluster: kubeapi.Cluster, live: LiveSettings, *, namespace: str, revision: str
) -> list[ConfigMapFollower]:
    """The two ConfigMaps' followers, reporting to `live`."""
    followers = []
    offers = (live.offer_mesh, live.offer_injector)
    for source, name, offer in zip(
        (MESH, INJECTOR), configmaps.names(revision), offers, strict=True
    ):
        where = f"ConfigMap {namespace}/{name}"
        followers.append(
            ConfigMapFollower(
                cluster,
                namespace,
                name,
                on_data=offer,
                on_missing=functools.partial(live.missing, source, where),
                on_error=functools.partial(live.unreadable, source, where),
            )
        )
    return followers


@dataclass
class Followers:
    """The settings' watches of one server: `start` them, then `stop` them."""

    loops: dict[str, Loop]
    stop_event: threading.Event = field(default_factory=threading.Event)
    threads: list[threading.Thread] = field(default_factory=list)

    def start(self) -> None:
        for name, loop in self.loops.items():
            self.threads.append(watch.start(name, functools.partial(loop, self.stop_event)))

    def stop(self, timeout: float = 2.0) -> None:
        """Stop the loops, waiting `timeout` seconds at most for all of them together:
        they only read, and a ConfigMap watch blocked on a quiet stream ends with the
        process (daemon threads), so shutdown never waits for the API."""
        self.stop_event.set()
        deadline = time.monotonic() + timeout
        for thread in self.threads:
            thread.join(max(0.0, deadline - time.monotonic()))


def followers(
    live: LiveSettings,
    *,
    path: Path | None,
    cluster: kubeapi.Cluster | None,
    istio_namespace: str,
    revision: str,
) -> Followers:
    """The watches the settings need; Istio's ConfigMaps are read once now."""
    loops: dict[str, Loop] = {}
    if path is not None:
        loops["config-file"] = ConfigFile(path, live).run
    if cluster is not None and istio_namespace:
        for follower in istio_followers(
            cluster, live, namespace=istio_namespace, revision=revision
        ):
            follower.read_once()
            loops[f"watch-{follower.name}"] = follower.run
    return Followers(loops)


def start_settings(
    path: Path | None, *, istio_namespace: str | None, cluster: kubeapi.Cluster | None
) -> tuple[LiveSettings, Followers]:
    """The first settings and the watches that keep them current. A bad file stops the
    server here, as it always has (ConfigError); Istio's ConfigMaps, when configured
    (`istio_namespace` over the file's istioNamespace), are read now and need a cluster
    (kubeapi.ConnectError)."""
    adjust = functools.partial(_flags, istio_namespace)
    base, version = Config(), None
    if path is not None:
        try:
            raw = path.read_bytes()
        except OSError as err:
            raise ConfigError(f"{path}: cannot read: {err.strerror}") from None
        base, version = config_file.parse(raw, path), file_version(raw)
    base = adjust(base)
    namespace = base.istioNamespace
    if namespace and cluster is None:
        raise kubeapi.ConnectError(
            f"istioNamespace {namespace}: Istio's ConfigMaps are read through the API:"
            " pass --kubeconfig, or run in a cluster"
        )
    sources = configmaps.sources(namespace, base.revision) if namespace else None
    live = LiveSettings(Inputs(base, sources), Metrics(), file_version=version, adjust=adjust)
    follow = followers(
        live, path=path, cluster=cluster, istio_namespace=namespace, revision=base.revision
    )
    live.freeze()
    return live, follow


def _flags(istio_namespace: str | None, config: Config) -> Config:
    """The command line's settings over the file's."""
    if istio_namespace:
        config = dataclasses.replace(config, istioNamespace=istio_namespace)
    return config
