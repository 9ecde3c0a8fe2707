//! The real thing: Debian's Chromium, headless, with the extension loaded
//! and the host registered in a fresh profile, racing the simulator over
//! HTTPS. Driven like a user would: open the popup, fill the form, press
//! Start. Then we check the shop saw the *browser tab* open checkout with the
//! exact session the host won, the tab shows the cart and the popup the win.
//!
//! Needs Chromium (`/usr/lib/chromium/chromium`, or `$CHROMIUM`) and the
//! WASM toolchain; `scripts/test-all.sh` installs both. Everything waits on
//! events (DevTools answers, the simulator's request log, DOM mutations in
//! the popup), bounded by one deadline; Chromium's process group is killed
//! however the test ends.

mod cdp;
#[path = "common/process.rs"]
mod process;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use cdp::{Cdp, Page};
use pretix_race_shared::protocol::EXTENSION_ID;
use pretix_race_sim::{RecordedRequest, Scenario, ScriptedListing, SimServer, Trigger};

const DEADLINE: Duration = Duration::from_secs(120);

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .canonicalize()
        .unwrap()
}

fn chromium() -> PathBuf {
    let p = std::env::var_os("CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/lib/chromium/chromium"));
    assert!(
        p.is_file(),
        "Chromium not found at {} — run scripts/test-all.sh (it installs Debian's chromium) or set CHROMIUM",
        p.display()
    );
    p
}

/// A build on a busy machine may be slow, but not this slow.
const BUILD_DEADLINE: Duration = Duration::from_secs(30 * 60);

/// Run a build step to its end; fail with its stderr if it fails.
async fn build_step(cmd: &mut Command, what: &str) {
    let out = process::output_within(cmd.current_dir(root()), BUILD_DEADLINE).await;
    assert!(
        out.status.success(),
        "{what} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Build the host binary and the extension, so the test never runs a stale one.
async fn build() -> (PathBuf, PathBuf) {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    build_step(
        Command::new(cargo).args(["build", "-p", "pretix-race"]),
        "cargo build -p pretix-race",
    )
    .await;
    build_step(
        Command::new("bash").arg(root().join("scripts/build-extension.sh")),
        "scripts/build-extension.sh",
    )
    .await;
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target"));
    let bin = target.join("debug/pretix-race");
    let dist = root().join("extension/dist");
    assert!(bin.is_file() && dist.join("manifest.json").is_file());
    (bin, dist)
}

/// Chromium in its own process group; the whole group dies with this.
struct Browser {
    child: Child,
    ws_url: String,
}

impl Drop for Browser {
    fn drop(&mut self) {
        // SAFETY: killpg only sends a signal to the group we created.
        unsafe {
            libc::killpg(self.child.id() as i32, libc::SIGKILL);
        }
        let _ = self.child.wait();
    }
}

fn launch(profile: &Path, tmp: &Path, dist: &Path, env: &[(&str, &Path)]) -> Browser {
    use std::os::unix::process::CommandExt;
    let mut cmd = Command::new(chromium());
    cmd.args([
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        "--ignore-certificate-errors",
        "--remote-debugging-port=0",
        "--window-size=1200,900",
    ])
    .arg(format!("--user-data-dir={}", profile.display()))
    .arg(format!("--load-extension={}", dist.display()))
    .arg(format!("--disable-extensions-except={}", dist.display()))
    .arg("about:blank")
    .env("TMPDIR", tmp)
    .stdin(Stdio::null())
    .stdout(Stdio::null())
    .stderr(Stdio::piped())
    .process_group(0);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("chromium starts");
    // Chromium announces its DevTools endpoint on stderr: wait for that line.
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut sent = false;
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if !sent {
                if let Some(at) = line.find("ws://") {
                    let _ = tx.send(line[at..].trim().to_string());
                    sent = true;
                }
            }
        }
    });
    let ws_url = match rx.recv_timeout(Duration::from_secs(60)) {
        Ok(u) => u,
        Err(_) => {
            unsafe {
                libc::killpg(child.id() as i32, libc::SIGKILL);
            }
            panic!("Chromium did not print its DevTools endpoint");
        }
    };
    Browser { child, ws_url }
}

/// Resolve when `cond` (a JS expression) becomes truthy in the page: a
/// MutationObserver on the popup's DOM, no polling from the test.
async fn until(page: &Page, cond: &str) -> serde_json::Value {
    let js = format!(
        "new Promise(resolve => {{
            const check = () => {{ try {{ return ({cond}); }} catch (e) {{ return false; }} }};
            if (check()) return resolve(true);
            const obs = new MutationObserver(() => {{ if (check()) {{ obs.disconnect(); resolve(true); }} }});
            obs.observe(document.documentElement, {{subtree: true, childList: true, attributes: true, characterData: true}});
        }})"
    );
    page.eval(&js)
        .await
        .unwrap_or_else(|e| panic!("waiting for {cond}: {e}"))
}

fn is_browser(r: &RecordedRequest) -> bool {
    r.header("user-agent")
        .is_some_and(|ua| ua.contains("HeadlessChrome"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn popup_start_wins_and_the_browser_tab_opens_checkout_with_the_session() {
    let started = Instant::now();
    let (bin, dist) = build().await;
    let work = tempfile::tempdir().unwrap();
    let profile = work.path().join("profile");
    let tmp = work.path().join("tmp");
    let home = work.path().join("host-home");
    std::fs::create_dir_all(&tmp).unwrap();

    // the host manifest in the test profile, by the real install script
    build_step(
        Command::new("bash")
            .arg(root().join("install-scripts/install.sh"))
            .arg("--binary")
            .arg(&bin)
            .arg("--profile-dir")
            .arg(&profile),
        "install-scripts/install.sh",
    )
    .await;

    let shop = SimServer::start(Scenario {
        listings: vec![ScriptedListing {
            appears: Trigger::AfterPolls(2),
            ..ScriptedListing::new("browserwin000001", "Ticket – Type A", "190.00")
        }],
        ..Scenario::new("org", "fest")
    })
    .await
    .unwrap();
    let pem = work.path().join("shop.pem");
    std::fs::write(&pem, shop.cert_pem()).unwrap();

    // Chrome passes its environment to the host: that is how the host trusts
    // the shop's self-signed certificate and keeps its files in our temp dir.
    let browser = launch(
        &profile,
        &tmp,
        &dist,
        &[("SSL_CERT_FILE", &pem), ("PRETIX_RACE_HOME", &home)],
    );
    let step = |what: &str| eprintln!("[{:>6.2} s] {what}", started.elapsed().as_secs_f64());
    let result = tokio::time::timeout(DEADLINE, async {
        let cdp = Cdp::connect(&browser.ws_url).await.unwrap();
        step("connected to Chromium");
        let popup = cdp.open(&format!("chrome-extension://{EXTENSION_ID}/popup.html")).await.unwrap();
        step("popup open");
        until(&popup, "document.getElementById('start') && document.body.dataset.host === 'connected'").await;
        step("popup connected to the host");

        // fill the form and press Start, as a user would
        let fill = format!(
            "(() => {{
                const set = (id, v) => {{ const el = document.getElementById(id); el.value = v;
                    el.dispatchEvent(new Event('input', {{bubbles: true}})); el.dispatchEvent(new Event('change', {{bubbles: true}})); }};
                set('url', '{}'); set('event', 'org/fest'); set('interval', '1');
                document.getElementById('start').click();
                return true;
            }})()",
            shop.base_url()
        );
        popup.eval(&fill).await.unwrap();

        step("start pressed");
        // the popup shows live status, then the win
        until(&popup, "Number(document.getElementById('polls').textContent) >= 1").await;
        until(&popup, "document.body.dataset.state === 'won' && document.body.dataset.handoff === 'ok'").await;

        step("popup shows the win");
        // the shop: the host's POST, then the browser tab's checkout GET with
        // exactly the host's session
        let post = shop.wait_for_request(|r| r.method == "POST" && r.status == 302).await;
        let tab_get = shop
            .wait_for_request(|r| r.method == "GET" && r.path.ends_with("/checkout/questions/") && is_browser(r))
            .await;
        assert_eq!(tab_get.status, 200, "the cart is there for the browser");
        for name in ["__Host-pretix_session", "__Host-pretix_csrftoken", "__QXSESSION"] {
            assert_eq!(tab_get.cookies.get(name), post.cookies.get(name), "{name}");
            assert!(tab_get.cookies.contains_key(name), "{name} missing in the browser's request");
        }
        assert!(!is_browser(&post), "the host, not the browser, bought the ticket");

        step("the browser tab opened checkout with the session");
        // the tab shows the cart
        let tab = cdp
            .targets()
            .await
            .unwrap()
            .into_iter()
            .find(|t| t["type"] == "page" && t["url"].as_str().is_some_and(|u| u.contains("/checkout/")))
            .expect("a checkout tab");
        let tab = cdp.attach(tab["targetId"].as_str().unwrap()).await.unwrap();
        tab.wait_until("document.readyState === 'complete' && document.body.innerText.includes('Your cart')")
            .await
            .unwrap();
        let title = tab.eval("document.title").await.unwrap();
        assert!(title.as_str().unwrap().contains("Step 1 of 3"), "{title}");

        // the popup shows the win
        let win = popup.eval("document.getElementById('win').innerText").await.unwrap();
        let win = win.as_str().unwrap();
        assert!(win.contains("Ticket – Type A") && win.contains("190.00 EUR"), "{win}");
        let hidden = popup.eval("document.getElementById('win').hidden").await.unwrap();
        assert_eq!(hidden, false);
        step("checkout tab shows the cart; popup shows the win");
        let png = popup.screenshot_png(380, 640).await.unwrap();
        step("screenshot taken");
        // `UPDATE_SCREENSHOT=1` refreshes the README's picture.
        if std::env::var_os("UPDATE_SCREENSHOT").is_some() {
            std::fs::write(root().join("docs/popup-won.png"), &png).unwrap();
        }
        assert!(png.starts_with(b"\x89PNG"), "a PNG screenshot");

        // failure case: a cookie the browser refuses (a shop the extension has
        // no host permission for) → the popup shows the error and the script
        popup
            .eval(
                "(() => { const u = document.getElementById('url'); u.value = 'https://refused.example';
                 u.dispatchEvent(new Event('input', {bubbles: true}));
                 document.getElementById('test-handoff').click(); return true; })()",
            )
            .await
            .unwrap();
        until(&popup, "document.body.dataset.handoff === 'error'").await;
        step("failed handoff shown");
        let err = popup.eval("document.getElementById('handoff-error').innerText").await.unwrap();
        assert!(!err.as_str().unwrap().trim().is_empty());
        let hidden = popup.eval("document.getElementById('handoff-error').hidden").await.unwrap();
        assert_eq!(hidden, false);
        let script = popup.eval("document.getElementById('fallback-script').value").await.unwrap();
        let script = script.as_str().unwrap();
        assert!(script.starts_with("(async () => { await cookieStore.set({name: "), "{script}");
        assert!(script.contains("__Host-pretix_session"));
    })
    .await;
    drop(browser);
    result.expect("the end-to-end run finished before the deadline");
    eprintln!(
        "browser end-to-end run took {:.1} s",
        started.elapsed().as_secs_f64()
    );
}
