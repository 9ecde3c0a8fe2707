//! iMessage through macOS's Messages app (`osascript`). Elsewhere there is
//! no Messages app; we say so once at start-up and carry on.

use std::process::ExitStatus;

/// Why an iMessage was not sent.
#[derive(Debug, thiserror::Error)]
pub enum ImessageError {
    #[error(
        "--imessage needs macOS (Messages app via osascript); no iMessage will be sent on this system"
    )]
    Unsupported,
    #[error("could not run osascript")]
    Spawn(#[source] std::io::Error),
    /// osascript ran and failed; `stderr` is what it said (e.g. no such buddy).
    #[error("osascript exited with {status}: {stderr}")]
    Script { status: ExitStatus, stderr: String },
}

/// Can this machine send iMessages?
pub fn supported() -> bool {
    cfg!(target_os = "macos")
}

/// Send `text` to `recipient`. The text travels as an argument to the
/// script, never spliced into it, so quotes in it cannot break out.
pub async fn send(recipient: &str, text: &str) -> Result<(), ImessageError> {
    if !supported() {
        return Err(ImessageError::Unsupported);
    }
    let script = "on run argv\n\
        tell application \"Messages\"\n\
        set svc to 1st account whose service type = iMessage\n\
        send (item 2 of argv) to participant (item 1 of argv) of svc\n\
        end tell\n\
        end run";
    let out = tokio::process::Command::new("osascript")
        .arg("-e")
        .arg(script)
        .arg(recipient)
        .arg(text)
        .output()
        .await
        .map_err(ImessageError::Spawn)?;
    if out.status.success() {
        Ok(())
    } else {
        Err(ImessageError::Script {
            status: out.status,
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        })
    }
}
