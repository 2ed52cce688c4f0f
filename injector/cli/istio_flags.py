"""`--meshConfigFile`, `--valuesFile` and `--injectConfigFile` on `inject` and `check`:
Istio's own configuration files, with `istioctl kube-inject`'s flag names and meanings.

Any subset may be given; what they leave out keeps the injector's configuration (the
`--config` file's, or the defaults). Reading them is `injector.istio_config`'s job; this
module only adds the flags and reads the files, naming the flag in every error.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from injector.core.config import Config, ConfigError
from injector.istio_config import Settings, Sources, load

# flag -> (the attribute argparse gives it, what the file holds)
FLAGS = {
    "--meshConfigFile": ("mesh_config_file", "Istio's mesh config (MeshConfig YAML, "
                         "ConfigMap istio, key mesh)"),
    "--valuesFile": ("values_file", "Istio's injector values (JSON or YAML, ConfigMap "
                     "istio-sidecar-injector, key values)"),
    "--injectConfigFile": ("inject_config_file", "Istio's injector config (YAML, ConfigMap "
                           "istio-sidecar-injector, key config)"),
}  # fmt: skip


def add_flags(command: argparse.ArgumentParser) -> None:
    for flag, (dest, what) in FLAGS.items():
        command.add_argument(flag, dest=dest, type=Path, metavar="FILE", help=what)


def _read(flag: str, path: Path | None) -> tuple[str | None, str]:
    origin = f"{flag} {path}"
    if path is None:
        return None, origin
    try:
        return path.read_bytes().decode("utf-8"), origin
    except OSError as err:
        raise ConfigError(f"{origin}: cannot read: {err.strerror}") from None
    except UnicodeDecodeError as err:
        raise ConfigError(f"{origin}: not UTF-8 text (byte {err.start})") from None


def settings(base: Config, args: Any) -> Settings:
    """`base` with the Istio files the command line names applied."""
    texts = {flag: _read(flag, getattr(args, dest, None)) for flag, (dest, _) in FLAGS.items()}
    mesh, mesh_origin = texts["--meshConfigFile"]
    values, values_origin = texts["--valuesFile"]
    inject, inject_origin = texts["--injectConfigFile"]
    return load(
        base,
        Sources(
            mesh=mesh,
            values=values,
            inject_config=inject,
            mesh_origin=mesh_origin,
            values_origin=values_origin,
            inject_config_origin=inject_origin,
        ),
    )
