//! `pretix-race demo`: the whole story on one machine, in seconds.
//!
//! Starts the simulated marketplace ([`pretix_race_sim`]) on 127.0.0.1 with a
//! fresh self-signed certificate, then races it with the real engine:
//! discovery → polling → a listing appears → someone else is faster for one
//! ticket → ours goes into the cart → checkout verified → handoff output.

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::artifacts;
use crate::config::{Config, ConfigError};
use crate::notify::Notify;
use crate::runner::{self, Outcome, RunError};
use pretix_race_sim::{Scenario, SimServer};

/// Why the demo could not run (a failed race is a [`RunError`] inside).
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("could not start the demo marketplace")]
    Start(#[source] std::io::Error),
    #[error("the demo marketplace's address is not a usable shop URL")]
    Config(#[source] ConfigError),
    #[error("could not write the demo certificate")]
    Certificate(#[source] std::io::Error),
    #[error("could not print the demo marketplace's address")]
    NotPrinted(#[source] std::io::Error),
    #[error(transparent)]
    Race(#[from] RunError),
}

/// The demo shop, and its event slug (`organizer/event`).
async fn start_shop() -> Result<(SimServer, String), DemoError> {
    let scenario = Scenario::demo();
    let event = format!("{}/{}", scenario.organizer, scenario.event);
    let sim = SimServer::start(scenario).await.map_err(DemoError::Start)?;
    Ok((sim, event))
}

/// Race the demo shop.
pub async fn run(
    interval: f64,
    live_responses: &Path,
    cancel: CancellationToken,
    out: &mut (dyn Write + Send),
) -> Result<Outcome, DemoError> {
    let (sim, event) = start_shop().await?;
    tracing::info!(
        "demo marketplace running at {} (HTTPS, HTTP/2, self-signed certificate); a ticket will be listed in a few seconds",
        sim.event_url()
    );
    let mut cfg = Config::new(&sim.base_url(), &event).map_err(DemoError::Config)?;
    cfg.interval = Duration::from_secs_f64(interval);
    cfg.extra_roots_pem.push(sim.cert_pem().as_bytes().to_vec());
    cfg.live_responses = live_responses.to_path_buf();
    let end = runner::run(cfg, Notify::default(), cancel, out).await;
    sim.shutdown();
    Ok(end?)
}

/// Serve the demo shop until cancelled (for the extension or a second
/// terminal). Writes its certificate next to the debug files. Ends only by
/// `cancel`: [`Outcome::Stopped`].
pub async fn serve(
    live_responses: &Path,
    cancel: CancellationToken,
    out: &mut (dyn Write + Send),
) -> Result<Outcome, DemoError> {
    let (sim, event) = start_shop().await?;
    let cert = artifacts::write_private(live_responses, "demo-ca.pem", sim.cert_pem())
        .map_err(DemoError::Certificate)?;
    writeln!(
        out,
        "Demo marketplace: {}\nRace it:  pretix-race --url {} --event {event} --interval 1 --ca-cert {}\nCtrl-C stops it.",
        sim.event_url(),
        sim.base_url(),
        cert.display()
    )
    .and_then(|()| out.flush())
    .map_err(DemoError::NotPrinted)?;
    cancel.cancelled().await;
    sim.shutdown();
    Ok(Outcome::Stopped)
}
