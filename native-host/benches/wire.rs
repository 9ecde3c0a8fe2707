//! Wire reaction: from the last byte of the first page that shows a listing
//! leaving the shop's socket to the first byte of our buy POST arriving
//! there, against the simulator over TLS + HTTP/2 on loopback.
//!
//! ```text
//! cargo bench -p pretix-race --bench wire -- --races 200 --fresh 30
//! cargo bench -p pretix-race --bench wire -- --original /tmp/orig/pretix_race.py
//! cargo bench -p pretix-race --bench wire -- --races 200 --fresh 30 --pcap
//! ```
//!
//! * In-process races (`--races`): the real [`Race`] on a runtime built as
//!   the binary builds it (`--runtime multi|current` to compare), a fresh
//!   simulator per race on its own runtime thread, the listing published at
//!   a random poll (1–3), 50 ms interval. The process is warm after the
//!   first race.
//! * Fresh processes (`--fresh`): the real `pretix-race` binary, one race
//!   each (`--headless`, 1 s interval, listing on poll 1 or 2): what the
//!   very first listing a process sees costs.
//! * `--original PATH`: the original Python tool (installed by hand outside
//!   this repository; `--python` names its interpreter) raced the same way.
//!
//! * `--whole-page`: the in-process races wait for the whole page before
//!   buying (`Config::fire_early` off), for the comparison.
//! * `--interval-ms N`: the in-process races' poll interval (50 by default).
//! * `--pcap`: every pair is also timed by a packet capture on lo (`tcpdump`
//!   must be installed and allowed to capture), without the simulator's
//!   wake-up in the figure; see [`Capture`].
//!
//! The measure is taken by the simulator's socket recorder
//! (`pretix_race_sim::WireProbe`); its method and error bars are documented
//! there and in `BENCHMARKS.md`.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use pretix_race::config::Config;
use pretix_race::race::{Race, RaceEnd};
use pretix_race::session::Session;
use pretix_race_sim::{Scenario, ScriptedListing, SimServer, Trigger, WireSample};
use rand::Rng;

struct Args {
    races: usize,
    fresh: usize,
    runtime: String,
    listings: usize,
    original: Option<PathBuf>,
    python: String,
    original_races: usize,
    /// The racer binary for `--fresh` (default: the one cargo built).
    bin: PathBuf,
    micro: bool,
    /// Wait for the whole page before buying (`Config::fire_early` off).
    whole_page: bool,
    /// Also time every pair by a packet capture on lo (needs tcpdump).
    pcap: bool,
    /// The in-process races' poll interval.
    interval_ms: u64,
}

fn args() -> Args {
    let mut a = Args {
        races: 200,
        fresh: 30,
        runtime: "default".into(),
        listings: 1,
        original: None,
        python: "python3".into(),
        original_races: 30,
        bin: PathBuf::from(env!("CARGO_BIN_EXE_pretix-race")),
        micro: false,
        whole_page: false,
        pcap: false,
        interval_ms: 50,
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let mut v = || it.next().unwrap_or_else(|| panic!("{k} needs a value"));
        match k.as_str() {
            "--races" => a.races = v().parse().expect("--races N"),
            "--fresh" => a.fresh = v().parse().expect("--fresh N"),
            "--runtime" => a.runtime = v(),
            "--listings" => a.listings = v().parse().expect("--listings N"),
            "--original" => a.original = Some(PathBuf::from(v())),
            "--python" => a.python = v(),
            "--original-races" => a.original_races = v().parse().expect("--original-races N"),
            "--bin" => a.bin = PathBuf::from(v()),
            "--micro" => a.micro = true,
            "--whole-page" => a.whole_page = true,
            "--pcap" => a.pcap = true,
            "--interval-ms" => a.interval_ms = v().parse().expect("--interval-ms N"),
            "--bench" => {}
            other => eprintln!("wire: ignoring argument {other}"),
        }
    }
    a
}

/// `n` listings (the first is the one bought), all published on `appears`.
fn scenario(n: usize, appears: Trigger) -> Scenario {
    let listings = (0..n.max(1))
        .map(|i| ScriptedListing {
            appears: appears.clone(),
            ..ScriptedListing::new(
                format!("w{i:015}"),
                if i % 2 == 0 {
                    "Ticket – Type A"
                } else {
                    "Ticket – Type B"
                },
                format!("{}.00", 150 + i),
            )
        })
        .collect();
    Scenario {
        listings,
        ..Scenario::new("org", "event")
    }
}

fn client_runtime(kind: &str) -> tokio::runtime::Runtime {
    match kind {
        "multi" => tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime"),
        "current" => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime"),
        _ => pretix_race::race::runtime().expect("runtime"),
    }
}

#[derive(Default)]
struct Tally {
    /// µs; negative when the POST left before the page's last byte.
    reactions: Vec<f64>,
    handshakes: Vec<u64>,
    other_connection: usize,
    missing: usize,
    /// Each sample with the simulator's port, for the packet capture.
    raw: Vec<(u16, WireSample)>,
}

impl Tally {
    fn add(&mut self, port: u16, s: Option<WireSample>) {
        match s {
            Some(s) => {
                self.raw.push((port, s));
                self.reactions.push(s.reaction_us());
                self.handshakes.push(s.handshakes);
                if !s.same_connection {
                    self.other_connection += 1;
                }
            }
            None => self.missing += 1,
        }
    }

    fn print(&self, label: &str) {
        let mut v = self.reactions.clone();
        v.sort_by(f64::total_cmp);
        if v.is_empty() {
            println!("{label}: no samples ({} missing)", self.missing);
            return;
        }
        let q = |p: f64| v[((v.len() - 1) as f64 * p).round() as usize];
        let us = |x: f64| x;
        let hs: u64 = self.handshakes.iter().sum();
        println!(
            "{label}: n={} p50={:.0}µs p90={:.0}µs p99={:.0}µs max={:.0}µs min={:.0}µs | handshakes/race {:.2} (max {}) | POST on another connection {} | no sample {}",
            v.len(),
            us(q(0.5)),
            us(q(0.9)),
            us(q(0.99)),
            us(v[v.len() - 1]),
            us(v[0]),
            hs as f64 / v.len() as f64,
            self.handshakes.iter().max().unwrap_or(&0),
            self.other_connection,
            self.missing,
        );
    }
}

/// `--runtime ab`: alternate a two-worker and a one-thread runtime race by
/// race, so both see the same machine load.
fn in_process(a: &Args, sim_rt: &tokio::runtime::Runtime) -> Vec<(String, Tally)> {
    let kinds: Vec<String> = if a.runtime == "ab" {
        vec!["multi".into(), "current".into()]
    } else {
        vec![a.runtime.clone()]
    };
    let mut out: Vec<(String, Tally)> = kinds
        .iter()
        .map(|k| (k.clone(), Tally::default()))
        .collect();
    let runtimes: Vec<_> = kinds.iter().map(|k| client_runtime(k)).collect();
    let mut rng = rand::rng();
    for i in 0..a.races {
        let k = i % kinds.len();
        let (rt, tally) = (&runtimes[k], &mut out[k].1);
        let appears = Trigger::AfterPolls(rng.random_range(1..=3));
        let sim = sim_rt
            .block_on(SimServer::start(scenario(a.listings, appears)))
            .expect("sim");
        let mut cfg = Config::new(&sim.base_url(), "org/event").expect("config");
        cfg.interval = Duration::from_millis(a.interval_ms);
        cfg.extra_roots_pem = vec![sim.cert_pem().as_bytes().to_vec()];
        cfg.live_responses = std::env::temp_dir().join("pretix-race-wire-bench");
        cfg.fire_early = !a.whole_page;
        let end = rt.block_on(async {
            let session = Session::new(&cfg).expect("session");
            tokio::time::timeout(Duration::from_secs(20), Race::new(cfg, session).run()).await
        });
        match end {
            Ok(RaceEnd::Won(..)) => tally.add(sim_port(&sim), sim.wire_sample()),
            Ok(other) => {
                eprintln!("race {i}: not won: {other:?}");
                tally.missing += 1;
            }
            Err(_) => {
                eprintln!("race {i}: timed out");
                tally.missing += 1;
            }
        }
        sim.shutdown();
    }
    out
}

/// Runs `cmd` (which races `sim`) until the recorder has its pair or 15 s.
fn spawned(sim: &SimServer, mut cmd: Command) -> Option<WireSample> {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn racer");
    let deadline = Instant::now() + Duration::from_secs(15);
    let sample = loop {
        if let Some(s) = sim.wire_sample() {
            break Some(s);
        }
        if Instant::now() > deadline {
            break None;
        }
        if let Ok(Some(_)) = child.try_wait() {
            break sim.wire_sample();
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let _ = child.kill();
    let _ = child.wait();
    sample
}

fn fresh_processes(
    n: usize,
    sim_rt: &tokio::runtime::Runtime,
    racer: impl Fn(&SimServer, &std::path::Path) -> Command,
) -> Tally {
    let dir = std::env::temp_dir().join(format!("pretix-race-wire-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let mut rng = rand::rng();
    let mut tally = Tally::default();
    for _ in 0..n {
        let appears = Trigger::AfterPolls(rng.random_range(0..=1));
        let sim = sim_rt
            .block_on(SimServer::start(scenario(1, appears)))
            .expect("sim");
        let cert = dir.join("sim-cert.pem");
        std::fs::write(&cert, sim.cert_pem()).expect("write cert");
        tally.add(sim_port(&sim), spawned(&sim, racer(&sim, &cert)));
        sim.shutdown();
    }
    let _ = std::fs::remove_dir_all(&dir);
    tally
}

/// What building the buy request costs (headers, cookies are added at
/// send time, form encoding): the most a pre-built request could save.
fn build_cost(sim_rt: &tokio::runtime::Runtime) {
    let sim = sim_rt
        .block_on(SimServer::start(scenario(1, Trigger::Never)))
        .expect("sim");
    let mut cfg = Config::new(&sim.base_url(), "org/event").expect("config");
    cfg.extra_roots_pem = vec![sim.cert_pem().as_bytes().to_vec()];
    let session = Session::new(&cfg).expect("session");
    let page = url::Url::parse(&sim.marketplace_url()).expect("url");
    let action = page.join("buy/w00000000000000/").expect("url");
    let token = "a".repeat(64);
    let form = [("csrfmiddlewaretoken", token.as_str())];
    let mut v = Vec::with_capacity(20_000);
    for _ in 0..20_000 {
        let t = Instant::now();
        let req = session.submit(&action, &page, &form).build();
        let cookie = session.jar().header_for(&action);
        v.push(t.elapsed());
        let _ = std::hint::black_box((req, cookie));
    }
    v.sort();
    println!(
        "building one buy request (+ its Cookie header): p50 {:.2} µs, p99 {:.2} µs",
        v[v.len() / 2].as_secs_f64() * 1e6,
        v[v.len() * 99 / 100].as_secs_f64() * 1e6
    );
}

fn sim_port(sim: &SimServer) -> u16 {
    url::Url::parse(&sim.base_url())
        .ok()
        .and_then(|u| u.port())
        .unwrap_or(0)
}

/// `--pcap`: the same pairs, timed by the kernel instead of the simulator.
///
/// `tcpdump -i lo` stamps each packet as the loopback device passes it on,
/// which on loopback is when it lands in the receiver's socket: no
/// simulator wake-up in the figure. The
/// recorder says where in each TCP stream the page's last byte and the
/// POST's first byte are (`WireSample::page_end_offset`,
/// `post_start_offset`); the packets carrying them are found by tcpdump's
/// relative sequence numbers (the capture starts before any connection, so
/// it sees every SYN).
struct Capture {
    child: std::process::Child,
    file: PathBuf,
    summary: std::thread::JoinHandle<Vec<String>>,
}

#[derive(Debug, Clone)]
struct Packet {
    /// Nanoseconds since the epoch.
    at: i128,
    src: u16,
    dst: u16,
    /// The stream bytes it carries, as tcpdump's relative sequence numbers
    /// (`seq A:B`, B exclusive; the first data byte is 1). Empty for a
    /// bare ACK.
    seq: std::ops::Range<u64>,
}

impl Capture {
    fn start() -> Capture {
        use std::io::BufRead;
        let file =
            std::env::temp_dir().join(format!("pretix-race-wire-{}.pcap", std::process::id()));
        let mut child = Command::new("tcpdump")
            .args([
                "-i",
                "lo",
                "-n",
                "-U",
                "-s",
                "96",
                "--time-stamp-precision=nano",
                "-w",
            ])
            .arg(&file)
            .arg("tcp")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect(
                "--pcap needs tcpdump (apt-get install tcpdump) and the right to capture on lo",
            );
        // Capturing once it says so; nothing is raced before.
        let stderr = child.stderr.take().expect("stderr");
        let mut lines = std::io::BufReader::new(stderr).lines();
        loop {
            match lines.next() {
                Some(Ok(l)) if l.contains("listening on") => break,
                Some(Ok(_)) => {}
                _ => panic!("tcpdump did not start capturing"),
            }
        }
        // Keep draining so it never blocks on a full pipe; its closing
        // lines (packets captured, dropped by the kernel) are printed.
        let summary = std::thread::spawn(move || lines.map_while(Result::ok).collect::<Vec<_>>());
        Capture {
            child,
            file,
            summary,
        }
    }

    fn stop(mut self) -> Vec<Packet> {
        // tcpdump may still be working through its ring (SIGINT drops what
        // it has not read), and the kernel hands it packets in blocks, after
        // at most a second: wait until the file (written per packet, `-U`)
        // has stopped growing for two seconds, at most 30 s.
        let size = |f: &PathBuf| std::fs::metadata(f).map(|m| m.len()).unwrap_or(0);
        let deadline = Instant::now() + Duration::from_secs(30);
        let (mut last, mut since) = (size(&self.file), Instant::now());
        while Instant::now() < deadline && since.elapsed() < Duration::from_secs(2) {
            std::thread::sleep(Duration::from_millis(50));
            let now = size(&self.file);
            if now != last {
                (last, since) = (now, Instant::now());
            }
        }
        // SIGINT: tcpdump flushes and exits.
        // SAFETY: plain syscall on a child we own.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGINT) };
        let _ = self.child.wait();
        for line in self.summary.join().unwrap_or_default() {
            println!("tcpdump: {line}");
        }
        let out = Command::new("tcpdump")
            .args(["-r"])
            .arg(&self.file)
            .args(["-n", "-tt", "--time-stamp-precision=nano"])
            .stderr(Stdio::null())
            .output()
            .expect("tcpdump -r");
        let _ = std::fs::remove_file(&self.file);
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(parse_packet)
            .collect()
    }
}

/// `1732831234.123456789 IP 127.0.0.1.41234 > 127.0.0.1.39482: Flags [P.], seq 1:6139, ack 187, win 512, length 6138`
fn parse_packet(line: &str) -> Option<Packet> {
    let mut f = line.split_whitespace();
    let (secs, nanos) = f.next()?.split_once('.')?;
    let at = secs.parse::<i128>().ok()? * 1_000_000_000 + nanos.parse::<i128>().ok()?;
    let port = |a: &str| {
        a.trim_end_matches(':')
            .rsplit('.')
            .next()?
            .parse::<u16>()
            .ok()
    };
    let (_ip, src, _gt, dst) = (f.next()?, f.next()?, f.next()?, f.next()?);
    let seq = match line.split_once(" seq ") {
        Some((_, rest)) => {
            let range = rest.split(',').next()?;
            match range.split_once(':') {
                Some((a, b)) => a.parse().ok()?..b.parse().ok()?,
                None => 0..0,
            }
        }
        None => 0..0,
    };
    Some(Packet {
        at,
        src: port(src)?,
        dst: port(dst)?,
        seq,
    })
}

/// The reaction of one race by the capture, in µs: the packet that carried
/// the page's last byte (by its place in the server's stream) landing at
/// our socket, and the one that carried the POST's first byte landing at
/// the sim's.
///
/// Ports are reused over hundreds of races, so only packets inside the
/// race's window count (from the arm to the buy handler taking the POST,
/// by the wall clock, a millisecond of slack either side), and the two
/// must be on the same connection.
fn captured_reaction(packets: &[Packet], port: u16, s: &WireSample) -> Option<f64> {
    let ns = |t: std::time::SystemTime| {
        t.duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as i128)
            .unwrap_or(0)
    };
    let window = ns(s.armed_wall) - 1_000_000..=ns(s.answering_wall) + 1_000_000;
    let in_window = |p: &&Packet| window.contains(&p.at);
    let page_last = packets
        .iter()
        .filter(in_window)
        .find(|p| p.src == port && p.seq.contains(&s.page_end_offset))?;
    let post = packets.iter().filter(in_window).find(|p| {
        p.dst == port && p.src == page_last.dst && p.seq.contains(&s.post_start_offset)
    })?;
    Some((post.at - page_last.at) as f64 / 1e3)
}

impl Tally {
    /// The same races, timed by the capture.
    fn captured(&self, packets: &[Packet]) -> Tally {
        let mut t = Tally::default();
        for (port, s) in &self.raw {
            match captured_reaction(packets, *port, s) {
                Some(r) => {
                    t.reactions.push(r);
                    t.handshakes.push(s.handshakes);
                    if !s.same_connection {
                        t.other_connection += 1;
                    }
                }
                None => {
                    t.missing += 1;
                    // Why a race has no captured pair: its packets, as parsed.
                    if std::env::var_os("PCAP_DEBUG").is_some() {
                        eprintln!(
                            "missing: port {port} page_end {} post_start {}",
                            s.page_end_offset, s.post_start_offset
                        );
                        for p in packets.iter().filter(|p| p.src == *port || p.dst == *port) {
                            eprintln!("  {:?}", p);
                        }
                    }
                }
            }
        }
        t
    }
}

/// Puts the calling thread (the simulator's) at real-time priority, so the
/// recorder's timestamps are taken when the bytes move, not whenever a
/// loaded machine next schedules the simulator. The racer keeps normal
/// priority: its scheduling delays are part of what is measured.
fn a_realtime() -> bool {
    let param = libc::sched_param { sched_priority: 10 };
    // SAFETY: plain syscall on the current thread with a valid parameter.
    unsafe { libc::sched_setscheduler(0, libc::SCHED_FIFO, &param) == 0 }
}

fn main() {
    let a = args();
    let realtime = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let rt_flag = realtime.clone();
    let sim_rt = Arc::new(
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("sim")
            .on_thread_start(move || {
                if !a_realtime() {
                    rt_flag.store(false, std::sync::atomic::Ordering::SeqCst);
                }
            })
            .enable_all()
            .build()
            .expect("sim runtime"),
    );
    // Run one task on the worker: it has started (and tried) by then.
    let _ = sim_rt.block_on(sim_rt.spawn(async {}));
    println!(
        "sim thread at SCHED_FIFO priority 10: {}",
        if realtime.load(std::sync::atomic::Ordering::SeqCst) {
            "yes"
        } else {
            "no (not permitted; timestamps include the sim's wake-up under load)"
        }
    );
    println!(
        "wire reaction (last page byte out → first POST byte in, at the sim's TCP socket); runtime={} listings/page={} buy fired {}",
        a.runtime,
        a.listings,
        if a.whole_page {
            "after the whole page (--whole-page)"
        } else {
            "as soon as the listing's form is in (default)"
        }
    );
    if a.micro {
        build_cost(&sim_rt);
    }
    let mut results: Vec<(String, Tally)> = Vec::new();
    let capture = a.pcap.then(Capture::start);
    if a.races > 0 {
        for (kind, tally) in in_process(&a, &sim_rt) {
            let label = format!("in-process, runtime {kind}, warm (first race included)");
            tally.print(&label);
            results.push((label, tally));
        }
    }
    if a.fresh > 0 {
        let tally = fresh_processes(a.fresh, &sim_rt, |sim, cert| {
            let mut c = Command::new(&a.bin);
            c.args([
                "--url",
                &sim.base_url(),
                "--event",
                "org/event",
                "--interval",
                "1",
                "--headless",
            ])
            .arg("--ca-cert")
            .arg(cert)
            .arg("--live-responses")
            .arg(cert.with_file_name("live-responses"));
            c
        });
        let label = "fresh process, first listing (pretix-race binary)".to_owned();
        tally.print(&label);
        results.push((label, tally));
    }
    if let Some(orig) = &a.original {
        let tally = fresh_processes(a.original_races, &sim_rt, |sim, cert| {
            let mut c = Command::new(&a.python);
            c.arg(orig)
                .args([
                    "--url",
                    &sim.base_url(),
                    "--event",
                    "org/event",
                    "--interval",
                    "1",
                    "--headless",
                ])
                .env("REQUESTS_CA_BUNDLE", cert)
                .env("SSL_CERT_FILE", cert)
                .current_dir(cert.parent().expect("dir"));
            c
        });
        let label = "original Python tool, fresh process".to_owned();
        tally.print(&label);
        results.push((label, tally));
    }
    if let Some(capture) = capture {
        let packets = capture.stop();
        println!(
            "the same races by packet capture (tcpdump -i lo, kernel timestamps; {} packets):",
            packets.len()
        );
        for (label, tally) in &results {
            tally
                .captured(&packets)
                .print(&format!("  {label}, captured"));
        }
    }
}
