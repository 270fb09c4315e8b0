#!/usr/bin/env bash
# Client-compatibility check (semantics.md "Client compatibility"): builds
# tessera, installs the pinned @esri clients from npm, and runs run.mjs, which
# starts `tessera serve --control` on a free loopback port. Needs Node >= 18
# and the npm registry; not part of CI. Exit code: 0 pass, 1 failure.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
(cd "$root" && cargo build --quiet --bin tessera)
cd "$here"
[ -d node_modules/@esri/arcgis-rest-basemap-sessions ] || npm install --no-audit --no-fund --silent
TESSERA_BIN="${TESSERA_BIN:-$root/target/debug/tessera}" node run.mjs
