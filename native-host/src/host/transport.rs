//! The two ends of the native-messaging pipe, each on a thread of its own.
//!
//! stdin and stdout are blocking, so neither may sit on the async runtime:
//! the reader thread turns frames into [`Inbound`] items on a channel, the
//! writer thread turns [`FromHost`] messages into frames. Framing (a
//! native-endian `u32` length, then JSON) is the `native_messaging` crate's.

use std::io::{Read, Write};

use native_messaging::host::{decode_message_opt, send_json, NmError};
use pretix_race_shared::protocol::{
    decode, DecodeError, Envelope, FromHost, ToHost, MAX_BROWSER_MESSAGE,
};
use tokio::sync::mpsc;

/// What arrives from the browser.
pub(crate) enum Inbound {
    Message(Result<ToHost, DecodeError>),
    /// The stream broke (bad frame, I/O error): nothing more can be read.
    Broken(NmError),
    /// stdin closed: the browser is gone.
    Closed,
}

/// Frames from `input`, on a thread of its own (stdin blocks).
pub(crate) fn spawn_reader<R: Read + Send + 'static>(
    mut input: R,
) -> mpsc::UnboundedReceiver<Inbound> {
    let (tx, rx) = mpsc::unbounded_channel();
    std::thread::spawn(move || loop {
        let item = match decode_message_opt(&mut input, MAX_BROWSER_MESSAGE) {
            Ok(Some(json)) => Inbound::Message(decode::<ToHost>(json.as_bytes())),
            Ok(None) => Inbound::Closed,
            Err(NmError::Io(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => Inbound::Closed,
            Err(e) => Inbound::Broken(e),
        };
        let last = !matches!(item, Inbound::Message(_));
        if tx.send(item).is_err() || last {
            return;
        }
    });
    rx
}

/// A writer thread: every [`FromHost`] becomes one frame on `output`.
pub(crate) fn spawn_writer<W: Write + Send + 'static>(
    mut output: W,
) -> mpsc::UnboundedSender<FromHost> {
    let (tx, mut rx) = mpsc::unbounded_channel::<FromHost>();
    std::thread::spawn(move || {
        while let Some(msg) = rx.blocking_recv() {
            if let Err(e) = send_json(&mut output, &Envelope::new(&msg)) {
                tracing::error!(cause = %e, "cannot write to the browser");
                if matches!(e, NmError::Io(_)) {
                    return;
                }
            }
        }
    });
    tx
}
