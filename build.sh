#!/usr/bin/env bash
# Builds the bce-wasm package into dist/:
#   crate/ --(wasm-pack: cargo build with Debian's rustc, -Zbuild-std; then wasm-bindgen)--> target/pkg-NAME/
#   target/pkg-NAME/bce_wasm_kernels_bg.wasm --(wasm-opt; hoist-constants, schedule-loops for SIMD; shift-entries)--> dist/bce_wasm.wasm, dist/bce_wasm_scalar.wasm
#   target/pkg-simd128/bce_wasm_kernels_bg.wasm.d.ts (+ the NAME_b entries) --> ts/kernels.d.ts, dist/kernels.d.ts (the raw exports' types)
#   ts/    --(tsc)--> dist/*.js + dist/*.d.ts
# Installs what is missing and says so: Debian's Rust for wasm (as root, with apt-get), the npm
# devDependencies (npm ci), and wasm-bindgen-cli (the version Cargo.lock locks) and wasm-pack with
# `cargo install --locked`; reuses whatever is already there. Usage: bash build.sh [--quiet]
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
# wasm-pack drives the crate's build; this version is installed when missing.
WASM_PACK_VERSION=0.15.1
# `cargo install` puts the CLIs here; build.sh calls them by this path.
CARGO_BIN="${CARGO_HOME:-$HOME/.cargo}/bin"
# Debian's toolchain first (rustup's may come first on this machine, without the wasm32 target),
# then the installed CLIs: wasm-pack runs `cargo`, `rustc` and `wasm-bindgen` from PATH.
TOOL_PATH="/usr/bin:$CARGO_BIN:$PATH"
QUIET=0
[ "${1:-}" = "--quiet" ] && QUIET=1
say() { [ "$QUIET" = 1 ] || echo "build.sh: $*"; }

# Step timing: `start`, then `took WHAT` prints how long since.
now_ms() { date +%s%3N; }
start() { T0=$(now_ms); }
took() {
  local ms=$(($(now_ms) - T0))
  say "$1: $((ms / 1000)).$(printf '%02d' $((ms % 1000 / 10))) s"
}
TOTAL0=$(now_ms)

have_toolchain() {
  [ -x "$RUSTC" ] && [ -x "$CARGO" ] && command -v "$LINKER" >/dev/null 2>&1 &&
    [ -d "$("$RUSTC" --print sysroot 2>/dev/null)/lib/rustlib/src/rust/library/std" ] &&
    "$RUSTC" --version 2>/dev/null | grep -qE '^rustc 1\.(9[6-9]|[1-9][0-9][0-9])'
}

start
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
  took "installed Debian's Rust"
fi
say "rust: $("$RUSTC" --version) ($RUSTC, $CARGO, linker $LINKER)"

if [ ! -x node_modules/.bin/wasm-opt ] || [ ! -x node_modules/.bin/tsc ]; then
  echo "build.sh: installing the npm devDependencies (npm ci)"
  start
  npm ci --no-audit --no-fund >/dev/null
  took "npm ci"
fi

# The version of `name` that Cargo.lock locks.
locked_version() {
  awk -v want="\"$1\"" '$1 == "name" { hit = ($3 == want); next }
    hit && $1 == "version" { gsub(/"/, "", $3); print $3; exit }' Cargo.lock
}
# Installs crate $1's CLI $2 at version $3 with `cargo install --locked` unless `$2 --version` already
# says that version (the fast path: one process start).
ensure_cli() {
  local crate=$1 bin=$2 version=$3 have
  have=$("$CARGO_BIN/$bin" --version 2>/dev/null | awk '{ print $2 }') || true
  if [ "$have" = "$version" ]; then
    say "$bin $version: present ($CARGO_BIN/$bin)"
    return
  fi
  echo "build.sh: installing $bin $version (${have:+replacing $have; }cargo install --locked $crate --version $version)"
  start
  PATH="$TOOL_PATH" RUSTC="$RUSTC" "$CARGO" install --quiet --locked "$crate" --version "$version"
  took "cargo install $crate $version"
}
WASM_BINDGEN_VERSION=$(locked_version wasm-bindgen)
if [ -z "$WASM_BINDGEN_VERSION" ]; then
  echo "build.sh: Cargo.lock locks no wasm-bindgen" >&2
  exit 1
fi
ensure_cli wasm-bindgen-cli wasm-bindgen "$WASM_BINDGEN_VERSION"
ensure_cli wasm-pack wasm-pack "$WASM_PACK_VERSION"

# Two builds of the same crate: SIMD128, and scalar (the same float32 operations lane by lane, for
# engines without SIMD; bit-identical results). wasm-pack runs `cargo build` and then the installed
# wasm-bindgen (`--mode force`: its checks for a rustup-installed wasm32 target would fail, since
# Debian's std for wasm32 is built from source; `--no-opt`: wasm-opt runs below; `--no-pack`: the
# package.json is ours). The wasm-opt feature lists are explicit so that it neither rejects what the
# standard library uses nor introduces anything the engine may lack. `--remove-exports=__*` drops the
# globals that wasm-bindgen's runtime exports for its own JS glue, which this package does not use.
BASE_FEATURES="--mvp-features --enable-sign-ext --enable-mutable-globals --enable-nontrapping-float-to-int
  --enable-bulk-memory --enable-multivalue --enable-reference-types"
# Where the dependencies' sources sit on this machine (Cargo's registry cache) must not end up in
# the module: the allocator's assertion messages carry their file paths. They are mapped to /crates
# (each registry's directory, which exists once `cargo install` above has run; rustc applies the last
# rule that matches), so that the .wasm is the same whoever builds it, wherever Cargo's home is.
REMAP=" --remap-path-prefix=${CARGO_HOME:-$HOME/.cargo}/registry/src=/crates"
for dir in "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/; do
  [ -d "$dir" ] && REMAP="$REMAP --remap-path-prefix=${dir%/}=/crates"
done
build() { # build NAME RUSTFLAGS WASM_OPT_FEATURES...
  local name=$1 flags="$2$REMAP"
  shift 2
  start
  PATH="$TOOL_PATH" RUSTC="$RUSTC" RUSTC_BOOTSTRAP=1 RUSTFLAGS="$flags" \
    CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_LINKER="$LINKER" \
    "$CARGO_BIN/wasm-pack" --quiet build crate --mode force --no-opt --no-pack --target web \
    --out-dir "$PWD/target/pkg-$name" --out-name bce_wasm_kernels \
    -- -Zbuild-std=std,panic_abort --target-dir "target/$name"
  took "wasm-pack build ($name: cargo build, wasm-bindgen)"
  # wasm-opt -O3 takes seconds: its output is kept in target/ and reused while its input, its
  # arguments and its version are the same.
  local input="target/pkg-$name/bce_wasm_kernels_bg.wasm" opt="target/opt-$name" key
  key=$({ sha256sum < "$input"; echo "$*"; node_modules/.bin/wasm-opt --version; } | sha256sum)
  if [ -f "$opt.wasm" ] && [ "$(cat "$opt.key" 2>/dev/null)" = "$key" ]; then
    say "wasm-opt ($name): input unchanged, output reused"
  else
    start
    rm -f "$opt.key"
    node_modules/.bin/wasm-opt --remove-exports='__*' -O3 "$@" --strip-debug --strip-producers \
      "$input" -o "$opt.wasm"
    echo "$key" > "$opt.key"
    took "wasm-opt ($name)"
  fi
  cp "$opt.wasm" "$OUT/$name.wasm"
}

OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
# shellcheck disable=SC2086
build simd128 "-C target-feature=+simd128" $BASE_FEATURES --enable-simd
# After wasm-opt, which would fold them back: every v128 constant set into a local at function entry
# (newer V8 rematerialises a v128.const at each use inside a loop; see the script).
node scripts/hoist-constants.mjs "$OUT/simd128.wasm" "$OUT/simd128.wasm" >/dev/null
node scripts/schedule-loops.mjs "$OUT/simd128.wasm" "$OUT/simd128.wasm" >/dev/null # after hoisting: see the script
# A second entry to each loss kernel, one wasm frame deeper (the facade picks the faster: see the script).
node scripts/shift-entries.mjs "$OUT/simd128.wasm" "$OUT/simd128.wasm"
# shellcheck disable=SC2086
build scalar "" $BASE_FEATURES
# The generated glue of every export must be a direct call (no allocation or copying per call), and
# the two builds must declare the same raw exports.
node scripts/check-glue.mjs target/pkg-simd128 target/pkg-scalar
node scripts/shift-entries.mjs "$OUT/scalar.wasm" "$OUT/scalar.wasm" # (the same exports in both builds)

start
rm -rf dist
mkdir -p dist
cp "$OUT/simd128.wasm" dist/bce_wasm.wasm
cp "$OUT/scalar.wasm" dist/bce_wasm_scalar.wasm
# The raw exports' declarations, which ts/wasm.ts types the instance with (KernelExports).
{
  echo "// Generated by wasm-bindgen $WASM_BINDGEN_VERSION (bce_wasm_kernels_bg.wasm.d.ts), copied by build.sh: do not edit."
  cat target/pkg-simd128/bce_wasm_kernels_bg.wasm.d.ts
} > ts/kernels.d.ts
node scripts/shift-entries.mjs "$OUT/scalar.wasm" /dev/null ts/kernels.d.ts # their NAME_b declarations
cp ts/kernels.d.ts dist/kernels.d.ts
# The JavaScript without comments (they would be a fifth of the default entry's gzipped budget,
# test/web-entry.test.ts); the declarations keep every doc comment.
# (ts/node's build emits the core's files again: the same two steps.)
for project in ts/tsconfig.json ts/node/tsconfig.json; do
  node_modules/.bin/tsc -p "$project" --removeComments --declaration false
  node_modules/.bin/tsc -p "$project" --emitDeclarationOnly
done
# And without whitespace (the same code, names and messages; scripts/minify-dist.mjs).
node scripts/minify-dist.mjs dist
node scripts/make-inline.mjs
chmod +x dist/node/cli.js
took "tsc and dist/"
say "dist/: $(wc -c < dist/bce_wasm.wasm) bytes of SIMD wasm, $(wc -c < dist/bce_wasm_scalar.wasm) of scalar wasm, $(wc -c < dist/inline.js) of inline entry"
T0=$TOTAL0
took "total"
