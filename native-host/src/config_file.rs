//! `--config FILE`: many targets in one TOML file.
//!
//! The file's keys are the per-target command-line flags, spelled with
//! underscores (`max_price`, `ticket_type`, …). `[defaults]` applies to every
//! `[[target]]`; a target's own keys beat the defaults; and a flag given on
//! the command line beats both, for every target (so `--dry-run` turns a
//! whole file into a rehearsal). Every value goes through the same checks as
//! the flags ([`crate::config`]), so a file cannot say what the command line
//! may not.
//!
//! Why strict: a misspelt key (`max_prize = 150`) silently ignored would buy
//! a ticket the user meant to refuse. Unknown keys are an error naming the
//! key and its line, and so is any bad value, naming the target.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use pretix_race_shared::{Filters, SortOrder};
use serde::Deserialize;
use url::Url;

use crate::config::{self, Config, ConfigError};

/// Every per-target setting, each optional so that layers (built-in
/// defaults < `[defaults]` < `[[target]]` < command line) can be stacked
/// with [`TargetKeys::over`].
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetKeys {
    /// Used in log lines, the status view and above the handoff block;
    /// default: the event slug.
    pub name: Option<String>,
    pub url: Option<String>,
    pub event: Option<String>,
    /// Seconds between polls (at least 1).
    pub interval: Option<f64>,
    pub item: Option<String>,
    /// `price_asc`, `price_desc`, `newest` or `oldest` (toml names the
    /// choices when the value is none of them).
    pub sort: Option<SortOrder>,
    pub max_price: Option<f64>,
    pub ticket_type: Option<String>,
    pub dry_run: Option<bool>,
    /// Seconds between checks while the event has no marketplace link.
    pub poll_inactive_marketplace: Option<f64>,
    /// Extra trusted root certificates (PEM files).
    pub ca_cert: Option<Vec<PathBuf>>,
    pub webhook: Option<String>,
    /// Notification URLs (`ntfys://…`, …), handed to the notifier.
    pub notify: Option<Vec<String>>,
    pub live_responses: Option<PathBuf>,
}

impl TargetKeys {
    /// These keys, with every key they do not set taken from `base`.
    pub fn over(&self, base: &TargetKeys) -> TargetKeys {
        fn pick<T: Clone>(top: &Option<T>, base: &Option<T>) -> Option<T> {
            top.clone().or_else(|| base.clone())
        }
        TargetKeys {
            name: pick(&self.name, &base.name),
            url: pick(&self.url, &base.url),
            event: pick(&self.event, &base.event),
            interval: pick(&self.interval, &base.interval),
            item: pick(&self.item, &base.item),
            sort: pick(&self.sort, &base.sort),
            max_price: pick(&self.max_price, &base.max_price),
            ticket_type: pick(&self.ticket_type, &base.ticket_type),
            dry_run: pick(&self.dry_run, &base.dry_run),
            poll_inactive_marketplace: pick(
                &self.poll_inactive_marketplace,
                &base.poll_inactive_marketplace,
            ),
            ca_cert: pick(&self.ca_cert, &base.ca_cert),
            webhook: pick(&self.webhook, &base.webhook),
            notify: pick(&self.notify, &base.notify),
            live_responses: pick(&self.live_responses, &base.live_responses),
        }
    }

    /// Relative paths in a file mean "next to the file", not "wherever the
    /// process was started".
    fn relative_to(mut self, dir: &Path) -> TargetKeys {
        if let Some(certs) = &mut self.ca_cert {
            for c in certs.iter_mut() {
                if c.is_relative() {
                    *c = dir.join(&*c);
                }
            }
        }
        if let Some(d) = &mut self.live_responses {
            if d.is_relative() {
                *d = dir.join(&*d);
            }
        }
        self
    }

    /// Check every value and build the target.
    pub fn resolve(&self) -> Result<TargetSpec, TargetError> {
        let url = self.url.as_deref().ok_or(TargetError::Missing("url"))?;
        let event = self.event.as_deref().ok_or(TargetError::Missing("event"))?;
        let mut cfg = Config::new(url, event)?;
        if let Some(secs) = self.interval {
            cfg.interval = config::interval(secs)?;
        }
        if let Some(max) = self.max_price {
            config::check_max_price(max)?;
        }
        cfg.filters = Filters {
            item: self.item.clone(),
            sort: self.sort,
            max_price: self.max_price,
            ticket_type: self.ticket_type.clone(),
        };
        cfg.dry_run = self.dry_run.unwrap_or(false);
        cfg.poll_inactive_marketplace = self
            .poll_inactive_marketplace
            .map(|s| config::seconds("poll-inactive-marketplace", s))
            .transpose()?;
        for path in self.ca_cert.iter().flatten() {
            let pem = std::fs::read(path).map_err(|err| TargetError::CaCert {
                path: path.clone(),
                err,
            })?;
            cfg.extra_roots_pem.push(pem);
        }
        if let Some(dir) = &self.live_responses {
            cfg.live_responses = dir.clone();
        }
        let webhook = self
            .webhook
            .as_deref()
            .map(|w| config::webhook_url(w).map_err(TargetError::BadWebhook))
            .transpose()?;
        let name = match &self.name {
            Some(n) if n.trim().is_empty() => return Err(TargetError::EmptyName),
            Some(n) => n.trim().to_string(),
            None => cfg.event.clone(),
        };
        Ok(TargetSpec {
            name,
            cfg,
            webhook,
            notify: self.notify.clone().unwrap_or_default(),
        })
    }
}

/// One validated target: its race and who to tell.
#[derive(Debug, Clone)]
pub struct TargetSpec {
    pub name: String,
    pub cfg: Config,
    pub webhook: Option<Url>,
    /// Notification URLs from `notify = [...]`, as written.
    pub notify: Vec<String>,
}

/// Why one target's keys cannot work.
#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    #[error("`{0}` is missing (set it in the target, in [defaults] or as --{0})")]
    Missing(&'static str),
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("webhook: {0}")]
    BadWebhook(String),
    #[error("ca_cert {}: {err}", path.display())]
    CaCert { path: PathBuf, err: std::io::Error },
    #[error("name is empty")]
    EmptyName,
}

/// Why a config file cannot be used (exit code 2).
#[derive(Debug, thiserror::Error)]
pub enum ConfigFileError {
    #[error("cannot read {}: {err}", path.display())]
    Read { path: PathBuf, err: std::io::Error },
    /// toml's message names the line, the column and the key.
    #[error("{}: {err}", path.display())]
    Toml {
        path: PathBuf,
        err: Box<toml::de::Error>,
    },
    #[error("{}: no [[target]] in the file", path.display())]
    NoTargets { path: PathBuf },
    #[error("{}: target {index} ({label}): {err}", path.display())]
    Target {
        path: PathBuf,
        /// 1-based, in file order.
        index: usize,
        label: String,
        err: TargetError,
    },
    #[error("{}: two targets are named {name:?}; names must be unique", path.display())]
    DuplicateName { path: PathBuf, name: String },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileKeys {
    #[serde(default)]
    defaults: TargetKeys,
    #[serde(default)]
    target: Vec<TargetKeys>,
}

/// Read `path` and resolve its targets; `cli` holds the flags given
/// explicitly on the command line, which beat the file.
pub fn load(path: &Path, cli: &TargetKeys) -> Result<Vec<TargetSpec>, ConfigFileError> {
    let text = std::fs::read_to_string(path).map_err(|err| ConfigFileError::Read {
        path: path.to_path_buf(),
        err,
    })?;
    parse(&text, path, cli)
}

/// [`load`] for text already read; `path` is used for messages and as the
/// base of relative paths.
pub fn parse(
    text: &str,
    path: &Path,
    cli: &TargetKeys,
) -> Result<Vec<TargetSpec>, ConfigFileError> {
    let file: FileKeys = toml::from_str(text).map_err(|err| ConfigFileError::Toml {
        path: path.to_path_buf(),
        err: Box::new(err),
    })?;
    if file.target.is_empty() {
        return Err(ConfigFileError::NoTargets {
            path: path.to_path_buf(),
        });
    }
    let dir = path.parent().unwrap_or(Path::new("."));
    let defaults = file.defaults.relative_to(dir);
    let mut names = HashSet::new();
    let mut specs = Vec::with_capacity(file.target.len());
    for (i, t) in file.target.into_iter().enumerate() {
        let keys = cli.over(&t.relative_to(dir).over(&defaults));
        let spec = keys.resolve().map_err(|err| ConfigFileError::Target {
            path: path.to_path_buf(),
            index: i + 1,
            label: keys
                .name
                .clone()
                .or(keys.event.clone())
                .unwrap_or_else(|| "unnamed".into()),
            err,
        })?;
        if !names.insert(spec.name.clone()) {
            return Err(ConfigFileError::DuplicateName {
                path: path.to_path_buf(),
                name: spec.name,
            });
        }
        specs.push(spec);
    }
    Ok(specs)
}

/// `--event a --event b` without a file: one target per event, every other
/// flag shared. Two identical events would race each other for the same
/// ticket, so they are refused.
pub fn from_events(events: &[String], cli: &TargetKeys) -> Result<Vec<TargetSpec>, TargetError> {
    let mut names = HashSet::new();
    let mut specs = Vec::with_capacity(events.len());
    for event in events {
        let keys = TargetKeys {
            event: Some(event.clone()),
            name: None,
            ..cli.clone()
        };
        let spec = keys.resolve()?;
        if !names.insert(spec.name.clone()) {
            return Err(TargetError::Config(ConfigError::BadEvent(format!(
                "{event} (given twice)"
            ))));
        }
        specs.push(spec);
    }
    Ok(specs)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = r#"
[defaults]
url = "https://tickets.example.com"
interval = 10
notify = ["ntfys://ntfy.sh/my-topic"]
max_price = 200

[[target]]
name = "festival"
event = "org/event"
ticket_type = "Type B"
max_price = 150

[[target]]
event = "org/other"
interval = 2.5
sort = "price_asc"
live_responses = "out"
"#;

    fn parse_file(text: &str, cli: &TargetKeys) -> Result<Vec<TargetSpec>, ConfigFileError> {
        parse(text, Path::new("/etc/pretix/race.toml"), cli)
    }

    #[test]
    fn defaults_apply_and_targets_override_them() {
        let specs = parse_file(FILE, &TargetKeys::default()).unwrap();
        assert_eq!(specs.len(), 2);
        let (fest, other) = (&specs[0], &specs[1]);
        assert_eq!(fest.name, "festival");
        assert_eq!(
            fest.cfg.event_url().as_str(),
            "https://tickets.example.com/org/event/"
        );
        assert_eq!(fest.cfg.interval.as_secs(), 10);
        assert_eq!(fest.cfg.filters.max_price, Some(150.0));
        assert_eq!(fest.cfg.filters.ticket_type.as_deref(), Some("Type B"));
        assert_eq!(fest.notify, ["ntfys://ntfy.sh/my-topic"]);
        // the second target: no name, so the event slug; its own interval
        assert_eq!(other.name, "org/other");
        assert_eq!(other.cfg.interval.as_millis(), 2500);
        assert_eq!(other.cfg.filters.max_price, Some(200.0));
        assert_eq!(other.cfg.filters.sort, Some(SortOrder::PriceAsc));
        // relative paths are next to the file
        assert_eq!(other.cfg.live_responses, Path::new("/etc/pretix/out"));
        assert_eq!(fest.cfg.live_responses, Path::new("live-responses"));
    }

    /// The example in the repository is what the docs promise: it parses.
    #[test]
    fn the_example_file_is_valid() {
        let text = include_str!("../../examples/pretix-race.toml");
        let specs = parse(
            text,
            Path::new("examples/pretix-race.toml"),
            &TargetKeys::default(),
        )
        .unwrap();
        let names: Vec<_> = specs.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["festival", "club night", "summer"]);
        assert_eq!(specs[0].cfg.interval.as_secs(), 10);
        assert_eq!(specs[0].notify, ["ntfys://ntfy.sh/my-topic"]);
        assert!(specs[2].cfg.dry_run && specs[2].webhook.is_some());
        assert_eq!(
            specs[2].cfg.event_url().as_str(),
            "https://shop.example.org/prefix/summer/"
        );
    }

    #[test]
    fn command_line_flags_beat_the_file() {
        let cli = TargetKeys {
            interval: Some(30.0),
            dry_run: Some(true),
            ..TargetKeys::default()
        };
        let specs = parse_file(FILE, &cli).unwrap();
        for s in &specs {
            assert_eq!(s.cfg.interval.as_secs(), 30, "{}", s.name);
            assert!(s.cfg.dry_run, "{}", s.name);
        }
        // what the command line did not set still comes from the file
        assert_eq!(specs[0].cfg.filters.max_price, Some(150.0));
    }

    #[test]
    fn an_unknown_key_is_named_with_its_line() {
        let text = "[[target]]\nurl = \"https://h.example\"\nevent = \"e\"\nmax_prize = 150\n";
        let err = parse_file(text, &TargetKeys::default())
            .unwrap_err()
            .to_string();
        assert!(err.contains("max_prize"), "{err}");
        assert!(err.contains("line 4"), "{err}");
        assert!(err.contains("/etc/pretix/race.toml"), "{err}");
    }

    #[test]
    fn bad_values_name_the_target_and_the_rule() {
        let cases = [
            ("interval = 0.2", "at least 1 second"),
            ("max_price = -1", "non-negative"),
            ("webhook = \"nope\"", "http(s) URL"),
            ("ca_cert = [\"missing.pem\"]", "missing.pem"),
        ];
        for (line, needle) in cases {
            let text = format!(
                "[[target]]\nname = \"a\"\nurl = \"https://h.example\"\nevent = \"e\"\n\
                 [[target]]\nname = \"b\"\nurl = \"https://h.example\"\nevent = \"f\"\n{line}\n"
            );
            let err = parse_file(&text, &TargetKeys::default())
                .unwrap_err()
                .to_string();
            assert!(err.contains("target 2 (b)"), "{line}: {err}");
            assert!(err.contains(needle), "{line}: {err}");
        }
    }

    #[test]
    fn a_bad_sort_names_the_choices_and_the_line() {
        let text = "[[target]]\nurl = \"https://h.example\"\nevent = \"e\"\nsort = \"cheapest\"\n";
        let err = parse_file(text, &TargetKeys::default())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("cheapest") && err.contains("price_asc"),
            "{err}"
        );
        assert!(err.contains("line 4"), "{err}");
    }

    #[test]
    fn a_file_without_targets_or_urls_is_refused() {
        let err = parse_file("[defaults]\ninterval = 5\n", &TargetKeys::default()).unwrap_err();
        assert!(matches!(err, ConfigFileError::NoTargets { .. }), "{err}");
        let err = parse_file("[[target]]\nevent = \"e\"\n", &TargetKeys::default())
            .unwrap_err()
            .to_string();
        assert!(err.contains("`url` is missing"), "{err}");
        // ... unless the command line gives it
        let cli = TargetKeys {
            url: Some("https://h.example".into()),
            ..TargetKeys::default()
        };
        assert_eq!(
            parse_file("[[target]]\nevent = \"e\"\n", &cli)
                .unwrap()
                .len(),
            1
        );
    }

    #[test]
    fn names_must_be_unique() {
        let text = "[defaults]\nurl = \"https://h.example\"\n\
                    [[target]]\nevent = \"org/e\"\n[[target]]\nevent = \"org/e\"\n";
        let err = parse_file(text, &TargetKeys::default()).unwrap_err();
        assert!(
            matches!(err, ConfigFileError::DuplicateName { .. }),
            "{err}"
        );
    }

    #[test]
    fn repeated_events_share_the_other_flags() {
        let cli = TargetKeys {
            url: Some("https://h.example".into()),
            interval: Some(5.0),
            ..TargetKeys::default()
        };
        let specs = from_events(&["org/a".into(), "org/b".into()], &cli).unwrap();
        let names: Vec<_> = specs.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["org/a", "org/b"]);
        assert!(specs.iter().all(|s| s.cfg.interval.as_secs() == 5));
        assert!(from_events(&["org/a".into(), "org/a".into()], &cli).is_err());
    }
}
