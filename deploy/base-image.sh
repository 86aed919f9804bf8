#!/usr/bin/env bash
# A local base image for machines that reach no image registry: Debian bookworm (minbase, from
# this machine's Debian mirror) with Debian's Python 3.11, imported into podman. Built once:
# when the image already exists under its name, nothing is done.
#   deploy/base-image.sh [image name]      (default localhost/lumi-base:bookworm-python3.11)
# Then build with `make images BASE_IMAGE=<that name>`. Needs root, debootstrap and podman.
set -euo pipefail
image=${1:-localhost/lumi-base:bookworm-python3.11}
engine=${CONTAINER_ENGINE:-podman}

if "$engine" image inspect "$image" >/dev/null 2>&1; then
  echo "base image $image exists"
  exit 0
fi

# the mirror apt already uses for bookworm (DEBIAN_MIRROR overrides)
mirror=${DEBIAN_MIRROR:-$(apt-get indextargets --format '$(REPO_URI) $(CODENAME)' \
  'Created-By: Packages' 2>/dev/null | awk '$2 == "bookworm" { print $1; exit }')}
mirror=${mirror:-http://deb.debian.org/debian/}

rootfs=$(mktemp -d)
trap 'rm -rf "$rootfs"' EXIT
echo "debootstrap bookworm from $mirror"
# python3-venv brings ensurepip: the build stage makes a throwaway venv to install uv with pip
debootstrap --variant=minbase --include=ca-certificates,python3,python3-venv \
  bookworm "$rootfs" "$mirror" >/dev/null
# what an image does not need: package lists, docs, man pages, translations, caches
rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin \
  "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* \
  "$rootfs"/usr/share/info/* "$rootfs"/usr/share/locale/* "$rootfs"/var/log/*.log
tar -C "$rootfs" -c . | "$engine" import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV LANG=C.UTF-8' \
  --change 'CMD ["python3"]' \
  - "$image" >/dev/null
echo "base image $image built"
