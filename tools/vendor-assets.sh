#!/usr/bin/env bash
# Re-fetch the vendored front-end assets from the npm registry into static/vendor/.
#
# `npm install @gouvfr/dsfr` fails in the package's preinstall step, so the tarball is fetched with
# `npm pack` and only the built files the application serves are copied. Nothing is loaded from a
# CDN at run time: the application must work offline.
#
# Usage: tools/vendor-assets.sh [dsfr-version]
set -euo pipefail

DSFR_VERSION="${1:-1.15.3}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TARGET="$ROOT/static/vendor/dsfr"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

cd "$WORK"
npm pack --silent "@gouvfr/dsfr@${DSFR_VERSION}" >/dev/null
tar -xzf gouvfr-dsfr-*.tgz
DIST="$WORK/package/dist"

rm -rf "$TARGET"
mkdir -p "$TARGET/utility/icons"
cp "$DIST/dsfr.min.css" "$DIST/dsfr.module.min.js" "$DIST/dsfr.nomodule.min.js" "$TARGET/"
# Icon classes (fr-icon-*) reference ../../icons/<family>/<name>.svg.
cp "$DIST/utility/icons/icons.min.css" "$TARGET/utility/icons/"
cp -r "$DIST/fonts" "$DIST/icons" "$DIST/favicon" "$TARGET/"
# Pictograms: display settings (sun, moon, system) and the error pages.
cp -r "$DIST/artwork" "$TARGET/"
cp "$WORK/package/LICENSE.md" "$TARGET/LICENSE.md"
printf '@gouvfr/dsfr %s\n' "$DSFR_VERSION" > "$TARGET/VERSION"

du -sh "$TARGET"
