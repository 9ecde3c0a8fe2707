//! The `pretix-race test-handoff --simulate` command: a made-up win sent
//! through the real handoff path (the printed block, the webhook, iMessage),
//! so users can check their setup before a real race. The native-messaging
//! host uses [`fake_handoff`] for the extension's "test handoff" button.

use std::io::Write;

use url::Url;

use crate::cli::TestHandoffArgs;
use crate::handoff::{fake_handoff, headless};
use crate::notify::{Notifier, Notify};

/// Why the test handoff did not go through.
#[derive(Debug, thiserror::Error)]
pub enum TestHandoffError {
    #[error("--url {0:?} is not an http(s) URL")]
    BadUrl(String),
    #[error("could not print the test handoff")]
    NotPrinted(#[source] std::io::Error),
}

/// Print the fake handoff and send the notifications the user asked for.
/// Notification failures are logged (as in a real win) and do not fail it.
pub async fn run(
    args: &TestHandoffArgs,
    out: &mut (dyn Write + Send),
) -> Result<(), TestHandoffError> {
    let site = match Url::parse(&args.url) {
        Ok(u) if matches!(u.scheme(), "http" | "https") => u,
        _ => return Err(TestHandoffError::BadUrl(args.url.clone())),
    };
    let msg = fake_handoff(&site);
    headless::print(out, &msg, true).map_err(TestHandoffError::NotPrinted)?;
    let notifier = Notifier::new(Notify {
        webhook: args.webhook.clone(),
        imessage: args.imessage.clone(),
        webhook_policy: None,
        ..Notify::default()
    });
    let target = site.join("event/secondhand/").unwrap_or(site);
    notifier.test_handoff(&target, &msg).await;
    Ok(())
}
