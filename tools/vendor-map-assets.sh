#!/usr/bin/env bash
# Re-fetch the map's front-end libraries from the npm registry into static/vendor/.
# `npm pack` downloads the published tarball without running any install script.
set -euo pipefail

LEAFLET_VERSION="${LEAFLET_VERSION:-1.9.4}"
SUPERCLUSTER_VERSION="${SUPERCLUSTER_VERSION:-8.0.1}"

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
VENDOR="$ROOT/static/vendor"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

fetch() {  # fetch NAME VERSION -> unpacked in $WORK/NAME/package
    mkdir -p "$WORK/$1"
    (cd "$WORK/$1" && npm pack --silent "$1@$2" >/dev/null && tar xzf ./*.tgz)
}

fetch leaflet "$LEAFLET_VERSION"
rm -rf "$VENDOR/leaflet"
mkdir -p "$VENDOR/leaflet"
cp "$WORK/leaflet/package/dist/leaflet.js" "$WORK/leaflet/package/dist/leaflet.css" \
   "$WORK/leaflet/package/LICENSE" "$VENDOR/leaflet/"
cp -r "$WORK/leaflet/package/dist/images" "$VENDOR/leaflet/"
echo "leaflet $LEAFLET_VERSION (npm)" > "$VENDOR/leaflet/VERSION"

# The UMD build bundles its only dependency (kdbush) and defines window.Supercluster.
fetch supercluster "$SUPERCLUSTER_VERSION"
rm -rf "$VENDOR/supercluster"
mkdir -p "$VENDOR/supercluster"
cp "$WORK/supercluster/package/dist/supercluster.min.js" \
   "$WORK/supercluster/package/LICENSE" "$VENDOR/supercluster/"
echo "supercluster $SUPERCLUSTER_VERSION (npm)" > "$VENDOR/supercluster/VERSION"

echo "Bibliothèques de la carte copiées dans $VENDOR (leaflet $LEAFLET_VERSION, supercluster $SUPERCLUSTER_VERSION)."
