//! `pretix-race chrome-extension://<id>/`: the native-messaging host, driven
//! over real pipes exactly as Chrome drives it (u32 native-endian length +
//! JSON). Every byte on stdout must be a frame.

use std::io::{Read, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use pretix_race_shared::protocol::{EXTENSION_ID, PROTOCOL_VERSION};
use pretix_race_sim::{Scenario, ScriptedListing, SimServer, Trigger};
use serde_json::{json, Value};

#[path = "../../tests/common/process.rs"]
mod process;

const DEADLINE: Duration = Duration::from_secs(60);

/// The host as Chrome runs it. Every read has [`DEADLINE`]; dropping it
/// (also when a test fails half-way) kills the process.
struct Host {
    child: Option<Child>,
    stdin: Option<ChildStdin>,
    frames: mpsc::Receiver<Result<Value, String>>,
    _home: tempfile::TempDir,
}

impl Host {
    fn start(origin: &str, env: &[(&str, &str)]) -> Host {
        let home = tempfile::tempdir().unwrap();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_pretix-race"));
        cmd.arg(origin)
            .env("PRETIX_RACE_HOME", home.path())
            .env_remove("SSL_CERT_FILE")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().unwrap();
        let stdin = child.stdin.take();
        let mut stdout = child.stdout.take().unwrap();
        let (tx, frames) = mpsc::channel();
        std::thread::spawn(move || loop {
            let mut len = [0u8; 4];
            if stdout.read_exact(&mut len).is_err() {
                return;
            }
            let len = u32::from_ne_bytes(len) as usize;
            let mut buf = vec![0u8; len];
            let item = stdout
                .read_exact(&mut buf)
                .map_err(|e| e.to_string())
                .and_then(|_| {
                    serde_json::from_slice(&buf).map_err(|e| format!("not JSON: {e}: {buf:?}"))
                });
            if tx.send(item).is_err() {
                return;
            }
        });
        Host {
            child: Some(child),
            stdin,
            frames,
            _home: home,
        }
    }

    fn send_raw(&mut self, bytes: &[u8]) {
        let stdin = self.stdin.as_mut().unwrap();
        stdin
            .write_all(&(bytes.len() as u32).to_ne_bytes())
            .unwrap();
        stdin.write_all(bytes).unwrap();
        stdin.flush().unwrap();
    }

    fn send(&mut self, v: Value) {
        self.send_raw(v.to_string().as_bytes());
    }

    fn next(&self) -> Value {
        let v = self
            .frames
            .recv_timeout(DEADLINE)
            .expect("a frame before the deadline")
            .expect("a valid frame");
        assert_eq!(
            v["v"], PROTOCOL_VERSION,
            "every frame carries the version: {v}"
        );
        v
    }

    /// Frames until one of `type`, returning all seen.
    fn until(&self, ty: &str) -> Vec<Value> {
        let mut seen = Vec::new();
        loop {
            let v = self.next();
            let done = v["type"] == ty;
            seen.push(v);
            if done {
                return seen;
            }
        }
    }

    fn close_and_wait(mut self) -> i32 {
        drop(self.stdin.take());
        let mut child = self.child.take().expect("not waited for yet");
        let pid = child.id();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(child.wait().map(|s| s.code().unwrap_or(-1)));
        });
        match rx.recv_timeout(DEADLINE) {
            Ok(code) => code.unwrap(),
            Err(_) => {
                let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
                panic!("host did not exit after stdin closed");
            }
        }
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A simulator on its own runtime, and a host that trusts its certificate
/// (through `SSL_CERT_FILE`, as Chrome would pass it on).
fn shop_and_host(
    scenario: Scenario,
) -> (tokio::runtime::Runtime, SimServer, tempfile::TempDir, Host) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let shop = rt.block_on(SimServer::start(scenario)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let pem = dir.path().join("ca.pem");
    std::fs::write(&pem, shop.cert_pem()).unwrap();
    let host = Host::start(&origin(), &[("SSL_CERT_FILE", pem.to_str().unwrap())]);
    (rt, shop, dir, host)
}

fn origin() -> String {
    format!("chrome-extension://{EXTENSION_ID}/")
}

#[test]
fn hello_round_trip_and_clean_exit_on_eof() {
    let mut host = Host::start(&origin(), &[]);
    host.send(json!({"v": PROTOCOL_VERSION, "type": "hello"}));
    let hello = host.next();
    assert_eq!(hello["type"], "hello");
    assert_eq!(hello["host_version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(host.close_and_wait(), 0);
}

#[test]
fn windows_parent_window_argument_is_accepted() {
    let home = tempfile::tempdir().unwrap();
    let out = process::run_within(
        Command::new(env!("CARGO_BIN_EXE_pretix-race"))
            .args([origin().as_str(), "--parent-window=0"])
            .env("PRETIX_RACE_HOME", home.path()),
        DEADLINE,
    );
    assert_eq!(out.status.code(), Some(0), "stdin at EOF: a clean stop");
    assert!(out.stdout.is_empty(), "nothing but frames on stdout");
}

#[test]
fn foreign_origin_is_refused() {
    let host = Host::start("chrome-extension://aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/", &[]);
    assert_eq!(host.close_and_wait(), 2);
}

#[test]
fn broken_messages_get_errors_not_crashes() {
    let mut host = Host::start(&origin(), &[]);
    host.send_raw(b"{not json");
    let e = host.next();
    assert_eq!(e["type"], "error");
    assert!(e["message"].as_str().unwrap().contains("malformed"));
    host.send(json!({"v": 99, "type": "hello"}));
    let e = host.next();
    assert_eq!(e["type"], "error");
    assert!(
        e["message"].as_str().unwrap().contains("version mismatch"),
        "{e}"
    );
    host.send(json!({"v": PROTOCOL_VERSION, "type": "start", "url": "nope", "event": "e", "interval_secs": 15}));
    let s = host.next();
    assert_eq!(s["type"], "status");
    assert_eq!(s["state"], "failed");
    assert!(s["last_error"].as_str().unwrap().contains("--url"));
    // still alive and answering
    host.send(json!({"v": PROTOCOL_VERSION, "type": "hello"}));
    assert_eq!(host.next()["type"], "hello");
    // an absurd frame length ends the stream without a panic
    host.stdin
        .as_mut()
        .unwrap()
        .write_all(&u32::MAX.to_ne_bytes())
        .unwrap();
    host.stdin.as_mut().unwrap().flush().unwrap();
    assert_eq!(host.close_and_wait(), 1);
}

#[test]
fn race_streams_status_then_hands_off_the_verified_cart() {
    let (_rt, shop, _dir, mut host) = shop_and_host(Scenario {
        listings: vec![ScriptedListing {
            appears: Trigger::AfterPolls(2),
            ..ScriptedListing::new("nmwinner00000001", "Ticket – Type A", "190.00")
        }],
        ..Scenario::new("org", "fest")
    });
    host.send(json!({
        "v": PROTOCOL_VERSION, "type": "start",
        "url": shop.base_url(), "event": "org/fest", "interval_secs": 1.0,
        "filters": {"sort": "price_asc"}
    }));
    let frames = host.until("handoff");
    let statuses: Vec<&Value> = frames.iter().filter(|f| f["type"] == "status").collect();
    let polls: Vec<u64> = statuses
        .iter()
        .filter_map(|s| s["polls"].as_u64())
        .collect();
    for n in 1..=3 {
        assert!(polls.contains(&n), "a status for poll {n}: {polls:?}");
    }
    assert!(statuses.iter().any(|s| s["last_poll_ms"].is_u64()));
    let handoff = frames.last().unwrap();
    let post = shop
        .requests()
        .into_iter()
        .find(|r| r.method == "POST")
        .unwrap();
    assert_eq!(handoff["ticket"], "Ticket – Type A");
    assert_eq!(handoff["price"], "190.00 EUR");
    assert!(handoff["checkout_url"]
        .as_str()
        .unwrap()
        .ends_with("/org/fest/checkout/questions/"));
    let cookies = handoff["cookies"].as_array().unwrap();
    assert_eq!(cookies.len(), 3);
    for c in cookies {
        let name = c["name"].as_str().unwrap();
        assert_eq!(c["value"], post.cookies[name].as_str(), "{name}");
        if name.starts_with("__Host-") {
            assert_eq!(c["partitioned"], true);
            assert_eq!(c["same_site"], "none");
        }
    }
    assert!(handoff["cookie_script"]
        .as_str()
        .unwrap()
        .starts_with("(async () => {"));
    let won = host.until("status");
    assert_eq!(won.last().unwrap()["state"], "won");
    host.send(json!({"v": PROTOCOL_VERSION, "type": "handoff_result", "ok": true}));
    let logs = host.until("log");
    assert!(
        logs.last().unwrap()["message"]
            .as_str()
            .unwrap()
            .contains("won after"),
        "{logs:?}"
    );
    assert_eq!(host.close_and_wait(), 0);
}

#[test]
fn stop_cancels_a_running_race_and_test_handoff_sends_a_fake_win() {
    let (_rt, shop, _dir, mut host) = shop_and_host(Scenario::new("org", "fest"));
    host.send(json!({"v": PROTOCOL_VERSION, "type": "start", "url": shop.base_url(), "event": "org/fest", "interval_secs": 1.0}));
    loop {
        let f = host.next();
        if f["type"] == "status" && f["polls"].as_u64() >= Some(1) {
            break;
        }
    }
    host.send(json!({"v": PROTOCOL_VERSION, "type": "stop"}));
    loop {
        let f = host.next();
        if f["type"] == "status" && f["state"] == "stopped" {
            break;
        }
    }
    host.send(
        json!({"v": PROTOCOL_VERSION, "type": "test_handoff", "url": "https://shop.example"}),
    );
    let h = host.until("handoff");
    let h = h.last().unwrap();
    assert_eq!(
        h["checkout_url"],
        "https://shop.example/event/checkout/questions/"
    );
    assert_eq!(h["cookies"].as_array().unwrap().len(), 3);
    assert_eq!(host.close_and_wait(), 0);
}
