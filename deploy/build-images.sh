#!/usr/bin/env bash
# `make images`: one image per service of the workspace (every services/*/ package), from
# deploy/Containerfile, with podman (or docker when podman is not installed).
#   BASE_IMAGE   base of both stages (default python:3.11-slim-bookworm; the local base made by
#                deploy/base-image.sh on machines that reach no image registry)
#   IMAGE_PREFIX name prefix (default: none, so lumi-api:<version> and lumi-api:latest)
#   SERVICES     packages to build (default: all)
#   HOST_CA      CA bundle given to the build's downloads (default the system's, when present)
set -euo pipefail
cd "$(dirname "$0")/.."
engine=${CONTAINER_ENGINE:-$(command -v podman || command -v docker || true)}
[ -n "$engine" ] || { echo "make images needs podman or docker" >&2; exit 1; }
base=${BASE_IMAGE:-python:3.11-slim-bookworm}
prefix=${IMAGE_PREFIX:-}
ca=${HOST_CA:-/etc/ssl/certs/ca-certificates.crt}

package_field() {  # pyproject.toml, field of [project]
  python3 -c 'import sys, tomllib; print(tomllib.load(open(sys.argv[1], "rb"))["project"][sys.argv[2]])' "$@"
}

services=${SERVICES:-$(for f in services/*/pyproject.toml; do package_field "$f" name; done)}
options=()
[ -s "$ca" ] && options+=(--secret "id=host-ca,src=$ca")
# podman writes OCI images by default, which have no HEALTHCHECK
[ "$(basename "$engine")" = podman ] && options+=(--format docker)

for package in $services; do
  pyproject=$(grep -l "^name = \"$package\"" services/*/pyproject.toml)
  version=$(package_field "$pyproject" version)
  echo "== $prefix$package:$version (base $base)"
  started=$(date +%s)
  "$engine" build --file deploy/Containerfile "${options[@]}" \
    --build-arg "BASE_IMAGE=$base" --build-arg "PACKAGE=$package" --build-arg "VERSION=$version" \
    --tag "$prefix$package:$version" --tag "$prefix$package:latest" .
  echo "== $prefix$package:$version built in $(( $(date +%s) - started ))s"
done
