//! Telling the user, after the race moment: a webhook and iMessage.
//!
//! Notifications run after the cart is verified (or, in `--dry-run`, after a
//! listing is seen) and can never fail the race: every error is logged.

pub mod imessage;
pub mod webhook;
