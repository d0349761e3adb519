#!/usr/bin/env bash
# Builds the web UI into api-server/ui/dist (embedded by meshglass-server's build.rs): `npm ci` when
# node_modules is missing or older than package-lock.json, then `vite build` when dist is older than a source.
set -euo pipefail
cd "$(dirname "$0")/.."
sources=(index.html package.json package-lock.json tsconfig.json vite.config.ts src)
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "ui: npm ci" >&2
  npm ci --no-audit --no-fund --loglevel=error
fi
if [ -f dist/index.html ] && [ -z "$(find "${sources[@]}" -newer dist/index.html -print -quit)" ]; then
  exit 0
fi
echo "ui: vite build" >&2
npm run --silent build
