//! Hostile native-messaging payloads, kept from fuzzing the host's frame path
//! (`fuzz/fuzz_targets/native_messaging_frame.rs`, see `docs/security.md`)
//! and written by hand, decoded as the host decodes a frame's JSON.
//!
//! Every `sample-responses/fuzz/tohost-*` file is one frame's body. The
//! browser side is not trusted to be well-behaved (another extension can
//! talk to the host if it is allowed in the manifest, and a bug in ours can
//! send anything): each must come back as a typed [`DecodeError`], never a
//! panic or a stack overflow, because the host answers errors and carries on.

use std::fs;
use std::path::PathBuf;

use pretix_race_shared::protocol::{decode, encode, DecodeError, ToHost, MAX_BROWSER_MESSAGE};

fn fixture_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../sample-responses/fuzz")
}

fn tohost_inputs() -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = fs::read_dir(fixture_dir())
        .expect("sample-responses/fuzz exists")
        .map(|e| e.expect("readable directory entry").path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("tohost-"))
        })
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, fs::read(&p).expect("readable fixture"))
        })
        .collect();
    out.sort();
    assert!(
        !out.is_empty(),
        "no tohost-* fixtures: the regression inputs are gone"
    );
    out
}

fn decode_fixture(name: &str) -> Result<ToHost, DecodeError> {
    let json = fs::read(fixture_dir().join(name)).expect("fixture exists");
    decode::<ToHost>(&json)
}

#[test]
fn every_kept_payload_fits_a_frame_and_decodes_to_a_typed_answer() {
    for (name, json) in tohost_inputs() {
        // The host only ever decodes what fits one frame.
        assert!(
            json.len() <= MAX_BROWSER_MESSAGE,
            "{name} is larger than a frame"
        );
        // What is accepted must survive the way back (the fuzz target's check).
        if let Ok(msg) = decode::<ToHost>(&json) {
            assert!(
                decode::<ToHost>(&encode(&msg)).is_ok(),
                "{name}: re-encoding rejected"
            );
        }
    }
}

#[test]
fn a_message_without_a_version_is_malformed() {
    assert!(matches!(
        decode_fixture("tohost-missing-version.json"),
        Err(DecodeError::Malformed(_))
    ));
}

#[test]
fn a_version_beyond_u32_is_malformed_not_a_mismatch_or_a_panic() {
    assert!(matches!(
        decode_fixture("tohost-version-overflow.json"),
        Err(DecodeError::Malformed(_))
    ));
}

#[test]
fn a_duplicated_version_field_is_rejected() {
    assert!(matches!(
        decode_fixture("tohost-duplicate-version.json"),
        Err(DecodeError::Malformed(_))
    ));
}

#[test]
fn ten_thousand_nested_arrays_are_malformed_not_a_stack_overflow() {
    // serde_json's recursion limit turns this into an error; without it the
    // host's reader thread would die of a stack overflow, taking the process.
    let Err(DecodeError::Malformed(why)) = decode_fixture("tohost-deep-nesting.json") else {
        panic!("deep nesting was accepted");
    };
    assert!(why.contains("recursion"), "unexpected reason: {why}");
}

#[test]
fn an_interval_out_of_f64_range_is_malformed() {
    assert!(matches!(
        decode_fixture("tohost-huge-number.json"),
        Err(DecodeError::Malformed(_))
    ));
}

#[test]
fn a_lone_utf16_surrogate_in_a_string_is_malformed() {
    assert!(matches!(
        decode_fixture("tohost-lone-surrogate.json"),
        Err(DecodeError::Malformed(_))
    ));
}
