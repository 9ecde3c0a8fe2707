//! Shared test scaffolding: a simulator, a race against it, and a waiter
//! that records every wait instead of sleeping.

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
/// runs in virtual time, and the test reads the schedule afterwards.
#[derive(Default)]
pub struct RecordingWaiter {
    pub waits: Mutex<Vec<Duration>>,
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
    let race = Race::new(cfg.clone(), session.clone())
        .events(Events::new(tx))
        .waiter(Arc::new(RecordingWaiter::default()))
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
