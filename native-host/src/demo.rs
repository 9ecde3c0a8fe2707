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
use crate::config::Config;
use crate::runner::{self, Exit, Notify};
use pretix_race_sim::{Scenario, SimServer};

/// The demo shop, and its event slug (`organizer/event`).
async fn start_shop() -> Option<(SimServer, String)> {
    let scenario = Scenario::demo();
    let event = format!("{}/{}", scenario.organizer, scenario.event);
    match SimServer::start(scenario).await {
        Ok(s) => Some((s, event)),
        Err(e) => {
            tracing::error!("could not start the demo marketplace: {e}");
            None
        }
    }
}

/// Race the demo shop.
pub async fn run(
    interval: f64,
    live_responses: &Path,
    cancel: CancellationToken,
    out: &mut (dyn Write + Send),
) -> Exit {
    let Some((sim, event)) = start_shop().await else {
        return Exit::Failure;
    };
    tracing::info!(
        "demo marketplace running at {} (HTTPS, HTTP/2, self-signed certificate); a ticket will be listed in a few seconds",
        sim.event_url()
    );
    let mut cfg = match Config::new(&sim.base_url(), &event) {
        Ok(c) => c,
        Err(e) => {
            tracing::error!("{e}");
            return Exit::Failure;
        }
    };
    cfg.interval = Duration::from_secs_f64(interval);
    cfg.extra_roots_pem.push(sim.cert_pem().as_bytes().to_vec());
    cfg.live_responses = live_responses.to_path_buf();
    let exit = runner::run(cfg, Notify::default(), cancel, out).await;
    sim.shutdown();
    exit
}

/// Serve the demo shop until cancelled (for the extension or a second
/// terminal). Writes its certificate next to the debug files.
pub async fn serve(
    live_responses: &Path,
    cancel: CancellationToken,
    out: &mut (dyn Write + Send),
) -> Exit {
    let Some((sim, event)) = start_shop().await else {
        return Exit::Failure;
    };
    let cert = match artifacts::write_private(live_responses, "demo-ca.pem", sim.cert_pem()) {
        Ok(p) => p,
        Err(e) => {
            tracing::error!("could not write the demo certificate: {e}");
            return Exit::Failure;
        }
    };
    let _ = writeln!(
        out,
        "Demo marketplace: {}\nRace it:  pretix-race --url {} --event {event} --interval 1 --ca-cert {}\nCtrl-C stops it.",
        sim.event_url(),
        sim.base_url(),
        cert.display()
    );
    let _ = out.flush();
    cancel.cancelled().await;
    sim.shutdown();
    Exit::Interrupted
}
