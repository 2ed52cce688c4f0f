"""sidecar-injector: a mutating admission webhook that injects a mesh proxy sidecar into Pods."""

__version__ = "0.1.0"
