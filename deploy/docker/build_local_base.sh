#!/usr/bin/env bash
# Build a stand-in for the official `python:3.11-slim` image from Debian packages.
#
# ONLY for machines that cannot reach Docker Hub (this project's CI). Everywhere else the
# Dockerfile's default `BASE_IMAGE=python:3.11-slim` is pulled as usual and this script is not
# needed. Debian bookworm ships Python 3.11, so the stand-in runs the same interpreter minor
# version as the official image.
#
#   deploy/docker/build_local_base.sh [TAG]        # default TAG: local/python:3.11-slim
#   docker build --build-arg BASE_IMAGE=local/python:3.11-slim -t sentiment-mlops .
#
# Needs root (or unshare), mmdebstrap and a docker CLI (DOCKER_HOST is honoured).
# Environment: CA_BUNDLE, the certificate bundle copied into the image (default: this host's,
# so that package downloads through a TLS-intercepting proxy verify the same way inside a
# build as they do here); DEBIAN_MIRROR (default deb.debian.org); DOCKER (the docker CLI).
set -euo pipefail

tag="${1:-local/python:3.11-slim}"
export CA_BUNDLE="${CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}"
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
docker="${DOCKER:-docker}"

for tool in mmdebstrap "$docker"; do
  command -v "$tool" >/dev/null || { echo "$tool not found: install it (apt-get install mmdebstrap docker.io)" >&2; exit 1; }
done
[ -r "$CA_BUNDLE" ] || { echo "CA bundle $CA_BUNDLE not readable: set CA_BUNDLE" >&2; exit 1; }

workdir="$(mktemp -d)"
trap 'rm -rf "$workdir"' EXIT

# What python:3.11-slim gives and a bare Debian does not: pip may install into the system
# Python (no EXTERNALLY-MANAGED marker, as in the official image), `python`/`pip` commands,
# and no apt lists or docs to weigh the image down.
mmdebstrap --quiet --variant=minbase \
  --include=python3,python3-pip,python3-venv,ca-certificates \
  --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*' \
  --dpkgopt='path-exclude=/usr/share/locale/*' \
  --customize-hook='rm -f "$1"/usr/lib/python3*/EXTERNALLY-MANAGED' \
  --customize-hook='ln -sf python3 "$1/usr/bin/python" && ln -sf pip3 "$1/usr/bin/pip"' \
  --customize-hook='cp "$CA_BUNDLE" "$1/etc/ssl/certs/ca-certificates.crt"' \
  --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*' \
  bookworm "$workdir/rootfs.tar" "$mirror"

# pip and requests use their own certificate lists unless told to use the system bundle.
"$docker" import \
  --change 'ENV LANG=C.UTF-8' \
  --change 'ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt' \
  --change 'ENV REQUESTS_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt' \
  --change 'ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt' \
  --change 'CMD ["python3"]' \
  "$workdir/rootfs.tar" "$tag" >/dev/null
echo "Built $tag ($("$docker" image inspect --format '{{.Size}}' "$tag") bytes)"
