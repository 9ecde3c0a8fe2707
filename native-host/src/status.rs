//! Status at a glance: what every target is doing, in a file the running
//! process keeps current, and the `pretix-race status` command that reads it.
//!
//! Why a file and not a socket: it works across containers and users with
//! nothing listening, survives the process (the last state of a finished
//! run stays readable), and needs no protocol. The file is rewritten
//! atomically (temporary file + rename, so a reader never sees half of it),
//! at most once per [`WRITE_EVERY`], by a task of its own fed from the race
//! events' listener side: the race path never waits for the disk. It holds
//! no cookies, but it is made mode 0600 like every file we write.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use tokio::sync::{watch, Notify};
use tokio_util::sync::CancellationToken;

use crate::events::{RaceEvent, WaitReason};

/// The file name in the live-responses directory, unless `--status-file`.
pub const FILE_NAME: &str = "status.json";

/// The shortest gap between two rewrites of the file.
pub const WRITE_EVERY: Duration = Duration::from_secs(1);

/// Where a target is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    Starting,
    /// Looking for the marketplace link on the event page.
    Discovering,
    /// The event has no marketplace (link) yet; re-checking.
    WaitingForMarketplace,
    Polling,
    /// Waiting longer than the interval: rate limit, server or network trouble.
    Backoff,
    /// A buy POST went out.
    Buying,
    /// Ended: a ticket is in the cart.
    Won,
    /// Ended with an error; the reason is in `ended`.
    Dropped,
    /// Ended by Ctrl-C / SIGTERM.
    Stopped,
}

impl State {
    pub fn name(self) -> &'static str {
        match self {
            State::Starting => "starting",
            State::Discovering => "discovering",
            State::WaitingForMarketplace => "waiting_for_marketplace",
            State::Polling => "polling",
            State::Backoff => "backoff",
            State::Buying => "buying",
            State::Won => "won",
            State::Dropped => "dropped",
            State::Stopped => "stopped",
        }
    }
}

/// One target's line in the status file. Times are Unix seconds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TargetStatus {
    pub name: String,
    pub event_url: String,
    pub state: State,
    /// Marketplace GETs so far.
    pub polls: u64,
    /// HTTP status of the last poll.
    pub last_status: Option<u16>,
    pub last_latency_ms: Option<u64>,
    /// While waiting longer than the poll interval: until when, and why.
    pub backoff_until: Option<u64>,
    pub backoff_reason: Option<String>,
    /// The last matching listing seen: ticket type and price.
    pub last_listing: Option<String>,
    /// The last problem being retried.
    pub last_problem: Option<String>,
    pub started_at: u64,
    /// Why the target ended (`won`, or the error), once it has.
    pub ended: Option<String>,
}

impl TargetStatus {
    pub fn new(name: &str, event_url: &str, now: SystemTime) -> Self {
        TargetStatus {
            name: name.into(),
            event_url: event_url.into(),
            state: State::Starting,
            polls: 0,
            last_status: None,
            last_latency_ms: None,
            backoff_until: None,
            backoff_reason: None,
            last_listing: None,
            last_problem: None,
            started_at: unix(now),
            ended: None,
        }
    }

    /// Fold one race event in.
    pub fn apply(&mut self, ev: &RaceEvent, now: SystemTime) {
        match ev {
            RaceEvent::Discovering { .. } | RaceEvent::SessionLost { .. } => {
                self.state = State::Discovering
            }
            RaceEvent::MarketplaceFound { .. } => self.state = State::Polling,
            RaceEvent::MarketplaceInactive => self.state = State::WaitingForMarketplace,
            RaceEvent::Polled {
                poll,
                status,
                latency,
                ..
            } => {
                self.polls = *poll;
                self.last_status = Some(*status);
                self.last_latency_ms = Some(latency.as_millis().try_into().unwrap_or(u64::MAX));
                self.state = State::Polling;
                self.backoff_until = None;
                self.backoff_reason = None;
            }
            RaceEvent::Waiting { reason, duration } => match reason {
                WaitReason::Interval => {}
                WaitReason::MarketplaceMissing => self.state = State::WaitingForMarketplace,
                _ => {
                    self.state = State::Backoff;
                    self.backoff_until = Some(unix(now + *duration));
                    self.backoff_reason = Some(reason.name().into());
                }
            },
            RaceEvent::Detected { listing, .. } | RaceEvent::Skipped { listing, .. } => {
                self.last_listing = Some(format!("{} {}", listing.ticket_type, listing.price_text))
            }
            RaceEvent::CartAttempt { listing, .. } => {
                self.state = State::Buying;
                self.last_listing = Some(format!("{} {}", listing.ticket_type, listing.price_text));
            }
            RaceEvent::Problem { message } => self.last_problem = Some(message.clone()),
            RaceEvent::UnknownPage { .. } => {}
        }
    }

    /// The target is over.
    pub fn end(&mut self, state: State, why: String) {
        self.state = state;
        self.ended = Some(why);
        self.backoff_until = None;
        self.backoff_reason = None;
    }
}

/// The whole file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatusFile {
    pub pid: u32,
    pub updated_at: u64,
    /// False once the process has finished (its last write).
    pub running: bool,
    pub targets: Vec<TargetStatus>,
}

fn unix(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// The live status of every target, shared by their listeners, and the
/// task that writes it out.
#[derive(Debug, Clone)]
pub struct Board {
    targets: Arc<Mutex<Vec<TargetStatus>>>,
    changed: Arc<Notify>,
    /// Every snapshot written, for whoever watches (tests, a future UI).
    written: watch::Sender<Option<StatusFile>>,
}

impl Board {
    pub fn new(targets: Vec<TargetStatus>) -> Self {
        Board {
            targets: Arc::new(Mutex::new(targets)),
            changed: Arc::new(Notify::new()),
            written: watch::Sender::new(None),
        }
    }

    /// Change target `i` and wake the writer.
    pub fn update(&self, i: usize, f: impl FnOnce(&mut TargetStatus)) {
        if let Ok(mut ts) = self.targets.lock() {
            if let Some(t) = ts.get_mut(i) {
                f(t);
            }
        }
        self.changed.notify_one();
    }

    pub fn snapshot(&self, running: bool) -> StatusFile {
        StatusFile {
            pid: std::process::id(),
            updated_at: unix(SystemTime::now()),
            running,
            targets: self.targets.lock().map(|t| t.clone()).unwrap_or_default(),
        }
    }

    /// Each snapshot after it was written (or, without a file, taken).
    pub fn subscribe(&self) -> watch::Receiver<Option<StatusFile>> {
        self.written.subscribe()
    }

    /// Keep `path` current until `done`, then write the final state.
    /// A write that fails is logged and retried on the next change.
    pub async fn keep_written(&self, path: Option<PathBuf>, done: CancellationToken) {
        loop {
            let finished = tokio::select! {
                _ = self.changed.notified() => false,
                _ = done.cancelled() => true,
            };
            self.write(path.as_deref(), !finished).await;
            if finished {
                return;
            }
            tokio::select! {
                _ = tokio::time::sleep(WRITE_EVERY) => {}
                _ = done.cancelled() => {}
            }
        }
    }

    async fn write(&self, path: Option<&Path>, running: bool) {
        let snap = self.snapshot(running);
        if let Some(path) = path {
            let (p, s) = (path.to_path_buf(), snap.clone());
            match tokio::task::spawn_blocking(move || write_atomically(&p, &s)).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    tracing::warn!(cause = %e, path = %path.display(), "cannot write the status file")
                }
                Err(e) => tracing::warn!(cause = %e, "the status write did not finish"),
            }
        }
        self.written.send_replace(Some(snap));
    }
}

/// Why the status could not be shown or written.
#[derive(Debug, thiserror::Error)]
pub enum StatusError {
    #[error("cannot read {}: {err} (is a multi-target run writing it? see --status-file)", path.display())]
    Read { path: PathBuf, err: std::io::Error },
    #[error("{} is not a pretix-race status file: {err}", path.display())]
    Parse {
        path: PathBuf,
        err: serde_json::Error,
    },
    #[error("cannot print the status: {0}")]
    Print(#[from] std::io::Error),
}

/// Write `status` to `path` so that readers see the old or the new file,
/// never a part: a private temporary file next to it, then a rename.
pub fn write_atomically(path: &Path, status: &StatusFile) -> std::io::Result<()> {
    use std::io::Write;
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
    if let Some(dir) = dir {
        std::fs::create_dir_all(dir)?;
    }
    let file_name = path
        .file_name()
        .map_or("status".into(), |n| n.to_os_string());
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(&file_name);
    tmp_name.push(format!(".{}.tmp", std::process::id()));
    let tmp = dir.map_or_else(|| PathBuf::from(&tmp_name), |d| d.join(&tmp_name));
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let mut f = opts.open(&tmp)?;
    let json = serde_json::to_vec_pretty(status).map_err(std::io::Error::other)?;
    f.write_all(&json)?;
    f.write_all(b"\n")?;
    f.sync_data()?;
    std::fs::rename(&tmp, path)
}

pub fn read(path: &Path) -> Result<StatusFile, StatusError> {
    let text = std::fs::read(path).map_err(|err| StatusError::Read {
        path: path.to_path_buf(),
        err,
    })?;
    serde_json::from_slice(&text).map_err(|err| StatusError::Parse {
        path: path.to_path_buf(),
        err,
    })
}

/// `pretix-race status`: print the file at `path` as a table (or as JSON).
pub fn show(path: &Path, json: bool, out: &mut dyn std::io::Write) -> Result<(), StatusError> {
    let status = read(path)?;
    if json {
        serde_json::to_writer_pretty(&mut *out, &status).map_err(std::io::Error::other)?;
        writeln!(out)?;
    } else {
        out.write_all(table(&status, unix(SystemTime::now())).as_bytes())?;
    }
    out.flush()?;
    Ok(())
}

/// `1h02m`, `3m05s`, `42s`.
fn age(secs: u64) -> String {
    match secs {
        s if s >= 3600 => format!("{}h{:02}m", s / 3600, s % 3600 / 60),
        s if s >= 60 => format!("{}m{:02}s", s / 60, s % 60),
        s => format!("{s}s"),
    }
}

/// The status as a table, times relative to `now` (Unix seconds).
pub fn table(status: &StatusFile, now: u64) -> String {
    let header = [
        "TARGET",
        "STATE",
        "POLLS",
        "LAST",
        "LATENCY",
        "BACKOFF",
        "UP",
        "LAST LISTING",
    ];
    let rows: Vec<[String; 8]> = status
        .targets
        .iter()
        .map(|t| {
            let backoff = match (t.backoff_until, &t.backoff_reason) {
                (Some(until), reason) => format!(
                    "{} ({})",
                    age(until.saturating_sub(now)),
                    reason.as_deref().unwrap_or("?")
                ),
                (None, _) => "-".into(),
            };
            [
                t.name.clone(),
                t.state.name().into(),
                t.polls.to_string(),
                t.last_status.map_or("-".into(), |s| s.to_string()),
                t.last_latency_ms
                    .map_or("-".into(), |ms| format!("{ms} ms")),
                backoff,
                age(now.saturating_sub(t.started_at)),
                t.last_listing.clone().unwrap_or_else(|| "-".into()),
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for r in &rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut s = String::new();
    let line = |s: &mut String, cells: &[&str]| {
        let mut l = String::new();
        for (c, w) in cells.iter().zip(widths) {
            let _ = write!(l, "{c:<w$}  ");
        }
        let _ = writeln!(s, "{}", l.trim_end());
    };
    line(&mut s, &header);
    for r in &rows {
        line(&mut s, &r.each_ref().map(String::as_str));
    }
    for t in status.targets.iter().filter(|t| t.ended.is_some()) {
        let _ = writeln!(
            s,
            "{}: ended: {}",
            t.name,
            t.ended.as_deref().unwrap_or_default()
        );
    }
    let _ = writeln!(
        s,
        "{} (pid {}), updated {} ago",
        if status.running {
            "running"
        } else {
            "finished"
        },
        status.pid,
        age(now.saturating_sub(status.updated_at))
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::Listing;

    fn listing() -> Listing {
        Listing {
            ticket_type: "Ticket – Type B".into(),
            price_text: "120.00 EUR".into(),
            price: None,
            form_action: "/buy".into(),
            csrf_token: "t".into(),
        }
    }

    #[test]
    fn events_fold_into_the_status() {
        let t0 = UNIX_EPOCH + Duration::from_secs(1000);
        let mut t = TargetStatus::new("fest", "https://h/org/ev/", t0);
        t.apply(
            &RaceEvent::Polled {
                poll: 7,
                status: 200,
                latency: Duration::from_millis(42),
                page: "marketplace",
                listings: 0,
            },
            t0,
        );
        assert_eq!((t.state, t.polls), (State::Polling, 7));
        assert_eq!((t.last_status, t.last_latency_ms), (Some(200), Some(42)));
        t.apply(
            &RaceEvent::Waiting {
                reason: WaitReason::RateLimited,
                duration: Duration::from_secs(60),
            },
            t0,
        );
        assert_eq!(t.state, State::Backoff);
        assert_eq!(t.backoff_until, Some(1060));
        // the normal interval is not a backoff
        let mut u = t.clone();
        u.apply(
            &RaceEvent::Polled {
                poll: 8,
                status: 200,
                latency: Duration::from_millis(1),
                page: "marketplace",
                listings: 1,
            },
            t0,
        );
        u.apply(
            &RaceEvent::Waiting {
                reason: WaitReason::Interval,
                duration: Duration::from_secs(5),
            },
            t0,
        );
        assert_eq!((u.state, u.backoff_until), (State::Polling, None));
        u.apply(
            &RaceEvent::Detected {
                listing: listing(),
                target: url::Url::parse("https://h/").unwrap(),
            },
            t0,
        );
        assert_eq!(
            u.last_listing.as_deref(),
            Some("Ticket – Type B 120.00 EUR")
        );
    }

    #[test]
    fn the_table_shows_every_column() {
        let status = StatusFile {
            pid: 12,
            updated_at: 1_000_100,
            running: true,
            targets: vec![
                TargetStatus {
                    polls: 31,
                    last_status: Some(429),
                    last_latency_ms: Some(87),
                    backoff_until: Some(1_000_190),
                    backoff_reason: Some("rate_limited".into()),
                    state: State::Backoff,
                    ..TargetStatus::new("festival", "https://h/", UNIX_EPOCH)
                },
                TargetStatus {
                    state: State::Dropped,
                    ended: Some("HTTP 404".into()),
                    ..TargetStatus::new(
                        "gone",
                        "https://h/",
                        UNIX_EPOCH + Duration::from_secs(1_000_000),
                    )
                },
            ],
        };
        let t = table(&status, 1_000_100);
        let fest = t.lines().find(|l| l.starts_with("festival")).unwrap();
        for cell in ["backoff", "31", "429", "87 ms", "1m30s (rate_limited)"] {
            assert!(fest.contains(cell), "{cell}: {t}");
        }
        let gone = t.lines().find(|l| l.starts_with("gone ")).unwrap();
        assert!(gone.contains("dropped") && gone.contains("1m40s"), "{t}");
        assert!(t.contains("gone: ended: HTTP 404"), "{t}");
        assert!(t.contains("running (pid 12)"), "{t}");
    }

    #[test]
    fn the_file_is_private_and_round_trips() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("sub").join(FILE_NAME);
        let board = Board::new(vec![TargetStatus::new("a", "https://h/", UNIX_EPOCH)]);
        board.update(0, |t| t.polls = 3);
        let snap = board.snapshot(true);
        write_atomically(&path, &snap).unwrap();
        assert_eq!(read(&path).unwrap(), snap);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        // no temporary file left behind
        let names: Vec<_> = std::fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, [std::ffi::OsString::from(FILE_NAME)]);
        let mut out = Vec::new();
        show(&path, true, &mut out).unwrap();
        let back: StatusFile = serde_json::from_slice(&out).unwrap();
        assert_eq!(back.targets[0].polls, 3);
    }

    #[test]
    fn a_missing_file_is_a_clear_error() {
        let err = show(
            Path::new("/nonexistent/status.json"),
            false,
            &mut Vec::new(),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("/nonexistent/status.json"), "{err}");
    }
}
