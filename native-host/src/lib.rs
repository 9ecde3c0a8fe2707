#![forbid(unsafe_code)]
//! pretix-race: win the race for resale tickets on pretix secondhand
//! marketplaces.
//!
//! Data flows one way, one module per step:
//!
//! ```text
//! cli ─► config ─► session ─► discover ─► race (poll loop) ─► parse ─► decide ─► cart
//!                                              ▲                                   │
//!                                              └──── lost: next listing / resume ◄─┤
//!                                                                           won ▼
//!                                                     handoff (build the message, render it)
//!                                                                               ▼
//!                        front end: runner (terminal: print the block) | host (extension: send the frame)
//!                                                                               ▼
//!                                                 after_win: artifacts (files) + notify (phone, mail, desktop)
//!                                                                               ▼
//!                                                                exit (outcome/error ─► exit code, in main)
//! ```
//!
//! The edges import downwards only: `runner` and `host` use `handoff`,
//! `after_win` and `notify`; none of those import a front end back.
//! `test_handoff` is the `pretix-race test-handoff` command. The binary
//! (`src/main.rs`) is a thin shell over this library; the demo and the tests
//! use the library directly, against the simulator (the `pretix-race-sim`
//! crate).

// The pure modules live in `pretix-race-core`; re-exported so the engine
// reads `crate::parse`, `crate::decide`, … like any other step.
pub use pretix_race_core::{backoff, cookies, decide, discover, parse};

pub mod after_win;
pub mod artifacts;
pub mod bounded;
pub mod cart;
pub mod cli;
pub mod config;
pub mod config_file;
#[cfg(feature = "demo")]
pub mod demo;
pub mod events;
pub mod exit;
pub mod export;
pub mod handoff;
pub mod host;
pub mod notify;
pub mod race;
pub mod report;
pub mod runner;
pub mod session;
pub mod status;
pub mod targets;
pub mod test_handoff;
pub mod tls;
pub mod wait;
