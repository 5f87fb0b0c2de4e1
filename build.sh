#!/usr/bin/env bash
# Builds the bce-wasm package into dist/:
#   crate/ --(rustc, wasm32-unknown-unknown, +simd128)--> wasm --(wasm-opt)--> dist/bce_wasm.wasm
#   ts/    --(tsc)--> dist/*.js + dist/*.d.ts
# Uses Debian's rustc-web and builds the wasm32 standard library from source; installs Debian's
# packages itself when it runs as root with apt-get and finds them missing. Usage: bash build.sh [--quiet]
set -euo pipefail
cd "$(dirname "$0")"

TARGET=wasm32-unknown-unknown
# Debian 12's current Rust (security suite): rustc-web/cargo-web 1.96 with LLVM 22, the standard
# library's source (rust-web-src; Debian ships no prebuilt wasm32 std for it, so it is built from
# source with -Zbuild-std, which needs RUSTC_BOOTSTRAP=1), and LLVM 22's wasm-ld as the linker.
DEBIAN_PACKAGES="rustc-web cargo-web rust-web-src lld-22"
RUSTC=/usr/bin/rustc
CARGO=/usr/bin/cargo
LINKER=wasm-ld-22
QUIET=0
[ "${1:-}" = "--quiet" ] && QUIET=1
say() { [ "$QUIET" = 1 ] || echo "build.sh: $*"; }

have_toolchain() {
  [ -x "$RUSTC" ] && [ -x "$CARGO" ] && command -v "$LINKER" >/dev/null 2>&1 &&
    [ -d "$("$RUSTC" --print sysroot 2>/dev/null)/lib/rustlib/src/rust/library/std" ] &&
    "$RUSTC" --version 2>/dev/null | grep -qE '^rustc 1\.(9[6-9]|[1-9][0-9][0-9])'
}

if ! have_toolchain; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "build.sh: installing Debian's Rust for wasm: apt-get install $DEBIAN_PACKAGES"
    apt-get update -qq
    # shellcheck disable=SC2086
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $DEBIAN_PACKAGES >/dev/null
  fi
  if ! have_toolchain; then
    cat >&2 <<EOF
build.sh: no suitable Rust toolchain: this build needs Debian's rustc-web (>= 1.96) with the standard
library's source and LLVM 22's wasm-ld. As root on Debian 12:
  apt-get update && apt-get install -y --no-install-recommends $DEBIAN_PACKAGES
then run: bash build.sh
EOF
    exit 1
  fi
fi
say "rust: $("$RUSTC" --version) ($RUSTC, $CARGO, linker $LINKER)"

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
  # Debian's toolchain first on PATH (rustup's may come first on this machine).
  PATH="/usr/bin:$PATH" RUSTC="$RUSTC" RUSTC_BOOTSTRAP=1 RUSTFLAGS="$flags" \
    CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_LINKER="$LINKER" \
    "$CARGO" build --quiet --release --target "$TARGET" --target-dir "target/$name" \
    -Zbuild-std=std,panic_abort
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
node_modules/.bin/tsc -p ts/node/tsconfig.json
node scripts/make-inline.mjs
chmod +x dist/node/cli.js
say "dist/: $(wc -c < dist/bce_wasm.wasm) bytes of SIMD wasm, $(wc -c < dist/bce_wasm_scalar.wasm) of scalar wasm, $(cat dist/inline.js | wc -c) of inline entry"
