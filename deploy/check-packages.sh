#!/usr/bin/env bash
# Each service is installed alone (no dev tools, no sibling services) into its own environment;
# every module of it must import and its console script must start. Catches a dependency that a
# service uses but does not declare, and (`absent`) one that a service must not carry: the API
# installs no image or mesh library, because the providers that need them live in the workers.
set -euo pipefail
cd "$(dirname "$0")/.."
UV=${UV:-.tools/bin/uv}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

check() {  # package, import name, console scripts...
  local package=$1 module=$2
  shift 2
  local env="$work/$package"
  UV_PROJECT_ENVIRONMENT="$env" "$UV" sync --quiet --frozen --no-dev --package "$package"
  "$env/bin/python" - "$module" <<'PY'
import importlib, pkgutil, sys
root = importlib.import_module(sys.argv[1])
for info in pkgutil.walk_packages(root.__path__, root.__name__ + "."):
    if ".migrations." not in info.name:
        importlib.import_module(info.name)
PY
  for script in "$@"; do
    "$env/bin/$script" --help >/dev/null
  done
  echo "$package: installs alone, imports, and $* start"
}

absent() {  # package, distributions its environment must not contain
  local package=$1
  shift
  "$work/$package/bin/python" - "$@" <<'PY'
import importlib.metadata, sys
present = []
for name in sys.argv[1:]:
    try:
        importlib.metadata.distribution(name)
    except importlib.metadata.PackageNotFoundError:
        continue
    present.append(name)
if present:
    sys.exit(f"installed but not wanted here: {', '.join(present)}")
PY
  echo "$package: installs none of $*"
}

check lumi-api lumi_api lumi-api lumi
absent lumi-api pillow numpy trimesh
check lumi-image-worker lumi_image_worker lumi-image-worker
check lumi-model-worker lumi_model_worker lumi-model-worker
check lumi-slice-worker lumi_slice_worker lumi-slice-worker
check lumi-webhook-worker lumi_webhook_worker lumi-webhook-worker
absent lumi-webhook-worker pillow numpy trimesh
