"""Recognising Istio 1.20.8's stock injection templates by their text.

The injector config's `templates:` holds Go templates, which this injector does not run:
it renders its own templates (data, see `injector.core.template`). A template there is
harmless when it is exactly the one Istio 1.20.8 ships under that name, so only the
sha256 of each stock text is kept here, never the text. The digests are of the texts as
the 1.20.8 chart renders them into the ConfigMap (`files/*.yaml`, trimmed and indented
under `templates:`) and as Istio's test data (`default.template.gen.yaml`) holds them:
both normalise to the same text.
"""

from __future__ import annotations

import hashlib

# sha256 of the normalised text of each template istio-discovery 1.20.8 ships.
STOCK_DIGESTS = {
    "sidecar": "f3e88ad6aebcb5c8ed8cd2da82f201a83776f9185d4ffdb6efb9968f19101c08",
    "gateway": "cf93c4f85a1e7cd14eee222641f294bfd9fe3cc6422686e6a6cdae2c5d6dcff3",
    "grpc-simple": "cc0c60252f24558ef15b6c2ba77350f3c84a52b16f0009fcee440e98ca94c2da",
    "grpc-agent": "6aaeca55796640af63c54489b89431cb10b45f5c53f33a0a66451e1c1ccbb881",
    "waypoint": "ed77452183003547c8a8405f7526563f580e4fda605271fba8d0410b647e7266",
    "kube-gateway": "9c07f8e6e5494ff19a9784ffce9cf271e2745e8c12d4c26df71102078c494940",
}


def normalise(text: str) -> str:
    """The text as the chart's `trim | indent` and a YAML block scalar leave it
    comparable: line ends unified, trailing blanks of each line and blank lines at
    both ends removed, one final newline."""
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").split("\n")]
    while lines and not lines[0]:
        lines.pop(0)
    while lines and not lines[-1]:
        lines.pop()
    return "\n".join(lines) + "\n"


def digest(text: str) -> str:
    return hashlib.sha256(normalise(text).encode()).hexdigest()


def is_stock(name: str, text: str) -> bool:
    """Whether `text` is Istio 1.20.8's own template called `name`."""
    return STOCK_DIGESTS.get(name) == digest(text)
