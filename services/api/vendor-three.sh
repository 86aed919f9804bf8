#!/usr/bin/env bash
# Vendors three.js into the API package (src/lumi_api/web/static/vendor/three), pinned: the
# try-it page's 3D viewer loads it from the API itself, never from a CDN. `npm pack` fetches the
# release from the npm registry and checks its integrity against the registry's record.
#
# The addons import the bare specifier 'three', which a browser resolves only through an import
# map, an inline script that a strict Content-Security-Policy refuses; so the one import line of
# each addon is pointed at the vendored module instead. Nothing else is changed.
set -euo pipefail
VERSION=${1:-0.187.0}
here=$(cd "$(dirname "$0")" && pwd)
target="$here/src/lumi_api/web/static/vendor/three"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

(cd "$work" && npm pack --silent "three@$VERSION" >/dev/null && tar xzf "three-$VERSION.tgz")
package="$work/package"
rm -rf "$target"
mkdir -p "$target/addons"
cp "$package/LICENSE" "$package/build/three.module.js" "$package/build/three.core.js" "$target/"
for addon in loaders/OBJLoader.js loaders/MTLLoader.js controls/OrbitControls.js; do
  sed "s#^} from 'three';#} from '../three.module.js';#" "$package/examples/jsm/$addon" \
    > "$target/addons/$(basename "$addon")"
  grep -q "from '../three.module.js';" "$target/addons/$(basename "$addon")"
done
integrity=$(cd "$work" && npm view "three@$VERSION" dist.integrity)
cat > "$target/VENDORED.md" <<NOTE
# three.js $VERSION (MIT, see LICENSE)

From the npm package \`three@$VERSION\` (integrity \`$integrity\`), by \`services/api/vendor-three.sh\`:
\`build/three.module.js\`, \`build/three.core.js\`, and the addons OBJLoader, MTLLoader and
OrbitControls from \`examples/jsm/\`, whose \`from 'three'\` import now names
\`../three.module.js\` (no import map: a strict CSP refuses inline scripts). Nothing else changed.
NOTE
echo "three.js $VERSION vendored into $target"
