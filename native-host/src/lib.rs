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
//! the tests use the library directly, against the simulator in [`sim`].

pub mod artifacts;
pub mod backoff;
pub mod cart;
pub mod cli;
pub mod config;
pub mod cookies;
pub mod decide;
pub mod demo;
pub mod discover;
pub mod events;
pub mod handoff;
pub mod notify;
pub mod parse;
pub mod race;
pub mod report;
pub mod runner;
pub mod session;
pub mod sim;
