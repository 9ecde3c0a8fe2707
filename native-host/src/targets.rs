//! Many targets, one process: N independent races on one runtime.
//!
//! Each target is a [`runner::run_observed`] of its own — its own
//! [`Session`](crate::session::Session) (HTTP client, cookie jar), schedule
//! and jitter — spawned as a task inside a `target` tracing span, so every
//! log line carries the target's name. Nothing is shared between the races
//! but the runtime, the cancel token and stdout: a target that breaks (an
//! event that answers 404, a certificate that does not verify, a host that
//! is gone) ends only its own task, with one error line, and the others go
//! on. A target that wins prints its handoff block (headed by its name) and
//! stops; the process ends when no target is left.
//!
//! The status board ([`crate::status`]) listens to every race's events and
//! keeps the status file current; it sits on the listener side, never on
//! the race's path.

use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::config::Config;
use crate::events::Events;
use crate::notify::Notify;
use crate::runner::{self, Outcome, RunError};
use crate::status::{Board, State, StatusFile, TargetStatus};

/// One race to run.
#[derive(Debug, Clone)]
pub struct Target {
    /// In log lines, the status view and above the handoff block.
    pub name: String,
    pub cfg: Config,
    pub notify: Notify,
}

/// How one target ended.
#[derive(Debug)]
pub enum TargetEnd {
    /// What [`runner::run`] returned.
    Ran(Result<Outcome, RunError>),
    /// The task died (a bug): counted as a runtime failure.
    Panicked(String),
}

/// Every target's end, in the order they ended.
#[derive(Debug, Default)]
pub struct Summary {
    pub ended: Vec<(String, TargetEnd)>,
}

impl Summary {
    pub fn won(&self) -> usize {
        self.ended
            .iter()
            .filter(|(_, e)| matches!(e, TargetEnd::Ran(Ok(Outcome::Won))))
            .count()
    }
}

/// Stdout shared by every target.
pub type SharedOut = Arc<Mutex<dyn Write + Send>>;

/// A target's view of the shared stdout: it collects what the runner
/// writes and, on flush, puts it out in one piece under the target's
/// name, so two targets winning at once cannot interleave their blocks.
struct TargetOut {
    name: String,
    buf: Vec<u8>,
    out: SharedOut,
}

impl Write for TargetOut {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(b);
        Ok(b.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let mut out = self
            .out
            .lock()
            .map_err(|_| std::io::Error::other("stdout lock poisoned"))?;
        writeln!(out, "[{}]", self.name)?;
        out.write_all(&self.buf)?;
        out.flush()?;
        self.buf.clear();
        Ok(())
    }
}

/// Run several targets until each has ended.
pub struct MultiRun {
    targets: Vec<Target>,
    status_file: Option<PathBuf>,
    board: Board,
}

impl MultiRun {
    pub fn new(targets: Vec<Target>) -> Self {
        let now = SystemTime::now();
        let board = Board::new(
            targets
                .iter()
                .map(|t| TargetStatus::new(&t.name, t.cfg.event_url().as_str(), now))
                .collect(),
        );
        MultiRun {
            targets,
            status_file: None,
            board,
        }
    }

    /// Keep this status file current while running.
    pub fn status_file(mut self, path: PathBuf) -> Self {
        self.status_file = Some(path);
        self
    }

    /// Each status snapshot as it is written.
    pub fn subscribe(&self) -> watch::Receiver<Option<StatusFile>> {
        self.board.subscribe()
    }

    /// Race every target; `cancel` stops them all.
    pub async fn run(self, cancel: CancellationToken, out: SharedOut) -> Summary {
        let writer_done = CancellationToken::new();
        let writer = {
            let (board, path, done) = (
                self.board.clone(),
                self.status_file.clone(),
                writer_done.clone(),
            );
            tokio::spawn(async move { board.keep_written(path, done).await })
        };
        let total = self.targets.len();
        let mut names = Vec::with_capacity(total);
        let mut set = JoinSet::new();
        let mut ids = std::collections::HashMap::new();
        for (i, t) in self.targets.into_iter().enumerate() {
            names.push(t.name.clone());
            let span = tracing::info_span!("target", name = %t.name);
            let task = run_one(i, t, self.board.clone(), cancel.clone(), out.clone());
            let handle = set.spawn(task.instrument(span));
            ids.insert(handle.id(), i);
        }
        let mut summary = Summary::default();
        while let Some(joined) = set.join_next_with_id().await {
            let (name, end) = match joined {
                Ok((_, (i, end))) => (names[i].clone(), end),
                Err(e) => {
                    let i = ids.get(&e.id()).copied().unwrap_or(0);
                    let name = names.get(i).cloned().unwrap_or_default();
                    tracing::error!(target_name = %name, cause = %e, "the target's task died; dropped");
                    self.board
                        .update(i, |s| s.end(State::Dropped, format!("crashed: {e}")));
                    (name, TargetEnd::Panicked(e.to_string()))
                }
            };
            summary.ended.push((name, end));
            let left = total - summary.ended.len();
            if left > 0 {
                tracing::info!("{left} of {total} target(s) still running");
            }
        }
        writer_done.cancel();
        if let Err(e) = writer.await {
            tracing::warn!(cause = %e, "the status writer did not finish");
        }
        summary
    }
}

/// One target, start to end, inside its span.
async fn run_one(
    i: usize,
    t: Target,
    board: Board,
    cancel: CancellationToken,
    out: SharedOut,
) -> (usize, TargetEnd) {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let listener = {
        let board = board.clone();
        tokio::spawn(
            async move {
                while let Some(ev) = rx.recv().await {
                    board.update(i, |s| s.apply(&ev, SystemTime::now()));
                }
            }
            .in_current_span(),
        )
    };
    let mut target_out = TargetOut {
        name: t.name.clone(),
        buf: Vec::new(),
        out,
    };
    let result =
        runner::run_observed(t.cfg, t.notify, cancel, &mut target_out, Events::new(tx)).await;
    // The runner dropped its sender: the listener has seen every event.
    let _ = listener.await;
    let (state, why) = match &result {
        Ok(Outcome::Won) => (State::Won, "won".to_string()),
        Ok(Outcome::Stopped) => (State::Stopped, "stopped".to_string()),
        Err(e) => (State::Dropped, e.to_string()),
    };
    match &result {
        Ok(Outcome::Won) => tracing::info!("won; this target stops"),
        Ok(Outcome::Stopped) => {}
        // One clear line; the other targets go on.
        Err(e) => tracing::error!("{e}; this target is dropped"),
    }
    board.update(i, |s| s.end(state, why));
    (i, TargetEnd::Ran(result))
}
