#!/usr/bin/env bash
# Install what the browser tests need: Debian's Chromium and axe-core from the npm registry.
# Without them the browser tests are skipped, or fail when REQUIRE_BROWSER=1 (as in CI).
set -uo pipefail
cd "$(dirname "$0")/.."

if [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "Installation de Chromium (paquet Debian)…"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
      || echo "Chromium n'a pas pu être installé : les tests navigateur seront ignorés." >&2
  else
    echo "Chromium absent (paquet Debian « chromium ») : les tests navigateur seront ignorés." >&2
  fi
fi

if [ -f package.json ] && [ ! -f node_modules/axe-core/axe.min.js ]; then
  if command -v npm >/dev/null; then
    echo "Installation des outils de test JavaScript (axe-core)…"
    npm install --no-audit --no-fund --ignore-scripts --loglevel=error \
      || echo "axe-core n'a pas pu être installé : les tests d'accessibilité seront ignorés." >&2
  else
    echo "npm absent : les tests d'accessibilité seront ignorés." >&2
  fi
fi
exit 0
