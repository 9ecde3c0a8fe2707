//! Idle footprint of the real binary: RSS, threads, CPU per poll, size.
//!
//! ```text
//! cargo bench -p pretix-race --bench footprint -- --secs 120
//! ```
//!
//! Runs `pretix-race --headless --interval 1` against the simulator (an
//! open marketplace that never gets a listing) for `--secs` seconds and
//! samples `/proc/<pid>/status` (VmRSS, Threads) and `/proc/<pid>/stat`
//! (utime + stime) once a second. CPU is reported per poll and as a share
//! of one core; the first 5 s (start-up, discovery, first handshake) are
//! left out of the steady-state figures. Linux only.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use pretix_race_sim::{Scenario, SimServer};

fn status_field(pid: u32, key: &str) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines()
        .find(|l| l.starts_with(key))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// utime + stime in clock ticks.
fn cpu_ticks(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the `(comm)`, which may contain spaces.
    let rest = &s[s.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
}

fn main() {
    let mut secs = 120u64;
    let mut bin = std::path::PathBuf::from(env!("CARGO_BIN_EXE_pretix-race"));
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        match k.as_str() {
            "--secs" => secs = it.next().and_then(|v| v.parse().ok()).expect("--secs N"),
            "--bin" => bin = it.next().expect("--bin PATH").into(),
            _ => {}
        }
    }
    let bin = bin.as_path();
    let size = std::fs::metadata(bin).map(|m| m.len()).unwrap_or(0);
    let dir = std::env::temp_dir().join(format!("pretix-race-footprint-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let stripped = dir.join("stripped");
    let stripped_size = Command::new("strip")
        .arg("-o")
        .arg(&stripped)
        .arg(bin)
        .status()
        .ok()
        .filter(|s| s.success())
        .and_then(|_| std::fs::metadata(&stripped).ok())
        .map(|m| m.len());

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let sim = rt
        .block_on(SimServer::start(Scenario::new("org", "event")))
        .expect("sim");
    let cert = dir.join("sim-cert.pem");
    std::fs::write(&cert, sim.cert_pem()).expect("cert");
    let mut child = Command::new(bin)
        .args([
            "--url",
            &sim.base_url(),
            "--event",
            "org/event",
            "--interval",
            "1",
            "--headless",
        ])
        .arg("--ca-cert")
        .arg(&cert)
        .arg("--live-responses")
        .arg(dir.join("live-responses"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let pid = child.id();
    let start = Instant::now();
    let warm = Duration::from_secs(5);
    let mut rss_max = 0u64;
    let mut rss_last = 0u64;
    let mut threads = 0u64;
    let mut base: Option<(u64, u64, Instant)> = None;
    while start.elapsed() < Duration::from_secs(secs) {
        std::thread::sleep(Duration::from_secs(1));
        let (Some(rss), Some(th), Some(cpu)) = (
            status_field(pid, "VmRSS:"),
            status_field(pid, "Threads:"),
            cpu_ticks(pid),
        ) else {
            eprintln!("footprint: the racer exited early");
            break;
        };
        rss_last = rss;
        rss_max = rss_max.max(rss);
        threads = threads.max(th);
        if base.is_none() && start.elapsed() >= warm {
            base = Some((cpu, sim.marketplace_polls(), Instant::now()));
        }
        if let Some((cpu0, polls0, t0)) = base {
            let polls = sim.marketplace_polls() - polls0;
            let ticks = cpu - cpu0;
            if start.elapsed() + Duration::from_secs(1) >= Duration::from_secs(secs) {
                let hz = 100.0; // USER_HZ on Linux
                let cpu_s = ticks as f64 / hz;
                let wall = t0.elapsed().as_secs_f64();
                println!(
                    "footprint over {:.0} s steady state: {polls} polls, CPU {:.2} ms/poll, {:.3} % of a core",
                    wall,
                    cpu_s * 1e3 / polls.max(1) as f64,
                    cpu_s / wall * 100.0
                );
                break;
            }
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    println!(
        "RSS {:.1} MB at the end (max {:.1} MB), threads {threads}",
        rss_last as f64 / 1024.0,
        rss_max as f64 / 1024.0
    );
    println!(
        "binary {:.1} MB as built, {} stripped",
        size as f64 / 1e6,
        stripped_size
            .map(|s| format!("{:.1} MB", s as f64 / 1e6))
            .unwrap_or_else(|| "(strip not available)".into())
    );
    let _ = std::fs::remove_dir_all(&dir);
}
