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
mkdir -p .tmp
step "engine tests (pytest)"
.venv/bin/python -m pytest gpu-runner/trainer/tests -q -p no:cacheprovider --junitxml=.tmp/pytest.xml
step "vitest"
npx vitest run --reporter=default --reporter=json --outputFile.json=.tmp/vitest.json

# One closing line over both runners.
node -e '
const fs = require("fs");
const v = JSON.parse(fs.readFileSync(".tmp/vitest.json", "utf8"));
const x = fs.readFileSync(".tmp/pytest.xml", "utf8");
const attr = (n) => Number((new RegExp(`<testsuite[^>]* ${n}="(\\d+)"`).exec(x) || [0, 0])[1]);
const pyFailed = attr("failures") + attr("errors"), pySkipped = attr("skipped"), pyTotal = attr("tests");
const passed = v.numPassedTests + pyTotal - pyFailed - pySkipped;
const failed = v.numFailedTests + pyFailed;
const skipped = v.numPendingTests + v.numTodoTests + pySkipped;
console.log(`\ntotal: ${passed} passed, ${failed} failed, ${skipped} skipped`);
'
