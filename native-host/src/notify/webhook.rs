//! The webhook: a JSON POST with exactly the original tool's fields.

use std::time::Duration;

use pretix_race_shared::protocol::Handoff;
use serde::Serialize;
use url::Url;

/// The payload, field for field as the original tool sent it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Payload {
    pub timestamp: String,
    pub target: String,
    pub event: String,
    pub ticket: String,
    pub price: String,
    pub checkout_url: String,
    pub cookies: serde_json::Map<String, serde_json::Value>,
    pub cookie_script: String,
}

/// `event` for a won cart.
pub const TICKET_IN_CART: &str = "ticket_in_cart";
/// `event` for a listing seen in `--dry-run` (checkout_url empty, no cookies).
pub const TICKET_DETECTED: &str = "ticket_detected";

impl Payload {
    pub fn in_cart(target: &Url, h: &Handoff) -> Payload {
        Payload {
            timestamp: timestamp(),
            target: target.to_string(),
            event: TICKET_IN_CART.into(),
            ticket: h.ticket.clone(),
            price: h.price.clone(),
            checkout_url: h.checkout_url.clone(),
            cookies: h
                .cookies
                .iter()
                .map(|c| (c.name.clone(), serde_json::Value::String(c.value.clone())))
                .collect(),
            cookie_script: h.cookie_script.clone(),
        }
    }

    pub fn detected(target: &Url, ticket: &str, price: &str) -> Payload {
        Payload {
            timestamp: timestamp(),
            target: target.to_string(),
            event: TICKET_DETECTED.into(),
            ticket: ticket.into(),
            price: price.into(),
            checkout_url: String::new(),
            cookies: serde_json::Map::new(),
            cookie_script: String::new(),
        }
    }
}

/// Local time like Python's `datetime.now().isoformat()`.
fn timestamp() -> String {
    chrono::Local::now()
        .format("%Y-%m-%dT%H:%M:%S%.6f")
        .to_string()
}

/// A plain client for webhooks: no shop cookies, no browser disguise.
///
/// Building can fail (the TLS backend cannot load the system's roots);
/// that is returned, never papered over with a default client that would
/// ignore our timeouts and identity.
pub fn client() -> Result<reqwest::Client, WebhookError> {
    reqwest::Client::builder()
        .use_rustls_tls()
        .connect_timeout(Duration::from_secs(5))
        .user_agent(concat!("pretix-race/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(WebhookError::Client)
}

/// Whether a POST to `url` would carry the payload unencrypted across a
/// network: plain `http://` to anything but this machine.
///
/// The in-cart payload holds the shop's session cookies (and the fallback
/// script that sets them), so whoever sees it can take over the cart. Over
/// loopback (`127.0.0.0/8`, `::1`, `localhost`) nothing leaves the machine, and a
/// local relay is a legitimate setup; anywhere else it is worth a warning.
/// Hosts are compared structurally (the parsed [`url::Host`]), never as text
/// prefixes, so `127.0.0.1.evil.example` is not loopback.
pub fn is_plain_http_to_remote(url: &Url) -> bool {
    if url.scheme() != "http" {
        return false;
    }
    match url.host() {
        Some(url::Host::Ipv4(ip)) => !ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => !ip.is_loopback(),
        Some(url::Host::Domain(name)) => {
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            name != "localhost" && !name.ends_with(".localhost")
        }
        None => true,
    }
}

/// Say once, when the run starts, that the webhook would send the cart's
/// cookies in the clear. A warning, not an error: the user may have a reason
/// (a trusted LAN), and refusing would cost them the notification.
pub fn warn_if_plain_http(url: &Url) {
    if is_plain_http_to_remote(url) {
        // Host only: the URL's path or query may itself hold a secret token.
        tracing::warn!(
            host = url.host_str().unwrap_or_default(),
            "webhook is plain http to a non-loopback host: the cart's cookies would travel unencrypted (use https://)"
        );
    }
}

/// Why one POST did not count as delivered.
#[derive(Debug, thiserror::Error)]
pub enum AttemptError {
    /// The receiver answered, but not with 2xx.
    #[error("HTTP {0}")]
    Status(reqwest::StatusCode),
    /// No answer: connect, TLS, timeout, …
    #[error("{0}")]
    Transport(#[source] reqwest::Error),
}

#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    #[error("cannot build the webhook's HTTP client")]
    Client(#[source] reqwest::Error),
    #[error("webhook gave up after {attempts} attempts: {last}")]
    GaveUp { attempts: u32, last: AttemptError },
}

/// How hard to try.
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    pub attempts: u32,
    pub timeout: Duration,
    pub first_retry_delay: Duration,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            attempts: 3,
            timeout: Duration::from_secs(5),
            first_retry_delay: Duration::from_millis(500),
        }
    }
}

/// POST `payload` to `url`, retrying on errors and non-2xx answers.
/// Returns the number of attempts it took.
pub async fn send(
    client: &reqwest::Client,
    url: &Url,
    payload: &Payload,
    policy: Policy,
) -> Result<u32, WebhookError> {
    let mut delay = policy.first_retry_delay;
    let mut attempt = 1;
    loop {
        let last = match client
            .post(url.clone())
            .timeout(policy.timeout)
            .json(payload)
            .send()
            .await
        {
            Ok(r) if r.status().is_success() => return Ok(attempt),
            Ok(r) => AttemptError::Status(r.status()),
            Err(e) => AttemptError::Transport(e),
        };
        tracing::warn!(attempt, error = %last, "webhook failed");
        if attempt >= policy.attempts {
            return Err(WebhookError::GaveUp {
                attempts: attempt,
                last,
            });
        }
        tokio::time::sleep(delay).await;
        delay *= 2;
        attempt += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[test]
    fn plain_http_is_flagged_only_off_this_machine() {
        let flagged = |u: &str| is_plain_http_to_remote(&Url::parse(u).unwrap());
        // Off the machine, in the clear.
        assert!(flagged("http://hooks.example/x"));
        assert!(flagged("http://192.168.1.10:8080/hook"));
        assert!(flagged("http://[2001:db8::1]/hook"));
        // Text that merely starts like loopback is not loopback.
        assert!(flagged("http://127.0.0.1.evil.example/hook"));
        assert!(flagged("http://localhost.evil.example/hook"));
        // Loopback in every spelling.
        assert!(!flagged("http://127.0.0.1:9000/hook"));
        assert!(!flagged("http://127.8.9.10/hook"));
        assert!(!flagged("http://[::1]:9000/hook"));
        assert!(!flagged("http://localhost/hook"));
        assert!(!flagged("http://LocalHost./hook"));
        assert!(!flagged("http://relay.localhost/hook"));
        // Encrypted is fine anywhere.
        assert!(!flagged("https://hooks.example/x"));
        assert!(!flagged("https://192.168.1.10/hook"));
    }

    fn quick(attempts: u32) -> Policy {
        Policy {
            attempts,
            timeout: Duration::from_secs(5),
            first_retry_delay: Duration::from_millis(1),
        }
    }

    fn payload() -> Payload {
        let target = Url::parse("https://shop.example/org/ev/secondhand/").unwrap();
        Payload::detected(&target, "Ticket – Type A", "190.00 EUR")
    }

    /// A receiver on 127.0.0.1 that answers every request with `status`.
    async fn answering(status: u16) -> Url {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = Url::parse(&format!("http://{}/hook", listener.local_addr().unwrap())).unwrap();
        tokio::spawn(async move {
            while let Ok((mut sock, _)) = listener.accept().await {
                let mut buf = vec![0u8; 64 * 1024];
                // One read holds this small request's head and body.
                let _ = sock.read(&mut buf).await;
                let answer = format!(
                    "HTTP/1.1 {status} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                );
                let _ = sock.write_all(answer.as_bytes()).await;
            }
        });
        url
    }

    #[tokio::test]
    async fn giving_up_keeps_the_last_status() {
        let url = answering(503).await;
        let err = send(&client().unwrap(), &url, &payload(), quick(2))
            .await
            .unwrap_err();
        match &err {
            WebhookError::GaveUp {
                attempts: 2,
                last: AttemptError::Status(s),
            } => assert_eq!(s.as_u16(), 503),
            other => panic!("unexpected {other:?}"),
        }
        assert!(err.to_string().contains("503"), "{err}");
    }

    #[tokio::test]
    async fn giving_up_keeps_the_transport_error() {
        let dead = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let port = l.local_addr().unwrap().port();
            drop(l);
            Url::parse(&format!("http://127.0.0.1:{port}/hook")).unwrap()
        };
        let err = send(&client().unwrap(), &dead, &payload(), quick(1))
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                WebhookError::GaveUp {
                    attempts: 1,
                    last: AttemptError::Transport(_)
                }
            ),
            "{err:?}"
        );
    }

    #[tokio::test]
    async fn a_2xx_is_delivered_on_the_first_attempt() {
        let url = answering(204).await;
        let n = send(&client().unwrap(), &url, &payload(), quick(3))
            .await
            .unwrap();
        assert_eq!(n, 1);
    }
}
