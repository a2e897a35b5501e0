#!/usr/bin/env bash
# Installs what is missing, then runs every check CI runs: lint, types, the Worker bundle, the engine's pytest
# suite and the vitest projects (unit, then integration against real servers on loopback).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
export AWS_SDK_JS_SUPPRESS_NODE_DEPRECATION_WARNING=1 WRANGLER_SEND_METRICS=false CLOUDFLARE_CF_FETCH_ENABLED=false
step() { printf '\n==> %s\n' "$*"; }

step "biome"
npx biome check .
step "tsc"
npx tsc -p tsconfig.json
step "worker bundle (wrangler deploy --dry-run)"
bash scripts/build-worker.sh .wrangler/dry-run >/dev/null
step "engine tests (pytest)"
.venv/bin/python -m pytest gpu-runner/trainer/tests -q -p no:cacheprovider
step "vitest"
npx vitest run
