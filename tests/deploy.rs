//! Running on a server: the real binary against the simulator.
//!
//! * SIGTERM (what `docker stop` and `systemctl stop` send) stops like
//!   Ctrl-C: the summary line, exit 130, never the signal's 143.
//! * `--log-format json` writes exactly one JSON object per stderr line, so
//!   journald and `docker logs` keep one record per event.
//! * A win writes the Netscape `cookies.txt` and Cookie-Editor JSON exports,
//!   names them on stderr, and curl takes the cart over with the first.
//! * The Dockerfile has the shape the deployment needs (multi-stage, non-root
//!   `USER`, volumes, HEALTHCHECK, `--headless` entrypoint), its entrypoint
//!   runs as uid 10001, and its HEALTHCHECK tells a fresh heartbeat from a
//!   stale one. The systemd unit has its hardening and only flags the binary
//!   knows. (`docker build` and `systemd-analyze verify` need a Docker
//!   registry and systemd: see docs/deploy.md for how those were checked.)

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command as StdCommand, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use pretix_race_sim::{Scenario, ScriptedListing, SimServer};
use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStderr, Command};

/// A hung binary fails the test instead of hanging it.
const DEADLINE: Duration = Duration::from_secs(60);

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The `pretix-race` binary, built once per test run so it is never stale.
fn binary() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let st = StdCommand::new(cargo)
            .args(["build", "-p", "pretix-race", "--bin", "pretix-race"])
            .current_dir(root())
            .status()
            .expect("cargo runs");
        assert!(st.success(), "cargo build -p pretix-race failed");
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| root().join("target"));
        let bin = target.join("debug/pretix-race");
        assert!(bin.is_file(), "no binary at {}", bin.display());
        bin
    })
}

/// The simulator, and its certificate in a file for `--ca-cert`/`--cacert`.
struct Shop {
    sim: SimServer,
    tmp: tempfile::TempDir,
    ca: PathBuf,
}

async fn shop(scenario: Scenario) -> Shop {
    let sim = SimServer::start(scenario).await.expect("simulator starts");
    let tmp = tempfile::tempdir().unwrap();
    let ca = tmp.path().join("ca.pem");
    std::fs::write(&ca, sim.cert_pem()).unwrap();
    Shop { sim, tmp, ca }
}

impl Shop {
    fn live_responses(&self) -> PathBuf {
        self.tmp.path().join("live-responses")
    }

    /// `pretix-race --headless` racing this shop, stderr piped.
    fn race(
        &self,
        extra: &[&str],
        env: &[(&str, &Path)],
    ) -> (Child, Lines<BufReader<ChildStderr>>) {
        let mut cmd = Command::new(binary());
        cmd.args(["--url", &self.sim.base_url(), "--event", "org/fest"])
            .args(["--headless", "--interval", "1"])
            .arg("--ca-cert")
            .arg(&self.ca)
            .arg("--live-responses")
            .arg(self.live_responses())
            .args(extra)
            .env_remove("PRETIX_RACE_LOG")
            .env_remove("PRETIX_RACE_HEARTBEAT")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("the binary starts");
        let lines = BufReader::new(child.stderr.take().unwrap()).lines();
        (child, lines)
    }
}

/// Read stderr lines until `pred` matches one; every line read is kept.
async fn read_until(
    lines: &mut Lines<BufReader<ChildStderr>>,
    seen: &mut Vec<String>,
    pred: impl Fn(&str) -> bool,
) {
    let found = tokio::time::timeout(DEADLINE, async {
        while let Some(line) = lines.next_line().await.unwrap() {
            let hit = pred(&line);
            seen.push(line);
            if hit {
                return true;
            }
        }
        false
    })
    .await
    .unwrap_or_else(|_| panic!("timed out; stderr so far:\n{}", seen.join("\n")));
    assert!(found, "stderr ended first:\n{}", seen.join("\n"));
}

/// Send SIGTERM, then read stderr to its end and wait for the exit code.
async fn terminate(
    mut child: Child,
    mut lines: Lines<BufReader<ChildStderr>>,
    seen: &mut Vec<String>,
) -> std::process::ExitStatus {
    let pid = child.id().expect("still running") as libc::pid_t;
    // SAFETY: kill(2) with a pid we spawned and still own (not yet reaped).
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    tokio::time::timeout(DEADLINE, async {
        while let Some(line) = lines.next_line().await.unwrap() {
            seen.push(line);
        }
        child.wait().await.unwrap()
    })
    .await
    .unwrap_or_else(|_| panic!("no exit after SIGTERM; stderr:\n{}", seen.join("\n")))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stops_like_ctrl_c_with_the_summary_and_exit_130() {
    let shop = shop(Scenario::new("org", "fest")).await;
    let (child, mut lines) = shop.race(&[], &[]);
    let mut seen = Vec::new();
    read_until(&mut lines, &mut seen, |l| l.contains("poll #1:")).await;

    let status = terminate(child, lines, &mut seen).await;
    let text = seen.join("\n");
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(status.signal(), None, "killed by the signal: {text}");
    assert_eq!(status.code(), Some(130), "{text}");
    assert!(text.contains("SIGTERM: stopping"), "{text}");
    let summary = seen.last().unwrap();
    assert!(summary.contains("stopped after "), "{text}");
    assert!(summary.contains(" poll(s), 0 listing(s) seen"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_logs_are_one_object_per_line_and_the_heartbeat_is_written() {
    let shop = shop(Scenario::new("org", "fest")).await;
    let beat = shop.tmp.path().join("heartbeat");
    let (child, mut lines) = shop.race(
        &["--log-format", "json"],
        &[("PRETIX_RACE_HEARTBEAT", &beat)],
    );
    let mut seen = Vec::new();
    read_until(&mut lines, &mut seen, |l| l.contains("poll #3:")).await;
    // Written before the race started.
    let stamp: u64 = std::fs::read_to_string(&beat)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(stamp > 1_700_000_000, "{stamp}");

    let status = terminate(child, lines, &mut seen).await;
    assert_eq!(status.code(), Some(130));
    let records: Vec<serde_json::Value> = seen
        .iter()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l)
                .unwrap_or_else(|e| panic!("not one JSON object per line ({e}): {l:?}"));
            assert!(v.is_object(), "{l}");
            assert!(v["level"].is_string() && v["timestamp"].is_string(), "{l}");
            assert!(v["fields"]["message"].is_string(), "{l}");
            v
        })
        .collect();
    let polled = records
        .iter()
        .filter(|r| r["fields"]["race_event"] == "polled")
        .count();
    assert!(polled >= 3, "{seen:#?}");
    let last = records.last().unwrap()["fields"]["message"]
        .as_str()
        .unwrap();
    assert!(last.starts_with("stopped after "), "{last}");
}

/// A Netscape `cookies.txt`, read as curl reads it: name → (domain,
/// include-subdomains, path, secure, expiry, value, httpOnly).
fn read_netscape(text: &str) -> BTreeMap<String, Vec<String>> {
    assert_eq!(text.lines().next(), Some("# Netscape HTTP Cookie File"));
    text.lines()
        .filter(|l| !l.is_empty())
        .filter_map(|l| match l.strip_prefix("#HttpOnly_") {
            Some(rest) => Some((true, rest)),
            None if l.starts_with('#') => None,
            None => Some((false, l)),
        })
        .map(|(http_only, l)| {
            let f: Vec<&str> = l.split('\t').collect();
            assert_eq!(f.len(), 7, "seven TAB-separated fields: {l:?}");
            let mut v: Vec<String> = f.iter().map(|s| s.to_string()).collect();
            let name = v.remove(5);
            v.push(http_only.to_string());
            (name, v)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_win_names_both_exports_and_curl_takes_the_cart_over() {
    let shop = shop(Scenario {
        listings: vec![ScriptedListing::new(
            "wwwwwwwwwwwwwww1",
            "Ticket – Type A",
            "190.00",
        )],
        ..Scenario::new("org", "fest")
    })
    .await;
    let (mut child, mut lines) = shop.race(&[], &[]);
    let mut seen = Vec::new();
    let status = tokio::time::timeout(DEADLINE, async {
        while let Some(line) = lines.next_line().await.unwrap() {
            seen.push(line);
        }
        child.wait().await.unwrap()
    })
    .await
    .expect("the race ends");
    let stderr = seen.join("\n");
    assert_eq!(status.code(), Some(0), "{stderr}");

    // Both exports are named in the output, and are private.
    let named = |what: &str| -> PathBuf {
        let line = seen
            .iter()
            .find(|l| l.contains(what) && l.contains(" saved to "))
            .unwrap_or_else(|| panic!("no {what} line in:\n{stderr}"));
        let path = line
            .split(" saved to ")
            .nth(1)
            .unwrap()
            .split(" (mode 0600)")
            .next()
            .unwrap();
        PathBuf::from(path)
    };
    let txt = named("Netscape cookies.txt");
    let json = named("Cookie-Editor JSON");
    use std::os::unix::fs::PermissionsExt;
    for p in [&txt, &json] {
        assert!(p.starts_with(shop.live_responses()), "{p:?}");
        let mode = std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{p:?}");
    }

    // The cookies the shop sold the ticket to.
    let post = shop
        .sim
        .requests()
        .into_iter()
        .find(|r| r.method == "POST")
        .expect("a buy POST");
    let names = [
        "__QXSESSION",
        "__Host-pretix_csrftoken",
        "__Host-pretix_session",
    ];

    // Netscape: every cookie, with the value the shop saw.
    let netscape = read_netscape(&std::fs::read_to_string(&txt).unwrap());
    for n in names {
        let f = &netscape[n];
        assert_eq!(f[5], post.cookies[n], "{n}");
        assert_eq!(f[0], "127.0.0.1", "{n}: host-only, no leading dot");
        assert_eq!(f[1], "FALSE", "{n}");
    }
    assert_eq!(netscape["__Host-pretix_session"][3], "TRUE", "secure");
    assert_eq!(netscape["__Host-pretix_session"][6], "true", "httpOnly");

    // Cookie-Editor: the chrome.cookies fields, the same values.
    let editor: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    for n in names {
        let c = editor
            .iter()
            .find(|c| c["name"] == n)
            .unwrap_or_else(|| panic!("{n} in {editor:#?}"));
        assert_eq!(c["value"], post.cookies[n].as_str());
        assert_eq!(c["domain"], "127.0.0.1");
        assert_eq!(c["hostOnly"], true);
        assert_eq!(c["path"], "/");
        assert!(c["storeId"].is_null());
        assert!(c["session"].is_boolean() && c["secure"].is_boolean());
        let same_site = c["sameSite"].as_str().unwrap();
        assert!(
            ["no_restriction", "lax", "strict", "unspecified"].contains(&same_site),
            "{same_site}"
        );
    }

    // curl reads the file and sends the session: the format, proven.
    let checkout = format!("{}/org/fest/checkout/questions/", shop.sim.base_url());
    let out = tokio::time::timeout(
        DEADLINE,
        Command::new("curl")
            .args(["-sS", "-o", "/dev/null", "--max-time", "30", "-b"])
            .arg(&txt)
            .arg("--cacert")
            .arg(&shop.ca)
            .arg(&checkout)
            .output(),
    )
    .await
    .expect("curl finishes")
    .expect("curl is installed (Debian: apt-get install curl)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let by_curl = shop
        .sim
        .requests()
        .into_iter()
        .rfind(|r| {
            r.header("user-agent")
                .is_some_and(|u| u.starts_with("curl/"))
        })
        .expect("the shop saw curl");
    assert_eq!(by_curl.path, "/org/fest/checkout/questions/");
    for n in names {
        assert_eq!(by_curl.cookies.get(n), Some(&post.cookies[n]), "{n}");
    }
}

/// The Dockerfile's instructions, continuation lines joined, comments out.
fn dockerfile() -> Vec<(String, String)> {
    let text = std::fs::read_to_string(root().join("Dockerfile")).unwrap();
    let mut out = Vec::new();
    let mut cur = String::new();
    for line in text.lines() {
        let t = line.trim();
        if t.starts_with('#') || (t.is_empty() && cur.is_empty()) {
            continue;
        }
        match t.strip_suffix('\\') {
            Some(part) => {
                cur.push_str(part);
                cur.push(' ');
            }
            None => {
                cur.push_str(t);
                let (op, rest) = cur.split_once(char::is_whitespace).unwrap();
                out.push((op.to_ascii_uppercase(), rest.trim().to_string()));
                cur.clear();
            }
        }
    }
    out
}

fn json_array(s: &str) -> Vec<String> {
    serde_json::from_str(s).unwrap_or_else(|e| panic!("not an exec-form array ({e}): {s}"))
}

#[test]
fn dockerfile_is_multi_stage_non_root_with_volumes_healthcheck_and_headless_entrypoint() {
    let ins = dockerfile();
    let all = |op: &str| -> Vec<&str> {
        ins.iter()
            .filter(|(o, _)| o == op)
            .map(|(_, a)| a.as_str())
            .collect()
    };
    let froms = all("FROM");
    assert_eq!(froms.len(), 2, "{froms:?}");
    assert!(froms[0].ends_with(" AS builder"), "{froms:?}");
    assert!(
        froms[1].contains("-slim"),
        "a small runtime image: {froms:?}"
    );
    // Everything after the second FROM is the runtime image.
    let start = ins.iter().rposition(|(o, _)| o == "FROM").unwrap();
    let (build, run) = ins.split_at(start);
    let build_run = build.iter().find(|(o, _)| o == "RUN").unwrap();
    for flag in [
        "--release",
        "--locked",
        "-p pretix-race",
        "--no-default-features",
    ] {
        assert!(build_run.1.contains(flag), "{flag} in {}", build_run.1);
    }
    let in_run = |op: &str| -> Vec<&str> {
        run.iter()
            .filter(|(o, _)| o == op)
            .map(|(_, a)| a.as_str())
            .collect()
    };
    assert!(in_run("COPY")
        .iter()
        .any(|c| c.starts_with("--from=builder ")));
    assert!(in_run("RUN")[0].contains("ca-certificates"));
    let user = in_run("USER");
    assert_eq!(user.len(), 1, "{user:?}");
    let uid: u32 = user[0].split(':').next().unwrap().parse().unwrap();
    assert!(uid >= 1000, "not root, not a system uid: {uid}");
    assert_eq!(in_run("WORKDIR"), ["/data"]);
    let volumes = json_array(in_run("VOLUME")[0]);
    assert_eq!(volumes, ["/data", "/config"]);
    let entry = json_array(in_run("ENTRYPOINT")[0]);
    assert_eq!(entry, ["pretix-race", "--headless"]);
    let health = in_run("HEALTHCHECK");
    assert_eq!(health.len(), 1);
    assert!(health[0].contains(" CMD "), "{health:?}");
    assert!(health[0].contains("/data/.heartbeat"), "{health:?}");
    assert_eq!(in_run("ENV"), ["PRETIX_RACE_HEARTBEAT=/data/.heartbeat"]);

    let ignore = std::fs::read_to_string(root().join(".dockerignore")).unwrap();
    let ignored: Vec<&str> = ignore.lines().map(str::trim).collect();
    for p in ["target", ".git", "live-responses", "**/live-responses"] {
        assert!(ignored.contains(&p), "{p} not in .dockerignore");
    }
}

/// The image's ENTRYPOINT + CMD, run as the image's USER would: as uid
/// 10001 (through `setpriv` when this test runs as root), from a directory
/// that uid cannot write.
#[test]
fn the_entrypoint_runs_as_a_non_root_user() {
    let ins = dockerfile();
    let last = |op: &str| ins.iter().rev().find(|(o, _)| o == op).unwrap().1.clone();
    let mut argv = json_array(&last("ENTRYPOINT"));
    argv.extend(json_array(&last("CMD")));
    assert_eq!(argv[0], "pretix-race");
    let uid: u32 = last("USER").split(':').next().unwrap().parse().unwrap();
    let bin = binary();
    // SAFETY: geteuid has no preconditions.
    let euid = unsafe { libc::geteuid() };
    let mut cmd = if euid == 0 {
        let mut c = StdCommand::new("setpriv");
        c.arg(format!("--reuid={uid}"))
            .arg(format!("--regid={uid}"))
            .arg("--clear-groups")
            .arg(bin);
        c
    } else {
        StdCommand::new(bin)
    };
    let tmp = tempfile::tempdir().unwrap();
    let out = cmd
        .args(&argv[1..])
        .current_dir(tmp.path())
        .output()
        .expect("setpriv (util-linux) runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("Usage:") && stdout.contains("--headless"),
        "{stdout}"
    );
}

/// The HEALTHCHECK command itself, pointed at a scratch heartbeat: healthy
/// while the file is fresh, unhealthy once it is older than two minutes,
/// unhealthy when it is missing.
#[test]
fn the_healthcheck_tells_a_fresh_heartbeat_from_a_stale_one() {
    let ins = dockerfile();
    let health = &ins.iter().find(|(o, _)| o == "HEALTHCHECK").unwrap().1;
    let cmd = health.split_once(" CMD ").unwrap().1;
    let tmp = tempfile::tempdir().unwrap();
    let beat = tmp.path().join(".heartbeat");
    let script = cmd.replace("/data/.heartbeat", beat.to_str().unwrap());
    let healthy = || {
        StdCommand::new("sh")
            .args(["-c", &script])
            .status()
            .unwrap()
            .success()
    };
    assert!(!healthy(), "no heartbeat yet");
    std::fs::write(&beat, "1\n").unwrap();
    assert!(healthy(), "fresh heartbeat");
    let old = std::time::SystemTime::now() - Duration::from_secs(180);
    std::fs::File::options()
        .write(true)
        .open(&beat)
        .unwrap()
        .set_modified(old)
        .unwrap();
    assert!(!healthy(), "stale heartbeat");
}

/// `key=value` lines of the unit (a key may repeat).
fn unit() -> Vec<(String, String)> {
    let text = std::fs::read_to_string(root().join("install-scripts/pretix-race.service")).unwrap();
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#') && !l.starts_with('['))
        .map(|l| {
            let (k, v) = l.split_once('=').unwrap_or_else(|| panic!("{l:?}"));
            (k.to_string(), v.to_string())
        })
        .collect()
}

/// The `--flags` of the binary's `--help`.
fn known_flags() -> Vec<String> {
    let out = StdCommand::new(binary()).arg("--help").output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|w| w.starts_with("--"))
        .map(|w| w.split(['=', '[', '<']).next().unwrap().to_string())
        .collect()
}

#[test]
fn systemd_unit_is_hardened_and_uses_only_flags_the_binary_knows() {
    let unit = unit();
    let get = |k: &str| -> Vec<&str> {
        unit.iter()
            .filter(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
            .collect()
    };
    for (k, v) in [
        ("DynamicUser", "yes"),
        ("StateDirectory", "pretix-race"),
        ("WorkingDirectory", "%S/pretix-race"),
        ("ProtectSystem", "strict"),
        ("ProtectHome", "yes"),
        ("PrivateTmp", "yes"),
        ("NoNewPrivileges", "yes"),
        ("Restart", "on-failure"),
        ("KillSignal", "SIGTERM"),
        ("UMask", "0077"),
        ("CapabilityBoundingSet", ""),
    ] {
        assert_eq!(get(k), [v], "{k}");
    }
    assert!(get("SuccessExitStatus")[0].split(' ').any(|c| c == "130"));
    // A win (0) or a cart needing a human (1) must never start a new race.
    let no_restart: Vec<&str> = get("RestartPreventExitStatus")[0].split(' ').collect();
    assert!(no_restart.contains(&"1") && no_restart.contains(&"2"));
    assert!(!get("RestartSec").is_empty());

    let exec = get("ExecStart")[0];
    assert!(exec.starts_with("/usr/local/bin/pretix-race "), "{exec}");
    assert!(exec.contains(" --headless ") && exec.contains(" --log-format json "));
    let env_file = get("EnvironmentFile")[0];
    assert_eq!(env_file, "/etc/pretix-race/pretix-race.env");

    // Every flag the unit and the example environment file pass exists.
    let known = known_flags();
    let example = std::fs::read_to_string(root().join("install-scripts/pretix-race.env")).unwrap();
    let mut vars = Vec::new();
    for w in exec.split_whitespace().chain(example.split_whitespace()) {
        let w = w.trim_start_matches('#');
        if w.starts_with("--") {
            assert!(
                known.iter().any(|k| k == w),
                "{w} is not a pretix-race flag"
            );
        }
        if let Some((k, _)) = w.split_once('=') {
            if k.starts_with("PRETIX_RACE_") {
                vars.push(k.to_string());
            }
        }
    }
    // …and every variable the unit uses is in the example.
    for v in ["PRETIX_RACE_URL", "PRETIX_RACE_EVENT", "PRETIX_RACE_ARGS"] {
        assert!(exec.contains(v) && vars.contains(&v.to_string()), "{v}");
    }
}
