//! The `pretix-race` binary, run as a user would: flags, exit codes, the
//! demo, and a headless race against a simulator this test starts.

use std::process::{Command, Output};
use std::time::Duration;

use pretix_race_sim::{Scenario, ScriptedListing, SimServer, Trigger};

#[path = "../../tests/common/process.rs"]
mod process;

/// Longest any single run of the binary may take; the demo, the slowest,
/// needs a few seconds.
const DEADLINE: Duration = Duration::from_secs(60);

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_pretix-race"));
    c.env_remove("SSL_CERT_FILE").env_remove("PRETIX_RACE_LOG");
    c
}

/// Run the binary to its end (killed, and the test failed, after
/// [`DEADLINE`]): exit code, stdout, stderr.
fn run(cmd: &mut Command) -> (i32, String, String) {
    let Output {
        status,
        stdout,
        stderr,
    } = process::run_within(cmd, DEADLINE);
    (
        status.code().unwrap_or(-1),
        String::from_utf8_lossy(&stdout).into_owned(),
        String::from_utf8_lossy(&stderr).into_owned(),
    )
}

#[test]
fn bad_flags_exit_2_with_a_clear_message() {
    let cases: &[(&[&str], &str)] = &[
        (
            &[
                "--url",
                "https://h.example",
                "--event",
                "e",
                "--interval",
                "0.2",
            ],
            "at least 1 second",
        ),
        (
            &[
                "--url",
                "https://h.example",
                "--event",
                "e",
                "--sort",
                "random",
            ],
            "possible values",
        ),
        (&["--url", "https://h.example"], "--event"),
        (
            &["--url", "not a url", "--event", "e"],
            "not a valid http(s) URL",
        ),
        (
            &["--url", "https://h.example", "--event", "../etc"],
            "not an event slug",
        ),
        (
            &[
                "--url",
                "https://h.example",
                "--event",
                "e",
                "--ca-cert",
                "/nonexistent.pem",
            ],
            "--ca-cert",
        ),
        (&["--frobnicate"], "--frobnicate"),
    ];
    for (args, needle) in cases {
        let (code, out, err) = run(bin().args(*args));
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: stderr was {err}");
        assert!(!err.contains("panicked"), "{err}");
        assert!(out.is_empty());
    }
}

#[test]
fn help_lists_every_flag_with_examples() {
    let (code, out, _) = run(bin().arg("--help"));
    assert_eq!(code, 0);
    for flag in [
        "--url",
        "--event",
        "--interval",
        "--item",
        "--sort",
        "--max-price",
        "--ticket-type",
        "--dry-run",
        "--headless",
        "--webhook",
        "--imessage",
        "--poll-inactive-marketplace",
        "--ca-cert",
        "--live-responses",
        "--verbose",
        "--log-format",
    ] {
        assert!(out.contains(flag), "{flag} missing from --help");
    }
    assert!(out.contains("Examples:") && out.contains("Exit codes"));
}

#[test]
fn demo_wins_on_its_own() {
    let tmp = tempfile::tempdir().unwrap();
    let (code, out, err) = run(bin().args(["demo", "--live-responses"]).arg(tmp.path()));
    assert_eq!(code, 0, "stdout: {out}\nstderr: {err}");
    assert!(out.contains("TICKET IN CART"), "{out}");
    assert!(out.contains("/demo/festival/checkout/questions/"));
    assert!(out.contains("(async () => { await cookieStore.set({name: "));
    // the story, in order, on stderr
    let story = [
        "opening the event page",
        "found the marketplace link",
        "poll #1",
        "lost the race",
        "WON",
        "cookies saved",
    ];
    let mut at = 0;
    for step in story {
        let pos = err[at..]
            .find(step)
            .unwrap_or_else(|| panic!("{step:?} missing after byte {at}: {err}"));
        at += pos;
    }
    // logs never carry cookie values
    let session = out
        .lines()
        .find_map(|l| l.trim().strip_prefix("__Host-pretix_session="))
        .unwrap();
    assert!(!err.contains(session), "a cookie leaked into the log");
}

/// Start a simulator on its own runtime thread; it lives as long as the
/// returned runtime.
fn sim(scenario: Scenario) -> (tokio::runtime::Runtime, SimServer) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let server = rt.block_on(SimServer::start(scenario)).unwrap();
    (rt, server)
}

/// `pretix-race --url <shop> --event org/fest --ca-cert <pem>`, more to add.
fn race_cmd(shop: &SimServer, pem: &std::path::Path) -> Command {
    let mut cmd = bin();
    cmd.args([
        "--url",
        &shop.base_url(),
        "--event",
        "org/fest",
        "--ca-cert",
    ])
    .arg(pem);
    cmd
}

/// A shop without a marketplace link, and a temp dir holding its cert.
fn linkless_shop() -> (
    tokio::runtime::Runtime,
    SimServer,
    tempfile::TempDir,
    std::path::PathBuf,
) {
    let (rt, shop) = sim(Scenario {
        marketplace_link: Trigger::Never,
        ..Scenario::new("org", "fest")
    });
    let tmp = tempfile::tempdir().unwrap();
    let pem = tmp.path().join("shop.pem");
    std::fs::write(&pem, shop.cert_pem()).unwrap();
    (rt, shop, tmp, pem)
}

#[test]
fn headless_race_against_a_local_shop_with_ca_cert_and_ssl_cert_file() {
    let tmp = tempfile::tempdir().unwrap();
    let scenario = Scenario {
        listings: vec![ScriptedListing::new(
            "cliwinner0000001",
            "Ticket – Type A",
            "190.00",
        )],
        ..Scenario::new("org", "fest")
    };
    let (_rt, shop) = sim(scenario);
    let pem = tmp.path().join("shop.pem");
    std::fs::write(&pem, shop.cert_pem()).unwrap();

    let (code, out, err) = run(bin()
        .args([
            "--url",
            &shop.base_url(),
            "--event",
            "org/fest",
            "--headless",
            "--interval",
            "1",
            "--ca-cert",
        ])
        .arg(&pem)
        .arg("--live-responses")
        .arg(tmp.path().join("a")));
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("Checkout:  https://127.0.0.1:"), "{out}");
    assert_eq!(shop.sold().len(), 1, "{err}");

    // With SSL_CERT_FILE instead of --ca-cert it is trusted too.
    let (_rt2, shop2) = sim(Scenario {
        listings: vec![ScriptedListing::new("cliwinner0000002", "Ticket", "10.00")],
        ..Scenario::new("org", "fest")
    });
    let pem2 = tmp.path().join("shop2.pem");
    std::fs::write(&pem2, shop2.cert_pem()).unwrap();
    let (code, out, err) = run(bin()
        .env("SSL_CERT_FILE", &pem2)
        .args([
            "--url",
            &shop2.base_url(),
            "--event",
            "org/fest",
            "--headless",
            "--live-responses",
        ])
        .arg(tmp.path().join("b")));
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("TICKET IN CART"));
    assert_eq!(shop2.sold().len(), 1, "{err}");
}

/// A self-signed shop, trusted by neither `--ca-cert` nor `SSL_CERT_FILE`:
/// the certificate is refused (and says so in the log), no request gets
/// through, nothing is bought, and the binary does not report a win.
#[test]
fn self_signed_shop_is_refused_without_ca_cert() {
    let tmp = tempfile::tempdir().unwrap();
    let (_rt, shop) = sim(Scenario {
        listings: vec![ScriptedListing::new("clirefused000001", "Ticket", "10.00")],
        ..Scenario::new("org", "fest")
    });
    // A certificate refused on first contact is a configuration error: exit
    // 2 with one line naming the host, what was wrong and the fix, instead
    // of "network trouble, retrying" forever.
    let (code, _, err) = run(bin()
        .env_remove("SSL_CERT_FILE")
        .args(["--url", &shop.base_url(), "--event", "org/fest"])
        .arg("--live-responses")
        .arg(tmp.path()));
    assert_eq!(code, 2, "{err}");
    let host = shop.base_url().trim_start_matches("https://").to_string();
    let line = err
        .lines()
        .find(|l| l.contains("certificate") && l.contains(&host))
        .unwrap_or_else(|| panic!("one line naming {host}: {err}"));
    assert!(line.contains("not trusted"), "{line}");
    assert!(line.contains("--ca-cert"), "{line}");
    assert!(line.contains("SSL_CERT_FILE"), "{line}");
    assert!(
        !err.contains("retrying"),
        "not retried as network trouble: {err}"
    );
    assert!(!err.contains("panicked"), "{err}");
    assert!(
        shop.requests().is_empty(),
        "no request may pass an untrusted handshake: {:?}",
        shop.requests()
    );
    assert!(shop.sold().is_empty());
}

#[test]
fn no_marketplace_exits_3_and_suggests_the_flag() {
    let (_rt, shop, _tmp, pem) = linkless_shop();
    let (code, _, err) = run(&mut race_cmd(&shop, &pem));
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("--poll-inactive-marketplace"), "{err}");
}

#[test]
fn imessage_off_macos_warns_once_at_start_up() {
    let (_rt, shop, _tmp, pem) = linkless_shop();
    let (code, _, err) = run(race_cmd(&shop, &pem).args(["--imessage", "+441234567890"]));
    assert_eq!(code, 3, "{err}");
    let warnings = err
        .lines()
        .filter(|l| l.contains("--imessage needs macOS"))
        .count();
    if cfg!(target_os = "macos") {
        assert_eq!(warnings, 0);
    } else {
        assert_eq!(warnings, 1, "{err}");
        let first = err
            .lines()
            .position(|l| l.contains("--imessage needs macOS"))
            .unwrap();
        let opening = err
            .lines()
            .position(|l| l.contains("opening the event page"))
            .unwrap();
        assert!(first < opening, "the warning comes at start-up");
    }
}

#[test]
fn json_logs_are_json() {
    let (_rt, shop, _tmp, pem) = linkless_shop();
    let (code, _, err) = run(race_cmd(&shop, &pem).args(["--log-format", "json"]));
    assert_eq!(code, 3);
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(!lines.is_empty());
    for l in lines {
        let v: serde_json::Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"));
        assert!(v.get("level").is_some());
    }
}

#[test]
fn test_handoff_simulate_prints_a_fake_win() {
    let (code, out, err) = run(bin().args([
        "test-handoff",
        "--simulate",
        "--url",
        "https://shop.example",
    ]));
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("Checkout:  https://shop.example/event/checkout/questions/"));
    assert!(out.contains("__Host-pretix_session="));
    assert!(out.contains("location.reload(); })()"));
}
