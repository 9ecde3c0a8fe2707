//! The `pretix-race test-handoff --simulate` command: a made-up win sent
//! through the real handoff path (the printed block, the webhook, iMessage),
//! so users can check their setup before a real race. The native-messaging
//! host uses [`fake_handoff`] for the extension's "test handoff" button.

use std::io::Write;

use pretix_race_shared::protocol::Handoff;
use pretix_race_shared::script::cookie_store_script;
use pretix_race_shared::{Cookie, SameSite};
use url::Url;

use crate::cli::TestHandoffArgs;
use crate::handoff::headless;
use crate::notify::{Notifier, Notify};

/// Why the test handoff did not go through.
#[derive(Debug, thiserror::Error)]
pub enum TestHandoffError {
    #[error("--url {0:?} is not an http(s) URL")]
    BadUrl(String),
    #[error("could not print the test handoff")]
    NotPrinted(#[source] std::io::Error),
}

/// Fake session cookies for `origin`, shaped like pretix's real ones.
pub fn fake_cookies(site: &Url) -> Vec<Cookie> {
    let host = site.host_str().unwrap_or("localhost").to_string();
    let mk =
        |name: &str, value: &str, http_only: bool, same_site: SameSite, partitioned: bool| Cookie {
            name: name.into(),
            value: value.into(),
            domain: host.clone(),
            host_only: true,
            path: "/".into(),
            secure: true,
            http_only,
            same_site: Some(same_site),
            partitioned,
            expires: None,
        };
    vec![
        mk(
            "__QXSESSION",
            "testhandoff0000000000000000000qx",
            true,
            SameSite::Lax,
            false,
        ),
        mk(
            "__Host-pretix_csrftoken",
            "TestHandoffCsrf00000000000000000",
            false,
            SameSite::None,
            true,
        ),
        mk(
            "__Host-pretix_session",
            "testhandoffsession00000000000000",
            true,
            SameSite::None,
            true,
        ),
    ]
}

/// The fake win as a handoff message.
pub fn fake_handoff(site: &Url) -> Handoff {
    let cookies = fake_cookies(site);
    let checkout = site
        .join("event/checkout/questions/")
        .map(|u| u.to_string())
        .unwrap_or_else(|_| site.to_string());
    Handoff {
        checkout_url: checkout,
        cookie_script: cookie_store_script(&cookies),
        cookies,
        ticket: "Ticket – Test Handoff".into(),
        price: "0.00 EUR".into(),
        expires_at: None,
    }
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
