#!/usr/bin/env sh
# Seed the fuzz corpora from the repository's fixtures (nothing is duplicated
# in git: fuzz/corpus/ is ignored). Run from anywhere; idempotent.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
mkdir -p "$here/corpus/classify" "$here/corpus/native_messaging_frame" "$here/corpus/cookie_jar" \
    "$here/corpus/stream"

# classify: every captured page, as-is and with a URL line in front (the
# target's input layout: optional first line = page URL), plus the crash
# inputs kept as regression fixtures.
for f in "$root"/sample-responses/*.html; do
    name=$(basename "$f" .html)
    cp "$f" "$here/corpus/classify/$name"
    { echo "https://tickets.example/org/event/checkout/payment/"; cat "$f"; } \
        > "$here/corpus/classify/$name.checkout-url"
done
for f in "$root"/sample-responses/fuzz/classify-*; do
    [ -e "$f" ] && cp "$f" "$here/corpus/classify/"
done

# stream: every captured page, behind two chunk-size bytes (1, 7, 4096 - 1).
for f in "$root"/sample-responses/*.html; do
    name=$(basename "$f" .html)
    for size in '\001\000' '\007\000' '\377\017'; do
        { printf "$size"; cat "$f"; } > "$here/corpus/stream/$name.$(printf "$size" | od -An -tu2 | tr -d ' ')"
    done
done

# native_messaging_frame: well-formed frames (u32 native-endian length + JSON)
# for each message type, built with python3 (no Rust build needed).
python3 - "$here/corpus/native_messaging_frame" <<'PY'
import json, struct, sys, os
out = sys.argv[1]
msgs = {
    "hello": {"v": 1, "type": "hello"},
    "stop": {"v": 1, "type": "stop"},
    "test_handoff": {"v": 1, "type": "test_handoff", "url": "https://shop.example/org/ev/"},
    "start": {"v": 1, "type": "start", "url": "https://shop.example/org/ev/secondhand/",
              "event": "https://shop.example/org/ev/", "interval_secs": 2.5,
              "filters": {"item": "12", "sort": "price_asc", "max_price": 150.0,
                          "ticket_type": "Type A"},
              "dry_run": False, "poll_inactive_marketplace_secs": 30.0},
    "handoff_result": {"v": 1, "type": "handoff_result", "ok": False, "error": "x"},
    "wrong_version": {"v": 99, "type": "hello"},
}
for name, m in msgs.items():
    body = json.dumps(m).encode()
    with open(os.path.join(out, name), "wb") as f:
        f.write(struct.pack("=I", len(body)) + body)
# Two frames back to back, as a browser sends them.
a = json.dumps(msgs["hello"]).encode(); b = json.dumps(msgs["stop"]).encode()
with open(os.path.join(out, "two_frames"), "wb") as f:
    f.write(struct.pack("=I", len(a)) + a + struct.pack("=I", len(b)) + b)
PY
for f in "$root"/sample-responses/fuzz/frame-*; do
    [ -e "$f" ] && cp "$f" "$here/corpus/native_messaging_frame/"
done

# cookie_jar: first line the response URL, then Set-Cookie headers like the
# simulator's (see sample_successful_cart_add-transcript.txt for the real ones).
cat > "$here/corpus/cookie_jar/pretix" <<'TXT'
https://shop.example/org/event/secondhand/
pretix_csrftoken=abc123; expires=Sat, 27 Nov 2027 10:00:00 GMT; Max-Age=31449600; Path=/; SameSite=Lax; Secure
pretix_session=xyz; HttpOnly; Path=/; SameSite=Lax; Secure
__Host-pretix_session=xyz; HttpOnly; Path=/; SameSite=Lax; Secure
TXT
cat > "$here/corpus/cookie_jar/domain" <<'TXT'
https://a.shop.example/x/y
sub=1; Domain=.shop.example; Path=/x
gone=1; Max-Age=0
TXT
for f in "$root"/sample-responses/fuzz/cookie-*; do
    [ -e "$f" ] && cp "$f" "$here/corpus/cookie_jar/"
done
echo "corpora seeded under $here/corpus/"
