//! The command line (clap derive), turned into a validated [`Config`].
//!
//! Usage errors exit with code 2 (clap's own errors do too), so scripts can
//! tell "you typed it wrong" from "the race failed" (1).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use pretix_race_shared::{Filters, SortOrder};
use url::Url;

use crate::config::{self, Config, ConfigError};
use crate::config_file::{self, TargetKeys, TargetSpec};
use crate::notify::{Channel, Notify};

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

  # Tell a phone (ntfy app) and Telegram; remind 10 min before an unpaid cart expires:
  pretix-race --url https://tickets.example.com --event myorg/myevent --headless \
      --notify ntfys://ntfy.sh/my-secret-topic --notify tgram://123456:ABC-def/987654 \
      --remind-before 10

  # Check the notification setup (one sample of each kind to every URL):
  pretix-race --notify ntfys://ntfy.sh/my-secret-topic --notify-test

  # Only look, never buy:
  pretix-race --url https://tickets.example.com --event myorg/myevent --dry-run

  # Many events at once (one process, one race each; see docs/targets.md):
  pretix-race --config pretix-race.toml
  pretix-race --url https://tickets.example.com --event org/day1 --event org/day2

  # What is every target doing? (reads the status file a multi-target run keeps)
  pretix-race status

Exit codes: 0 won (cart verified), 1 runtime failure, 2 usage/config error,
3 marketplace not found (try --poll-inactive-marketplace), 130 stopped (Ctrl-C).
With several targets: 0 only if every target won, otherwise the most severe
code among them (2 > 3 > 1 > 130).";

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
    /// Show what every target of a running (or finished) multi-target run
    /// is doing, from its status file.
    Status(StatusArgs),
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// The status file (the run's --status-file).
    #[arg(
        long,
        value_name = "PATH",
        default_value = "live-responses/status.json"
    )]
    pub file: PathBuf,
    /// Print the file's JSON instead of a table.
    #[arg(long)]
    pub json: bool,
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
    #[arg(long, value_name = "URL", required_unless_present_any = ["config", "notify_test"])]
    pub url: Option<String>,
    /// Event slug: `event`, or `organizer/event`. Repeat it to race several
    /// events of the same shop in one process.
    #[arg(
        long,
        value_name = "SLUG",
        required_unless_present_any = ["config", "notify_test"],
        conflicts_with = "config"
    )]
    pub event: Vec<String>,
    /// Race every `[[target]]` of this TOML file in one process (see
    /// docs/targets.md); flags given here override the file, for every target.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// With several targets: keep this status file current (default:
    /// status.json in the first target's live-responses directory);
    /// `pretix-race status --file PATH` reads it.
    #[arg(long, value_name = "PATH")]
    pub status_file: Option<PathBuf>,
    /// Seconds between polls (fractions allowed, at least 1); each wait is
    /// jittered ±20 %.
    #[arg(long, value_name = "SECONDS", default_value_t = pretix_race_shared::rules::DEFAULT_INTERVAL_SECS, value_parser = parse_interval)]
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
    /// Send notifications here (repeatable; Apprise-style URLs):
    /// ntfy://[host[:port]/]topic, ntfys://…, discord://ID/TOKEN,
    /// tgram://BOT_TOKEN/CHAT_ID, pover://USER_KEY@APP_TOKEN,
    /// slack://A/B/C, json://host[:port]/path, jsons://…,
    /// mailto://user:pass@host[:port]?to=ADDR, mailtos://…
    /// Events: started, listing seen (dry run), ticket in cart (highest
    /// priority, with the checkout link), lost, health alerts, and the
    /// cart-expiry reminder. The URLs are secrets: logs show them masked.
    /// PRETIX_RACE_NOTIFY may hold them instead (space-separated), to keep
    /// them out of the process list and shell history.
    #[arg(
        long,
        value_name = "URL",
        value_parser = parse_notify,
        env = "PRETIX_RACE_NOTIFY",
        hide_env_values = true,
        value_delimiter = ' '
    )]
    pub notify: Vec<Channel>,
    /// After a win, stay running and remind this many minutes before the
    /// cart expires if it is still unpaid (0: no reminder, exit at once).
    #[arg(long, value_name = "MINUTES", default_value_t = 5)]
    pub remind_before: u64,
    /// No desktop notification on a win or health alert (there is none
    /// anyway without a desktop session).
    #[arg(long)]
    pub no_desktop_notify: bool,
    /// Send one sample of each notification kind to every --notify URL
    /// (and --webhook), print per URL what happened, and exit (0: all ok).
    #[arg(long)]
    pub notify_test: bool,
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
    #[error(transparent)]
    ConfigFile(#[from] crate::config_file::ConfigFileError),
    #[error(transparent)]
    Target(#[from] crate::config_file::TargetError),
}

impl RaceArgs {
    /// Several targets: a config file, or `--event` more than once.
    pub fn is_multi(&self) -> bool {
        self.config.is_some() || self.event.len() > 1
    }

    /// The per-target flags the user typed (clap's defaults left out, so
    /// they do not override a config file's values).
    pub fn explicit_keys(&self, matches: &clap::ArgMatches) -> TargetKeys {
        let typed = |id: &str| {
            matches!(
                matches.value_source(id),
                Some(
                    clap::parser::ValueSource::CommandLine | clap::parser::ValueSource::EnvVariable
                )
            )
        };
        TargetKeys {
            url: self.url.clone(),
            interval: typed("interval").then_some(self.interval),
            item: self.item.clone(),
            sort: self.sort.map(Into::into),
            max_price: self.max_price,
            ticket_type: self.ticket_type.clone(),
            dry_run: self.dry_run.then_some(true),
            poll_inactive_marketplace: self.poll_inactive_marketplace,
            ca_cert: (!self.ca_cert.is_empty()).then(|| self.ca_cert.clone()),
            webhook: self.webhook.as_ref().map(Url::to_string),
            live_responses: typed("live_responses").then(|| self.live_responses.clone()),
            ..TargetKeys::default()
        }
    }

    /// Every target of a multi-target run, validated.
    pub fn targets(&self, matches: &clap::ArgMatches) -> Result<Vec<TargetSpec>, UsageError> {
        let cli = self.explicit_keys(matches);
        Ok(match &self.config {
            Some(path) => config_file::load(path, &cli)?,
            None => config_file::from_events(&self.event, &cli)?,
        })
    }

    /// Where a multi-target run keeps its status: `--status-file`, or
    /// `status.json` in the first target's live-responses directory (the
    /// config file's `live_responses`, unless `--live-responses` was typed).
    pub fn status_path(&self, targets: &[TargetSpec]) -> PathBuf {
        self.status_file.clone().unwrap_or_else(|| {
            targets
                .first()
                .map_or(&self.live_responses, |t| &t.cfg.live_responses)
                .join(crate::status::FILE_NAME)
        })
    }
}

impl RaceArgs {
    /// The notification settings these flags ask for.
    pub fn to_notify(&self) -> Notify {
        Notify {
            webhook: self.webhook.clone(),
            imessage: self.imessage.clone(),
            webhook_policy: None,
            channels: self.notify.clone(),
            remind_before: Some(std::time::Duration::from_secs(self.remind_before * 60)),
            desktop: !self.no_desktop_notify,
        }
    }

    /// Validate into a race [`Config`].
    pub fn to_config(&self) -> Result<Config, UsageError> {
        let (Some(url), Some(event)) = (&self.url, self.event.first()) else {
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

fn parse_notify(s: &str) -> Result<Channel, String> {
    s.parse::<Channel>().map_err(|e| e.to_string())
}

fn parse_webhook(s: &str) -> Result<Url, String> {
    config::webhook_url(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{CommandFactory, FromArgMatches};

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
    fn several_targets_from_the_command_line() {
        let args = [
            "pretix-race",
            "--url",
            "https://h.example",
            "--event",
            "org/a",
            "--event",
            "org/b",
            "--max-price",
            "90",
        ];
        let matches = Cli::command().try_get_matches_from(args).unwrap();
        let cli = Cli::from_arg_matches(&matches).unwrap();
        assert!(cli.race.is_multi());
        let targets = cli.race.targets(&matches).unwrap();
        let names: Vec<_> = targets.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["org/a", "org/b"]);
        assert!(targets
            .iter()
            .all(|t| t.cfg.filters.max_price == Some(90.0)));
        // one --event stays the plain single race
        assert!(!parse(&["--url", "https://h", "--event", "e"])
            .unwrap()
            .race
            .is_multi());
    }

    #[test]
    fn with_a_config_file_only_typed_flags_override_it() {
        let matches = Cli::command()
            .try_get_matches_from(["pretix-race", "--config", "x.toml", "--dry-run"])
            .unwrap();
        let cli = Cli::from_arg_matches(&matches).unwrap();
        let keys = cli.race.explicit_keys(&matches);
        assert_eq!(keys.dry_run, Some(true));
        // --interval and --live-responses have defaults, but were not typed
        assert_eq!((keys.interval, keys.live_responses), (None, None));
        let matches = Cli::command()
            .try_get_matches_from(["pretix-race", "--config", "x.toml", "--interval", "7"])
            .unwrap();
        let cli = Cli::from_arg_matches(&matches).unwrap();
        assert_eq!(cli.race.explicit_keys(&matches).interval, Some(7.0));
        // a file and --event do not mix
        assert!(parse(&["--config", "x.toml", "--event", "e"]).is_err());
    }

    #[test]
    fn status_reads_a_file() {
        let Some(Command::Status(args)) = parse(&["status", "--json"]).unwrap().command else {
            panic!("status subcommand");
        };
        assert!(args.json);
        assert_eq!(args.file, PathBuf::from("live-responses/status.json"));
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
    fn notify_flags() {
        let cli = parse(&[
            "--url",
            "https://h.example",
            "--event",
            "ev",
            "--notify",
            "ntfy://127.0.0.1:8080/topic",
            "--notify",
            "tgram://123:SECRET/42",
            "--remind-before",
            "10",
            "--no-desktop-notify",
        ])
        .unwrap();
        let n = cli.race.to_notify();
        assert_eq!(n.channels.len(), 2);
        assert_eq!(n.remind_before, Some(std::time::Duration::from_secs(600)));
        assert!(!n.desktop);
        // defaults: 5 minutes, desktop on (if there is one)
        let n = parse(&["--url", "https://h", "--event", "e"])
            .unwrap()
            .race
            .to_notify();
        assert_eq!(n.remind_before, Some(std::time::Duration::from_secs(300)));
        assert!(n.desktop && n.channels.is_empty());
        // --notify-test needs no race
        let cli = parse(&["--notify-test", "--notify", "json://127.0.0.1:9/h"]).unwrap();
        assert!(cli.race.notify_test);
        // a bad URL is a usage error that names the shape, not the secret
        let err = parse(&[
            "--url",
            "https://h",
            "--event",
            "e",
            "--notify",
            "tgram://SECRET",
        ])
        .unwrap_err();
        assert_eq!(err.exit_code(), 2);
        assert!(err.to_string().contains("BOT_TOKEN/CHAT_ID"), "{err}");
    }

    #[test]
    fn help_has_examples_and_exit_codes() {
        let help = Cli::command().render_long_help().to_string();
        assert!(help.contains("pretix-race demo"));
        assert!(help.contains("Exit codes"));
        assert!(help.contains("--poll-inactive-marketplace"));
        assert!(help.contains("--notify-test") && help.contains("tgram://"));
    }
}
