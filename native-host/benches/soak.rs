//! Soak bench: does the real binary stay flat when left polling for hours?
//!
//! `cargo bench -p pretix-race --bench soak` (release build). It starts the
//! simulated marketplace in this process on 127.0.0.1 (real HTTPS, HTTP/2,
//! cookies), serving a marketplace with **no listing**, so the race never
//! ends; then runs the real `pretix-race` binary against it at
//! `--interval 1` as a child process. Connection pooling, keep-alive pings,
//! TLS sessions and file descriptors only show up like this, over real
//! sockets in a real process, which is why this is a bench and not a test.
//!
//! Every sample (default 60 s) reads, for the child: `VmRSS` and `Threads`
//! from `/proc/<pid>/status`, the number of entries in `/proc/<pid>/fd`, the
//! number and total size of files in its `--live-responses` directory, and
//! the size of its log (stderr, default info level). Also the marketplace
//! GETs the simulator has served. The table is printed and rewritten as
//! Markdown after every sample, so an interrupted run still leaves its rows.
//!
//! Settings (environment):
//! - `SOAK_MINUTES` (default 30): how long the child runs.
//! - `SOAK_SAMPLE_SECS` (default 60): time between samples.
//! - `SOAK_SCENARIO`: `empty` (default; the empty marketplace) or `odd`
//!   (every poll answered with the same unrecognised page, to watch the
//!   debug-page store stay at one file).
//! - `SOAK_BIN` (default `<workspace>/target/release/pretix-race`): the
//!   binary to run; build it first with `cargo build --release -p pretix-race`.
//! - `SOAK_OUT` (default `<workspace>/target/soak-<scenario>.md`): the
//!   Markdown table; the child's log and live-responses directory are kept
//!   next to it (`soak-<scenario>/`).
//!
//! Linux only (`/proc`).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use pretix_race_sim::{Scenario, Scripted, SimServer};

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    match std::env::var(name) {
        Ok(v) => v
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v:?} is not a valid value")),
        Err(_) => default,
    }
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("native-host has a parent")
        .to_path_buf()
}

/// One row of the table.
struct Sample {
    elapsed: Duration,
    polls: u64,
    rss_kib: u64,
    threads: u64,
    fds: usize,
    files: usize,
    file_bytes: u64,
    log_bytes: u64,
}

/// `VmRSS` (kB) and `Threads` of `pid`.
fn status_of(pid: u32) -> std::io::Result<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    Ok((field("VmRSS:"), field("Threads:")))
}

fn fds_of(pid: u32) -> std::io::Result<usize> {
    Ok(std::fs::read_dir(format!("/proc/{pid}/fd"))?.count())
}

/// Number and total size of the files in `dir` (none if it is missing).
fn files_in(dir: &Path) -> (usize, u64) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return (0, 0);
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|e| e.metadata().ok())
        .filter(|m| m.is_file())
        .fold((0, 0), |(n, b), m| (n + 1, b + m.len()))
}

fn scenario(kind: &str, minutes: u64) -> Scenario {
    let mut s = Scenario::new("org", "fest");
    match kind {
        "empty" => {}
        "odd" => {
            // Every poll of the run (and some to spare) gets the odd page.
            let polls = minutes * 60 * 2 + 100;
            s.marketplace_script = (1..=polls).map(|n| (n, Scripted::OddPage)).collect();
        }
        other => panic!("SOAK_SCENARIO={other:?}: expected `empty` or `odd`"),
    }
    s
}

fn markdown(kind: &str, minutes: u64, sample: Duration, rows: &[Sample], note: &str) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "Scenario `{kind}`, {minutes} min planned, `--interval 1`, a sample every {} s.{note}\n",
        sample.as_secs()
    );
    let _ = writeln!(
        s,
        "| t (min) | polls | RSS (MiB) | threads | fds | live-responses files | live-responses KiB | log KiB |"
    );
    let _ = writeln!(s, "|---:|---:|---:|---:|---:|---:|---:|---:|");
    for r in rows {
        let _ = writeln!(
            s,
            "| {:.0} | {} | {:.1} | {} | {} | {} | {:.1} | {:.1} |",
            r.elapsed.as_secs_f64() / 60.0,
            r.polls,
            r.rss_kib as f64 / 1024.0,
            r.threads,
            r.fds,
            r.files,
            r.file_bytes as f64 / 1024.0,
            r.log_bytes as f64 / 1024.0
        );
    }
    s
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    // `cargo bench` passes `--bench`; nothing else to parse.
    let minutes: u64 = env_or("SOAK_MINUTES", 30);
    let sample = Duration::from_secs(env_or("SOAK_SAMPLE_SECS", 60));
    let kind: String = env_or("SOAK_SCENARIO", "empty".to_string());
    let bin: PathBuf = env_or("SOAK_BIN", workspace().join("target/release/pretix-race"));
    let out: PathBuf = env_or(
        "SOAK_OUT",
        workspace().join(format!("target/soak-{kind}.md")),
    );
    assert!(
        bin.is_file(),
        "{} is missing: cargo build --release -p pretix-race",
        bin.display()
    );

    let work = out
        .with_extension("")
        .with_file_name(format!("soak-{kind}"));
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).expect("work directory");
    let live = work.join("live-responses");
    let log_path = work.join("pretix-race.log");
    let cert = work.join("sim-ca.pem");

    let sim = SimServer::start(scenario(&kind, minutes))
        .await
        .expect("simulator starts");
    std::fs::write(&cert, sim.cert_pem()).expect("certificate written");

    let log = std::fs::File::create(&log_path).expect("log file");
    let mut child = Command::new(&bin)
        .args([
            "--url",
            &sim.base_url(),
            "--event",
            "org/fest",
            "--interval",
            "1",
        ])
        .arg("--ca-cert")
        .arg(&cert)
        .arg("--live-responses")
        .arg(&live)
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("pretix-race starts");
    let pid = child.id();
    println!(
        "soak: {} (pid {pid}) against {} [{kind}] for {minutes} min, sampling every {} s",
        bin.display(),
        sim.event_url(),
        sample.as_secs()
    );
    println!(
        "soak: table → {}, log and files → {}",
        out.display(),
        work.display()
    );
    println!(
        "{:>7} {:>7} {:>9} {:>7} {:>5} {:>6} {:>9} {:>8}",
        "t(min)", "polls", "RSS(MiB)", "threads", "fds", "files", "files KiB", "log KiB"
    );

    let start = Instant::now();
    let total = Duration::from_secs(minutes * 60);
    let mut rows = Vec::new();
    let mut note = String::new();
    let mut next = Duration::ZERO;
    loop {
        let wait = next.saturating_sub(start.elapsed());
        tokio::time::sleep(wait).await;
        if let Ok(Some(status)) = child.try_wait() {
            note = format!(" **The child exited early: {status}.**");
            break;
        }
        let (rss_kib, threads) = status_of(pid).expect("/proc/<pid>/status");
        let fds = fds_of(pid).expect("/proc/<pid>/fd");
        let (files, file_bytes) = files_in(&live);
        let log_bytes = std::fs::metadata(&log_path).map_or(0, |m| m.len());
        let row = Sample {
            elapsed: start.elapsed(),
            polls: sim.marketplace_polls(),
            rss_kib,
            threads,
            fds,
            files,
            file_bytes,
            log_bytes,
        };
        println!(
            "{:>7.1} {:>7} {:>9.1} {:>7} {:>5} {:>6} {:>9.1} {:>8.1}",
            row.elapsed.as_secs_f64() / 60.0,
            row.polls,
            row.rss_kib as f64 / 1024.0,
            row.threads,
            row.fds,
            row.files,
            row.file_bytes as f64 / 1024.0,
            row.log_bytes as f64 / 1024.0
        );
        rows.push(row);
        std::fs::write(&out, markdown(&kind, minutes, sample, &rows, &note))
            .expect("table written");
        if next >= total {
            break;
        }
        next = (next + sample).min(total);
    }

    // Ctrl-C, as a person would: the race stops and says so.
    let _ = Command::new("kill")
        .args(["-INT", &pid.to_string()])
        .status();
    let status = child.wait().expect("child reaped");
    let log_bytes = std::fs::metadata(&log_path).map_or(0, |m| m.len());
    let _ = write!(
        note,
        " Stopped with SIGINT: {status}; final log {:.1} KiB.",
        log_bytes as f64 / 1024.0
    );
    std::fs::write(&out, markdown(&kind, minutes, sample, &rows, &note)).expect("table written");
    println!("soak: done ({status}); table in {}", out.display());
    sim.shutdown();
}
