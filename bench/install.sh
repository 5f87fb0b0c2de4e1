#!/usr/bin/env bash
# Installs the benchmark's peers (bench/package.json: TF.js, ONNX Runtime; about 715 MB) into
# bench/node_modules with `npm ci` on the first `npm run bench`, and again when bench/package-lock.json
# changes; a contributor's set-up (build, tests) never needs them.
set -euo pipefail
cd "$(dirname "$0")"
stamp=node_modules/.installed-lock.sha256
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "bench: installing the benchmark's peers into bench/node_modules (npm ci, about 715 MB)"
  # onnxruntime-node's install script would fetch GPU add-ons from outside the npm registry; its CPU
  # runtime ships in the package.
  ONNXRUNTIME_NODE_INSTALL=skip npm ci --no-audit --no-fund
  echo "$want" > "$stamp"
fi
