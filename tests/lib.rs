#![forbid(unsafe_code)]
//! Integration tests for pretix-race live in this package's test targets
//! (`engine.rs`, `headless.rs`); this library is empty on purpose.
