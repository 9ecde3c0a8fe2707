//! The headless run end to end: race the simulator, print the handoff, write
//! private files, POST the webhook to a receiver this test starts.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use common::shop;
use pretix_race::events::{Events, RaceEvent, WaitReason};
use pretix_race::exit::{self, Exit};
use pretix_race::notify::webhook::Policy;
use pretix_race::notify::Notify;
use pretix_race::race::{Race, RaceEnd};
use pretix_race::runner;
use pretix_race::session::Session;
use pretix_race_shared::script::cookie_store_script;
use pretix_race_sim::{Scenario, ScriptedListing, Trigger};
use serde_json::Value;
use tokio::sync::{mpsc, Notify as Signal};
use tokio_util::sync::CancellationToken;
use url::Url;

/// A webhook receiver on 127.0.0.1 that answers `fail_first` requests with
/// 500 and records every JSON body.
struct Receiver {
    url: Url,
    bodies: Arc<Mutex<Vec<Value>>>,
    got: Arc<Signal>,
}

async fn receiver(fail_first: usize) -> Receiver {
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let got = Arc::new(Signal::new());
    let (b, g) = (bodies.clone(), got.clone());
    let app = Router::new().route(
        "/hook",
        post(move |Json(v): Json<Value>| {
            let (b, g) = (b.clone(), g.clone());
            async move {
                let n = {
                    let mut all = b.lock().unwrap();
                    all.push(v);
                    all.len()
                };
                g.notify_one();
                if n <= fail_first {
                    StatusCode::INTERNAL_SERVER_ERROR
                } else {
                    StatusCode::OK
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = Url::parse(&format!("http://{}/hook", listener.local_addr().unwrap())).unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    Receiver { url, bodies, got }
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
    let hook = receiver(0).await;
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
    let bodies = hook.bodies.lock().unwrap().clone();
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
    let hook = receiver(2).await;
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
    assert_eq!(hook.bodies.lock().unwrap().len(), 3);

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
    let hook = receiver(0).await;
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
    let bodies = hook.bodies.lock().unwrap().clone();
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

#[tokio::test]
async fn fallback_script_matches_the_shared_generator() {
    let shop = shop(winnable()).await;
    let run = common::race(&shop.cfg).await;
    let win = run.won();
    let msg = pretix_race::handoff::handoff_message(win);
    assert_eq!(msg.cookie_script, cookie_store_script(&win.cookies));
    assert_eq!(msg.cookies, win.cookies);
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
