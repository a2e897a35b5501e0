#!/usr/bin/env bash
# Bundles the Workers entry (api/entry-worker.ts) into one ES module with wrangler, without deploying.
# Usage: scripts/build-worker.sh [outdir]   (default: .wrangler/bundle; the bundle is <outdir>/entry-worker.js)
set -e
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
outdir="$(mkdir -p "${1:-$root/.wrangler/bundle}" && cd "${1:-$root/.wrangler/bundle}" && pwd)"
cd "$root"
export WRANGLER_SEND_METRICS=false CLOUDFLARE_CF_FETCH_ENABLED=false
npx --no-install wrangler deploy --dry-run --outdir "$outdir" --config "$root/wrangler.toml"
