"""The settings the server injects with, kept current while it serves.

Three sources feed them: our `--config` file (source `file`) and, with `istioNamespace`,
Istio's two ConfigMaps (`istio-mesh`: ConfigMap `istio`, key `mesh`; `istio-injector`:
ConfigMap `istio-sidecar-injector`, keys `values` and `config`). `settings_followers`
watches them and offers each new version here.

Each source's last good input is kept. A new version of one source is tried with the
others' last good inputs: `istio_config.load` over the file's configuration, then the
templates, then a new `Engine`. Only when all of that succeeds is the engine swapped in,
whole: the app reads `state.engine` once per review, so a review never mixes old and
new settings, and the memo tables belong to the engine, so no outcome remembered under
old settings is served under new ones. When anything fails the settings in use stay and
the server stays ready; the problem is logged once per version (one line naming the file,
or the ConfigMap and key), counted, and the source's `settings_healthy` gauge is 0 until
a good version arrives.

Some keys are read once, at start (RESTART_KEYS): the HTTP server's limits, the
certificates, the namespaces and the revision the webhook is registered and Istio's
ConfigMaps are found with. A change to them is logged as taking effect at restart and is
otherwise not applied, so that what the server does always matches what it set up.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from injector import istio_config
from injector.cluster import kubeapi
from injector.core import template
from injector.core.config import Config, ConfigError
from injector.core.engine import Engine
from injector.istio_config import configmaps
from injector.telemetry.metrics import SETTINGS_SOURCES, Metrics

log = logging.getLogger("injector.settings")

FILE, MESH, INJECTOR = SETTINGS_SOURCES
RESTART_KEYS = (
    "server",
    "certificates",
    "injectorNamespace",
    "istioNamespace",
    "revision",
    "tags",
    "systemNamespaces",
)
# What `_seen` holds for a source whose ConfigMap does not exist.
_MISSING = "missing"


def file_version(raw: bytes) -> str:
    """The file's version in the metrics: the first 12 hex digits of its sha256."""
    return hashlib.sha256(raw).hexdigest()[:12]


@dataclass(frozen=True)
class Inputs:
    """Every source's input: our file's configuration, and Istio's texts (None: not read)."""

    file: Config
    istio: istio_config.Sources | None = None

    def settings(self) -> istio_config.Settings:
        if self.istio is None:
            return istio_config.Settings(config=self.file, warnings=())
        return istio_config.load(self.file, self.istio)


def _problem(err: Exception) -> str:
    """What went wrong, in one line, for an error that is not a ConfigError."""
    if isinstance(err, kubeapi.ApiError) and err.status == 403:
        return f"{err} (is manifests/components/istio-config applied?)"
    return str(err) or type(err).__name__


class LiveSettings:
    """The engine in use, rebuilt from each source's last good input."""

    def __init__(
        self,
        inputs: Inputs,
        metrics: Metrics,
        *,
        file_version: str | None = None,
        adjust: Callable[[Config], Config] = lambda config: config,
    ) -> None:
        """Build the first engine (a ConfigError here stops the server, as at any
        start). `adjust` is applied to each configuration read from the file (the
        command line's flags over it)."""
        self.metrics, self.adjust = metrics, adjust
        self._lock = threading.Lock()
        self._inputs = inputs
        self._started: Config | None = None
        self._seen: dict[str, str] = {}
        self._in_use: dict[str, str] = {}
        self._unhealthy: set[str] = set()
        self._noted: tuple[str, ...] = ()
        self._warned: frozenset[str] = frozenset()
        settings = inputs.settings()
        self.engine = Engine(settings.config, template.load(settings.config.templates))
        self._warn(settings.warnings)
        # Where a new engine goes (the app's state); set once the state exists.
        self.publish: Callable[[Engine], None] = lambda _engine: None
        if file_version is not None:
            self._seen[FILE] = file_version
            self._healthy(FILE, file_version)

    @property
    def inputs(self) -> Inputs:
        return self._inputs

    def freeze(self) -> None:
        """From now on, RESTART_KEYS keep the values the server started with."""
        self._started = self.engine.config

    # -- what the followers report ----------------------------------------------------

    def offer_file(self, version: str, parsed: Config | ConfigError) -> None:
        """A version of our file: its configuration, or why it cannot be read."""
        if isinstance(parsed, ConfigError):
            with self._lock:
                if self._first_seen(FILE, version):
                    self._reject(FILE, version, str(parsed))
            return
        config = self.adjust(parsed)
        self._offer(FILE, version, lambda inputs: dataclasses.replace(inputs, file=config))

    def offer_mesh(self, data: Mapping[str, str], version: str) -> None:
        """A version of ConfigMap `istio`: its key `mesh`."""
        mesh = data.get(configmaps.MESH_KEY)
        self._offer(MESH, version, lambda inputs: _istio(inputs, mesh=mesh))

    def offer_injector(self, data: Mapping[str, str], version: str) -> None:
        """A version of ConfigMap `istio-sidecar-injector`: its keys `values` and `config`."""
        values, config = data.get(configmaps.VALUES_KEY), data.get(configmaps.CONFIG_KEY)
        self._offer(
            INJECTOR, version, lambda inputs: _istio(inputs, values=values, inject_config=config)
        )

    def missing(self, source: str, where: str) -> None:
        """The source's ConfigMap does not exist: said once; what is in use stays."""
        with self._lock:
            if not self._first_seen(source, _MISSING):
                return
            self._unhealthy.add(source)
            self.metrics.settings_healthy.labels(source).set(0)
            kept = "its last good settings" if source in self._in_use else "our own settings"
            log.warning("%s not found; keeping %s", where, kept, extra={"source": source})

    def unreadable(self, source: str, where: str, err: Exception) -> None:
        """The source could not be read (API unreachable, forbidden): said once per
        distinct problem, counted; what is in use stays."""
        message = f"{where}: cannot be read: {_problem(err)}"
        with self._lock:
            if self._first_seen(source, f"error: {message}"):
                self._reject(source, "", message)

    # -- trying a new version ---------------------------------------------------------

    def _offer(self, source: str, version: str, change: Callable[[Inputs], Inputs]) -> None:
        with self._lock:
            if not self._first_seen(source, version):
                return
            if self._in_use.get(source) == version:  # the version in use, read again
                self._healthy(source, version)
                return
            candidate = change(self._inputs)
            try:
                settings = candidate.settings()
                config = self._pinned(settings.config)
                engine = Engine(config, template.load(config.templates))
            except (ConfigError, template.TemplateError) as err:
                self._reject(source, version, str(err))
                return
            except Exception as err:  # a reader's bug must not stop the following
                log.debug("settings from %s failed", source, exc_info=True)
                self._reject(source, version, f"{source}: cannot be used: {_problem(err)}")
                return
            self._inputs = candidate
            engine.native_supported = self.engine.native_supported
            self.engine = engine
            self.publish(engine)
            self._warn(settings.warnings)
            self._healthy(source, version)
            log.info("settings from %s version %s in use", source, version)

    def _first_seen(self, source: str, version: str) -> bool:
        """Whether this is news: each version (or problem) of a source is judged once."""
        if self._seen.get(source) == version:
            return False
        self._seen[source] = version
        return True

    def _pinned(self, config: Config) -> Config:
        """`config` with RESTART_KEYS as started; a change to them is said once."""
        started = self._started
        if started is None:
            return config
        changed = tuple(
            key for key in RESTART_KEYS if getattr(config, key) != getattr(started, key)
        )
        if changed and changed != self._noted:
            log.warning(
                "%s changed: read at start only, takes effect at restart", ", ".join(changed)
            )
        self._noted = changed
        kept: dict[str, Any] = {key: getattr(started, key) for key in changed}
        return dataclasses.replace(config, **kept)

    def _reject(self, source: str, version: str, message: str) -> None:
        self._unhealthy.add(source)
        self.metrics.settings_errors.labels(source).inc()
        self.metrics.settings_healthy.labels(source).set(0)
        log.warning(
            "%s; keeping the settings in use", message, extra={"source": source, "version": version}
        )

    def _healthy(self, source: str, version: str) -> None:
        before = self._in_use.get(source)
        if before is not None and before != version:
            self.metrics.settings_info.remove(source, before)
        self._in_use[source] = version
        self.metrics.settings_info.labels(source, version).set(1)
        self.metrics.settings_healthy.labels(source).set(1)
        if source in self._unhealthy:
            self._unhealthy.discard(source)
            log.info("settings from %s healthy again (version %s)", source, version)

    def _warn(self, warnings: tuple[str, ...]) -> None:
        """Each warning of the settings once, when it first appears."""
        for warning in warnings:
            if warning not in self._warned:
                log.warning("%s", warning, extra={"source": "settings"})
        self._warned = frozenset(warnings)


def _istio(inputs: Inputs, **texts: Any) -> Inputs:
    """`inputs` with some of Istio's texts (mesh, values, inject_config) replaced."""
    sources = inputs.istio or istio_config.Sources()
    return dataclasses.replace(inputs, istio=dataclasses.replace(sources, **texts))
