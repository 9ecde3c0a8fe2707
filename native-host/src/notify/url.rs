//! `--notify URL`: Apprise-style notification URLs, parsed into a [`Channel`].
//!
//! The URL syntax follows Apprise's, so a user's existing URLs work as is:
//! `ntfy://[host[:port]/]topic` (`ntfys://` for HTTPS), `discord://ID/TOKEN`,
//! `tgram://BOT_TOKEN/CHAT_ID`, `pover://USER_KEY@APP_TOKEN`,
//! `slack://A/B/C`, `json://host[:port]/path` (`jsons://`), and
//! `mailto://user:pass@host[:port]?to=addr` (`mailtos://`).
//!
//! These URLs *are* credentials (a Telegram bot token, a Discord webhook
//! token, an ntfy topic anyone may subscribe to). So a [`Channel`] never
//! prints them: its `Display` and `Debug` both show the masked form, e.g.
//! `tgram://****/12345`, and every log line names a channel that way.
//!
//! Telegram's bot token holds a `:` (`123:ABC`), which a generic URL parser
//! would read as a port; so the service URLs are split by hand, and only
//! `json`/`mailto` (real host names) go through [`url::Url`].

use std::fmt;
use std::str::FromStr;

use url::Url;

/// One place to send notifications.
#[derive(Clone, PartialEq, Eq)]
pub enum Channel {
    /// ntfy publish. `host` is `None` for the public service.
    Ntfy {
        secure: bool,
        host: Option<String>,
        topic: String,
    },
    /// Discord execute-webhook.
    Discord { id: String, token: String },
    /// Telegram Bot API `sendMessage`.
    Telegram { bot_token: String, chat_id: String },
    /// Pushover `messages.json`.
    Pushover { user_key: String, app_token: String },
    /// Slack incoming webhook (`/services/A/B/C`).
    Slack { a: String, b: String, c: String },
    /// A generic JSON POST. `legacy` is today's `--webhook`: it only gets
    /// the original tool's two payloads (in cart, detected), unchanged.
    Json { url: Url, legacy: bool },
    /// E-mail through SMTP.
    Mail(Mail),
}

/// SMTP settings from a `mailto://` / `mailtos://` URL.
#[derive(Clone, PartialEq, Eq)]
pub struct Mail {
    pub tls: MailTls,
    pub host: String,
    pub port: u16,
    pub user: Option<String>,
    pub pass: Option<String>,
    pub from: String,
    pub to: Vec<String>,
}

/// How the SMTP connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailTls {
    /// `mailto://`: plain SMTP (port 25), as Apprise's insecure scheme.
    None,
    /// `mailtos://`: STARTTLS required (port 587).
    StartTls,
    /// `mailtos://…?mode=ssl`: TLS from the first byte (port 465).
    Implicit,
}

/// Why a `--notify` URL was refused. Never contains the secret parts.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    #[error("unknown notification scheme {0:?} (known: ntfy, ntfys, discord, tgram, pover, slack, json, jsons, mailto, mailtos)")]
    Scheme(String),
    #[error("{scheme}:// expects {expected}")]
    Shape {
        scheme: &'static str,
        expected: &'static str,
    },
}

impl FromStr for Channel {
    type Err = UrlError;

    fn from_str(s: &str) -> Result<Channel, UrlError> {
        let s = s.trim();
        let Some((scheme, rest)) = s.split_once("://") else {
            return Err(UrlError::Scheme(
                s.chars().take_while(|c| *c != ':').collect(),
            ));
        };
        let scheme = scheme.to_ascii_lowercase();
        let path = rest.split('?').next().unwrap_or_default();
        let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
        match scheme.as_str() {
            "ntfy" | "ntfys" => {
                let shape = UrlError::Shape {
                    scheme: if scheme == "ntfy" { "ntfy" } else { "ntfys" },
                    expected: "[host[:port]/]topic (topic: letters, digits, - and _)",
                };
                let (host, topic) = match parts.as_slice() {
                    [topic] => (None, *topic),
                    [host, topic] => (Some(host.to_string()), *topic),
                    _ => return Err(shape),
                };
                if topic.is_empty()
                    || topic.len() > 64
                    || !topic
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
                {
                    return Err(shape);
                }
                Ok(Channel::Ntfy {
                    // Without a host it is the public service: always HTTPS.
                    secure: scheme == "ntfys" || host.is_none(),
                    host,
                    topic: topic.to_string(),
                })
            }
            "discord" => match parts.as_slice() {
                [id, token] if is_token(id) && is_token(token) => Ok(Channel::Discord {
                    id: id.to_string(),
                    token: token.to_string(),
                }),
                _ => Err(UrlError::Shape {
                    scheme: "discord",
                    expected: "WEBHOOK_ID/WEBHOOK_TOKEN",
                }),
            },
            "tgram" => match parts.as_slice() {
                [bot, chat]
                    if bot.contains(':')
                        && bot.chars().all(|c| is_token_char(c) || c == ':')
                        && (is_token(chat) || chat.starts_with('@') && is_token(&chat[1..])) =>
                {
                    Ok(Channel::Telegram {
                        bot_token: bot.to_string(),
                        chat_id: chat.to_string(),
                    })
                }
                _ => Err(UrlError::Shape {
                    scheme: "tgram",
                    expected: "BOT_TOKEN/CHAT_ID (the token looks like 123456:ABC-def)",
                }),
            },
            "pover" => match parts.as_slice() {
                [both] => match both.split_once('@') {
                    Some((user, app)) if is_token(user) && is_token(app) => Ok(Channel::Pushover {
                        user_key: user.to_string(),
                        app_token: app.to_string(),
                    }),
                    _ => Err(pover_shape()),
                },
                _ => Err(pover_shape()),
            },
            "slack" => match parts.as_slice() {
                [a, b, c] if is_token(a) && is_token(b) && is_token(c) => Ok(Channel::Slack {
                    a: a.to_string(),
                    b: b.to_string(),
                    c: c.to_string(),
                }),
                _ => Err(UrlError::Shape {
                    scheme: "slack",
                    expected: "TOKEN_A/TOKEN_B/TOKEN_C (from hooks.slack.com/services/A/B/C)",
                }),
            },
            "json" | "jsons" => {
                let http = if scheme == "json" { "http" } else { "https" };
                match Url::parse(&format!("{http}://{rest}")) {
                    Ok(url) if url.host_str().is_some() => Ok(Channel::Json { url, legacy: false }),
                    _ => Err(UrlError::Shape {
                        scheme: if scheme == "json" { "json" } else { "jsons" },
                        expected: "host[:port]/path",
                    }),
                }
            }
            "mailto" | "mailtos" => parse_mail(&scheme, rest).map(Channel::Mail),
            _ => Err(UrlError::Scheme(scheme)),
        }
    }
}

fn pover_shape() -> UrlError {
    UrlError::Shape {
        scheme: "pover",
        expected: "USER_KEY@APP_TOKEN",
    }
}

fn is_token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.'
}

fn is_token(s: &str) -> bool {
    !s.is_empty() && s.chars().all(is_token_char)
}

fn parse_mail(scheme: &str, rest: &str) -> Result<Mail, UrlError> {
    let shape = UrlError::Shape {
        scheme: if scheme == "mailto" {
            "mailto"
        } else {
            "mailtos"
        },
        expected: "user:pass@host[:port][?to=addr&from=addr&mode=ssl]",
    };
    let url = Url::parse(&format!("smtp://{rest}")).map_err(|_| shape.clone())?;
    let host = url.host_str().ok_or(shape.clone())?.to_string();
    let decode = |s: &str| percent_decode(s);
    let user = (!url.username().is_empty()).then(|| decode(url.username()));
    let pass = url.password().map(decode);
    let mut to = Vec::new();
    let mut from = None;
    let mut ssl = false;
    for (k, v) in url.query_pairs() {
        match k.as_ref() {
            "to" => to.extend(
                v.split(',')
                    .map(|a| a.trim().to_string())
                    .filter(|a| !a.is_empty()),
            ),
            "from" => from = Some(v.to_string()),
            "mode" => ssl = v.eq_ignore_ascii_case("ssl"),
            _ => {}
        }
    }
    // Apprise: without `to`, the mail goes to the account itself.
    let own = user.as_ref().map(|u| {
        if u.contains('@') {
            u.clone()
        } else {
            format!("{u}@{host}")
        }
    });
    if to.is_empty() {
        to.extend(own.clone());
    }
    let from = from
        .or(own)
        .or_else(|| to.first().cloned())
        .ok_or(shape.clone())?;
    if to.is_empty() {
        return Err(shape);
    }
    let tls = match (scheme, ssl) {
        ("mailto", _) => MailTls::None,
        (_, true) => MailTls::Implicit,
        _ => MailTls::StartTls,
    };
    let port = url.port().unwrap_or(match tls {
        MailTls::None => 25,
        MailTls::StartTls => 587,
        MailTls::Implicit => 465,
    });
    Ok(Mail {
        tls,
        host,
        port,
        user,
        pass,
        from,
        to,
    })
}

fn percent_decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("x={s}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

/// Keep the first `keep` characters of a secret, star the rest.
fn mask(secret: &str, keep: usize) -> String {
    let shown: String = secret.chars().take(keep).collect();
    format!("{shown}****")
}

/// The masked form: what logs and `--notify-test` show.
impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Channel::Ntfy {
                secure,
                host,
                topic,
            } => {
                // A topic on a public server is a password: show 2 chars.
                let scheme = if *secure { "ntfys" } else { "ntfy" };
                match host {
                    Some(h) => write!(f, "{scheme}://{h}/{}", mask(topic, 2)),
                    None => write!(f, "{scheme}://{}", mask(topic, 2)),
                }
            }
            Channel::Discord { id, .. } => write!(f, "discord://{id}/****"),
            Channel::Telegram { chat_id, .. } => write!(f, "tgram://****/{chat_id}"),
            Channel::Pushover { .. } => write!(f, "pover://****@****"),
            Channel::Slack { a, .. } => write!(f, "slack://{a}/****/****"),
            Channel::Json { url, legacy } => {
                let scheme = match (url.scheme(), legacy) {
                    (s, true) => s.to_string(),
                    ("https", false) => "jsons".into(),
                    _ => "json".into(),
                };
                let host = url.host_str().unwrap_or("");
                let port = url.port().map(|p| format!(":{p}")).unwrap_or_default();
                // Webhook paths usually carry the secret; show none of it.
                let path = if url.path().len() > 1 { "/****" } else { "/" };
                write!(f, "{scheme}://{host}{port}{path}")
            }
            Channel::Mail(m) => {
                let scheme = if m.tls == MailTls::None {
                    "mailto"
                } else {
                    "mailtos"
                };
                let user = match (&m.user, &m.pass) {
                    (Some(u), Some(_)) => format!("{u}:****@"),
                    (Some(u), None) => format!("{u}@"),
                    _ => String::new(),
                };
                write!(f, "{scheme}://{user}{}:{}", m.host, m.port)
            }
        }
    }
}

/// Same as `Display`: a `{:?}` in a log line must not leak either.
impl fmt::Debug for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Channel({self})")
    }
}

impl fmt::Debug for Mail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", Channel::Mail(self.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ch(s: &str) -> Channel {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn apprise_urls_parse() {
        assert_eq!(
            ch("ntfy://mytopic"),
            Channel::Ntfy {
                secure: true,
                host: None,
                topic: "mytopic".into()
            }
        );
        assert_eq!(
            ch("ntfy://127.0.0.1:8080/alerts"),
            Channel::Ntfy {
                secure: false,
                host: Some("127.0.0.1:8080".into()),
                topic: "alerts".into()
            }
        );
        assert!(matches!(
            ch("ntfys://ntfy.example/t"),
            Channel::Ntfy { secure: true, .. }
        ));
        assert_eq!(
            ch("tgram://123456789:AAH-x_y/-1001234"),
            Channel::Telegram {
                bot_token: "123456789:AAH-x_y".into(),
                chat_id: "-1001234".into()
            }
        );
        assert_eq!(
            ch("pover://uQiRzpo4DXghDmr9QzzfQu27cmVRsG@azGDORePK8gMaC0QOYAMyEEuzJnyUi"),
            Channel::Pushover {
                user_key: "uQiRzpo4DXghDmr9QzzfQu27cmVRsG".into(),
                app_token: "azGDORePK8gMaC0QOYAMyEEuzJnyUi".into()
            }
        );
        assert!(matches!(
            ch("discord://4174216298/JHMHI8qBe7bk2ZwO5U711o3dV_js"),
            Channel::Discord { .. }
        ));
        assert!(matches!(
            ch("slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ"),
            Channel::Slack { .. }
        ));
        let Channel::Json { url, legacy: false } = ch("jsons://hooks.example.net:8443/p/q") else {
            panic!()
        };
        assert_eq!(url.as_str(), "https://hooks.example.net:8443/p/q");
        let Channel::Mail(m) =
            ch("mailtos://me%40example.com:pa%2Fss@smtp.example.com?to=a@x.org,b@y.org")
        else {
            panic!()
        };
        assert_eq!(m.tls, MailTls::StartTls);
        assert_eq!(m.port, 587);
        assert_eq!(m.user.as_deref(), Some("me@example.com"));
        assert_eq!(m.pass.as_deref(), Some("pa/ss"));
        assert_eq!(m.from, "me@example.com");
        assert_eq!(m.to, ["a@x.org", "b@y.org"]);
        let Channel::Mail(m) = ch("mailto://bob@127.0.0.1:2525") else {
            panic!()
        };
        assert_eq!((m.tls, m.port), (MailTls::None, 2525));
        assert_eq!(m.to, ["bob@127.0.0.1"]);
    }

    #[test]
    fn bad_urls_are_refused_with_the_expected_shape() {
        for bad in [
            "ntfy://",
            "ntfy://a/b/c",
            "ntfy://bad topic",
            "discord://only-id",
            "tgram://nocolon/123",
            "pover://no-at-sign",
            "slack://a/b",
            "json://",
            "gotify://x/y",
            "not a url",
            "mailto://",
        ] {
            let err = bad.parse::<Channel>().unwrap_err();
            assert!(!err.to_string().is_empty(), "{bad}");
        }
        let err = "tgram://123:SECRET/".parse::<Channel>().unwrap_err();
        assert!(!err.to_string().contains("SECRET"), "{err}");
    }

    #[test]
    fn display_and_debug_never_show_secrets() {
        let cases = [
            ("ntfy://s3cr3ttopic", "s3cr3ttopic", "ntfys://s3****"),
            (
                "tgram://123456789:SECRETTOKEN/12345",
                "SECRETTOKEN",
                "tgram://****/12345",
            ),
            (
                "discord://4174216298/SECRETTOKEN",
                "SECRETTOKEN",
                "discord://4174216298/****",
            ),
            (
                "pover://USERSECRET@APPSECRET",
                "SECRET",
                "pover://****@****",
            ),
            (
                "slack://T1/SECRETB/SECRETC",
                "SECRET",
                "slack://T1/****/****",
            ),
            (
                "json://127.0.0.1:9/hook/SECRET",
                "SECRET",
                "json://127.0.0.1:9/****",
            ),
            (
                "mailtos://me:SECRETPASS@smtp.example.com",
                "SECRETPASS",
                "mailtos://me:****@smtp.example.com:587",
            ),
        ];
        for (url, secret, shown) in cases {
            let c = ch(url);
            assert_eq!(c.to_string(), shown);
            assert!(!format!("{c:?}").contains(secret), "{c:?}");
            assert!(!format!("{c:#?}").contains(secret), "{c:#?}");
        }
        // the 123456789 bot id is part of the token, too
        assert!(!ch("tgram://123456789:X/1")
            .to_string()
            .contains("123456789"));
    }
}
