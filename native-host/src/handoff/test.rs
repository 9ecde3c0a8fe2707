//! `pretix-race test-handoff --simulate`: a made-up win sent through the real
//! handoff path, so users can check their setup before a real race.

use std::io::Write;

use pretix_race_shared::protocol::Handoff;
use pretix_race_shared::script::cookie_store_script;
use pretix_race_shared::{Cookie, SameSite};
use url::Url;

use crate::cli::TestHandoffArgs;
use crate::handoff::headless;
use crate::notify::webhook;
use crate::runner::{self, Exit, Notify};

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

pub async fn run(args: &TestHandoffArgs, out: &mut (dyn Write + Send)) -> Exit {
    let site = match Url::parse(&args.url) {
        Ok(u) if matches!(u.scheme(), "http" | "https") => u,
        _ => {
            tracing::error!("--url {:?} is not an http(s) URL", args.url);
            return Exit::Usage;
        }
    };
    let msg = fake_handoff(&site);
    let _ = out.write_all(headless::render(&msg, true).as_bytes());
    let _ = out.flush();
    let notify = Notify {
        webhook: args.webhook.clone(),
        imessage: args.imessage.clone(),
        webhook_policy: None,
    };
    let target = site.join("event/secondhand/").unwrap_or(site);
    let payload = webhook::Payload::in_cart(&target, &msg);
    runner::send_webhook(&webhook::client(), &notify, &payload).await;
    runner::send_imessage(
        &notify,
        &format!("pretix-race test handoff: {}", msg.checkout_url),
    )
    .await;
    Exit::Won
}
