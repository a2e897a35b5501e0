#!/usr/bin/env bash
# Installs everything the platform and its tests need, idempotently: npm packages, the engine's Python venv,
# bubblewrap (the python-grader sandbox), WordNet (meteor's synonyms), and the tiny base model. Runnable from anywhere.
set -euo pipefail
cd "$(dirname "$0")/.."
export AWS_SDK_JS_SUPPRESS_NODE_DEPRECATION_WARNING=1

step() { printf '\n==> %s\n' "$*"; }

# npm: reinstall only when the lockfile changed since the last install.
if [ ! -f node_modules/.package-lock.json ] || ! cmp -s package-lock.json node_modules/.rft-lock-stamp 2>/dev/null; then
  step "npm ci"
  npm ci --no-audit --no-fund
  cp package-lock.json node_modules/.rft-lock-stamp
fi

# Python venv for the trainer engine and the grader parity references. --retries 0: the mirror answers at
# once; without it pip spends minutes retrying an unreachable index.
PY=${RFT_BOOTSTRAP_PYTHON:-python3}
if [ ! -x .venv/bin/python ] || ! cmp -s requirements-dev.txt .venv/.rft-req-stamp 2>/dev/null \
   || ! cmp -s gpu-runner/trainer/requirements.txt .venv/.rft-req-engine-stamp 2>/dev/null; then
  step "python venv (.venv)"
  [ -x .venv/bin/python ] || "$PY" -m venv .venv
  .venv/bin/pip install --retries 0 --disable-pip-version-check -q -r requirements-dev.txt
  cp requirements-dev.txt .venv/.rft-req-stamp
  cp gpu-runner/trainer/requirements.txt .venv/.rft-req-engine-stamp
fi

# bubblewrap sandboxes python graders; without it they run with weaker isolation (see graders/README.md).
if ! command -v bwrap >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    step "bubblewrap"
    apt-get update -qq >/dev/null 2>&1 || true
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap >/dev/null
  else
    echo "warning: bubblewrap (bwrap) is not installed; python graders will run without a namespace sandbox" >&2
  fi
fi

# WordNet 3.0 for meteor's synonym stage (graders/metrics/wordnet; RFT_GRADER_WORDNET_DIR defaults to
# /usr/share/wordnet): wordnet-base has the dict files; wordnet-sense-index adds index.sense, which NLTK's reader
# opens, for the parity test's Python side. Without them meteor skips synonyms and the parity test is skipped.
if [ ! -f /usr/share/wordnet/index.noun ] || [ ! -f /usr/share/wordnet/index.sense ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    step "wordnet-base"
    apt-get update -qq >/dev/null 2>&1 || true
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends wordnet-base wordnet-sense-index >/dev/null
  else
    echo "warning: WordNet (wordnet-base) is not installed; meteor will score without WordNet synonyms" >&2
  fi
fi

# The tiny base model (deterministic from its seed): the embedded default and the tests' model.
MODEL_DIR=${RFT_TINY_MODEL_DIR:-gpu-runner/trainer/models/tiny-arith}
if [ -f gpu-runner/trainer/make_tiny_model.py ] && [ ! -f "$MODEL_DIR/config.json" ]; then
  step "tiny base model -> $MODEL_DIR"
  .venv/bin/python gpu-runner/trainer/make_tiny_model.py --out "$MODEL_DIR" --data-out "$MODEL_DIR/data"
fi
