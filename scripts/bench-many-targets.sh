#!/usr/bin/env bash
# Footprint of many targets in one process (issue 9, item 2): N targets at an
# interval of S seconds, racing the built-in demo marketplace (a separate
# process on 127.0.0.1, so its own CPU and memory are not counted), in
# --dry-run so that every target keeps polling for the whole measurement.
#
#   cargo build --release -p pretix-race
#   scripts/bench-many-targets.sh [TARGETS=200] [INTERVAL=5] [SECONDS=120]
#
# Prints the racing process's peak and last RSS (VmHWM / VmRSS from
# /proc/PID/status) and its CPU use (utime+stime from /proc/PID/stat) over
# the measured window, after a warm-up of one interval plus 5 s, and the
# polls all targets made (from the status file). Linux only.
set -euo pipefail

N=${1:-200}
INTERVAL=${2:-5}
DURATION=${3:-120}
BIN=${BIN:-target/release/pretix-race}
[ -x "$BIN" ] || { echo "build it first: cargo build --release -p pretix-race ($BIN)" >&2; exit 2; }

work=$(mktemp -d)
sim=""; race=""
cleanup() {
    [ -n "$race" ] && kill "$race" 2>/dev/null || true
    [ -n "$sim" ] && kill "$sim" 2>/dev/null || true
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

"$BIN" demo --serve --live-responses "$work/sim" >"$work/serve.out" 2>"$work/serve.err" &
sim=$!
for _ in $(seq 100); do grep -q "Race it" "$work/serve.out" 2>/dev/null && break; sleep 0.1; done
url=$(grep -o 'https://127.0.0.1:[0-9]*' "$work/serve.out" | head -1)
[ -n "$url" ] || { echo "the demo marketplace did not start" >&2; cat "$work/serve.err" >&2; exit 1; }

{
    echo "[defaults]"
    echo "url = \"$url\""
    echo "event = \"demo/festival\""
    echo "interval = $INTERVAL"
    echo "ca_cert = [\"$work/sim/demo-ca.pem\"]"
    echo "live_responses = \"$work/live\""
    echo "dry_run = true"
    for i in $(seq "$N"); do printf '[[target]]\nname = "t%03d"\n' "$i"; done
} >"$work/race.toml"

"$BIN" --config "$work/race.toml" >"$work/race.out" 2>"$work/race.log" &
race=$!

ticks() { awk '{print $14 + $15}' "/proc/$race/stat"; }
kb() { awk -v k="$1:" '$1 == k {print $2}' "/proc/$race/status"; }

sleep $((INTERVAL + 5))
hz=$(getconf CLK_TCK)
t0=$(ticks); s0=$(date +%s.%N)
sleep "$DURATION"
t1=$(ticks); s1=$(date +%s.%N)
hwm=$(kb VmHWM); rss=$(kb VmRSS); threads=$(awk '$1 == "Threads:" {print $2}' "/proc/$race/status")
polls=$(grep -o '"polls": [0-9]*' "$work/live/status.json" | awk '{s += $2} END {print s}')
polling=$(grep -c '"state": "polling"' "$work/live/status.json" || true)
cpu=$(echo "$t0 $t1 $s0 $s1 $hz" | awk '{printf "%.2f", ($2 - $1) / $5 / ($4 - $3) * 100}')
echo "targets=$N interval=${INTERVAL}s window=${DURATION}s"
echo "peak RSS (VmHWM): $((hwm / 1024)) MB; RSS at the end: $((rss / 1024)) MB; threads: $threads"
echo "CPU: ${cpu} % of one core over the window"
echo "polls so far: $polls by $polling target(s) in state polling"
errors=$(grep -c ' ERROR ' "$work/race.log" || true)
echo "ERROR lines in the run's log: $errors"
