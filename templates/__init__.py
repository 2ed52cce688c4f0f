"""The sidecar templates, installed as the package `injector.templates`.

pyproject.toml maps this folder into the package at build time, so a wheel, an sdist
and an editable install all carry `sidecar.yaml`, and `injector.core.config` finds it
with importlib.resources wherever the package is installed. This file only makes the
folder a package; the templates are data (docs/configuration.md).
"""
