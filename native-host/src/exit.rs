//! Exit codes, and the one place that decides them.
//!
//! Library functions return what happened ([`Outcome`](crate::runner::Outcome))
//! or a typed error; only here does that become a process exit code, and only
//! `main` calls it. Scripts rely on these numbers (they are in `--help` and
//! the README), so a new error variant must pick one of them here rather than
//! invent a code where it happens.

use std::process::ExitCode;

use crate::cli::UsageError;
use crate::host::HostError;
use crate::runner::{Outcome, RunError};
use crate::test_handoff::TestHandoffError;

/// The process exit codes, as documented in `--help` and the README.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Won (cart verified), a clean test handoff, the browser closed the host.
    Success = 0,
    /// The run failed: unverified cart, output lost, broken stream, …
    Failure = 1,
    /// The user asked for something that cannot work (flags, event URL).
    Usage = 2,
    /// The event page has no marketplace link (try `--poll-inactive-marketplace`).
    NoMarketplace = 3,
    /// Stopped by Ctrl-C before a win.
    Interrupted = 130,
}

impl From<Exit> for ExitCode {
    fn from(e: Exit) -> ExitCode {
        ExitCode::from(e as u8)
    }
}

impl From<&Outcome> for Exit {
    fn from(o: &Outcome) -> Exit {
        match o {
            Outcome::Won => Exit::Success,
            Outcome::Stopped => Exit::Interrupted,
        }
    }
}

impl From<&RunError> for Exit {
    fn from(e: &RunError) -> Exit {
        match e {
            RunError::Session(_) | RunError::EventNotFound { .. } | RunError::Certificate(_) => {
                Exit::Usage
            }
            RunError::MarketplaceNotFound { .. } => Exit::NoMarketplace,
            RunError::Unverified | RunError::HandoffNotPrinted { .. } => Exit::Failure,
        }
    }
}

#[cfg(feature = "demo")]
impl From<&crate::demo::DemoError> for Exit {
    fn from(e: &crate::demo::DemoError) -> Exit {
        use crate::demo::DemoError;
        match e {
            DemoError::Race(e) => e.into(),
            DemoError::Start(_)
            | DemoError::Config(_)
            | DemoError::Certificate(_)
            | DemoError::NotPrinted(_) => Exit::Failure,
        }
    }
}

impl From<&UsageError> for Exit {
    fn from(_: &UsageError) -> Exit {
        Exit::Usage
    }
}

impl From<&HostError> for Exit {
    fn from(e: &HostError) -> Exit {
        match e {
            HostError::RefusedCaller(_) => Exit::Usage,
            HostError::Broken(_) => Exit::Failure,
        }
    }
}

impl From<&TestHandoffError> for Exit {
    fn from(e: &TestHandoffError) -> Exit {
        match e {
            TestHandoffError::BadUrl(_) => Exit::Usage,
            TestHandoffError::NotPrinted(_) => Exit::Failure,
        }
    }
}

/// `pretix-race status`: a file that is not there or not ours is the
/// user's path to fix (2); stdout failing is a runtime failure.
impl From<&crate::status::StatusError> for Exit {
    fn from(e: &crate::status::StatusError) -> Exit {
        use crate::status::StatusError;
        match e {
            StatusError::Read { .. } | StatusError::Parse { .. } => Exit::Usage,
            StatusError::Print(_) => Exit::Failure,
        }
    }
}

/// How bad a code is, for picking one among many targets: a configuration
/// the user must fix (2) beats a marketplace that is not there (3), which
/// beats a runtime failure (1), which beats an interruption (130); a win
/// (0) is the mildest.
fn severity(e: Exit) -> u8 {
    match e {
        Exit::Success => 0,
        Exit::Interrupted => 1,
        Exit::Failure => 2,
        Exit::NoMarketplace => 3,
        Exit::Usage => 4,
    }
}

/// The most severe of several codes (`Success` when there are none).
pub fn most_severe(codes: impl IntoIterator<Item = Exit>) -> Exit {
    codes
        .into_iter()
        .max_by_key(|e| severity(*e))
        .unwrap_or(Exit::Success)
}

/// Many targets: 0 only if every target won, otherwise the most severe
/// code among them ([`most_severe`]).
impl From<&crate::targets::Summary> for Exit {
    fn from(s: &crate::targets::Summary) -> Exit {
        use crate::targets::TargetEnd;
        most_severe(s.ended.iter().map(|(_, end)| match end {
            TargetEnd::Ran(r) => of(r),
            TargetEnd::Panicked(_) => Exit::Failure,
        }))
    }
}

/// The exit code for a whole result: success values map through `O`,
/// errors through `E`.
pub fn of<O, E>(result: &Result<O, E>) -> Exit
where
    for<'a> &'a O: Into<Exit>,
    for<'a> &'a E: Into<Exit>,
{
    match result {
        Ok(o) => o.into(),
        Err(e) => e.into(),
    }
}

/// `()` is a plain success (test handoff done, the browser closed the host).
impl From<&()> for Exit {
    fn from(_: &()) -> Exit {
        Exit::Success
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The numbers are a promise to scripts (`--help`, README): a renamed or
    /// reordered variant must not move them.
    #[test]
    fn codes_are_the_documented_numbers() {
        let codes = [
            (Exit::Success, 0),
            (Exit::Failure, 1),
            (Exit::Usage, 2),
            (Exit::NoMarketplace, 3),
            (Exit::Interrupted, 130),
        ];
        for (exit, code) in codes {
            assert_eq!(exit as u8, code, "{exit:?}");
            assert_eq!(ExitCode::from(exit), ExitCode::from(code), "{exit:?}");
        }
    }

    #[test]
    fn many_targets_end_with_the_most_severe_code() {
        use Exit::*;
        assert_eq!(most_severe([Success, Success]), Success);
        assert_eq!(most_severe([Success, Interrupted]), Interrupted);
        assert_eq!(most_severe([Interrupted, Failure, Success]), Failure);
        assert_eq!(most_severe([Failure, NoMarketplace]), NoMarketplace);
        assert_eq!(most_severe([NoMarketplace, Usage, Failure]), Usage);
        assert_eq!(most_severe([]), Success);
    }

    #[test]
    fn run_results_map_to_their_codes() {
        let url = url::Url::parse("https://shop.example/org/ev/").unwrap();
        let cases: Vec<(Result<Outcome, RunError>, Exit)> = vec![
            (Ok(Outcome::Won), Exit::Success),
            (Ok(Outcome::Stopped), Exit::Interrupted),
            (
                Err(RunError::MarketplaceNotFound {
                    event_url: url.clone(),
                }),
                Exit::NoMarketplace,
            ),
            (
                Err(RunError::EventNotFound {
                    event_url: url,
                    status: 404,
                }),
                Exit::Usage,
            ),
            (Err(RunError::Unverified), Exit::Failure),
            (
                Err(RunError::HandoffNotPrinted {
                    source: std::io::ErrorKind::BrokenPipe.into(),
                    cookie_file: None,
                }),
                Exit::Failure,
            ),
        ];
        for (result, want) in &cases {
            assert_eq!(of(result), *want, "{result:?}");
        }
    }

    #[test]
    fn the_browser_closing_and_a_test_handoff_are_plain_success() {
        assert_eq!(of(&Ok::<(), HostError>(())), Exit::Success);
        assert_eq!(of(&Ok::<(), TestHandoffError>(())), Exit::Success);
        assert_eq!(
            of(&Err::<(), _>(HostError::RefusedCaller(
                "chrome-extension://x/".into()
            ))),
            Exit::Usage
        );
        assert_eq!(
            of(&Err::<(), _>(TestHandoffError::BadUrl("ftp://x".into()))),
            Exit::Usage
        );
    }
}
