//! iMessage through macOS's Messages app (`osascript`). Elsewhere there is
//! no Messages app; we say so once at start-up and carry on.

/// Can this machine send iMessages?
pub fn supported() -> bool {
    cfg!(target_os = "macos")
}

/// The one-line warning shown at start-up when `--imessage` can't work here.
pub fn unsupported_warning() -> &'static str {
    "--imessage needs macOS (Messages app via osascript); no iMessage will be sent on this system"
}

/// Send `text` to `recipient`. The text travels as an argument to the
/// script, never spliced into it, so quotes in it cannot break out.
pub async fn send(recipient: &str, text: &str) -> Result<(), String> {
    if !supported() {
        return Err(unsupported_warning().into());
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
        .map_err(|e| format!("osascript: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).trim().to_string())
    }
}
