//! Weeks unattended: what a long race leaves on disk and in the log.
//!
//! A shop whose pages we do not recognise answers every poll with the same
//! odd page; an empty marketplace is polled all day. Neither may write a
//! file per poll or a log line per poll at info, and a `live-responses/`
//! directory that cannot be written costs one warning, not the race.
//!
//! The long runs go in virtual time (recorded waits, see `common`), with the
//! listener the terminal runner uses (`DebugPages` + `Reporter`) fed the
//! race's events; the broken-directory case runs the terminal runner itself.

mod common;

use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{race_with, shop};
use pretix_race::artifacts::DebugPages;
use pretix_race::events::RaceEvent;
use pretix_race::notify::Notify;
use pretix_race::report::{Reporter, ROUTINE_AT_INFO};
use pretix_race::runner::{self, Outcome};
use pretix_race_sim::{Scenario, Scripted, ScriptedListing, Trigger};
use serde_json::Value;
use tokio_util::sync::CancellationToken;
use tracing_subscriber::util::SubscriberInitExt;

/// How many polls the long runs make.
const POLLS: u64 = 150;

/// A `tracing` writer into a shared buffer.
#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Buffer {
    fn records(&self) -> Vec<Value> {
        let out = String::from_utf8(self.0.lock().unwrap().clone()).unwrap();
        out.lines()
            .map(|l| serde_json::from_str(l).expect("each line is JSON"))
            .collect()
    }
}

/// Capture this crate's and the engine's logs (debug and up) as JSON for
/// as long as the guard lives. Tests run on a current-thread runtime, so
/// every task the code under test spawns logs here too.
fn capture() -> (Buffer, tracing::subscriber::DefaultGuard) {
    let buf = Buffer::default();
    let writer = buf.clone();
    let guard = tracing_subscriber::fmt()
        .json()
        .with_env_filter("pretix_race=debug")
        .with_writer(move || writer.clone())
        .finish()
        .set_default();
    (buf, guard)
}

/// The files in `dir` (none if it does not exist).
fn files(dir: &Path) -> Vec<String> {
    match std::fs::read_dir(dir) {
        Ok(entries) => entries
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect(),
        Err(_) => Vec::new(),
    }
}

/// Feed `events` to the listener the terminal runner uses.
fn listen(dir: &Path, events: &[RaceEvent]) {
    let mut reporter = Reporter::default();
    let mut pages = DebugPages::new(dir);
    for ev in events {
        reporter.log(ev);
        pages.on_event(ev);
    }
}

fn polls(events: &[RaceEvent]) -> u64 {
    events
        .iter()
        .filter(|e| matches!(e, RaceEvent::Polled { .. }))
        .count() as u64
}

fn level_of<'a>(records: &'a [Value], race_event: &str) -> Vec<&'a str> {
    records
        .iter()
        .filter(|r| r["fields"]["race_event"] == race_event)
        .map(|r| r["level"].as_str().unwrap())
        .collect()
}

fn messages_containing(records: &[Value], level: &str, text: &str) -> usize {
    records
        .iter()
        .filter(|r| {
            r["level"] == level
                && r["fields"]["message"]
                    .as_str()
                    .is_some_and(|m| m.contains(text))
        })
        .count()
}

/// Cancel the race once it has polled `n` times.
fn after_polls(n: u64) -> impl Fn(&RaceEvent) -> bool {
    move |e| matches!(e, RaceEvent::Polled { poll, .. } if *poll >= n)
}

#[tokio::test]
async fn an_odd_page_on_every_poll_is_saved_once_and_logged_quietly() {
    let tmp = tempfile::tempdir().unwrap();
    let mut shop = shop(Scenario {
        // a page of a shape the parser does not know, on every poll
        marketplace_script: (1..=POLLS + 10).map(|n| (n, Scripted::OddPage)).collect(),
        ..Scenario::new("org", "fest")
    })
    .await;
    shop.cfg.live_responses = tmp.path().join("live-responses");
    let run = race_with(&shop.cfg, CancellationToken::new(), after_polls(POLLS)).await;
    let odd = run
        .events
        .iter()
        .filter(|e| matches!(e, RaceEvent::UnknownPage { .. }))
        .count() as u64;
    assert!(odd >= POLLS, "every poll was odd: {odd} of {POLLS}");

    let (log, _guard) = capture();
    listen(&shop.cfg.live_responses, &run.events);
    let records = log.records();

    let saved = files(&shop.cfg.live_responses);
    assert_eq!(saved.len(), 1, "one file for one page shape: {saved:?}");
    assert!(saved[0].starts_with("unknown_") && saved[0].ends_with(".html"));
    assert_eq!(
        messages_containing(&records, "INFO", "unexpected page saved"),
        1
    );
    // the per-poll line about the odd page: the first few loud, then debug
    let levels = level_of(&records, "unknown_page");
    assert_eq!(levels.len() as u64, odd);
    let loud = levels.iter().filter(|l| **l != "DEBUG").count() as u64;
    assert_eq!(loud, ROUTINE_AT_INFO, "{levels:?}");

    // A second listener (a restarted process) finds the shape on disk.
    listen(&shop.cfg.live_responses, &run.events);
    assert_eq!(files(&shop.cfg.live_responses).len(), 1);
}

#[tokio::test]
async fn idle_polling_of_an_empty_marketplace_writes_nothing_and_logs_quietly() {
    let tmp = tempfile::tempdir().unwrap();
    let mut shop = shop(Scenario::new("org", "fest")).await;
    shop.cfg.live_responses = tmp.path().join("live-responses");
    let run = race_with(&shop.cfg, CancellationToken::new(), after_polls(POLLS)).await;
    assert!(polls(&run.events) >= POLLS);

    let (log, _guard) = capture();
    listen(&shop.cfg.live_responses, &run.events);
    let records = log.records();

    assert_eq!(files(&shop.cfg.live_responses), Vec::<String>::new());
    let levels = level_of(&records, "polled");
    assert_eq!(levels.len() as u64, polls(&run.events));
    let at_info = levels.iter().filter(|l| **l == "INFO").count() as u64;
    assert_eq!(at_info, ROUTINE_AT_INFO, "{levels:?}");
}

#[tokio::test]
async fn a_live_responses_dir_that_cannot_be_written_warns_once_and_the_race_goes_on() {
    let tmp = tempfile::tempdir().unwrap();
    // A path under a regular file: ENOTDIR, whoever runs the test.
    let file = tmp.path().join("file");
    std::fs::write(&file, "").unwrap();
    let mut shop = shop(Scenario {
        marketplace_script: (1..=6).map(|n| (n, Scripted::OddPage)).collect(),
        listings: vec![ScriptedListing {
            appears: Trigger::AfterPolls(6),
            ..ScriptedListing::new("lllllllllllllll1", "Ticket", "10.00")
        }],
        ..Scenario::new("org", "fest")
    })
    .await;
    shop.cfg.live_responses = file.join("live");
    // The terminal runner waits in real time; keep its waits short.
    shop.cfg.interval = Duration::from_millis(10);

    let (log, _guard) = capture();
    let mut out = Vec::new();
    let end = tokio::time::timeout(
        common::DEADLINE,
        runner::run(
            shop.cfg.clone(),
            Notify::default(),
            CancellationToken::new(),
            &mut out,
        ),
    )
    .await
    .expect("the race ended before the deadline");
    assert!(matches!(end, Ok(Outcome::Won)), "{end:?}");
    assert!(String::from_utf8(out).unwrap().contains("TICKET IN CART"));

    let records = log.records();
    let odd = level_of(&records, "unknown_page").len();
    assert!(odd >= 6, "six odd pages were reported: {odd}");
    assert_eq!(
        messages_containing(&records, "WARN", "could not save the unexpected page"),
        1,
        "one warning for the broken directory"
    );
    assert_eq!(
        messages_containing(&records, "DEBUG", "still cannot save unexpected pages"),
        odd - 1,
        "every later failure is still logged, at debug"
    );
}
