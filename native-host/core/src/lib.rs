//! The pure heart of pretix-race: everything that *decides*, nothing that
//! does I/O.
//!
//! ```text
//! page text ─► parse (what is this page? which listings?) ─► decide (do we want it?)
//!                                    discover (where is the marketplace? what URL to poll?)
//! responses ─► backoff (how long to wait after 429 / 5xx / Retry-After)
//! Set-Cookie ─► cookies::Jar (which cookies go with which request)
//! ```
//!
//! Why a crate of its own: these modules are where correctness lives, so they
//! are fuzzed and mutation-tested (`TESTING.md`), and a crate without tokio,
//! reqwest or a TLS stack builds in seconds for every mutant and fuzz run.
//! The engine in `pretix-race` does the talking; this crate does the reading.
#![forbid(unsafe_code)]

pub mod backoff;
pub mod cookies;
pub mod decide;
pub mod discover;
pub mod parse;

pub use parse::warm_up;
