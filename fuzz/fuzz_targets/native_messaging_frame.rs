//! The host's inbound native-messaging path, byte for byte.
//!
//! Mirrors `native-host/src/host/transport.rs::spawn_reader`: frames are read
//! with `decode_message_opt(.., MAX_BROWSER_MESSAGE)` until the stream ends or
//! breaks, and every frame's JSON goes through `protocol::decode::<ToHost>`.
//! The input is the whole stdin the browser could send, so one run covers
//! several frames, truncated frames and oversized length prefixes.
#![no_main]

use std::io::Cursor;

use libfuzzer_sys::fuzz_target;
use native_messaging::host::decode_message_opt;
use pretix_race_shared::protocol::{decode, encode, ToHost, MAX_BROWSER_MESSAGE};

fuzz_target!(|data: &[u8]| {
    let mut input = Cursor::new(data);
    // Each successful frame consumes at least its 4-byte length prefix, so
    // the loop ends; the bound is belt and braces against a library change.
    for _ in 0..=data.len() / 4 {
        match decode_message_opt(&mut input, MAX_BROWSER_MESSAGE) {
            Ok(Some(json)) => {
                assert!(
                    json.len() <= MAX_BROWSER_MESSAGE,
                    "oversized frame accepted"
                );
                if let Ok(msg) = decode::<ToHost>(json.as_bytes()) {
                    // What we accept we can say again: the re-encoded message
                    // decodes. (Not compared for equality: serde_json's default
                    // float parsing may differ from the printed value by an ULP.)
                    if let Err(e) = decode::<ToHost>(&encode(&msg)) {
                        panic!("accepted {msg:?} but not its re-encoding: {e}");
                    }
                }
            }
            Ok(None) | Err(_) => return,
        }
    }
});
