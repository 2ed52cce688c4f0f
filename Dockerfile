# syntax=docker/dockerfile:1
# The injector's image: `docker build -t sidecar-injector:0.1.0 .`
#
# Two stages. The build stage builds the project's wheel (the package with its sidecar
# templates, which pyproject.toml maps in from templates/) and installs it, with its
# dependencies, into a plain directory; the final stage is distroless (no shell, no
# package manager, no compiler) and only gets that directory. Nothing of the source
# tree is copied into the final image by hand: the image runs what a user's
# `pip install` of the wheel would run (tests/install/test_wheel.py builds the wheel
# the same way and runs it from an empty directory).
#
# Both stages run Python 3.11: gcr.io/distroless/python3-debian12 ships Debian 12's
# Python 3.11 at /usr/bin/python3, so the CPython 3.11 wheels installed by the build
# stage (same glibc family, bookworm) load in the final one. A virtualenv would not
# carry over (its interpreter links point into the build image); a --target
# directory on PYTHONPATH does.

# The base images are named by tag, not digest: a digest must be read from the registry
# at the time of pinning, and none is invented here. To pin (docs/security.md, "Supply
# chain"), read each digest and write it after the tag:
#   docker buildx imagetools inspect python:3.11-slim-bookworm --format '{{json .Manifest.Digest}}'
#   FROM python:3.11-slim-bookworm@sha256:<that digest> AS build
# and refresh it the same way when the base image gets a fix.
FROM python:3.11-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore
WORKDIR /src
# First the dependencies, exactly the versions and files of the hash-locked
# requirements/image.txt (made from pyproject.toml with pip-compile --generate-hashes): a
# file whose hash is not listed is refused, and --only-binary means nothing is built from
# source here. Then the project's own wheel, built from this tree, without resolving
# dependencies again (--no-deps: they are all in place, and hash-checked).
COPY requirements/image.txt requirements/image.txt
RUN pip install --require-hashes --no-deps --only-binary=:all: --target /app/deps \
      -r requirements/image.txt
# README.md is the readme pyproject.toml names (the package's long description).
COPY pyproject.toml README.md ./
COPY injector/ injector/
COPY templates/ templates/
# The console scripts are dropped: the final stage has no shell to run them and runs
# `python3 -m injector` instead.
RUN pip wheel --no-deps --wheel-dir /wheels . \
 && pip install --no-deps --target /app/deps /wheels/sidecar_injector-*.whl \
 && rm -rf /app/deps/bin

FROM gcr.io/distroless/python3-debian12:nonroot
WORKDIR /app
COPY --from=build /app/deps /app/deps
# PYTHONDONTWRITEBYTECODE: the root filesystem is read-only in the cluster.
ENV PYTHONPATH=/app/deps \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
# distroless's "nonroot" user, by number so that runAsNonRoot can verify it.
USER 65532:65532
EXPOSE 9443
ENTRYPOINT ["python3", "-m", "injector"]
# Standalone defaults (`docker run -p 9443:9443 sidecar-injector:0.1.0`): built-in
# configuration, certificates generated into a writable directory. The Deployment in
# manifests/ passes its own arguments.
CMD ["serve", "--host", "0.0.0.0", "--port", "9443", "--cert-dir", "/tmp/sidecar-injector/certs"]
