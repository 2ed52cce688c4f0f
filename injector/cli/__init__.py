"""The command line, `sidecar-injector`: `main` builds the parser and dispatches, and each
verb family has a module of its own. The top layer: may import every other area.
"""
