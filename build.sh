#!/usr/bin/env bash
# Builds the bce-wasm package into dist/:
#   crate/ --(rustc, wasm32-unknown-unknown, +simd128)--> wasm --(wasm-opt)--> dist/bce_wasm.wasm
#   ts/    --(tsc)--> dist/*.js + dist/*.d.ts
# Finds a Rust toolchain that has the wasm32 target (rustup's where it has or can add the target,
# otherwise Debian's rustc 1.63), and installs Debian's packages itself when it runs as root with
# apt-get and finds none. Usage: bash build.sh [--quiet]
set -euo pipefail
cd "$(dirname "$0")"

TARGET=wasm32-unknown-unknown
DEBIAN_PACKAGES="rustc cargo libstd-rust-dev-wasm32 lld"
QUIET=0
[ "${1:-}" = "--quiet" ] && QUIET=1
say() { [ "$QUIET" = 1 ] || echo "build.sh: $*"; }

# Whether rustc $1 has the standard library for $TARGET.
has_target() {
  local sysroot
  sysroot=$("$1" --print sysroot 2>/dev/null) || return 1
  [ -d "$sysroot/lib/rustlib/$TARGET/lib" ]
}

# Sets RUSTC and CARGO to a pair that can build for $TARGET, or returns 1.
find_toolchain() {
  if command -v rustup >/dev/null 2>&1 && command -v rustc >/dev/null 2>&1; then
    if ! has_target "$(command -v rustc)"; then
      say "trying: rustup target add $TARGET"
      timeout 300 rustup target add "$TARGET" >/dev/null 2>&1 || true
    fi
    if has_target "$(command -v rustc)" && command -v cargo >/dev/null 2>&1; then
      RUSTC=$(command -v rustc) CARGO=$(command -v cargo)
      return 0
    fi
  fi
  # A rustc whose own sysroot has the target, driven by the cargo installed beside it (a newer
  # cargo cannot drive an older rustc, so the two must come as a pair).
  local rustc
  for rustc in "$(command -v rustc 2>/dev/null || true)" /usr/bin/rustc /usr/local/bin/rustc; do
    [ -n "$rustc" ] && [ -x "$rustc" ] || continue
    if has_target "$rustc" && [ -x "$(dirname "$rustc")/cargo" ]; then
      RUSTC=$rustc CARGO="$(dirname "$rustc")/cargo"
      return 0
    fi
  done
  return 1
}

if ! find_toolchain; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "build.sh: no Rust toolchain with the $TARGET target found;"
    echo "build.sh: installing Debian's: apt-get install -y --no-install-recommends $DEBIAN_PACKAGES"
    apt-get update -qq
    # shellcheck disable=SC2086
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $DEBIAN_PACKAGES >/dev/null
  fi
  if ! find_toolchain; then
    cat >&2 <<EOF
build.sh: no Rust toolchain with the $TARGET target was found. Install one of:
  - Debian/Ubuntu (as root):
      apt-get update && apt-get install -y --no-install-recommends $DEBIAN_PACKAGES
  - rustup (where it can download):
      rustup target add $TARGET
then run: bash build.sh
EOF
    exit 1
  fi
fi
say "rust: $("$RUSTC" --version) ($RUSTC, $CARGO)"

if [ ! -x node_modules/.bin/wasm-opt ] || [ ! -x node_modules/.bin/tsc ]; then
  say "installing npm devDependencies (npm ci)"
  # onnxruntime-node (a benchmark peer) would fetch GPU add-ons from outside the npm registry at
  # install time; its CPU runtime ships in the package.
  ONNXRUNTIME_NODE_INSTALL=skip npm ci --no-audit --no-fund >/dev/null
fi

# Two builds of the same crate: SIMD128, and scalar (the same float32 operations lane by lane, for
# engines without SIMD; bit-identical results). The feature lists are explicit so that wasm-opt neither
# rejects what a newer rustc's standard library uses nor introduces anything the engine may lack.
BASE_FEATURES="--mvp-features --enable-sign-ext --enable-mutable-globals --enable-nontrapping-float-to-int
  --enable-bulk-memory --enable-multivalue --enable-reference-types"
build() { # build NAME RUSTFLAGS WASM_OPT_FEATURES...
  local name=$1 flags=$2
  shift 2
  say "cargo build ($name)"
  RUSTC="$RUSTC" RUSTFLAGS="$flags" \
    "$CARGO" build --quiet --release --target "$TARGET" --target-dir "target/$name"
  node_modules/.bin/wasm-opt -O3 "$@" --strip-debug --strip-producers \
    "target/$name/$TARGET/release/bce_wasm_kernels.wasm" -o "$OUT/$name.wasm"
}

OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
# shellcheck disable=SC2086
build simd128 "-C target-feature=+simd128" $BASE_FEATURES --enable-simd
# shellcheck disable=SC2086
build scalar "" $BASE_FEATURES

rm -rf dist
mkdir -p dist
cp "$OUT/simd128.wasm" dist/bce_wasm.wasm
cp "$OUT/scalar.wasm" dist/bce_wasm_scalar.wasm

say "tsc"
node_modules/.bin/tsc -p ts/tsconfig.json
node scripts/make-inline.mjs
chmod +x dist/cli.js
say "dist/: $(wc -c < dist/bce_wasm.wasm) bytes of SIMD wasm, $(wc -c < dist/bce_wasm_scalar.wasm) of scalar wasm, $(cat dist/inline.js | wc -c) of inline entry"
