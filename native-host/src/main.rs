#![forbid(unsafe_code)]
//! `pretix-race`: a thin shell over the library. Parse the command line, set
//! up logging and the runtime, pick the mode, and turn what came back into
//! an exit code. This is the only place that reports a run's error to the
//! user and picks the code (through [`Exit`]'s conversions): the library
//! returns outcomes and typed errors and never decides how the process ends.

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches};
use pretix_race::cli::{Cli, Command, LogFormat};
use pretix_race::exit::{self, Exit};
use pretix_race::host;
use pretix_race::notify::Channel;
use pretix_race::runner;
use tokio_util::sync::CancellationToken;
use tracing_subscriber::fmt::writer::MakeWriterExt;
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    // Chrome starts a native-messaging host as `pretix-race chrome-extension://<id>/`
    // (plus `--parent-window=…` on Windows): no clap, frames on stdin/stdout.
    if let Some(origin) = std::env::args()
        .nth(1)
        .filter(|a| host::is_extension_origin(a))
    {
        init_host_logging();
        let Some(runtime) = host_runtime() else {
            return Exit::Failure.into();
        };
        let end = runtime.block_on(host::serve(&origin, std::io::stdin(), std::io::stdout()));
        runtime.shutdown_timeout(std::time::Duration::from_secs(2));
        return finish(end).into();
    }
    // The matches are kept: with several targets, only the flags the user
    // typed override a config file (clap's defaults must not).
    let matches = Cli::command().get_matches();
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    init_logging(cli.verbose, cli.log_format);
    let Some(runtime) = runtime() else {
        return Exit::Failure.into();
    };
    runtime.block_on(run(cli, matches)).into()
}

/// The command line's runtime: the race's own, one thread (see
/// [`pretix_race::race::runtime`]).
fn runtime() -> Option<tokio::runtime::Runtime> {
    started(pretix_race::race::runtime())
}

/// The native-messaging host keeps two workers: it reads Chrome's frames
/// from stdin while a race runs, and may run a cookie handoff beside it.
fn host_runtime() -> Option<tokio::runtime::Runtime> {
    started(
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build(),
    )
}

fn started(rt: std::io::Result<tokio::runtime::Runtime>) -> Option<tokio::runtime::Runtime> {
    match rt {
        Ok(rt) => Some(rt),
        Err(e) => {
            eprintln!("pretix-race: cannot start the async runtime: {e}");
            None
        }
    }
}

/// Host mode logs to stderr (Chrome keeps it) and to a private log file in
/// the data directory, never to stdout (that is the message channel).
fn init_host_logging() {
    let filter = EnvFilter::try_from_env("PRETIX_RACE_LOG")
        .unwrap_or_else(|_| EnvFilter::new("pretix_race=info,warn"));
    let dir = host::data_dir();
    let file = pretix_race::artifacts::open_private_append(&dir, "pretix-race-host.log").ok();
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(false)
        .with_target(false);
    match file {
        Some(f) => builder
            .with_writer(std::io::stderr.and(std::sync::Arc::new(f)))
            .init(),
        None => builder.with_writer(std::io::stderr).init(),
    }
}

async fn run(cli: Cli, matches: clap::ArgMatches) -> Exit {
    let cancel = CancellationToken::new();
    {
        let cancel = cancel.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                tracing::info!("Ctrl-C: stopping");
                cancel.cancel();
            }
        });
    }
    stop_on_sigterm(cancel.clone());
    heartbeat();
    let mut stdout = std::io::stdout();
    match cli.command {
        Some(Command::Demo(args)) => demo(args, cancel, &mut stdout).await,
        Some(Command::TestHandoff(args)) => {
            finish(pretix_race::test_handoff::run(&args, &mut stdout).await)
        }
        Some(Command::Status(args)) => finish(pretix_race::status::show(
            &args.file,
            args.json,
            &mut stdout,
        )),
        None if cli.race.notify_test => {
            let notify = cli.race.to_notify();
            match runner::notify_test(notify, &mut stdout).await {
                Ok(true) => Exit::Success,
                Ok(false) => Exit::Failure,
                Err(runner::NotifyTestError::NoChannels) => {
                    eprintln!("error: {}", runner::NotifyTestError::NoChannels);
                    Exit::Usage
                }
                Err(e) => {
                    tracing::error!(cause = %e, "--notify-test could not report");
                    Exit::Failure
                }
            }
        }
        None if cli.race.is_multi() => many_targets(&cli, &matches, cancel).await,
        None => {
            let cfg = match cli.race.to_config() {
                Ok(cfg) => cfg,
                Err(e) => {
                    // One plain line: the user typed something that cannot work.
                    eprintln!("error: {e}");
                    return Exit::from(&e);
                }
            };
            let notify = cli.race.to_notify();
            finish(runner::run(cfg, notify, cancel, &mut stdout).await)
        }
    }
}

/// `--config FILE` or several `--event`s: every target on this runtime.
async fn many_targets(cli: &Cli, matches: &clap::ArgMatches, cancel: CancellationToken) -> Exit {
    use pretix_race::targets::{MultiRun, Target};
    let specs = match cli.race.targets(matches) {
        Ok(specs) => specs,
        Err(e) => {
            eprintln!("error: {e}");
            return Exit::from(&e);
        }
    };
    let status_file = cli.race.status_path(&specs);
    let mut targets: Vec<Target> = Vec::with_capacity(specs.len());
    for s in specs {
        // The command line's notification settings, plus the target's own
        // `webhook` and `notify = [...]` from the file.
        let mut notify = cli.race.to_notify();
        notify.webhook = s.webhook.or(notify.webhook);
        for url in &s.notify {
            match url.parse::<Channel>() {
                Ok(channel) => notify.channels.push(channel),
                Err(e) => {
                    eprintln!("error: target {:?}: notify URL: {e}", s.name);
                    return Exit::Usage;
                }
            }
        }
        targets.push(Target {
            name: s.name,
            cfg: s.cfg,
            notify,
        });
    }
    tracing::info!(
        targets = targets.len(),
        status_file = %status_file.display(),
        "racing {} target(s); `pretix-race status --file {}` shows them",
        targets.len(),
        status_file.display()
    );
    let out: pretix_race::targets::SharedOut =
        std::sync::Arc::new(std::sync::Mutex::new(std::io::stdout()));
    let summary = MultiRun::new(targets)
        .status_file(status_file)
        .run(cancel, out)
        .await;
    tracing::info!("{} of {} target(s) won", summary.won(), summary.ended.len());
    Exit::from(&summary)
}

/// `docker stop`, `systemctl stop` and `kill` send SIGTERM: stop the same
/// way as Ctrl-C (the race's summary, exit 130), not with the default
/// action, which would kill the process mid-write with status 143.
#[cfg(unix)]
fn stop_on_sigterm(cancel: CancellationToken) {
    use tokio::signal::unix::{signal, SignalKind};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::spawn(async move {
                if term.recv().await.is_some() {
                    tracing::info!("SIGTERM: stopping");
                    cancel.cancel();
                }
            });
        }
        Err(e) => {
            tracing::warn!(cause = %e, "cannot handle SIGTERM; it will end the process abruptly")
        }
    }
}

#[cfg(not(unix))]
fn stop_on_sigterm(_cancel: CancellationToken) {}

/// How often the heartbeat file is rewritten; the container's HEALTHCHECK
/// allows four missed beats.
const HEARTBEAT_EVERY: std::time::Duration = std::time::Duration::from_secs(30);

/// With `PRETIX_RACE_HEARTBEAT=<path>` (set in the Docker image), write the
/// current Unix time to that file now and every [`HEARTBEAT_EVERY`], so a
/// health check can tell a hung process from a working one: the beat runs
/// on the same runtime as the race, so a wedged runtime stops both. The
/// first beat is written before the race starts; a beat that cannot be
/// written is logged, never fatal.
fn heartbeat() {
    let Some(path) = std::env::var_os("PRETIX_RACE_HEARTBEAT").filter(|p| !p.is_empty()) else {
        return;
    };
    let path = std::path::PathBuf::from(path);
    let beat = |path: &std::path::Path| {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        std::fs::write(path, format!("{now}\n"))
    };
    if let Err(e) = beat(&path) {
        tracing::warn!(cause = %e, path = %path.display(), "cannot write the heartbeat file");
    }
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(HEARTBEAT_EVERY);
        tick.tick().await; // the first tick is immediate: already written
        loop {
            tick.tick().await;
            let p = path.clone();
            match tokio::task::spawn_blocking(move || beat(&p)).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    tracing::warn!(cause = %e, path = %path.display(), "cannot write the heartbeat file")
                }
                Err(e) => tracing::warn!(cause = %e, "the heartbeat write did not finish"),
            }
        }
    });
}

/// The end of every mode: report an error once, with its causes, and pick
/// the exit code for the result.
fn finish<T, E>(result: Result<T, E>) -> Exit
where
    E: std::error::Error,
    for<'a> &'a T: Into<Exit>,
    for<'a> &'a E: Into<Exit>,
{
    if let Err(e) = &result {
        let mut causes = String::new();
        let mut source = e.source();
        while let Some(s) = source {
            causes.push_str(if causes.is_empty() { "" } else { ": " });
            causes.push_str(&s.to_string());
            source = s.source();
        }
        if causes.is_empty() {
            tracing::error!("{e}");
        } else {
            tracing::error!(cause = %causes, "{e}");
        }
    }
    exit::of(&result)
}

#[cfg(feature = "demo")]
async fn demo(
    args: pretix_race::cli::DemoArgs,
    cancel: CancellationToken,
    out: &mut (dyn std::io::Write + Send),
) -> Exit {
    finish(if args.serve {
        pretix_race::demo::serve(&args.live_responses, cancel, out).await
    } else {
        pretix_race::demo::run(args.interval, &args.live_responses, cancel, out).await
    })
}

#[cfg(not(feature = "demo"))]
async fn demo(
    _args: pretix_race::cli::DemoArgs,
    _cancel: CancellationToken,
    _out: &mut (dyn std::io::Write + Send),
) -> Exit {
    eprintln!(
        "error: this pretix-race was built without the demo marketplace (cargo feature `demo`)"
    );
    Exit::Usage
}

fn init_logging(verbose: u8, format: LogFormat) {
    let default = match verbose {
        0 => "pretix_race=info,warn",
        1 => "pretix_race=debug,info",
        _ => "pretix_race=trace,debug",
    };
    let filter =
        EnvFilter::try_from_env("PRETIX_RACE_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}
