//! Native-messaging host mode: the Chrome extension's engine room.
//!
//! Chrome starts `pretix-race chrome-extension://<id>/` (on Windows with an
//! extra `--parent-window=…`) and speaks on stdin/stdout: each message is a
//! native-endian `u32` length and that many bytes of JSON (framing by the
//! `native_messaging` crate). stdout carries frames and nothing else: logs go
//! to stderr and a log file.
//!
//! The loop: `Start` runs the race engine and streams `Status` at least once
//! per poll; the moment a cart is verified, `Handoff` goes out (before debug
//! files and notifications), and the extension's `HandoffResult` is logged.
//! `Stop` cancels; stdin closing (the browser went away) stops cleanly.
//!
//! - [`transport`]: the reader and writer threads around the framing.
//! - [`state`]: the host's state machine: messages in, race events mapped to
//!   `Status`, the race's end mapped to the popup's last word.
//! - here: who may call us, where our files go, and [`serve`] tying it up.
//!
//! After a win the host shares [`crate::after_win`] with the terminal runner.

mod state;
mod transport;

use std::io::{Read, Write};
use std::path::PathBuf;

use native_messaging::host::NmError;
use pretix_race_shared::protocol::EXTENSION_ID;

use state::Host;
use transport::{spawn_reader, spawn_writer};

/// Why the host stopped other than by the browser closing the connection.
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    #[error("refusing caller {0}: not the pretix-race extension")]
    RefusedCaller(String),
    #[error("native-messaging stream broken")]
    Broken(#[source] NmError),
}

/// Is `arg` how Chrome names its caller (`chrome-extension://<id>/`)?
pub fn is_extension_origin(arg: &str) -> bool {
    arg.starts_with("chrome-extension://")
}

/// The callers we answer: our extension's fixed ID, plus any listed in
/// `PRETIX_RACE_ALLOWED_ORIGINS` (comma-separated, for a self-built fork).
pub fn allowed_origins() -> Vec<String> {
    let mut v = vec![format!("chrome-extension://{EXTENSION_ID}/")];
    if let Ok(extra) = std::env::var("PRETIX_RACE_ALLOWED_ORIGINS") {
        v.extend(
            extra
                .split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty()),
        );
    }
    v
}

/// Where the host keeps its log and debug files: `PRETIX_RACE_HOME`, or the
/// platform's data directory (`~/.local/share/pretix-race`, …).
pub fn data_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("PRETIX_RACE_HOME") {
        return PathBuf::from(d);
    }
    dirs::data_local_dir()
        .map(|d| d.join("pretix-race"))
        .unwrap_or_else(|| std::env::temp_dir().join("pretix-race"))
}

/// Serve the extension on `input`/`output` until it disconnects. The
/// browser closing the connection is the normal end: `Ok(())`.
pub async fn serve<R, W>(origin: &str, input: R, output: W) -> Result<(), HostError>
where
    R: Read + Send + 'static,
    W: Write + Send + 'static,
{
    if !allowed_origins().iter().any(|o| o == origin) {
        return Err(HostError::RefusedCaller(origin.to_string()));
    }
    tracing::info!("native-messaging host started for {origin}");
    let inbound = spawn_reader(input);
    let outbound = spawn_writer(output);
    Host::new(outbound).run(inbound).await
}
