#!/usr/bin/env bash
# Run every check and test pretix-race has, installing what is missing first.
#
#   scripts/test-all.sh
#
# Safe to run again: each install step is skipped when already done. This is
# the README's test command, and what CI (.ci/run) calls.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "toolchain"
if ! command -v cargo >/dev/null 2>&1; then
  echo "cargo not found: install Rust from https://rustup.rs first" >&2
  exit 1
fi
if command -v rustup >/dev/null 2>&1; then
  for c in rustfmt clippy; do
    rustup component list --installed 2>/dev/null | grep -q "^$c" || rustup component add "$c"
  done
fi
cargo --version

step "Debian packages: chromium (browser test), curl and setpriv (deploy tests)"
missing=""
if ! [ -x /usr/lib/chromium/chromium ] && [ -z "${CHROMIUM:-}" ]; then missing="$missing chromium"; fi
command -v curl >/dev/null 2>&1 || missing="$missing curl"
command -v setpriv >/dev/null 2>&1 || missing="$missing util-linux"
if [ -z "$missing" ]; then
  echo "present"
else
  sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  # shellcheck disable=SC2086
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $missing
fi

step "dbus-daemon (for the desktop notification test)"
if command -v dbus-daemon >/dev/null && command -v dbus-monitor >/dev/null; then
  echo "present"
else
  sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends dbus
fi

step "extension (Rust -> WASM)"
bash scripts/build-extension.sh

step "format"
cargo fmt --all -- --check

step "module imports point one way"
python3 scripts/check-module-cycles.py

step "clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "tests"
# Two cores: keep the test threads to what the machine has.
cargo test --workspace --locked -- --test-threads="${TEST_THREADS:-2}"
