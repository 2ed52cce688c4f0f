"""Reading the configuration file: YAML in, a validated immutable `config.Config` out.

Every key is checked once, here: its type, its grammar (quantities, durations, port lists,
selectors), and that no unknown key is present (`config_reader.Reader` reads each
mapping). The first problem found is raised as a `ConfigError` that names the key.
"""

from __future__ import annotations

import dataclasses
import ipaddress
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from injector.core import durations, grammar, label_selectors, proxy_config, strict_yaml
from injector.core.config import (
    Certificates,
    Cni,
    Config,
    ConfigError,
    Interception,
    Mesh,
    Proxy,
    Readiness,
    Resources,
    Server,
)
from injector.core.config_reader import Reader

# (lowest, highest) accepted for each server setting.
_SERVER_RANGES: dict[str, tuple[float, float]] = {
    "maxBodyBytes": (1024, 64 * 1024 * 1024),
    "maxBufferedBodyBytes": (1024, 1024 * 1024 * 1024),
    "maxConnections": (1, 100_000),
    "maxHeaderBytes": (1024, 1024 * 1024),
    "headerTimeoutSeconds": (0.1, 300),
    "reviewTimeoutSeconds": (0.1, 30),
    "keepAliveSeconds": (1, 3600),
    "drainSeconds": (0, 300),
    "shutdownTimeoutSeconds": (1, 600),
}


def load(path: Path | None) -> Config:
    """Load and validate a configuration file; `None` gives the defaults."""
    if path is None:
        return Config()
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise ConfigError(f"{path}: cannot read: {err.strerror}") from None
    return parse(raw, path)


def parse(raw: bytes, path: Path) -> Config:
    """Validate the content of the file at `path` (read by the caller: the server
    hashes the same bytes it validates)."""
    try:
        data = strict_yaml.load(raw.decode("utf-8"))
    except UnicodeDecodeError as err:
        raise ConfigError(f"{path}: not UTF-8 text (byte {err.start})") from None
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: {yaml_problem(err)}") from None
    if data is None:
        data = {}
    try:
        return from_mapping(data, base=path.parent)
    except ConfigError as err:
        raise ConfigError(f"{path}: {err}") from None


def yaml_problem(err: yaml.YAMLError) -> str:
    """PyYAML's error as one line: what is wrong and where (line and column, from 1)."""
    mark = getattr(err, "problem_mark", None)
    problem = getattr(err, "problem", None) or "cannot be parsed"
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    return f"not valid YAML: {problem}{where}"


def _resources(reader: Reader, key: str, default: Resources) -> Resources:
    section = reader.child(key)
    parts: dict[str, dict[str, str]] = {}
    for part in ("requests", "limits"):
        values = section.child(part)
        parts[part] = {}
        for resource in ("cpu", "memory"):
            # A number, as Kubernetes manifests allow (`cpu: 3`), is read as a quantity.
            quantity = values.get(resource, (str, int, float), getattr(default, part).get(resource))
            if quantity is None:
                continue
            if isinstance(quantity, bool):
                raise ConfigError(f"{values.path(resource)} must be a quantity, got {quantity!r}")
            quantity = quantity if isinstance(quantity, str) else _number_text(quantity)
            try:
                grammar.parse_quantity(quantity)
            except grammar.GrammarError as err:
                raise ConfigError(f"{values.path(resource)}: {err}") from None
            parts[part][resource] = quantity
        values.done()
    section.done()
    resources = Resources(requests=parts["requests"], limits=parts["limits"])
    for resource, request in resources.requests.items():
        limit = resources.limits.get(resource)
        if limit is not None and grammar.parse_quantity(request) > grammar.parse_quantity(limit):
            raise ConfigError(f"{section.where}: {resource} request {request} > limit {limit}")
    return resources


def _number_text(number: float) -> str:
    """A YAML number as the quantity text a manifest would mean by it (3 -> "3",
    0.5 -> "0.5")."""
    return str(int(number)) if float(number).is_integer() else repr(float(number))


def _selectors(reader: Reader, key: str) -> tuple[Mapping[str, Any], ...]:
    selectors = reader.get(key, list, [])
    for index, selector in enumerate(selectors):
        try:
            label_selectors.check_selector(selector)
        except ValueError as err:
            raise ConfigError(f"{reader.path(key)}[{index}]: {err}") from None
    return tuple(selectors)


def _interception(reader: Reader) -> Interception:
    section = reader.child("interception")
    default = Interception()
    checks = {
        "includeOutboundIPRanges": lambda v: grammar.parse_cidrs(v, wildcard=True),
        "excludeOutboundIPRanges": grammar.parse_cidrs,
        "includeInboundPorts": lambda v: grammar.parse_ports(v, wildcard=True),
        "excludeInboundPorts": grammar.parse_ports,
        "excludeOutboundPorts": grammar.parse_ports,
        "excludeInterfaces": grammar.parse_interfaces,
    }
    values: dict[str, str] = {}
    for name, check in checks.items():
        values[name] = section.get(name, str, getattr(default, name))
        try:
            check(values[name])
        except grammar.GrammarError as err:
            raise ConfigError(f"{section.path(name)}: {err}") from None
    section.done()
    return Interception(**values)


def _proxy(reader: Reader) -> Proxy:
    section, default = reader.child("proxy"), Proxy()
    uid = section.get("uid", int, default.uid)
    if not 0 < uid < 2**31:
        raise ConfigError("proxy.uid must be a positive user id")
    image = section.get("image", str, default.image)
    try:
        grammar.check_image(image)
    except grammar.GrammarError as err:
        raise ConfigError(f"proxy.image: {image!r} is {err}") from None
    proxy = Proxy(
        image=image,
        imagePullPolicy=section.choice(
            "imagePullPolicy", ("Always", "IfNotPresent", "Never", ""), default.imagePullPolicy
        ),
        uid=uid,
        resources=_resources(section, "resources", default.resources),
        initResources=_init_resources(section),
        **_proxy_defaults(section, default),
    )
    section.done()
    return proxy


# The log levels' grammars: those of the annotations they are the defaults of.
_LOG_LEVELS = {
    "logLevel": grammar.parse_envoy_level,
    "componentLogLevel": grammar.parse_envoy_components,
    "agentLogLevel": grammar.parse_agent_levels,
}


def _proxy_defaults(section: Reader, default: Proxy) -> dict[str, Any]:
    """The proxy settings whose annotations override them per Pod: status port,
    readiness, log levels; and the image pull secrets."""
    status = section.get("statusPort", int, default.statusPort)
    if not 0 <= status <= 65535:
        raise ConfigError("proxy.statusPort must be a port number (1-65535), or 0 for none")
    values: dict[str, Any] = {"statusPort": status}
    for name, parse in _LOG_LEVELS.items():
        values[name] = section.get(name, str, getattr(default, name))
        try:
            parse(values[name])
        except grammar.GrammarError as err:
            raise ConfigError(f"proxy.{name}: {err}") from None
    readiness: Readiness = _simple(section, "readiness", Readiness)
    lowest = {"initialDelaySeconds": 0, "periodSeconds": 1, "failureThreshold": 1}
    for name, low in lowest.items():
        if not low <= getattr(readiness, name) < 2**31:
            raise ConfigError(f"proxy.readiness.{name} must be a whole number, {low} or more")
    values["readiness"] = readiness
    values["imagePullSecrets"] = section.strings("imagePullSecrets", default.imagePullSecrets)
    values["mountMtlsCerts"] = section.get("mountMtlsCerts", bool, default.mountMtlsCerts)
    return values


def _init_resources(section: Reader) -> Resources | None:
    """istio-init's override: None (the proxy's own) unless the file sets it; what it
    sets is used as written, nothing filled in from the proxy's."""
    if section.get("initResources", Mapping, None) is None:
        return None
    return _resources(section, "initResources", Resources(requests={}, limits={}))


def _server(reader: Reader) -> Server:
    section, default = reader.child("server"), Server()
    values: dict[str, Any] = {}
    for name, (low, high) in _SERVER_RANGES.items():
        current = getattr(default, name)
        kind = int if isinstance(current, int) else (int, float)
        value = section.get(name, kind, current)
        if isinstance(value, bool) or not low <= value <= high:
            raise ConfigError(f"server.{name} must be between {low:g} and {high:g}")
        values[name] = type(current)(value)
    # Superseded by maxConnections and maxBufferedBodyBytes (a slow body no longer holds
    # a review slot); still accepted so that an older file keeps loading.
    section.get("maxConcurrentReviews", int, 0)
    section.done()
    if values["maxBufferedBodyBytes"] < values["maxBodyBytes"]:
        raise ConfigError("server.maxBufferedBodyBytes must be at least server.maxBodyBytes")
    return Server(**values)


def _simple(reader: Reader, key: str, cls: type[Any]) -> Any:
    return _simple_section(reader.child(key), cls)


def _simple_section(section: Reader, cls: type[Any], **given: Any) -> Any:
    """Every field of `cls` read with its default's type, except those `given`."""
    default = cls()
    values: dict[str, Any] = dict(given)
    for name in default.__dataclass_fields__:
        current = getattr(default, name)
        if name in given:
            continue
        if isinstance(current, tuple):
            values[name] = section.strings(name, current)
        else:
            values[name] = section.get(name, type(current), current)
    section.done()
    return cls(**values)


def _mesh(reader: Reader) -> Mesh:
    """The `mesh` section; its proxyConfig is checked as the annotation is."""
    mesh: Mesh = _simple(reader, "mesh", Mesh)
    try:
        proxy_config.fields(mesh.proxyConfig)
    except proxy_config.ProxyConfigError as err:
        raise ConfigError(f"mesh.proxyConfig: {err}") from None
    try:
        grammar.parse_trust_domain(mesh.trustDomain)
    except grammar.GrammarError as err:
        raise ConfigError(f"mesh.trustDomain: {err}") from None
    return mesh


def _certificates(reader: Reader) -> Certificates:
    """The `certificates` section: durations parsed, names checked, lifetimes coherent."""
    section = reader.child("certificates")
    fraction = section.get("renewBefore", (int, float), Certificates.renewBefore)
    if isinstance(fraction, bool) or not 0 < fraction < 1:
        raise ConfigError("certificates.renewBefore must be a fraction between 0 and 1")
    cert: Certificates = _simple_section(section, Certificates, renewBefore=float(fraction))
    lifetimes = {}
    for key in ("validity", "caValidity", "publishGrace", "fileCheckInterval"):
        try:
            lifetimes[key] = durations.parse(getattr(cert, key))
        except durations.DurationError as err:
            raise ConfigError(f"certificates.{key}: {err}") from None
    if lifetimes["validity"] >= lifetimes["caValidity"]:
        raise ConfigError("certificates.validity must be shorter than certificates.caValidity")
    if not 2 <= cert.leaseDurationSeconds <= 3600:
        raise ConfigError("certificates.leaseDurationSeconds must be between 2 and 3600")
    for key in ("secretName", "leaseName"):
        try:
            grammar.parse_object_name(getattr(cert, key))
        except grammar.GrammarError:
            raise ConfigError(f"certificates.{key} must be a DNS-1123 subdomain name") from None
    for ip in cert.extraIPs:
        try:
            ipaddress.ip_address(ip)
        except ValueError:
            raise ConfigError(f"certificates.extraIPs: {ip!r} is not an IP address") from None
    return cert


def _revision(top: Reader, default: Config) -> tuple[str, tuple[str, ...]]:
    revision = top.get("revision", str, default.revision)
    tags = top.strings("tags", default.tags)
    for where, name in (("revision", revision), *(("tags", tag) for tag in tags)):
        if not grammar.DNS_LABEL.fullmatch(name):
            raise ConfigError(f"{where}: {name!r} must be a lowercase DNS label (a-z 0-9 -)")
    if revision in tags or len(set(tags)) != len(tags):
        raise ConfigError("tags must be distinct and differ from revision")
    return revision, tags


def check_namespace(name: str, where: str) -> str:
    """A namespace name (a lowercase DNS label), or a ConfigError naming `where`."""
    if not grammar.DNS_LABEL.fullmatch(name):
        raise ConfigError(f"{where}: {name!r} is not a namespace name (a lowercase DNS label)")
    return name


def _istio_namespace(top: Reader) -> str:
    name = top.get("istioNamespace", str, "")
    return check_namespace(name, "istioNamespace") if name else ""


def with_revision(config: Config, revision: str) -> Config:
    """`config` serving another revision (the command line's --revision)."""
    name, tags = _revision(Reader({"revision": revision, "tags": list(config.tags)}, ""), config)
    return dataclasses.replace(config, revision=name, tags=tags)


def from_mapping(data: Any, *, base: Path = Path()) -> Config:
    """Validate already-parsed YAML; relative paths are taken from `base`."""
    top, default = Reader(data, ""), Config()
    templates = Path(top.get("templates", str, str(default.templates)))
    revision, tags = _revision(top, default)
    config = Config(
        revision=revision,
        tags=tags,
        policy=top.choice("policy", ("enabled", "disabled"), default.policy),
        nativeSidecar=top.choice("nativeSidecar", ("auto", "true", "false"), "auto"),
        injectorNamespace=top.get("injectorNamespace", str, default.injectorNamespace),
        istioNamespace=_istio_namespace(top),
        systemNamespaces=top.strings("systemNamespaces", default.systemNamespaces),
        neverInjectSelector=_selectors(top, "neverInjectSelector"),
        alwaysInjectSelector=_selectors(top, "alwaysInjectSelector"),
        templates=templates if templates.is_absolute() else base / templates,
        server=_server(top),
        proxy=_proxy(top),
        interception=_interception(top),
        mesh=_mesh(top),
        cni=_simple(top, "cni", Cni),
        certificates=_certificates(top),
    )
    top.done()
    return config
