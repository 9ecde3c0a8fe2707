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
//!                                                       handoff (headless output | native messaging)
//!                                                                               ▼
//!                                                                   notify (webhook, iMessage)
//! ```
//!
//! The binary (`src/main.rs`) is a thin shell over this library; the demo and
//! the tests use the library directly, against the simulator (the
//! `pretix-race-sim` crate).

// The pure modules live in `pretix-race-core`; re-exported so the engine
// reads `crate::parse`, `crate::decide`, … like any other step.
pub use pretix_race_core::{backoff, cookies, decide, discover, parse};

pub mod artifacts;
pub mod cart;
pub mod cli;
pub mod config;
#[cfg(feature = "demo")]
pub mod demo;
pub mod events;
pub mod handoff;
pub mod notify;
pub mod race;
pub mod report;
pub mod runner;
pub mod session;
pub mod tls;
