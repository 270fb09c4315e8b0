#!/usr/bin/env bash
# Client-compatibility check (semantics.md "Client compatibility"): builds
# tessera, installs the pinned @esri clients from npm, and runs run.mjs twice:
# over HTTP (run.mjs starts `tessera serve --control` on a free loopback
# port) and over HTTPS (this script starts `tessera serve --control --tls`,
# and Node trusts the certificate it wrote through NODE_EXTRA_CA_CERTS).
# Needs Node >= 18 and the npm registry; not part of CI.
# Exit code: 0 both passed, 1 a failure.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
(cd "$root" && cargo build --quiet --bin tessera)
cd "$here"
[ -d node_modules/@esri/arcgis-rest-basemap-sessions ] || npm install --no-audit --no-fund --silent
bin="${TESSERA_BIN:-$root/target/debug/tessera}"

status=0
TESSERA_BIN="$bin" node run.mjs || status=1

tmp="$(mktemp -d)"
"$bin" serve --control --tls --listen 127.0.0.1:0 --tls-cert-out "$tmp/cert.pem" >"$tmp/url" &
pid=$!
trap 'kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; rm -rf "$tmp"' EXIT
for _ in $(seq 100); do
  [ -s "$tmp/url" ] && break
  sleep 0.1
done
url="$(head -n 1 "$tmp/url")"
case "$url" in
  https://*) ;;
  *) echo "tessera serve --tls did not print an https URL" >&2; exit 1 ;;
esac
NODE_EXTRA_CA_CERTS="$tmp/cert.pem" TESSERA_URL="$url" node run.mjs || status=1
exit "$status"
