#!/usr/bin/env bash
# `make images`: one image per service of the workspace (every services/*/ package with a console
# script of its own name), from deploy/Containerfile, with podman (or docker when podman is not
# installed). Debian packages a service needs at run time are listed in its pyproject.toml:
#   [tool.lumi.image]
#   apt-packages = ["prusa-slicer"]
#   apt-prune = ["/usr/share/locale"]   # what those packages install but the service never loads
# Environment:
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

service_line() {  # pyproject.toml -> "name version apt-packages apt-prune" for a service
  python3 - "$1" <<'PY'
import sys, tomllib
pyproject = tomllib.load(open(sys.argv[1], "rb"))
project = pyproject["project"]
if project["name"] in project.get("scripts", {}):
    image = pyproject.get("tool", {}).get("lumi", {}).get("image", {})
    apt, prune = image.get("apt-packages", []), image.get("apt-prune", [])
    print(project["name"], project["version"], ",".join(apt) or "-", ",".join(prune) or "-")
PY
}

options=()
[ -s "$ca" ] && options+=(--secret "id=host-ca,src=$ca")
# podman writes OCI images by default, which have no HEALTHCHECK
[ "$(basename "$engine")" = podman ] && options+=(--format docker)

for pyproject in services/*/pyproject.toml; do
  read -r package version apt prune <<<"$(service_line "$pyproject")"
  [ -n "$package" ] || continue
  [ -n "${SERVICES:-}" ] && [[ " $SERVICES " != *" $package "* ]] && continue
  [ "$apt" = - ] && apt=""
  [ "$prune" = - ] && prune=""
  echo "== $prefix$package:$version (base $base${apt:+, apt: $apt})"
  started=$(date +%s)
  "$engine" build --file deploy/Containerfile "${options[@]}" \
    --build-arg "BASE_IMAGE=$base" --build-arg "PACKAGE=$package" --build-arg "VERSION=$version" \
    --build-arg "APT_PACKAGES=${apt//,/ }" --build-arg "APT_PRUNE=${prune//,/ }" \
    --tag "$prefix$package:$version" --tag "$prefix$package:latest" .
  echo "== $prefix$package:$version built in $(( $(date +%s) - started ))s"
done
