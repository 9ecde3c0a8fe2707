#![forbid(unsafe_code)]
//! The pretix-race Chrome extension, in Rust compiled to WASM.
//!
//! Two entry points, each started by a few lines of JavaScript in
//! `extension/static/`:
//!
//! - [`background_main`] (service worker): keeps the native-messaging
//!   connection to the `pretix-race` host, relays the popup's commands, and on
//!   a win puts the session cookies into this browser profile and opens
//!   checkout.
//! - [`popup_main`]: the form and the live status.
//!
//! The logic that can be tested without a browser lives in plain modules
//! ([`model`], [`form`], [`view`], [`handoff`], [`conn`]); [`chrome`] holds the
//! hand-written `chrome.*` bindings, and `background`/`popup` glue the two.
//! Everything compiles for the host target too (the bindings then panic if
//! called), so `cargo test` and `cargo clippy --workspace` cover it.

use wasm_bindgen::prelude::*;

mod background;
pub mod chrome;
pub mod conn;
pub mod form;
pub mod handoff;
pub mod model;
mod popup;
pub mod view;

/// Start the background service worker. `early` holds the
/// `[message, sender, sendResponse]` triples `background.js` queued while the
/// module was loading.
#[wasm_bindgen]
pub fn background_main(early: js_sys::Array) {
    background::main(early);
}

/// Start the popup.
#[wasm_bindgen]
pub fn popup_main() {
    popup::main();
}
