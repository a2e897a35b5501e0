#!/usr/bin/env bash
# Installs what is missing, bundles the server, then serves the API on the embedded default (SQLite + local
# objects under RFT_DATA_DIR, default ./.data). Runnable from anywhere.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
bash scripts/build-server.sh
export AWS_SDK_JS_SUPPRESS_NODE_DEPRECATION_WARNING=1
exec node --enable-source-maps dist/node/server.mjs
