#!/usr/bin/env bash
# Register pretix-race as a Chrome/Chromium native-messaging host (Linux, macOS).
#
#   install-scripts/install.sh [--binary PATH] [--browser chrome|chromium|brave|edge|all]
#                              [--profile-dir DIR] [--uninstall]
#
# Writes com.pretix_race.host.json, pointing at the absolute path of the
# pretix-race binary and allowing only the pretix-race extension, into each
# browser's NativeMessagingHosts folder. Running it again rewrites the same
# file; --uninstall removes it.
set -euo pipefail

NAME="com.pretix_race.host"
EXTENSION_ID="ppeipcnflcdoiigdmpobdoeimfgompla"
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/.." && pwd)"

binary=""
browser=""
profile_dir=""
uninstall=0

usage() {
  sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'
}

die() { echo "install.sh: $*" >&2; exit 2; }

while [ $# -gt 0 ]; do
  case "$1" in
    --binary) [ $# -ge 2 ] || die "--binary needs a path"; binary="$2"; shift 2 ;;
    --binary=*) binary="${1#*=}"; shift ;;
    --browser) [ $# -ge 2 ] || die "--browser needs a name"; browser="$2"; shift 2 ;;
    --browser=*) browser="${1#*=}"; shift ;;
    --profile-dir) [ $# -ge 2 ] || die "--profile-dir needs a directory"; profile_dir="$2"; shift 2 ;;
    --profile-dir=*) profile_dir="${1#*=}"; shift ;;
    --uninstall) uninstall=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
done

case "$(uname -s)" in
  Darwin) base="$HOME/Library/Application Support" ;;
  *) base="${XDG_CONFIG_HOME:-$HOME/.config}" ;;
esac

# The browser's own config folder, where NativeMessagingHosts/ lives.
browser_dir() {
  case "$(uname -s):$1" in
    Darwin:chrome) echo "$base/Google/Chrome" ;;
    Darwin:chromium) echo "$base/Chromium" ;;
    Darwin:brave) echo "$base/BraveSoftware/Brave-Browser" ;;
    Darwin:edge) echo "$base/Microsoft Edge" ;;
    *:chrome) echo "$base/google-chrome" ;;
    *:chromium) echo "$base/chromium" ;;
    *:brave) echo "$base/BraveSoftware/Brave-Browser" ;;
    *:edge) echo "$base/microsoft-edge" ;;
    *) die "unknown browser '$1' (chrome, chromium, brave, edge or all)" ;;
  esac
}

targets=()
if [ -n "$profile_dir" ]; then
  targets+=("$profile_dir/NativeMessagingHosts")
else
  case "${browser:-all}" in
    all)
      for b in chrome chromium brave edge; do
        d="$(browser_dir "$b")"
        # without --browser: every browser that is installed for this user
        if [ -d "$d" ] || [ "$uninstall" = 1 ]; then targets+=("$d/NativeMessagingHosts"); fi
      done
      if [ ${#targets[@]} -eq 0 ]; then
        targets+=("$(browser_dir chrome)/NativeMessagingHosts" "$(browser_dir chromium)/NativeMessagingHosts")
      fi
      ;;
    *) targets+=("$(browser_dir "$browser")/NativeMessagingHosts") ;;
  esac
fi

if [ "$uninstall" = 1 ]; then
  for t in "${targets[@]}"; do
    if [ -f "$t/$NAME.json" ]; then
      rm -f "$t/$NAME.json"
      echo "removed $t/$NAME.json"
    fi
  done
  echo "pretix-race native host unregistered."
  exit 0
fi

if [ -z "$binary" ]; then
  for candidate in "$repo/target/release/pretix-race" "$repo/target/debug/pretix-race" "$(command -v pretix-race 2>/dev/null || true)"; do
    if [ -n "$candidate" ] && [ -x "$candidate" ]; then binary="$candidate"; break; fi
  done
fi
if [ -z "$binary" ] || [ ! -f "$binary" ] || [ ! -x "$binary" ]; then
  echo "install.sh: the pretix-race binary was not found${binary:+ at $binary}." >&2
  echo "  Build it first:  cargo build --release -p pretix-race" >&2
  echo "  or pass its path: install-scripts/install.sh --binary /path/to/pretix-race" >&2
  exit 1
fi
binary="$(cd "$(dirname "$binary")" && pwd)/$(basename "$binary")"

# JSON string escaping for the path (backslashes and quotes).
json_path="$(printf '%s' "$binary" | sed -e 's/\\/\\\\/g' -e 's/"/\\"/g')"
manifest="{
  \"name\": \"$NAME\",
  \"description\": \"pretix-race: races pretix resale marketplaces and hands the cart to Chrome\",
  \"path\": \"$json_path\",
  \"type\": \"stdio\",
  \"allowed_origins\": [\"chrome-extension://$EXTENSION_ID/\"]
}"

for t in "${targets[@]}"; do
  mkdir -p "$t"
  printf '%s\n' "$manifest" > "$t/$NAME.json.tmp"
  mv "$t/$NAME.json.tmp" "$t/$NAME.json"
  chmod 0644 "$t/$NAME.json"
  echo "registered $t/$NAME.json -> $binary"
done

cat <<TXT

Next, load the extension (once):
  1. Build it:            scripts/build-extension.sh
  2. Open chrome://extensions, switch on "Developer mode".
  3. "Load unpacked" and choose: $repo/extension/dist
  Its ID must read $EXTENSION_ID.
TXT
