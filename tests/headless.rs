//! The headless run end to end: race the simulator, print the handoff, write
//! private files, POST the webhook to a receiver this test starts.

mod common;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::Router;
use common::shop;
use pretix_race::events::{Events, RaceEvent, WaitReason};
use pretix_race::exit::{self, Exit};
use pretix_race::notify::webhook::Policy;
use pretix_race::notify::Notify;
use pretix_race::race::{Race, RaceEnd};
use pretix_race::runner;
use pretix_race::session::Session;
use pretix_race_sim::{Sale, Scenario, ScriptedListing, Trigger};
use serde_json::Value;
use tokio::sync::{mpsc, Notify as Signal};
use tokio_util::sync::CancellationToken;
use url::Url;

/// One request the webhook receiver got, whatever its method or path.
#[derive(Debug, Clone)]
struct Hit {
    method: String,
    path: String,
    content_type: Option<String>,
    body: Value,
}

/// A webhook receiver on 127.0.0.1 that answers `fail_first` requests with
/// 500 and records every request. Like a mock server should, it fails the
/// test when dropped if it got fewer than `expected` requests: a webhook that
/// was never sent must not pass as "nothing to check".
struct Receiver {
    url: Url,
    hits: Arc<Mutex<Vec<Hit>>>,
    got: Arc<Signal>,
    expected: usize,
}

impl Receiver {
    /// The JSON bodies, after checking every request was a JSON POST to
    /// the webhook URL.
    fn bodies(&self) -> Vec<Value> {
        let hits = self.hits.lock().unwrap().clone();
        for h in &hits {
            assert_eq!(h.method, "POST", "{h:?}");
            assert_eq!(h.path, self.url.path(), "{h:?}");
            assert_eq!(h.content_type.as_deref(), Some("application/json"), "{h:?}");
        }
        hits.into_iter().map(|h| h.body).collect()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let n = self.hits.lock().map(|h| h.len()).unwrap_or(0);
        if n < self.expected && !std::thread::panicking() {
            panic!(
                "webhook receiver expected {} request(s), got {n}",
                self.expected
            );
        }
    }
}

async fn receiver(fail_first: usize, expected: usize) -> Receiver {
    let hits = Arc::new(Mutex::new(Vec::new()));
    let got = Arc::new(Signal::new());
    let (h, g) = (hits.clone(), got.clone());
    let app = Router::new().fallback(
        move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
            let (h, g) = (h.clone(), g.clone());
            async move {
                let hit = Hit {
                    method: method.to_string(),
                    path: uri.path().to_owned(),
                    content_type: headers
                        .get(CONTENT_TYPE)
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_owned),
                    body: serde_json::from_slice(&body).unwrap_or(Value::Null),
                };
                let n = {
                    let mut all = h.lock().unwrap();
                    all.push(hit);
                    all.len()
                };
                g.notify_one();
                if n <= fail_first {
                    StatusCode::INTERNAL_SERVER_ERROR
                } else {
                    StatusCode::OK
                }
            }
        },
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = Url::parse(&format!("http://{}/hook", listener.local_addr().unwrap())).unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    Receiver {
        url,
        hits,
        got,
        expected,
    }
}

/// Notify only the webhook at `url`, retrying quickly.
fn hook_notify(url: Url) -> Notify {
    Notify {
        webhook: Some(url),
        imessage: None,
        webhook_policy: Some(Policy {
            attempts: 3,
            timeout: Duration::from_secs(5),
            first_retry_delay: Duration::from_millis(10),
        }),
        ..Notify::default()
    }
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
async fn won_race_prints_handoff_writes_private_files_and_posts_the_webhook() {
    let tmp = tempfile::tempdir().unwrap();
    let mut shop = shop(winnable()).await;
    shop.cfg.live_responses = tmp.path().join("live-responses");
    let hook = receiver(0, 1).await;
    let mut out = Vec::new();
    let notify = hook_notify(hook.url.clone());
    let exit =
        exit::of(&runner::run(shop.cfg.clone(), notify, CancellationToken::new(), &mut out).await);
    assert_eq!(exit, Exit::Success);

    // the session the shop actually sold to
    let post = shop
        .sim
        .requests()
        .into_iter()
        .find(|r| r.method == "POST")
        .unwrap();
    let names = [
        "__QXSESSION",
        "__Host-pretix_csrftoken",
        "__Host-pretix_session",
    ];
    let text = String::from_utf8(out).unwrap();
    assert!(text.contains("TICKET IN CART"), "{text}");
    assert!(text.contains("Ticket:    Ticket – Type A"));
    assert!(text.contains("Price:     190.00 EUR"));
    let checkout = format!("{}/org/fest/checkout/questions/", shop.sim.base_url());
    assert!(text.contains(&format!("Checkout:  {checkout}")), "{text}");
    for n in names {
        assert!(
            text.contains(&format!("  {n}={}", post.cookies[n])),
            "{n} in {text}"
        );
    }
    // the fallback script, in the seed's exact shape
    let script_line = text
        .lines()
        .find(|l| l.starts_with("(async () => {"))
        .unwrap();
    assert!(script_line.ends_with("location.reload(); })()"));
    for n in names {
        assert!(script_line.contains(&format!(
            "await cookieStore.set({{name: \"{n}\", value: \"{}\", path: \"/\", secure: true, sameSite: \"lax\"}});",
            post.cookies[n]
        )));
    }

    // the webhook: exactly the seed's fields
    let bodies = hook.bodies();
    assert_eq!(bodies.len(), 1);
    let body = bodies[0].as_object().unwrap();
    let mut keys: Vec<_> = body.keys().map(String::as_str).collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "checkout_url",
            "cookie_script",
            "cookies",
            "event",
            "price",
            "target",
            "ticket",
            "timestamp"
        ]
    );
    assert_eq!(body["event"], "ticket_in_cart");
    assert_eq!(body["ticket"], "Ticket – Type A");
    assert_eq!(body["price"], "190.00 EUR");
    assert_eq!(body["checkout_url"], checkout.as_str());
    assert_eq!(body["target"], shop.sim.marketplace_url().as_str());
    assert_eq!(body["cookie_script"], script_line);
    let cookies = body["cookies"].as_object().unwrap();
    assert_eq!(cookies.len(), 3);
    for n in names {
        assert_eq!(cookies[n], post.cookies[n].as_str());
    }
    let ts = body["timestamp"].as_str().unwrap();
    assert_eq!(ts.len(), "2038-01-19T03:14:07.999999".len(), "{ts}");
    assert_eq!(&ts[4..5], "-");
    assert_eq!(&ts[10..11], "T");
    assert_eq!(&ts[19..20], ".");

    // private files
    use std::os::unix::fs::PermissionsExt;
    let dir = shop.cfg.live_responses.clone();
    assert_eq!(
        std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777,
        0o700
    );
    let files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    let named = |prefix: &str| {
        files
            .iter()
            .find(|p| p.file_name().unwrap().to_string_lossy().starts_with(prefix))
            .unwrap_or_else(|| panic!("no {prefix}* in {files:?}"))
            .clone()
    };
    let cookies_file = named("cookies_");
    let transcript = named("cart_add_");
    for f in [&cookies_file, &transcript] {
        assert_eq!(
            std::fs::metadata(f).unwrap().permissions().mode() & 0o777,
            0o600,
            "{f:?}"
        );
    }
    let name = cookies_file
        .file_name()
        .unwrap()
        .to_string_lossy()
        .to_string();
    assert_eq!(name.len(), "cookies_YYYYMMDD_HHMMSS.txt".len(), "{name}");
    let saved = std::fs::read_to_string(&cookies_file).unwrap();
    assert!(saved.contains(&format!(
        "__Host-pretix_session={}",
        post.cookies["__Host-pretix_session"]
    )));
    let t = std::fs::read_to_string(&transcript).unwrap();
    assert!(t.contains("CART ADD REQUEST/RESPONSE DEBUG"));
    assert!(t.contains("Status: 302"));
    assert!(t.contains(&format!(
        "csrfmiddlewaretoken={}",
        post.form.as_ref().unwrap()["csrfmiddlewaretoken"]
    )));
}

#[tokio::test]
async fn webhook_is_retried_and_its_failure_never_loses_the_win() {
    let tmp = tempfile::tempdir().unwrap();
    // fails twice, then accepts: delivered on attempt 3
    let shop_a = {
        let mut s = shop(winnable()).await;
        s.cfg.live_responses = tmp.path().join("a");
        s
    };
    let hook = receiver(2, 3).await;
    let notify = hook_notify(hook.url.clone());
    let mut out = Vec::new();
    assert_eq!(
        exit::of(
            &runner::run(
                shop_a.cfg.clone(),
                notify,
                CancellationToken::new(),
                &mut out
            )
            .await
        ),
        Exit::Success
    );
    let bodies = hook.bodies();
    assert_eq!(bodies.len(), 3);
    assert!(
        bodies.iter().all(|b| *b == bodies[0]),
        "a retry resends the same notification"
    );
    assert_eq!(bodies[0]["event"], "ticket_in_cart");

    // a dead webhook: still a win, output intact
    let shop_b = {
        let mut s = shop(winnable()).await;
        s.cfg.live_responses = tmp.path().join("b");
        s
    };
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        drop(l);
        Url::parse(&format!("http://127.0.0.1:{port}/hook")).unwrap()
    };
    let notify = hook_notify(dead);
    let mut out = Vec::new();
    assert_eq!(
        exit::of(
            &runner::run(
                shop_b.cfg.clone(),
                notify,
                CancellationToken::new(),
                &mut out
            )
            .await
        ),
        Exit::Success
    );
    assert!(String::from_utf8(out).unwrap().contains("TICKET IN CART"));
}

#[tokio::test]
async fn dry_run_sends_a_detection_webhook_and_buys_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let mut shop = shop(winnable()).await;
    shop.cfg.live_responses = tmp.path().to_path_buf();
    shop.cfg.dry_run = true;
    let hook = receiver(0, 1).await;
    let notify = hook_notify(hook.url.clone());
    let cancel = CancellationToken::new();
    let stopper = {
        let (cancel, got) = (cancel.clone(), hook.got.clone());
        tokio::spawn(async move {
            got.notified().await;
            cancel.cancel();
        })
    };
    let mut out = Vec::new();
    let exit = tokio::time::timeout(
        common::DEADLINE,
        runner::run(shop.cfg.clone(), notify, cancel, &mut out),
    )
    .await
    .unwrap();
    stopper.await.unwrap();
    assert_eq!(exit::of(&exit), Exit::Interrupted);
    let bodies = hook.bodies();
    assert_eq!(bodies[0]["event"], "ticket_detected");
    assert_eq!(bodies[0]["ticket"], "Ticket – Type A");
    assert_eq!(bodies[0]["cookies"], serde_json::json!({}));
    assert!(shop.sim.requests().iter().all(|r| r.method != "POST"));
    assert!(out.is_empty(), "nothing won, nothing handed over");
}

#[tokio::test]
async fn marketplace_not_found_exits_3_and_bad_event_exits_2() {
    let tmp = tempfile::tempdir().unwrap();
    let mut shop = shop(Scenario {
        marketplace_link: Trigger::Never,
        ..Scenario::new("org", "fest")
    })
    .await;
    shop.cfg.live_responses = tmp.path().to_path_buf();
    let mut out = Vec::new();
    assert_eq!(
        exit::of(
            &runner::run(
                shop.cfg.clone(),
                Notify::default(),
                CancellationToken::new(),
                &mut out
            )
            .await
        ),
        Exit::NoMarketplace
    );
    let mut wrong = shop.cfg.clone();
    wrong.event = "org/no-such-event".into();
    assert_eq!(
        exit::of(&runner::run(wrong, Notify::default(), CancellationToken::new(), &mut out).await),
        Exit::Usage
    );
}

/// The handoff message checked against what the *shop* knows, not against
/// the values it was built from: the session it sold the ticket to, the
/// cookies the verified checkout page was served with, where its checkout
/// redirect pointed, and what the listing was. The fallback script is parsed
/// back into name/value pairs, so a bug in `handoff_message` or in
/// `cookie_store_script` fails here.
#[tokio::test]
async fn handoff_message_matches_what_the_shop_issued() {
    let scenario = winnable();
    let listing = scenario.listings[0].clone();
    let shop = shop(scenario).await;
    let run = common::race(&shop.cfg).await;
    let msg = pretix_race::handoff::handoff_message(run.won());

    // the shop's side: the verified checkout page and the redirect to it
    let requests = shop.sim.requests();
    let checkout = requests
        .iter()
        .rfind(|r| r.method == "GET" && r.path.ends_with("/checkout/questions/") && r.status == 200)
        .unwrap_or_else(|| panic!("no checkout page served: {requests:#?}"));
    let redirect = requests
        .iter()
        .find(|r| r.path.ends_with("/checkout/start") && r.status == 302)
        .expect("checkout/start redirected");
    let redirected_to = Url::parse(&shop.sim.base_url())
        .unwrap()
        .join(redirect.location.as_deref().unwrap())
        .unwrap();
    assert_eq!(msg.checkout_url, redirected_to.as_str());
    assert_eq!(checkout.path, redirected_to.path());

    // exactly the cookies the shop saw on its checkout page
    let shop_jar = &checkout.cookies;
    assert!(
        shop_jar.contains_key("__Host-pretix_session"),
        "{shop_jar:?}"
    );
    let handed: BTreeMap<String, String> = msg
        .cookies
        .iter()
        .map(|c| (c.name.clone(), c.value.clone()))
        .collect();
    assert_eq!(&handed, shop_jar);
    let host = Url::parse(&shop.sim.base_url()).unwrap();
    for c in &msg.cookies {
        assert_eq!(Some(c.domain.as_str()), host.host_str(), "{c:?}");
        assert!(c.secure, "{c:?}");
    }

    // the session the ticket was sold to
    assert_eq!(
        shop.sim.sold(),
        [Sale {
            listing_id: listing.id.clone(),
            session: shop_jar["__Host-pretix_session"].clone(),
        }]
    );
    assert_eq!(msg.ticket, listing.ticket_type);
    assert_eq!(msg.price, format!("{} {}", listing.price, listing.currency));

    // the fallback script sets those same cookies, nothing else
    assert_eq!(&script_cookies(&msg.cookie_script), shop_jar);
}

/// The (name, value) pairs a `cookieStore.set` fallback script sets, read
/// back the way a JavaScript engine would: each name and value is a JSON
/// string literal.
fn script_cookies(script: &str) -> BTreeMap<String, String> {
    let body = script
        .strip_prefix("(async () => { ")
        .and_then(|s| s.strip_suffix("location.reload(); })()"))
        .unwrap_or_else(|| panic!("not a fallback script: {script}"));
    let mut out = BTreeMap::new();
    let mut rest = body;
    while let Some(call) = rest.strip_prefix("await cookieStore.set({name: ") {
        let (name, after) = json_string(call);
        let after = after.strip_prefix(", value: ").expect("value follows name");
        let (value, after) = json_string(after);
        let end = after.find("}); ").expect("call ends");
        assert_eq!(
            &after[..end],
            ", path: \"/\", secure: true, sameSite: \"lax\""
        );
        assert!(out.insert(name, value).is_none(), "a cookie set twice");
        rest = &after[end + "}); ".len()..];
    }
    assert!(rest.is_empty(), "unparsed script tail: {rest}");
    out
}

/// A JSON string literal at the start of `s`, decoded, and what follows it.
fn json_string(s: &str) -> (String, &str) {
    let mut it = serde_json::Deserializer::from_str(s).into_iter::<String>();
    let v = it
        .next()
        .expect("a JSON string")
        .unwrap_or_else(|e| panic!("{e}: {s}"));
    (v, &s[it.byte_offset()..])
}

/// A dead server is retried with backoff forever, in tokio's virtual time:
/// the trouble ladder (15, 30, 60, 60 s ±20 % for the default 15 s interval)
/// passes on the paused clock in no real time at all.
#[tokio::test(start_paused = true)]
async fn dead_server_is_retried_with_backoff_in_virtual_time() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let cfg =
        pretix_race::config::Config::new(&format!("https://127.0.0.1:{port}"), "org/fest").unwrap();
    let session = Session::new(&cfg).unwrap();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let cancel = CancellationToken::new();
    let started = tokio::time::Instant::now();
    let race = Race::new(cfg, session)
        .events(Events::new(tx))
        .cancel_token(cancel.clone());
    let handle = tokio::spawn(race.run());
    let mut waits = Vec::new();
    let mut problems = 0;
    while let Some(ev) = rx.recv().await {
        match ev {
            RaceEvent::Waiting { reason, duration } => {
                assert_eq!(reason, WaitReason::Network);
                waits.push(duration);
                if waits.len() == 5 {
                    cancel.cancel();
                }
            }
            RaceEvent::Problem { .. } => problems += 1,
            _ => {}
        }
    }
    assert!(matches!(handle.await.unwrap(), RaceEnd::Stopped(_)));
    // a refused connection says nothing about us: the short trouble ladder
    for (d, step) in waits.iter().zip([15.0, 30.0, 60.0, 60.0, 60.0]) {
        let s = d.as_secs_f64();
        assert!(s >= step * 0.8 && s <= 60.0, "{waits:?}");
    }
    assert_eq!(problems, 5, "every failure is reported");
    let slept: Duration = waits[..4].iter().sum();
    assert!(started.elapsed() >= slept);
}
