#!/usr/bin/env bash
# Build the pretix-race Chrome extension into extension/dist/, ready for
# chrome://extensions → Developer mode → "Load unpacked".
#
#   scripts/build-extension.sh
#
# Installs what is missing first and skips what is already there:
#   - the wasm32-unknown-unknown Rust target (rustup),
#   - the wasm-bindgen CLI at exactly the version in Cargo.lock
#     (cargo install, without --locked: its own lockfile pins crates the
#     registry mirror may not have),
#   - wasm-pack (cargo install --locked).
# First run ~7 min (the two installs), then ~30 s clean / a few s incremental.
# Works offline against the crate registry: wasm-opt is disabled in
# extension/Cargo.toml so wasm-pack downloads nothing.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

if ! command -v cargo >/dev/null 2>&1; then
  echo "cargo not found: install Rust from https://rustup.rs first" >&2
  exit 1
fi
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"

step "wasm32-unknown-unknown target"
if rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
  echo "installed"
else
  rustup target add wasm32-unknown-unknown
fi

step "wasm-bindgen CLI"
# `cargo pkgid -p wasm-bindgen` → registry+https://…#wasm-bindgen@0.2.130
WBG_VERSION="$(cargo pkgid -p wasm-bindgen | sed -E 's/.*[#@]//')"
have="$(wasm-bindgen --version 2>/dev/null | awk '{print $2}' || true)"
if [ "$have" = "$WBG_VERSION" ]; then
  echo "wasm-bindgen $have"
else
  echo "need wasm-bindgen $WBG_VERSION (have: ${have:-none})"
  cargo install wasm-bindgen-cli --version "$WBG_VERSION"
fi

step "wasm-pack"
if command -v wasm-pack >/dev/null 2>&1; then
  wasm-pack --version
else
  cargo install wasm-pack --locked
fi

step "build (release, --target web)"
# Output goes to extension/pkg/ (git-ignored); wasm-pack's relative
# --out-dir is resolved against the crate directory.
wasm-pack build extension --target web --release --no-typescript --no-pack --out-dir pkg

step "assemble extension/dist/"
rm -rf extension/dist
mkdir -p extension/dist/pkg
cp -R extension/static/. extension/dist/
cp extension/pkg/pretix_race_extension.js extension/pkg/pretix_race_extension_bg.wasm extension/dist/pkg/

echo
echo "Built $(pwd)/extension/dist  ($(du -sh extension/dist | cut -f1))"
echo "Load it: chrome://extensions → Developer mode → Load unpacked → extension/dist"
echo "Extension ID: ppeipcnflcdoiigdmpobdoeimfgompla (fixed by the manifest key)"
