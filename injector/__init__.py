"""sidecar-injector: a mutating admission webhook that injects a mesh proxy sidecar into Pods."""

from importlib import metadata

try:
    # The installed distribution's version: one source of truth, pyproject.toml.
    __version__ = metadata.version("sidecar-injector")
except metadata.PackageNotFoundError:  # a source tree on sys.path, not installed
    __version__ = "0+unknown"
