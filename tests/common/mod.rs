//! Shared test scaffolding: a simulator, a race against it, and a waiter
//! that records every wait instead of sleeping.

// Each test binary (`engine`, `headless`) uses a different subset of these
// helpers; every helper is used by at least one of them.
#![allow(dead_code)]

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use pretix_race::config::Config;
use pretix_race::events::{Events, RaceEvent, WaitReason};
use pretix_race::race::{Race, RaceEnd, Waiter};
use pretix_race::session::Session;
use pretix_race_sim::{Scenario, SimServer};
use tokio::sync::mpsc::{self, UnboundedReceiver};
use tokio_util::sync::CancellationToken;

/// Every test gets this long before it is declared hung.
pub const DEADLINE: Duration = Duration::from_secs(60);

/// Records each requested wait and returns at once: the race's schedule
/// runs in virtual time, and the test reads the schedule afterwards
/// ([`Run::waited`]).
#[derive(Default)]
pub struct RecordingWaiter {
    waits: Mutex<Vec<Duration>>,
}

impl RecordingWaiter {
    /// Every wait asked for so far, in order.
    pub fn waits(&self) -> Vec<Duration> {
        self.waits.lock().unwrap().clone()
    }
}

impl Waiter for RecordingWaiter {
    fn wait(&self, d: Duration) -> Pin<Box<dyn Future<Output = ()> + Send + 'static>> {
        self.waits.lock().unwrap().push(d);
        Box::pin(tokio::task::yield_now())
    }
}

/// A running simulator and a config that races it.
pub struct Shop {
    pub sim: SimServer,
    pub cfg: Config,
}

impl Shop {
    /// How many requests the shop saw that match `pred`.
    pub fn count(&self, pred: impl Fn(&pretix_race_sim::RecordedRequest) -> bool) -> usize {
        self.sim.requests().iter().filter(|r| pred(r)).count()
    }

    /// How many buy POSTs the shop saw.
    pub fn posts(&self) -> usize {
        self.count(|r| r.method == "POST")
    }
}

pub async fn shop(scenario: Scenario) -> Shop {
    let event = format!("{}/{}", scenario.organizer, scenario.event);
    let sim = SimServer::start(scenario).await.expect("simulator starts");
    let mut cfg = Config::new(&sim.base_url(), &event).expect("valid config");
    cfg.interval = Duration::from_secs(2);
    cfg.extra_roots_pem.push(sim.cert_pem().as_bytes().to_vec());
    cfg.live_responses =
        std::env::temp_dir().join(format!("pretix-race-test-{}", std::process::id()));
    Shop { sim, cfg }
}

/// What a finished race left behind.
pub struct Run {
    pub end: RaceEnd,
    pub events: Vec<RaceEvent>,
    pub session: Session,
    /// What the race actually waited for (asked its waiter), in order; the
    /// `Waiting` events only announce it.
    pub waited: Vec<Duration>,
}

impl Run {
    /// Waits the race asked for, with their reasons, in order.
    pub fn waits(&self) -> Vec<(WaitReason, Duration)> {
        self.events
            .iter()
            .filter_map(|e| match e {
                RaceEvent::Waiting { reason, duration } => Some((*reason, *duration)),
                _ => None,
            })
            .collect()
    }

    /// The waits for one reason, in order.
    pub fn waits_for(&self, reason: WaitReason) -> Vec<Duration> {
        self.waits()
            .into_iter()
            .filter(|(r, _)| *r == reason)
            .map(|(_, d)| d)
            .collect()
    }

    /// The schedule the race announced is the one it kept: every `Waiting`
    /// event was followed by exactly that wait, and nothing else was waited.
    pub fn assert_waited_as_announced(&self) {
        let announced: Vec<Duration> = self.waits().into_iter().map(|(_, d)| d).collect();
        assert_eq!(self.waited, announced, "waited vs announced");
    }

    /// The waits for one reason, in whole seconds.
    pub fn backoff_secs(&self, reason: WaitReason) -> Vec<u64> {
        self.waits_for(reason)
            .iter()
            .map(Duration::as_secs)
            .collect()
    }

    pub fn won(&self) -> &pretix_race::race::Win {
        match &self.end {
            RaceEnd::Won(w, _) => w,
            other => panic!("expected a win, got {other:?}\nevents: {:#?}", self.events),
        }
    }
}

/// Race `cfg` to its end in virtual time (recorded waits).
pub async fn race(cfg: &Config) -> Run {
    race_with(cfg, CancellationToken::new(), |_| false).await
}

/// Race `cfg`; cancel the race when `stop` returns true for an event.
pub async fn race_with(
    cfg: &Config,
    cancel: CancellationToken,
    stop: impl Fn(&RaceEvent) -> bool,
) -> Run {
    let session = Session::new(cfg).expect("session");
    let (tx, rx) = mpsc::unbounded_channel();
    let waiter = Arc::new(RecordingWaiter::default());
    let race = Race::new(cfg.clone(), session.clone())
        .events(Events::new(tx))
        .waiter(waiter.clone())
        .cancel_token(cancel.clone())
        .seed(42);
    let handle = tokio::spawn(race.run());
    let events = collect(rx, &cancel, stop).await;
    let end = tokio::time::timeout(DEADLINE, handle)
        .await
        .expect("race ended before the deadline")
        .expect("race task did not panic");
    Run {
        end,
        events,
        session,
        waited: waiter.waits(),
    }
}

async fn collect(
    mut rx: UnboundedReceiver<RaceEvent>,
    cancel: &CancellationToken,
    stop: impl Fn(&RaceEvent) -> bool,
) -> Vec<RaceEvent> {
    let mut out = Vec::new();
    loop {
        match tokio::time::timeout(DEADLINE, rx.recv()).await {
            Ok(Some(ev)) => {
                if stop(&ev) {
                    cancel.cancel();
                }
                out.push(ev);
            }
            Ok(None) => return out,
            Err(_) => panic!("no race event for {DEADLINE:?}; events so far: {out:#?}"),
        }
    }
}
