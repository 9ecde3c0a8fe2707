//! The command line (clap derive), turned into a validated [`Config`].
//!
//! Usage errors exit with code 2 (clap's own errors do too), so scripts can
//! tell "you typed it wrong" from "the race failed" (1).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use pretix_race_shared::{Filters, SortOrder};
use url::Url;

use crate::config::{self, Config, ConfigError};

const EXAMPLES: &str = "\
Examples:
  # See a whole race, won, against the built-in demo marketplace:
  pretix-race demo

  # Watch an event's resale marketplace every ~10 s, buy the first ticket:
  pretix-race --url https://tickets.example.com --event myorg/myevent --interval 10

  # On a server: only Type B tickets up to 150 EUR, tell a webhook when one is in the cart:
  pretix-race --url https://tickets.example.com --event myorg/myevent --headless \\
      --ticket-type \"Type B\" --max-price 150 --webhook https://hooks.example.net/pretix

  # The marketplace is not open yet: wait for its link, checking every 60 s:
  pretix-race --url https://tickets.example.com --event myorg/myevent --poll-inactive-marketplace 60

  # Only look, never buy:
  pretix-race --url https://tickets.example.com --event myorg/myevent --dry-run

Exit codes: 0 won (cart verified), 1 runtime failure, 2 usage/config error,
3 marketplace not found (try --poll-inactive-marketplace), 130 stopped (Ctrl-C).";

#[derive(Debug, Parser)]
#[command(
    name = "pretix-race",
    version,
    about = "Win the race for resale tickets on pretix secondhand marketplaces.",
    after_help = EXAMPLES,
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,

    #[command(flatten)]
    pub race: RaceArgs,

    /// More log output (-v debug, -vv trace).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,

    /// Log line format on stderr.
    #[arg(long, value_enum, default_value_t = LogFormat::Text, global = true)]
    pub log_format: LogFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start the built-in demo marketplace on 127.0.0.1 and race it.
    Demo(DemoArgs),
    /// Send a fake win through the handoff path, to check your setup.
    TestHandoff(TestHandoffArgs),
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Poll interval against the demo shop, in seconds (at least 1).
    #[arg(long, default_value_t = 1.0, value_parser = parse_interval)]
    pub interval: f64,
    /// Only serve the demo marketplace (print its URL and certificate path)
    /// until Ctrl-C, for racing it from the extension or another terminal.
    #[arg(long)]
    pub serve: bool,
    /// Directory for debug and cookie files.
    #[arg(long, value_name = "DIR", default_value = "live-responses")]
    pub live_responses: PathBuf,
}

#[derive(Debug, Args)]
pub struct TestHandoffArgs {
    /// Use made-up cookies instead of a real race (the only mode so far).
    #[arg(long, required = true)]
    pub simulate: bool,
    /// Shop the fake cookies belong to.
    #[arg(long, default_value = "https://tickets.example.com")]
    pub url: String,
    /// Also send the iMessage (macOS).
    #[arg(long, value_name = "RECIPIENT")]
    pub imessage: Option<String>,
    /// Also POST the webhook.
    #[arg(long, value_name = "URL", value_parser = parse_webhook)]
    pub webhook: Option<Url>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SortArg {
    #[value(name = "price_asc")]
    PriceAsc,
    #[value(name = "price_desc")]
    PriceDesc,
    #[value(name = "newest")]
    Newest,
    #[value(name = "oldest")]
    Oldest,
}

impl From<SortArg> for SortOrder {
    fn from(s: SortArg) -> SortOrder {
        match s {
            SortArg::PriceAsc => SortOrder::PriceAsc,
            SortArg::PriceDesc => SortOrder::PriceDesc,
            SortArg::Newest => SortOrder::Newest,
            SortArg::Oldest => SortOrder::Oldest,
        }
    }
}

#[derive(Debug, Args)]
pub struct RaceArgs {
    /// Shop base URL, e.g. https://tickets.example.com (may include a path
    /// prefix such as https://host/organizer).
    #[arg(long, value_name = "URL", required = true)]
    pub url: Option<String>,
    /// Event slug: `event`, or `organizer/event`.
    #[arg(long, value_name = "SLUG", required = true)]
    pub event: Option<String>,
    /// Seconds between polls (fractions allowed, at least 1); each wait is
    /// jittered ±20 %.
    #[arg(long, value_name = "SECONDS", default_value_t = 15.0, value_parser = parse_interval)]
    pub interval: f64,
    /// Marketplace item id to watch (sent as ?item=).
    #[arg(long, value_name = "ID")]
    pub item: Option<String>,
    /// Listing order (sent as ?sort=).
    #[arg(long, value_enum)]
    pub sort: Option<SortArg>,
    /// Only buy listings at or below this price.
    #[arg(long, value_name = "AMOUNT", value_parser = parse_price)]
    pub max_price: Option<f64>,
    /// Only buy listings whose ticket type contains this text (case-insensitive).
    #[arg(long, value_name = "TEXT")]
    pub ticket_type: Option<String>,
    /// Detect and notify, never buy.
    #[arg(long)]
    pub dry_run: bool,
    /// No browser: print the cookies and checkout URL (for a server).
    #[arg(long)]
    pub headless: bool,
    /// POST a JSON notification here when a ticket is in the cart.
    #[arg(long, value_name = "URL", value_parser = parse_webhook)]
    pub webhook: Option<Url>,
    /// Send an iMessage to this phone number or address (macOS only).
    #[arg(long, value_name = "RECIPIENT")]
    pub imessage: Option<String>,
    /// If the event page has no marketplace link yet, re-check it this often
    /// (seconds) instead of exiting with code 3.
    #[arg(long, value_name = "SECONDS", value_parser = parse_positive_secs)]
    pub poll_inactive_marketplace: Option<f64>,
    /// Extra trusted root certificate (PEM). SSL_CERT_FILE is honoured too.
    #[arg(long, value_name = "PATH")]
    pub ca_cert: Vec<PathBuf>,
    /// Directory for debug and cookie files.
    #[arg(long, value_name = "DIR", default_value = "live-responses")]
    pub live_responses: PathBuf,
}

/// A usage error found after clap was happy (exit code 2).
#[derive(Debug, thiserror::Error)]
pub enum UsageError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("--url and --event are required (see --help)")]
    Missing,
    #[error("--ca-cert {path}: {err}")]
    CaCert { path: String, err: std::io::Error },
}

impl RaceArgs {
    /// Validate into a race [`Config`].
    pub fn to_config(&self) -> Result<Config, UsageError> {
        let (Some(url), Some(event)) = (&self.url, &self.event) else {
            return Err(UsageError::Missing);
        };
        let mut cfg = Config::new(url, event)?;
        cfg.interval = config::interval(self.interval)?;
        cfg.filters = Filters {
            item: self.item.clone(),
            sort: self.sort.map(Into::into),
            max_price: self.max_price,
            ticket_type: self.ticket_type.clone(),
        };
        cfg.dry_run = self.dry_run;
        cfg.poll_inactive_marketplace = self
            .poll_inactive_marketplace
            .map(|s| config::seconds("poll-inactive-marketplace", s))
            .transpose()?;
        for path in &self.ca_cert {
            let pem = std::fs::read(path).map_err(|err| UsageError::CaCert {
                path: path.display().to_string(),
                err,
            })?;
            cfg.extra_roots_pem.push(pem);
        }
        cfg.live_responses = self.live_responses.clone();
        Ok(cfg)
    }
}

fn parse_interval(s: &str) -> Result<f64, String> {
    let v: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("{s:?} is not a number of seconds"))?;
    config::interval(v).map_err(|e| e.to_string())?;
    Ok(v)
}

fn parse_positive_secs(s: &str) -> Result<f64, String> {
    let v: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("{s:?} is not a number of seconds"))?;
    config::seconds("poll-inactive-marketplace", v).map_err(|e| e.to_string())?;
    Ok(v)
}

fn parse_price(s: &str) -> Result<f64, String> {
    let v: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("{s:?} is not an amount (example: 150 or 149.50)"))?;
    config::check_max_price(v).map_err(|e| e.to_string())
}

pub(crate) fn parse_webhook(s: &str) -> Result<Url, String> {
    match Url::parse(s) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => Ok(u),
        _ => Err(format!("{s:?} is not an http(s) URL")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("pretix-race").chain(args.iter().copied()))
    }

    #[test]
    fn clap_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn full_race_command_line() {
        let cli = parse(&[
            "--url",
            "https://h.example/org",
            "--event",
            "ev",
            "--interval",
            "2.5",
            "--item",
            "965",
            "--sort",
            "price_asc",
            "--max-price",
            "150",
            "--ticket-type",
            "Type B",
            "--dry-run",
            "--headless",
            "--webhook",
            "http://127.0.0.1:9/hook",
            "--poll-inactive-marketplace",
            "30",
        ])
        .unwrap();
        assert!(cli.command.is_none());
        let cfg = cli.race.to_config().unwrap();
        assert_eq!(cfg.event_url().as_str(), "https://h.example/org/ev/");
        assert_eq!(cfg.interval.as_millis(), 2500);
        assert_eq!(cfg.filters.sort, Some(SortOrder::PriceAsc));
        assert_eq!(cfg.filters.max_price, Some(150.0));
        assert!(cfg.dry_run);
        assert_eq!(cfg.poll_inactive_marketplace.unwrap().as_secs(), 30);
    }

    #[test]
    fn usage_errors_exit_2_with_clear_messages() {
        let cases: &[(&[&str], &str)] = &[
            (
                &["--url", "https://h", "--event", "e", "--interval", "0.5"],
                "at least 1 second",
            ),
            (
                &["--url", "https://h", "--event", "e", "--interval", "fast"],
                "not a number",
            ),
            (
                &["--url", "https://h", "--event", "e", "--sort", "cheapest"],
                "price_asc",
            ),
            (
                &["--url", "https://h", "--event", "e", "--max-price=-3"],
                "non-negative",
            ),
            (
                &["--url", "https://h", "--event", "e", "--webhook", "nope"],
                "http(s) URL",
            ),
            (&["--event", "e"], "--url"),
            (&["--bogus"], "--bogus"),
        ];
        for (args, needle) in cases {
            let err = parse(args).unwrap_err();
            assert_eq!(err.exit_code(), 2, "{args:?}");
            assert!(err.to_string().contains(needle), "{args:?}: {err}");
        }
    }

    #[test]
    fn subcommands_need_no_race_flags() {
        assert!(matches!(
            parse(&["demo"]).unwrap().command,
            Some(Command::Demo(_))
        ));
        assert!(matches!(
            parse(&["test-handoff", "--simulate"]).unwrap().command,
            Some(Command::TestHandoff(_))
        ));
    }

    #[test]
    fn help_has_examples_and_exit_codes() {
        let help = Cli::command().render_long_help().to_string();
        assert!(help.contains("pretix-race demo"));
        assert!(help.contains("Exit codes"));
        assert!(help.contains("--poll-inactive-marketplace"));
    }
}
