#!/usr/bin/env bash
# Each service is installed alone (no dev tools, no sibling services) into its own environment;
# every module of it must import and its console script must start. Catches a dependency that a
# service uses but does not declare.
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

check lumi-api lumi_api lumi-api lumi
check lumi-image-worker lumi_image_worker lumi-image-worker
check lumi-model-worker lumi_model_worker lumi-model-worker
