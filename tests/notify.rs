//! Notifications end to end: every service against a local receiver that
//! checks the exact request its published API expects, e-mail against a
//! tiny SMTP server, `--notify-test`, the cart-expiry reminder against the
//! simulator, secrets masked in logs, and the desktop path.
//!
//! The API shapes checked below, as the services document them:
//! - ntfy, "Publishing" (docs.ntfy.sh/publish): publish as JSON by POSTing
//!   to the server's root URL with `topic`, `message`, `title`, `tags`,
//!   `priority` (1–5, 5 = max/urgent) and `click` (the URL opened on tap).
//! - Discord, "Execute Webhook": `POST /webhooks/{webhook.id}/{webhook.token}`
//!   (under `/api`) with JSON `content`, `username`, `embeds` (`title`,
//!   `description`, `url`, `color`); one of `content`/`embeds` required.
//! - Telegram Bot API, `sendMessage`: `POST /bot<token>/sendMessage` with
//!   `chat_id`, `text`, `parse_mode` ("HTML"), `disable_web_page_preview`.
//! - Pushover, "Pushover API": `POST /1/messages.json`, form fields `token`,
//!   `user`, `message`, `title`, `url`, `url_title`, `priority` (1 = high,
//!   bypasses quiet hours; 2 would need `retry`/`expire`).
//! - Slack, "Incoming webhooks": `POST /services/T…/B…/X…` with JSON `text`.
//! - Apprise's JSON notification: `version`, `title`, `message`, `type`.

mod common;

use std::collections::HashMap;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::Router;
use pretix_race::notify::desktop::Desktop;
use pretix_race::notify::reminder::{self, ReminderEnd};
use pretix_race::notify::webhook::Policy;
use pretix_race::notify::{Bases, Channel, Delivered, Message, Notifier, Notify};
use pretix_race::runner;
use pretix_race_sim::{Scenario, ScriptedListing};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio_util::sync::CancellationToken;
use url::Url;

/// One request as the receiver saw it.
#[derive(Debug, Clone)]
struct Seen {
    method: Method,
    path: String,
    headers: HeaderMap,
    body: Bytes,
}

impl Seen {
    fn json(&self) -> Value {
        assert_eq!(
            self.headers["content-type"], "application/json",
            "{} wants JSON",
            self.path
        );
        serde_json::from_slice(&self.body).expect("a JSON body")
    }

    fn form(&self) -> HashMap<String, String> {
        assert_eq!(
            self.headers["content-type"],
            "application/x-www-form-urlencoded"
        );
        url::form_urlencoded::parse(&self.body)
            .into_owned()
            .collect()
    }
}

/// A receiver on 127.0.0.1 recording every request; `status` picks the
/// answer per path (200 when it returns `None`).
struct Receiver {
    base: Url,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Receiver {
    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    fn only(&self) -> Seen {
        let seen = self.seen();
        assert_eq!(seen.len(), 1, "{seen:#?}");
        seen[0].clone()
    }
}

async fn receiver(status: fn(&str) -> Option<u16>) -> Receiver {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    let app = Router::new().fallback(
        move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
            let s = s.clone();
            async move {
                let path = uri.path().to_string();
                let code = status(&path).unwrap_or(200);
                s.lock().unwrap().push(Seen {
                    method,
                    path,
                    headers,
                    body,
                });
                StatusCode::from_u16(code).unwrap()
            }
        },
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = Url::parse(&format!("http://{}/", listener.local_addr().unwrap())).unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    Receiver { base, seen }
}

fn quick() -> Policy {
    Policy {
        attempts: 2,
        timeout: Duration::from_secs(5),
        first_retry_delay: Duration::from_millis(1),
    }
}

fn notifier_for(urls: &[&str], bases: &Url) -> Notifier {
    let channels = urls.iter().map(|u| u.parse::<Channel>().unwrap()).collect();
    Notifier::with_bases(
        Notify {
            channels,
            webhook_policy: Some(quick()),
            ..Notify::default()
        },
        Bases::all(bases),
        None,
    )
}

const CHECKOUT: &str = "https://tickets.example.com/org/ev/checkout/questions/";

fn won() -> Message {
    Message::won(
        "Type A",
        "190.00 EUR",
        CHECKOUT,
        Some("2026-01-01 12:10:00+0000"),
    )
}

/// Send the win through the one channel `url` and return what arrived.
async fn deliver_win(url: &str) -> Seen {
    let rx = receiver(|_| None).await;
    let n = notifier_for(&[url], &rx.base);
    let results = n.deliver_all(&won()).await;
    assert_eq!(results.len(), 1);
    assert!(
        matches!(results[0].1, Ok(Delivered::Http(200))),
        "{results:?}"
    );
    let seen = rx.only();
    assert_eq!(seen.method, Method::POST);
    seen
}

#[tokio::test]
async fn ntfy_gets_a_json_publish_with_max_priority_and_the_checkout_click() {
    let seen = deliver_win("ntfy://mytopic_42").await;
    assert_eq!(seen.path, "/");
    let v = seen.json();
    assert_eq!(v["topic"], "mytopic_42");
    assert_eq!(v["title"], "Ticket in cart: Type A");
    assert!(v["message"].as_str().unwrap().contains("190.00 EUR"));
    assert!(v["message"]
        .as_str()
        .unwrap()
        .contains("2026-01-01 12:10:00+0000"));
    assert_eq!(v["priority"], 5);
    assert_eq!(v["click"], CHECKOUT);
    assert_eq!(v["tags"], serde_json::json!(["ticket", "ticket_in_cart"]));
}

#[tokio::test]
async fn ntfy_on_an_own_server_goes_to_that_host() {
    let rx = receiver(|_| None).await;
    let own = format!(
        "ntfy://{}:{}/alerts",
        rx.base.host_str().unwrap(),
        rx.base.port().unwrap()
    );
    // the bases point nowhere: the URL's own host must be used
    let n = notifier_for(&[&own], &Url::parse("http://127.0.0.1:9/").unwrap());
    let r = n.deliver_all(&Message::health("5 errors in a row")).await;
    assert!(matches!(r[0].1, Ok(Delivered::Http(200))), "{r:?}");
    let v = rx.only().json();
    assert_eq!(v["topic"], "alerts");
    assert_eq!(v["priority"], 4);
    assert!(v.get("click").is_none());
}

#[tokio::test]
async fn discord_gets_an_execute_webhook_call() {
    let seen = deliver_win("discord://4174216298/JHMHI8qBe7bk2ZwO5U711o3dV_js").await;
    assert_eq!(
        seen.path,
        "/api/webhooks/4174216298/JHMHI8qBe7bk2ZwO5U711o3dV_js"
    );
    let v = seen.json();
    assert_eq!(v["username"], "pretix-race");
    assert_eq!(v["content"], "Ticket in cart: Type A");
    let embed = &v["embeds"][0];
    assert_eq!(embed["title"], "Ticket in cart: Type A");
    assert_eq!(embed["url"], CHECKOUT);
    assert!(embed["description"].as_str().unwrap().contains(CHECKOUT));
    assert!(embed["color"].is_u64());
}

#[tokio::test]
async fn telegram_gets_send_message() {
    let seen = deliver_win("tgram://123456789:AAH-secret_x/-100987").await;
    assert_eq!(seen.path, "/bot123456789:AAH-secret_x/sendMessage");
    let v = seen.json();
    assert_eq!(v["chat_id"], "-100987");
    assert_eq!(v["parse_mode"], "HTML");
    assert_eq!(v["disable_web_page_preview"], true);
    let text = v["text"].as_str().unwrap();
    assert!(
        text.starts_with("<b>Ticket in cart: Type A</b>\n"),
        "{text}"
    );
    assert!(text.contains(&format!("<a href=\"{CHECKOUT}\">")), "{text}");
}

#[tokio::test]
async fn pushover_gets_a_form_with_high_priority_and_the_url() {
    let seen = deliver_win("pover://uUSERKEY123@aAPPTOKEN456").await;
    assert_eq!(seen.path, "/1/messages.json");
    let f = seen.form();
    assert_eq!(f["token"], "aAPPTOKEN456");
    assert_eq!(f["user"], "uUSERKEY123");
    assert_eq!(f["title"], "Ticket in cart: Type A");
    assert!(f["message"].contains("190.00 EUR"));
    assert_eq!(f["url"], CHECKOUT);
    assert_eq!(f["url_title"], "Open checkout");
    // 1, not 2: emergency would need retry/expire and never stop ringing
    assert_eq!(f["priority"], "1");
    assert!(!f.contains_key("retry"));
}

#[tokio::test]
async fn slack_gets_an_incoming_webhook_text() {
    let seen = deliver_win("slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ").await;
    assert_eq!(
        seen.path,
        "/services/T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ"
    );
    let v = seen.json();
    let text = v["text"].as_str().unwrap();
    assert!(text.starts_with("*Ticket in cart: Type A*\n"), "{text}");
    assert!(text.contains(&format!("<{CHECKOUT}|Open>")), "{text}");
}

#[tokio::test]
async fn json_gets_apprise_fields_and_the_event() {
    let rx = receiver(|_| None).await;
    let url = format!(
        "json://{}:{}/notify/me",
        rx.base.host_str().unwrap(),
        rx.base.port().unwrap()
    );
    let n = notifier_for(&[&url], &Url::parse("http://127.0.0.1:9/").unwrap());
    n.deliver_all(&won()).await;
    let seen = rx.only();
    assert_eq!(seen.path, "/notify/me");
    let v = seen.json();
    assert_eq!(v["version"], "1.0");
    assert_eq!(v["title"], "Ticket in cart: Type A");
    assert_eq!(v["type"], "success");
    assert_eq!(v["event"], "ticket_in_cart");
    assert_eq!(v["url"], CHECKOUT);
    // no cookies: those go only to the deliberate --webhook
    assert!(v.get("cookies").is_none());
}

#[tokio::test]
async fn a_legacy_webhook_hears_only_its_two_events() {
    let rx = receiver(|_| None).await;
    let n = Notifier::with_bases(
        Notify {
            webhook: Some(rx.base.join("hook").unwrap()),
            webhook_policy: Some(quick()),
            ..Notify::default()
        },
        Bases::all(&rx.base),
        None,
    );
    n.notify(&Message::started("https://x.example/")).await;
    n.notify(&Message::health("trouble")).await;
    assert!(rx.seen().is_empty());
    let target = Url::parse("https://x.example/o/e/secondhand/").unwrap();
    n.detected(&target, "Type A", "1.00 EUR").await;
    let v = rx.only().json();
    assert_eq!(v["event"], "ticket_detected");
}

/// A tiny SMTP server: just enough of RFC 5321 for one mail. Returns the
/// envelope lines and the DATA it received.
async fn smtp_server() -> (u16, tokio::sync::oneshot::Receiver<(Vec<String>, String)>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        let (sock, _) = listener.accept().await.unwrap();
        let (r, mut w) = sock.into_split();
        let mut r = BufReader::new(r);
        w.write_all(b"220 localhost ESMTP test\r\n").await.unwrap();
        let mut commands = Vec::new();
        let mut data = String::new();
        let mut line = String::new();
        loop {
            line.clear();
            if r.read_line(&mut line).await.unwrap() == 0 {
                break;
            }
            let cmd = line.trim_end().to_string();
            let upper = cmd.to_ascii_uppercase();
            if upper.starts_with("EHLO") || upper.starts_with("HELO") {
                w.write_all(b"250-localhost\r\n250 8BITMIME\r\n")
                    .await
                    .unwrap();
            } else if upper.starts_with("MAIL") || upper.starts_with("RCPT") {
                commands.push(cmd);
                w.write_all(b"250 ok\r\n").await.unwrap();
            } else if upper == "DATA" {
                w.write_all(b"354 go ahead\r\n").await.unwrap();
                loop {
                    line.clear();
                    r.read_line(&mut line).await.unwrap();
                    if line == ".\r\n" {
                        break;
                    }
                    data.push_str(&line);
                }
                w.write_all(b"250 queued\r\n").await.unwrap();
            } else if upper == "QUIT" {
                w.write_all(b"221 bye\r\n").await.unwrap();
                break;
            } else {
                w.write_all(b"250 ok\r\n").await.unwrap();
            }
        }
        let _ = tx.send((commands, data));
    });
    (port, rx)
}

#[tokio::test]
async fn mail_goes_out_over_smtp_with_subject_body_and_link() {
    let (port, got) = smtp_server().await;
    let url = format!("mailto://race@127.0.0.1:{port}?to=me@example.org&from=race@example.org");
    let n = notifier_for(&[&url], &Url::parse("http://127.0.0.1:9/").unwrap());
    let r = n.deliver_all(&won()).await;
    assert!(matches!(r[0].1, Ok(Delivered::Smtp(250))), "{r:?}");
    let (commands, data) = tokio::time::timeout(Duration::from_secs(10), got)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        commands,
        ["MAIL FROM:<race@example.org>", "RCPT TO:<me@example.org>"]
    );
    assert!(
        data.contains("Subject: Ticket in cart: Type A\r\n"),
        "{data}"
    );
    assert!(data.contains("To: me@example.org"), "{data}");
    assert!(data.contains(CHECKOUT), "{data}");
    assert!(data.contains("190.00 EUR"), "{data}");
}

#[tokio::test]
async fn notify_test_reports_per_url_and_sends_every_kind() {
    // Discord answers 500 (retried, then reported); ntfy takes everything.
    let rx = receiver(|p| p.starts_with("/api/webhooks").then_some(500)).await;
    let n = notifier_for(&["ntfy://testtopic", "discord://1/SECRETTOKEN"], &rx.base);
    let mut out = Vec::new();
    let all_ok = runner::notify_test_with(&n, &mut out).await.unwrap();
    let out = String::from_utf8(out).unwrap();
    assert!(!all_ok);
    assert_eq!(
        out,
        "ntfys://te****: ok (HTTP 200)\n\
         discord://1/****: failed: HTTP 500 after 2 attempt(s)\n"
    );
    let seen = rx.seen();
    let ntfy: Vec<Value> = seen
        .iter()
        .filter(|s| s.path == "/")
        .map(Seen::json)
        .collect();
    let kinds: Vec<&str> = ntfy
        .iter()
        .map(|v| v["tags"][1].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "race_started",
            "ticket_detected",
            "ticket_in_cart",
            "race_lost",
            "health",
            "cart_expiring"
        ]
    );
    assert!(ntfy
        .iter()
        .all(|v| v["title"].as_str().unwrap().starts_with("[test] ")));
    // 6 samples × 2 attempts to Discord
    assert_eq!(
        seen.iter().filter(|s| s.path.starts_with("/api/")).count(),
        12
    );
    assert!(!out.contains("SECRETTOKEN"));
}

#[tokio::test]
async fn notify_test_without_channels_is_a_usage_error() {
    let mut out = Vec::new();
    let r = runner::notify_test(Notify::default(), &mut out).await;
    assert!(
        matches!(r, Err(runner::NotifyTestError::NoChannels)),
        "{r:?}"
    );
}

/// A `MakeWriter` into a shared buffer, to read what was logged.
#[derive(Clone, Default)]
struct LogBuf(Arc<Mutex<Vec<u8>>>);

impl Write for LogBuf {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogBuf {
    type Writer = LogBuf;
    fn make_writer(&'a self) -> LogBuf {
        self.clone()
    }
}

// current_thread: the subscriber set for this thread sees every task.
#[tokio::test(flavor = "current_thread")]
async fn failed_deliveries_never_log_the_secrets() {
    let logs = LogBuf::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(logs.clone())
        .with_max_level(tracing::Level::DEBUG)
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    // one receiver refusing the token, one dead port (a transport error,
    // whose message would name the URL, token and all)
    let rx = receiver(|_| Some(401)).await;
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        drop(l);
        Url::parse(&format!("http://127.0.0.1:{port}/")).unwrap()
    };
    let n = notifier_for(&["tgram://123456789:TGSECRET/42"], &rx.base);
    let r = n.deliver_all(&won()).await;
    assert!(r[0].1.is_err());
    let n = notifier_for(
        &[
            "tgram://123456789:TGSECRET/42",
            "pover://USERSECRET@APPSECRET",
        ],
        &dead,
    );
    let r = n.deliver_all(&won()).await;
    assert!(r.iter().all(|(_, r)| r.is_err()), "{r:?}");

    let text = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(text.contains("tgram://****/42"), "{text}");
    assert!(text.contains("pover://****@****"), "{text}");
    assert!(text.contains("not delivered"), "{text}");
    for secret in ["TGSECRET", "123456789", "USERSECRET", "APPSECRET"] {
        assert!(!text.contains(secret), "{secret} leaked:\n{text}");
    }
}

/// Records desktop notifications instead of showing them.
#[derive(Default)]
struct DesktopRecorder(Mutex<Vec<(String, bool)>>);

impl Desktop for DesktopRecorder {
    fn show(&self, title: &str, _body: &str, urgent: bool) -> Result<(), String> {
        self.0.lock().unwrap().push((title.to_string(), urgent));
        Ok(())
    }
}

#[tokio::test]
async fn the_desktop_hears_wins_and_health_only() {
    let desk = Arc::new(DesktopRecorder::default());
    let n = Notifier::with_bases(
        Notify::default(),
        Bases::default(),
        Some(desk.clone() as Arc<dyn Desktop>),
    );
    n.notify(&Message::started("https://x.example/")).await;
    n.notify(&Message::lost("Type A", "sold")).await;
    n.notify(&won()).await;
    n.notify(&Message::health("trouble")).await;
    assert_eq!(
        *desk.0.lock().unwrap(),
        [
            ("Ticket in cart: Type A".to_string(), true),
            ("pretix-race needs a look".to_string(), false)
        ]
    );
}

fn winnable() -> Scenario {
    Scenario {
        listings: vec![ScriptedListing::new(
            "wwwwwwwwwwwwwww1",
            "Ticket – Type A",
            "190.00",
        )],
        ..Scenario::new("org", "fest")
    }
}

#[tokio::test]
async fn an_unpaid_cart_is_reminded_before_it_expires() {
    let shop = common::shop(winnable()).await;
    let run = common::race(&shop.cfg).await;
    let win = run.won().clone();
    let expires = reminder::parse_expiry(win.expires_at.as_deref().expect("data-expires"))
        .expect("a readable expiry");

    let rx = receiver(|_| None).await;
    let n = Notifier::with_bases(
        Notify {
            channels: vec!["ntfy://cart".parse().unwrap()],
            webhook_policy: Some(quick()),
            remind_before: Some(Duration::from_secs(300)),
            ..Notify::default()
        },
        Bases::all(&rx.base),
        None,
    );
    let before = n.remind_before().expect("a channel to remind on");
    // the runner's own session: the won cookies put into a new client
    let session = reminder::session_for(&shop.cfg, &win).expect("session");
    let now = chrono::Utc::now();
    let asked = Arc::new(Mutex::new(None));
    let a = asked.clone();
    let end = reminder::remind(
        &n,
        Some(&session),
        &win,
        before,
        now,
        &CancellationToken::new(),
        move |d| {
            *a.lock().unwrap() = Some(d);
            async {}
        },
    )
    .await;
    assert_eq!(end, ReminderEnd::Reminded);
    // it waited until five minutes before the sim's 10-minute reservation
    let waited = asked.lock().unwrap().expect("waited");
    let want = (expires - now).to_std().unwrap() - before;
    assert!(
        waited.abs_diff(want) < Duration::from_secs(1),
        "{waited:?} vs {want:?}"
    );
    assert!(waited > Duration::from_secs(4 * 60), "{waited:?}");
    // the cart was checked with the won session, then the reminder sent
    let v = rx.only().json();
    assert_eq!(v["tags"][1], "cart_expiring");
    assert_eq!(v["priority"], 4);
    assert_eq!(v["click"], win.checkout_url.as_str());
    assert!(v["message"].as_str().unwrap().contains("5 min"));
}

#[tokio::test]
async fn a_paid_cart_gets_no_reminder_and_ctrl_c_ends_the_wait() {
    let shop = common::shop(winnable()).await;
    let run = common::race(&shop.cfg).await;
    let mut win = run.won().clone();
    let rx = receiver(|_| None).await;
    let n = notifier_for(&["ntfy://cart"], &rx.base);
    let before = Duration::from_secs(300);

    // Ctrl-C while waiting: nothing checked, nothing sent
    let cancel = CancellationToken::new();
    cancel.cancel();
    let end = reminder::remind(&n, None, &win, before, chrono::Utc::now(), &cancel, |_| {
        std::future::pending()
    })
    .await;
    assert_eq!(end, ReminderEnd::Cancelled);

    // The cart is gone from the session (as after paying): pretix sends
    // checkout back to the event page, and no reminder goes out.
    win.cookies.clear();
    let session = reminder::session_for(&shop.cfg, &win).expect("session");
    let end = reminder::remind(
        &n,
        Some(&session),
        &win,
        before,
        chrono::Utc::now(),
        &CancellationToken::new(),
        |_| async {},
    )
    .await;
    assert_eq!(end, ReminderEnd::CartGone);
    assert!(rx.seen().is_empty());
}

/// The real desktop path on Linux: notify-rust's D-Bus call, on a private
/// session bus this test starts (`dbus-daemon`, from the `dbus` package,
/// which scripts/test-all.sh installs). `dbus-monitor` shows the
/// `org.freedesktop.Notifications.Notify` call as it crosses the bus; with
/// no notification server on it, the call then fails, which must come back
/// as an error (logged at debug by the notifier), not a panic or a hang.
#[cfg(target_os = "linux")]
#[tokio::test]
async fn a_win_reaches_the_session_bus_as_a_critical_notification() {
    use pretix_race::notify::desktop::NotifyRust;
    use std::process::Stdio;
    use tokio::process::Command;

    let daemon = std::process::Command::new("dbus-daemon")
        .args([
            "--session",
            "--print-address=1",
            "--print-pid=1",
            "--fork",
            "--nopidfile",
        ])
        .output()
        .expect("dbus-daemon runs (apt-get install dbus)");
    let out = String::from_utf8(daemon.stdout).unwrap();
    let mut lines = out.lines();
    let addr = lines.next().expect("bus address").to_string();
    let pid: i32 = lines.next().expect("daemon pid").trim().parse().unwrap();
    struct Kill(i32);
    impl Drop for Kill {
        fn drop(&mut self) {
            unsafe { libc::kill(self.0, libc::SIGTERM) };
        }
    }
    let _daemon = Kill(pid);

    let mut monitor = Command::new("dbus-monitor")
        .args(["--address", &addr])
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("dbus-monitor runs");
    let mut mon = BufReader::new(monitor.stdout.take().unwrap()).lines();
    // The monitor is listening once the bus has named it.
    tokio::time::timeout(common::DEADLINE, async {
        while let Some(l) = mon.next_line().await.unwrap() {
            if l.contains("member=NameAcquired") || l.contains("member=NameLost") {
                return;
            }
        }
        panic!("dbus-monitor ended before it was ready");
    })
    .await
    .expect("dbus-monitor ready");

    // The only test in this binary that reads the session bus address.
    std::env::set_var("DBUS_SESSION_BUS_ADDRESS", &addr);
    let shown =
        tokio::task::spawn_blocking(|| NotifyRust.show("Ticket in cart: Type A", "pay now", true))
            .await
            .unwrap();
    assert!(
        shown.is_err(),
        "no notification server on this bus: {shown:?}"
    );

    let call = tokio::time::timeout(common::DEADLINE, async {
        let mut call = String::new();
        let mut inside = false;
        while let Some(l) = mon.next_line().await.unwrap() {
            if l.starts_with("method call") {
                inside = l.contains("interface=org.freedesktop.Notifications; member=Notify");
            } else if !l.starts_with(' ') && inside {
                return call;
            }
            if inside {
                call.push_str(&l);
                call.push('\n');
            }
        }
        call
    })
    .await
    .expect("the Notify call crossed the bus");
    assert!(call.contains("string \"pretix-race\""), "{call}");
    assert!(call.contains("string \"Ticket in cart: Type A\""), "{call}");
    assert!(call.contains("string \"pay now\""), "{call}");
    assert!(call.contains("string \"urgency\""), "{call}");
    assert!(call.contains("byte 2"), "critical urgency: {call}");
}

/// The terminal runner end to end: the listener announces the start, the
/// win goes out with its checkout link, and the reminder follows. With
/// `--remind-before` longer than the reservation has left, the reminder is
/// due at once: the runner's own wait, cart check and send, no sleeping.
#[tokio::test]
async fn the_runner_announces_the_start_the_win_and_the_reminder() {
    let shop = common::shop(winnable()).await;
    let rx = receiver(|_| None).await;
    // An own ntfy server: the URL names the host, so no base is needed.
    let url = format!(
        "ntfy://{}:{}/race",
        rx.base.host_str().unwrap(),
        rx.base.port().unwrap()
    );
    let notify = Notify {
        channels: vec![url.parse().unwrap()],
        webhook_policy: Some(quick()),
        remind_before: Some(Duration::from_secs(3600)),
        ..Notify::default()
    };
    let mut cfg = shop.cfg.clone();
    let tmp = tempfile::tempdir().unwrap();
    cfg.live_responses = tmp.path().to_path_buf();
    let mut out = Vec::new();
    let end = tokio::time::timeout(
        common::DEADLINE,
        runner::run(cfg, notify, CancellationToken::new(), &mut out),
    )
    .await
    .expect("the run ends");
    assert!(matches!(end, Ok(runner::Outcome::Won)), "{end:?}");
    let got: Vec<Value> = rx.seen().iter().map(Seen::json).collect();
    let mut kinds: Vec<String> = got
        .iter()
        .map(|v| v["tags"][1].as_str().unwrap().to_string())
        .collect();
    // the start goes out from the listener, concurrently with the race;
    // the reminder strictly after the win
    let won = kinds
        .iter()
        .position(|k| k == "ticket_in_cart")
        .expect("won");
    let reminded = kinds
        .iter()
        .position(|k| k == "cart_expiring")
        .expect("reminded");
    assert!(won < reminded, "{kinds:?}");
    kinds.sort();
    assert_eq!(
        kinds,
        ["cart_expiring", "race_started", "ticket_in_cart"],
        "{got:#?}"
    );
    let (won, reminded) = (&got[won], &got[reminded]);
    let checkout = won["click"].as_str().unwrap();
    assert!(checkout.starts_with(&shop.sim.event_url()), "{checkout}");
    assert_eq!(won["priority"], 5);
    assert_eq!(reminded["click"], checkout);
}
