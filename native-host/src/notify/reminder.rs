//! The cart-expiry reminder: "your cart expires in 5 minutes and is unpaid".
//!
//! A pretix cart is reserved for a while (the checkout page's
//! `data-expires`). If the user is not at the screen when the win comes in,
//! the cart is lost again when that time runs out. So after a win the
//! terminal runner stays up until `expires − N minutes`, then looks whether
//! the cart is still there (GET the checkout page with the won session: a
//! paid or abandoned cart sends pretix back to the event page), and only
//! then reminds. The wait is injectable so tests need not sleep.

use std::future::Future;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio_util::sync::CancellationToken;
use url::Url;

use crate::config::Config;
use crate::parse;
use crate::race::Win;
use crate::session::Session;

use super::message::Message;
use super::Notifier;

/// `data-expires` as pretix and the simulator write it.
pub fn parse_expiry(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    [
        "%Y-%m-%d %H:%M:%S%z",
        "%Y-%m-%dT%H:%M:%S%z",
        "%Y-%m-%dT%H:%M:%S%.f%z",
    ]
    .iter()
    .find_map(|f| DateTime::parse_from_str(s, f).ok())
    .map(|t| t.with_timezone(&Utc))
}

/// How long to wait from `now` until `before` ahead of `expires` (zero if
/// that moment has passed), or `None` if the cart has already expired.
pub fn wait_until_reminder(
    expires: DateTime<Utc>,
    now: DateTime<Utc>,
    before: Duration,
) -> Option<Duration> {
    let left = (expires - now).to_std().ok().filter(|d| !d.is_zero())?;
    Some(left.saturating_sub(before))
}

/// How the reminder wait ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReminderEnd {
    /// The cart was still there: reminded.
    Reminded,
    /// The cart was gone (paid, or given up in the browser): no reminder.
    CartGone,
    /// Ctrl-C during the wait.
    Cancelled,
    /// No usable `data-expires`, or it already passed: nothing to wait for.
    NoExpiry,
}

/// Is the won cart still in this session? `Ok(true)` when the checkout page
/// still shows a reservation (`data-expires`), `Ok(false)` when pretix
/// redirected elsewhere (an empty cart goes back to the event page).
pub async fn cart_still_there(session: &Session, checkout: &Url) -> Result<bool, reqwest::Error> {
    let mut url = checkout.clone();
    for _ in 0..5 {
        let resp = session.navigate(&url, None).send().await?;
        if resp.status().is_redirection() {
            let Some(next) = resp
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|l| l.to_str().ok())
                .and_then(|l| url.join(l).ok())
            else {
                return Ok(false);
            };
            url = next;
            continue;
        }
        if !resp.status().is_success() {
            return Ok(false);
        }
        let body = resp.text().await?;
        return Ok(parse::cart_expiry(&body).is_some());
    }
    Ok(false)
}

/// A session holding the won cart's cookies, for [`cart_still_there`].
pub fn session_for(cfg: &Config, win: &Win) -> Option<Session> {
    let session = match Session::new(cfg) {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(cause = %e, "cannot check the cart before reminding");
            return None;
        }
    };
    for c in &win.cookies {
        // Host-only, Secure, Path=/ (what `__Host-` cookies require).
        let secure = if win.checkout_url.scheme() == "https" {
            "; Secure"
        } else {
            ""
        };
        session.jar().store(
            &format!("{}={}; Path={}{secure}", c.name, c.value, c.path),
            &win.checkout_url,
        );
    }
    Some(session)
}

/// Wait (with `wait`) until `before` ahead of the cart's expiry, check the
/// cart, and remind if it is still unpaid. `now` is the wall clock.
pub async fn remind<W, F>(
    notifier: &Notifier,
    session: Option<&Session>,
    win: &Win,
    before: Duration,
    now: DateTime<Utc>,
    cancel: &CancellationToken,
    wait: W,
) -> ReminderEnd
where
    W: FnOnce(Duration) -> F,
    F: Future<Output = ()>,
{
    let Some(expires) = win.expires_at.as_deref().and_then(parse_expiry) else {
        return ReminderEnd::NoExpiry;
    };
    let Some(delay) = wait_until_reminder(expires, now, before) else {
        return ReminderEnd::NoExpiry;
    };
    tracing::info!(
        at = %(now + chrono::Duration::from_std(delay).unwrap_or_default()),
        "waiting to remind you {} min before the cart expires if it is still unpaid (Ctrl-C to quit)",
        before.as_secs() / 60
    );
    tokio::select! {
        () = wait(delay) => {}
        () = cancel.cancelled() => return ReminderEnd::Cancelled,
    }
    if let Some(session) = session {
        match cart_still_there(session, &win.checkout_url).await {
            Ok(true) => {}
            Ok(false) => {
                tracing::info!("the cart is gone (paid?): no reminder");
                return ReminderEnd::CartGone;
            }
            // Better one reminder too many than a lost ticket.
            Err(e) => {
                tracing::warn!(cause = %e.without_url(), "could not check the cart; reminding anyway")
            }
        }
    }
    let minutes = before.as_secs().div_ceil(60).max(1);
    let msg = Message::reminder(&win.listing.ticket_type, win.checkout_url.as_str(), minutes);
    notifier.notify(&msg).await;
    ReminderEnd::Reminded
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_formats() {
        let want = DateTime::parse_from_rfc3339("2026-11-28T19:50:00Z")
            .unwrap()
            .with_timezone(&Utc);
        for s in [
            "2026-11-28 19:50:00+0000",
            "2026-11-28T19:50:00+00:00",
            "2026-11-28T20:50:00+01:00",
            "2026-11-28T19:50:00.000+0000",
        ] {
            assert_eq!(parse_expiry(s), Some(want), "{s}");
        }
        assert_eq!(parse_expiry("soon"), None);
    }

    #[test]
    fn the_reminder_comes_before_minutes_ahead() {
        let exp = parse_expiry("2026-11-28T19:50:00Z").unwrap();
        let five = Duration::from_secs(300);
        let at = |s| parse_expiry(s).unwrap();
        assert_eq!(
            wait_until_reminder(exp, at("2026-11-28T19:40:00Z"), five),
            Some(Duration::from_secs(300))
        );
        // already inside the last five minutes: remind now
        assert_eq!(
            wait_until_reminder(exp, at("2026-11-28T19:47:00Z"), five),
            Some(Duration::ZERO)
        );
        // expired: nothing to remind about
        assert_eq!(
            wait_until_reminder(exp, at("2026-11-28T19:51:00Z"), five),
            None
        );
    }
}
