//! Run a child process with a deadline.
//!
//! A hung binary must fail its test with something to read, not hang CI
//! until someone notices. So every test that starts a process goes through
//! [`output_within`] (or [`run_within`] from synchronous tests): the child
//! is killed when the deadline passes and the test panics with what the
//! child had written to stderr by then.
//!
//! Shared by `tests/` and `native-host/tests/` (included there with
//! `#[path]`), so it uses nothing but std and tokio.

#![allow(dead_code)] // each test binary uses one of the two entry points

use std::process::{Command, Output, Stdio};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt};

/// Run `cmd` (stdin from /dev/null, stdout and stderr captured) to its end,
/// from a synchronous test. Panics if it outlives `limit`.
pub fn run_within(cmd: &mut Command, limit: Duration) -> Output {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime for the child");
    rt.block_on(output_within(cmd, limit))
}

/// Run `cmd` (stdin from /dev/null, stdout and stderr captured) to its end.
/// Kills it and panics with its stderr if it outlives `limit`.
pub async fn output_within(cmd: &mut Command, limit: Duration) -> Output {
    let (what, mut child) = spawn(cmd);
    // Drain both pipes while waiting, or a chatty child fills a pipe
    // buffer and blocks forever.
    let stdout = tokio::spawn(read_all(child.stdout.take()));
    let stderr = tokio::spawn(read_all(child.stderr.take()));
    match tokio::time::timeout(limit, child.wait()).await {
        Ok(status) => Output {
            status: status.unwrap_or_else(|e| panic!("waiting for {what}: {e}")),
            stdout: stdout.await.expect("stdout reader"),
            stderr: stderr.await.expect("stderr reader"),
        },
        Err(_) => {
            let _ = child.kill().await;
            let err = drained(stderr).await;
            panic!(
                "{what} still running after {limit:?}, killed it; its stderr:\n{}",
                String::from_utf8_lossy(&err)
            );
        }
    }
}

/// A child that was stopped by the test, and what it had said.
pub struct Stopped {
    /// Its stderr up to and including the line the test waited for.
    pub stderr: String,
    /// `None`: it was still running and the test killed it.
    pub exited: Option<std::process::ExitStatus>,
}

/// Start `cmd` and read its stderr line by line until `stop` accepts a line
/// (or the child exits); then kill it. Panics if neither happens within
/// `limit`. For binaries that are meant to run until stopped: the test waits
/// for the event it cares about instead of for a length of time.
pub fn run_until_stderr(
    cmd: &mut Command,
    limit: Duration,
    stop: impl Fn(&str) -> bool,
) -> Stopped {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime for the child");
    rt.block_on(async {
        use tokio::io::AsyncBufReadExt;
        let (what, mut child) = spawn(cmd);
        let mut lines = tokio::io::BufReader::new(child.stderr.take().expect("piped")).lines();
        let _stdout = tokio::spawn(read_all(child.stdout.take()));
        let mut stderr = String::new();
        let seen = tokio::time::timeout(limit, async {
            while let Ok(Some(line)) = lines.next_line().await {
                stderr.push_str(&line);
                stderr.push('\n');
                if stop(&line) {
                    return;
                }
            }
        })
        .await;
        let exited = child.try_wait().ok().flatten();
        let _ = child.kill().await;
        if seen.is_err() {
            panic!("{what}: no awaited stderr line within {limit:?}; stderr:\n{stderr}");
        }
        Stopped { stderr, exited }
    })
}

fn spawn(cmd: &mut Command) -> (String, tokio::process::Child) {
    let what = format!("{:?}", cmd.get_program());
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let program = cmd.get_program().to_owned();
    let mut cmd = tokio::process::Command::from(std::mem::replace(cmd, Command::new(program)));
    // Should the future holding the child be dropped (a panic elsewhere in
    // the test), the child still dies.
    cmd.kill_on_drop(true);
    let child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("{what} did not start: {e}"));
    (what, child)
}

/// What a reader task collected, giving up after a moment: a grandchild
/// that inherited the pipe must not hang the report of a timeout.
async fn drained(reader: tokio::task::JoinHandle<Vec<u8>>) -> Vec<u8> {
    match tokio::time::timeout(Duration::from_secs(5), reader).await {
        Ok(Ok(bytes)) => bytes,
        _ => b"(stderr not closed after the kill)".to_vec(),
    }
}

async fn read_all(pipe: Option<impl AsyncRead + Unpin>) -> Vec<u8> {
    let mut buf = Vec::new();
    if let Some(mut p) = pipe {
        let _ = p.read_to_end(&mut buf).await;
    }
    buf
}
