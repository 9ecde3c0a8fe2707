#![forbid(unsafe_code)]
//! Everything the pretix-race host and its Chrome extension must agree on.
//!
//! The host (`native-host/`, a normal binary) and the extension (`extension/`,
//! Rust compiled to WASM) are two programs that talk over Chrome's native
//! messaging pipe and both touch the shop's session cookies. If either side
//! wrote its own copy of a message shape or a cookie rule, the two would drift
//! apart silently; so both depend on this crate and nothing here knows about
//! networking, files or the browser. It builds for the host target and for
//! `wasm32-unknown-unknown`.
//!
//! - [`cookies`]: the session cookies as the shop set them, and how each one
//!   becomes a `chrome.cookies.set` request (`__Host-` rules).
//! - [`script`]: the `cookieStore.set` fallback script a user can paste into
//!   the DevTools console when the automatic handoff fails.
//! - [`protocol`]: the versioned native-messaging messages in both directions.
//! - [`rules`]: limits on user input (poll interval floor, re-check window,
//!   price ceiling) that the popup form and the host must both enforce.

pub mod cookies;
pub mod protocol;
pub mod rules;
pub mod script;

pub use cookies::{ChromeCookieSet, Cookie, SameSite};
pub use protocol::{Filters, SortOrder};
