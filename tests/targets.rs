//! Many targets in one process, end to end against simulators this test
//! starts: a TOML config file with one winner, one broken target and one
//! that wins later; the status file and `pretix-race status` while two
//! targets poll; repeated `--event` on the command line.

#[path = "common/process.rs"]
mod process;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use clap::{CommandFactory, FromArgMatches};
use pretix_race::cli::Cli;
use pretix_race::config_file::{self, TargetKeys, TargetSpec};
use pretix_race::exit::Exit;
use pretix_race::notify::Notify;
use pretix_race::runner::{Outcome, RunError};
use pretix_race::status::{self, State, StatusFile};
use pretix_race::targets::{MultiRun, SharedOut, Summary, Target, TargetEnd};
use pretix_race_sim::{Scenario, ScriptedListing, SimServer, Trigger};
use tokio_util::sync::CancellationToken;

/// Every run here gets this long before the test is declared hung.
const DEADLINE: Duration = Duration::from_secs(60);

/// A `tracing` writer and a stdout, both into shared buffers.
#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Buffer {
    fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

impl std::io::Write for Buffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A simulator for `org/<event>` with these listings, and its certificate
/// written to `<dir>/<event>.pem`.
async fn sim(dir: &Path, event: &str, listings: Vec<ScriptedListing>) -> (SimServer, PathBuf) {
    let sim = SimServer::start(Scenario {
        listings,
        ..Scenario::new("org", event)
    })
    .await
    .expect("simulator starts");
    let pem = dir.join(format!("{event}.pem"));
    std::fs::write(&pem, sim.cert_pem()).unwrap();
    (sim, pem)
}

fn listing(id: &str, ticket_type: &str, appears: Trigger) -> ScriptedListing {
    ScriptedListing {
        appears,
        ..ScriptedListing::new(id, ticket_type, "120.00")
    }
}

fn targets(specs: Vec<TargetSpec>) -> Vec<Target> {
    specs
        .into_iter()
        .map(|s| Target {
            name: s.name,
            cfg: s.cfg,
            notify: Notify::default(),
        })
        .collect()
}

/// Run to the end with the logs (INFO and up) captured.
async fn run_all(run: MultiRun, cancel: CancellationToken) -> (Summary, String, String) {
    let (out, logs) = (Buffer::default(), Buffer::default());
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_ansi(false)
        .with_max_level(tracing::Level::INFO)
        .with_writer(move || writer.clone())
        .finish();
    // `#[tokio::test]` runs every task on this thread: they all log here.
    let _guard = tracing::subscriber::set_default(subscriber);
    let shared: SharedOut = Arc::new(Mutex::new(out.clone()));
    let summary = tokio::time::timeout(DEADLINE, run.run(cancel, shared))
        .await
        .expect("the run ends");
    (summary, out.text(), logs.text())
}

fn end_of<'a>(summary: &'a Summary, name: &str) -> &'a TargetEnd {
    &summary
        .ended
        .iter()
        .find(|(n, _)| n == name)
        .unwrap_or_else(|| panic!("{name} did not end: {summary:?}"))
        .1
}

#[tokio::test]
async fn a_config_file_with_a_broken_target_wins_the_others_and_exits_2() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let (now, now_pem) = sim(
        dir,
        "now",
        vec![listing(
            "nownownownow0001",
            "Ticket – Type A",
            Trigger::Immediately,
        )],
    )
    .await;
    let (broken, broken_pem) = sim(dir, "there", vec![]).await;
    // The listing appears only after three polls: this target must keep
    // polling after the others have ended.
    let (later, later_pem) = sim(
        dir,
        "later",
        vec![
            listing("laterlaterlate01", "Ticket – Type A", Trigger::Immediately),
            listing(
                "laterlaterlate02",
                "Ticket – Type B",
                Trigger::AfterPolls(3),
            ),
        ],
    )
    .await;
    let file = dir.join("race.toml");
    std::fs::write(
        &file,
        format!(
            r#"
[defaults]
interval = 1
live_responses = "out"

[[target]]
name = "first"
url = "{now_url}"
event = "org/now"
ca_cert = ["{now_pem}"]

[[target]]
name = "broken"
url = "{broken_url}"
event = "org/not-there"
ca_cert = ["{broken_pem}"]

[[target]]
name = "patient"
url = "{later_url}"
event = "org/later"
ticket_type = "Type B"
ca_cert = ["{later_pem}"]
"#,
            now_url = now.base_url(),
            broken_url = broken.base_url(),
            later_url = later.base_url(),
            now_pem = now_pem.file_name().unwrap().to_str().unwrap(),
            broken_pem = broken_pem.display(),
            later_pem = later_pem.file_name().unwrap().to_str().unwrap(),
        ),
    )
    .unwrap();

    let specs = config_file::load(&file, &TargetKeys::default()).expect("the file is valid");
    assert_eq!(specs[0].cfg.live_responses, dir.join("out"));
    let status_file = dir.join("status.json");
    let run = MultiRun::new(targets(specs)).status_file(status_file.clone());
    let (summary, out, logs) = run_all(run, CancellationToken::new()).await;

    // The process's exit: one configuration error among two wins.
    assert_eq!(Exit::from(&summary), Exit::Usage, "{summary:?}\n{logs}");
    assert_eq!(summary.won(), 2, "{summary:?}");
    assert!(
        matches!(
            end_of(&summary, "broken"),
            TargetEnd::Ran(Err(RunError::EventNotFound { status: 404, .. }))
        ),
        "{summary:?}"
    );
    for name in ["first", "patient"] {
        assert!(
            matches!(end_of(&summary, name), TargetEnd::Ran(Ok(Outcome::Won))),
            "{name}: {summary:?}"
        );
    }
    // Each shop sold one ticket, to us: the patient one the Type B that
    // appeared later, not the Type A it was not after.
    assert_eq!(now.sold().len(), 1);
    let later_sold: Vec<_> = later.sold().into_iter().map(|s| s.listing_id).collect();
    assert_eq!(later_sold, ["laterlaterlate02"]);
    assert!(
        later.marketplace_polls() >= 4,
        "{}",
        later.marketplace_polls()
    );
    assert_eq!(broken.marketplace_polls(), 0);

    // Both handoffs, each under its target's name, with its own shop's checkout.
    for (name, shop) in [("first", &now), ("patient", &later)] {
        let head = format!("[{name}]\n");
        let at = out
            .find(&head)
            .unwrap_or_else(|| panic!("no block for {name}:\n{out}"));
        let block = &out[at + head.len()..];
        assert!(
            block.starts_with("==================== TICKET IN CART"),
            "{out}"
        );
        let checkout = format!("{}/checkout/", shop.event_url().trim_end_matches('/'));
        let block_end = block
            .find("\n=========================================================")
            .unwrap();
        assert!(
            block[..block_end].contains(&checkout),
            "{name}: {checkout}\n{out}"
        );
    }
    assert!(!out.contains("[broken]"), "{out}");

    // The broken target: dropped with one clear line, in its span.
    let errors: Vec<&str> = logs.lines().filter(|l| l.contains("ERROR")).collect();
    assert_eq!(errors.len(), 1, "{logs}");
    assert!(errors[0].contains("name=broken"), "{}", errors[0]);
    assert!(
        errors[0].contains("404") && errors[0].contains("dropped"),
        "{}",
        errors[0]
    );
    // Every target's poll lines carry its name.
    assert!(
        logs.lines()
            .any(|l| l.contains("name=patient") && l.contains("poll")),
        "{logs}"
    );

    // The status file's last word.
    let last = status::read(&status_file).unwrap();
    assert!(!last.running);
    let state = |n: &str| last.targets.iter().find(|t| t.name == n).unwrap().state;
    assert_eq!(
        [state("first"), state("broken"), state("patient")],
        [State::Won, State::Dropped, State::Won]
    );
}

#[tokio::test]
async fn the_status_file_and_command_show_every_target_while_it_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    // Nothing for sale: both targets poll until stopped.
    let (shop, pem) = sim(dir, "quiet", vec![]).await;
    let file = dir.join("race.toml");
    std::fs::write(
        &file,
        format!(
            "[defaults]\nurl = \"{}\"\nevent = \"org/quiet\"\ninterval = 1\nca_cert = [\"quiet.pem\"]\n\
             [[target]]\nname = \"one\"\n[[target]]\nname = \"two\"\n",
            shop.base_url()
        ),
    )
    .unwrap();
    assert!(pem.exists());
    let status_file = dir.join("state").join("status.json");
    let run = MultiRun::new(targets(
        config_file::load(&file, &TargetKeys::default()).unwrap(),
    ))
    .status_file(status_file.clone());
    let mut written = run.subscribe();
    let cancel = CancellationToken::new();
    let running = tokio::spawn(run_all(run, cancel.clone()));

    // Wait for a written snapshot in which both targets have polled twice.
    let polled_twice = |s: &Option<StatusFile>| {
        s.as_ref().is_some_and(|s| {
            s.targets
                .iter()
                .all(|t| t.polls >= 2 && t.last_status.is_some())
        })
    };
    tokio::time::timeout(DEADLINE, written.wait_for(polled_twice))
        .await
        .expect("both targets poll")
        .expect("the status writer runs");

    // What `pretix-race status --file …` prints.
    let mut table = Vec::new();
    status::show(&status_file, false, &mut table).unwrap();
    let table = String::from_utf8(table).unwrap();
    let header = table.lines().next().unwrap();
    for col in [
        "TARGET",
        "STATE",
        "POLLS",
        "LAST",
        "LATENCY",
        "BACKOFF",
        "UP",
        "LAST LISTING",
    ] {
        assert!(header.contains(col), "{table}");
    }
    for name in ["one", "two"] {
        let row = table
            .lines()
            .find(|l| l.split_whitespace().next() == Some(name))
            .unwrap_or_else(|| panic!("no row for {name}:\n{table}"));
        let cells: Vec<&str> = row.split_whitespace().collect();
        assert_eq!(cells[1], "polling", "{row}");
        assert!(cells[2].parse::<u64>().unwrap() >= 2, "{row}");
        assert_eq!(cells[3], "200", "{row}");
        assert_eq!(cells[5], "ms", "{row}");
    }
    assert!(
        table.contains(&format!("running (pid {})", std::process::id())),
        "{table}"
    );
    // and `--json` is the same file
    let mut json = Vec::new();
    status::show(&status_file, true, &mut json).unwrap();
    let parsed: StatusFile = serde_json::from_slice(&json).unwrap();
    assert_eq!(parsed.targets.len(), 2);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&status_file)
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    // Ctrl-C: every target stops, exit 130, and the file says so.
    cancel.cancel();
    let (summary, _, _) = running.await.unwrap();
    assert_eq!(Exit::from(&summary), Exit::Interrupted);
    let last = status::read(&status_file).unwrap();
    assert!(!last.running);
    assert!(
        last.targets.iter().all(|t| t.state == State::Stopped),
        "{last:?}"
    );
    assert_eq!(shop.sold().len(), 0);
}

#[tokio::test]
async fn a_dead_host_is_retried_while_the_other_target_wins() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let (shop, pem) = sim(
        dir,
        "alive",
        vec![listing(
            "alivealivealive1",
            "Ticket – Type A",
            Trigger::Immediately,
        )],
    )
    .await;
    // A port nothing listens on any more: connection refused.
    let dead_port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let text = format!(
        "[defaults]\ninterval = 1\nlive_responses = \"live\"\n\
         [[target]]\nname = \"alive\"\nurl = \"{}\"\nevent = \"org/alive\"\nca_cert = [\"{}\"]\n\
         [[target]]\nname = \"dead\"\nurl = \"https://127.0.0.1:{dead_port}\"\nevent = \"org/dead\"\n",
        shop.base_url(),
        pem.display()
    );
    let specs = config_file::parse(&text, &dir.join("race.toml"), &TargetKeys::default()).unwrap();
    let run = MultiRun::new(targets(specs)).status_file(dir.join("status.json"));
    let mut written = run.subscribe();
    let cancel = CancellationToken::new();
    let running = tokio::spawn(run_all(run, cancel.clone()));

    // The winner is done while the dead host is being retried, not dropped.
    let state_of = |s: &StatusFile, name: &str| {
        s.targets
            .iter()
            .find(|t| t.name == name)
            .map(|t| (t.state, t.clone()))
    };
    let seen = tokio::time::timeout(
        DEADLINE,
        written.wait_for(|s| {
            s.as_ref().is_some_and(|s| {
                state_of(s, "alive").is_some_and(|(st, _)| st == State::Won)
                    && state_of(s, "dead").is_some_and(|(st, t)| {
                        st == State::Backoff && t.backoff_reason.as_deref() == Some("network")
                    })
            })
        }),
    )
    .await
    .expect("the winner wins while the dead host backs off")
    .expect("the status writer runs")
    .clone()
    .unwrap();
    let dead = state_of(&seen, "dead").unwrap().1;
    assert!(
        dead.last_problem.is_some() && dead.ended.is_none(),
        "{dead:?}"
    );

    cancel.cancel();
    let (summary, out, _) = running.await.unwrap();
    assert!(matches!(
        end_of(&summary, "alive"),
        TargetEnd::Ran(Ok(Outcome::Won))
    ));
    assert!(matches!(
        end_of(&summary, "dead"),
        TargetEnd::Ran(Ok(Outcome::Stopped))
    ));
    // one won, one stopped by Ctrl-C: 130
    assert_eq!(Exit::from(&summary), Exit::Interrupted);
    assert!(out.starts_with("[alive]\n"), "{out}");
    assert_eq!(shop.sold().len(), 1);
}

#[tokio::test]
async fn repeated_event_flags_race_each_event() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let (shop, pem) = sim(
        dir,
        "fest",
        vec![listing(
            "repeatrepeat0001",
            "Ticket – Type A",
            Trigger::Immediately,
        )],
    )
    .await;
    let live = dir.join("live");
    let args = [
        "pretix-race".to_string(),
        "--url".into(),
        shop.base_url(),
        "--event".into(),
        "org/fest".into(),
        "--event".into(),
        "org/gone".into(),
        "--interval".into(),
        "1".into(),
        "--ca-cert".into(),
        pem.display().to_string(),
        "--live-responses".into(),
        live.display().to_string(),
    ];
    let matches = Cli::command().try_get_matches_from(args).unwrap();
    let cli = Cli::from_arg_matches(&matches).unwrap();
    assert!(cli.race.is_multi());
    let specs = cli.race.targets(&matches).unwrap();
    let status_file = cli.race.status_path(&specs);
    assert_eq!(status_file, live.join("status.json"));
    let run = MultiRun::new(targets(specs)).status_file(status_file);
    let (summary, out, _) = run_all(run, CancellationToken::new()).await;
    assert_eq!(summary.won(), 1, "{summary:?}");
    assert!(matches!(
        end_of(&summary, "org/gone"),
        TargetEnd::Ran(Err(RunError::EventNotFound { .. }))
    ));
    assert_eq!(Exit::from(&summary), Exit::Usage);
    assert!(out.starts_with("[org/fest]\n"), "{out}");
    assert_eq!(shop.sold().len(), 1);
    assert!(status::read(&live.join("status.json")).is_ok());
}

/// The `pretix-race` binary, built once per test run so it is never stale.
fn binary() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let st = std::process::Command::new(cargo)
            .args(["build", "-p", "pretix-race", "--bin", "pretix-race"])
            .current_dir(&root)
            .status()
            .expect("cargo runs");
        assert!(st.success(), "cargo build -p pretix-race failed");
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| root.join("target"));
        let bin = target.join("debug/pretix-race");
        assert!(bin.is_file(), "no binary at {}", bin.display());
        bin
    })
}

/// The real binary: `--config` with a winner and a 404, then `status`.
#[tokio::test]
async fn the_binary_runs_a_config_file_and_shows_its_status() {
    let bin = binary();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let (shop, pem) = sim(
        dir,
        "fest",
        vec![listing(
            "binarybinary0001",
            "Ticket – Type A",
            Trigger::Immediately,
        )],
    )
    .await;
    let file = dir.join("race.toml");
    std::fs::write(
        &file,
        format!(
            "[defaults]\nurl = \"{}\"\ninterval = 1\nca_cert = [\"{}\"]\nlive_responses = \"live\"\n\
             [[target]]\nname = \"fest\"\nevent = \"org/fest\"\n\
             [[target]]\nname = \"gone\"\nevent = \"org/gone\"\n",
            shop.base_url(),
            pem.display()
        ),
    )
    .unwrap();
    let run = process::output_within(
        std::process::Command::new(bin)
            .arg("--config")
            .arg(&file)
            .env_remove("PRETIX_RACE_LOG")
            .current_dir(dir),
        DEADLINE,
    )
    .await;
    let (out, err) = (
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr),
    );
    assert_eq!(run.status.code(), Some(2), "{out}\n{err}");
    assert!(
        out.starts_with("[fest]\n==================== TICKET IN CART"),
        "{out}"
    );
    assert_eq!(shop.sold().len(), 1);
    let errors: Vec<&str> = err.lines().filter(|l| l.contains("ERROR")).collect();
    assert_eq!(errors.len(), 1, "{err}");
    assert!(
        errors[0].contains("gone") && errors[0].contains("404"),
        "{err}"
    );

    let status = process::output_within(
        std::process::Command::new(bin)
            .args(["status", "--file"])
            .arg(dir.join("live").join("status.json")),
        DEADLINE,
    )
    .await;
    let table = String::from_utf8_lossy(&status.stdout);
    assert_eq!(status.status.code(), Some(0), "{table}");
    let state = |name: &str| {
        table
            .lines()
            .find(|l| l.split_whitespace().next() == Some(name))
            .and_then(|l| l.split_whitespace().nth(1).map(str::to_string))
    };
    assert_eq!(state("fest").as_deref(), Some("won"), "{table}");
    assert_eq!(state("gone").as_deref(), Some("dropped"), "{table}");
    assert!(table.contains("finished (pid "), "{table}");
}
