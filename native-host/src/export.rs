//! The won session in the two formats other browsers can import.
//!
//! The console script in `cookies_….txt` needs a desktop browser with
//! DevTools. A phone, a second browser or a script takes over more easily
//! from a file its cookie tool already reads, so after a win we also write:
//!
//! * **Netscape `cookies.txt`** — the format of curl (`-b`/`-c`), wget,
//!   yt-dlp and most cookie-import extensions: a `# Netscape HTTP Cookie File`
//!   header, then one line per cookie with seven TAB-separated fields
//!   (domain, include-subdomains, path, secure, expiry, name, value). A
//!   domain cookie's domain starts with `.` and has include-subdomains
//!   `TRUE`; a host-only one has neither. An `HttpOnly` cookie's line starts
//!   with `#HttpOnly_` (curl's extension; older readers see a comment and
//!   skip it, which is why curl chose it). Session cookies have expiry `0`.
//! * **Cookie-Editor / EditThisCookie JSON** — an array of objects shaped
//!   like Chrome's `chrome.cookies.Cookie` (`domain`, `expirationDate`,
//!   `hostOnly`, `httpOnly`, `name`, `path`, `sameSite`, `secure`,
//!   `session`, `storeId`, `value`), which is what both extensions export
//!   and read back. `sameSite` uses the `chrome.cookies` words
//!   (`no_restriction`, `lax`, `strict`, `unspecified`); `expirationDate` is
//!   float seconds and absent for a session cookie; `storeId` is `null` so
//!   the importing browser uses its current store.
//!
//! **`Partitioned` survives in neither.** Netscape lines have no field for
//! it. `chrome.cookies.Cookie` has `partitionKey`, but Cookie-Editor's
//! importer builds its `chrome.cookies.set` call from the fields above only
//! and drops it, and a correct key needs the shop's registrable domain
//! (public-suffix rules) that we do not compute. So the JSON leaves it out
//! on purpose and both imports create *unpartitioned* cookies — which is
//! what a checkout in a top-level tab needs: a partitioned cookie is keyed
//! by the top-level site, and only matters when the shop runs inside a
//! cross-site frame (an embedded pretix widget). The extension's handoff
//! makes the same choice (it sets unpartitioned cookies and removes stale
//! partitioned copies).
//!
//! The formatters are pure; [`save`] writes both files, mode 0600, next to
//! the cookie file. They run after the handoff, never on the hot path.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use pretix_race_shared::cookies::SameSite;
use pretix_race_shared::Cookie;
use serde::{Deserialize, Serialize};

use crate::artifacts;

/// A cookie no export format can carry as it is.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// A TAB, CR or LF (or another control character) in a field would
    /// split or end a `cookies.txt` line. Servers cannot send such a cookie
    /// legally; refusing is better than writing a file that imports wrong.
    #[error(
        "cookie {name:?}: a control character in its {field} cannot be written to cookies.txt"
    )]
    ControlCharacter { name: String, field: &'static str },
    #[error("cannot serialise the cookies as JSON: {0}")]
    Json(#[from] serde_json::Error),
}

/// The first line every reader (curl, wget, Cookie-Editor) looks for.
pub const NETSCAPE_HEADER: &str = "# Netscape HTTP Cookie File";

/// curl's marker for an `HttpOnly` cookie, in front of the domain.
pub const HTTP_ONLY_PREFIX: &str = "#HttpOnly_";

/// The cookies as a Netscape `cookies.txt`.
pub fn netscape(cookies: &[Cookie]) -> Result<String, ExportError> {
    let mut s = String::new();
    s.push_str(NETSCAPE_HEADER);
    s.push_str("\n# Written by pretix-race after a win: `curl -b <this file>` or a\n");
    s.push_str("# cookie-import extension can take the cart over. Keep it private.\n\n");
    for c in cookies {
        for (field, text) in [
            ("name", &c.name),
            ("value", &c.value),
            ("domain", &c.domain),
            ("path", &c.path),
        ] {
            if text.chars().any(char::is_control) {
                return Err(ExportError::ControlCharacter {
                    name: c.name.clone(),
                    field,
                });
            }
        }
        let _ = writeln!(
            s,
            "{http_only}{domain}\t{subdomains}\t{path}\t{secure}\t{expiry}\t{name}\t{value}",
            http_only = if c.http_only { HTTP_ONLY_PREFIX } else { "" },
            domain = dotted_domain(c),
            subdomains = flag(!c.host_only),
            path = c.path,
            secure = flag(c.secure),
            expiry = c.expires.unwrap_or(0).max(0),
            name = c.name,
            value = c.value,
        );
    }
    Ok(s)
}

fn flag(b: bool) -> &'static str {
    if b {
        "TRUE"
    } else {
        "FALSE"
    }
}

/// A domain cookie is written `.example.com` (it also goes to subdomains),
/// a host-only one bare, as browsers and curl both report them.
fn dotted_domain(c: &Cookie) -> String {
    if c.host_only {
        c.domain.clone()
    } else {
        format!(".{}", c.domain)
    }
}

/// One cookie as Cookie-Editor and EditThisCookie export and import it (the
/// `chrome.cookies.Cookie` shape). Field order is the alphabetical order
/// those tools write.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EditorCookie {
    pub domain: String,
    /// Seconds since the epoch, as a float; absent for a session cookie.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub expiration_date: Option<f64>,
    pub host_only: bool,
    pub http_only: bool,
    pub name: String,
    pub path: String,
    /// `no_restriction` | `lax` | `strict` | `unspecified`.
    pub same_site: String,
    pub secure: bool,
    pub session: bool,
    /// Always `null`: the importing browser picks its own store.
    pub store_id: Option<String>,
    pub value: String,
}

impl From<&Cookie> for EditorCookie {
    fn from(c: &Cookie) -> Self {
        EditorCookie {
            domain: dotted_domain(c),
            expiration_date: c.expires.map(|e| e as f64),
            host_only: c.host_only,
            http_only: c.http_only,
            name: c.name.clone(),
            path: c.path.clone(),
            same_site: match c.same_site {
                Some(SameSite::None) => "no_restriction",
                Some(SameSite::Lax) => "lax",
                Some(SameSite::Strict) => "strict",
                None => "unspecified",
            }
            .to_string(),
            secure: c.secure,
            session: c.expires.is_none(),
            store_id: None,
            value: c.value.clone(),
        }
    }
}

/// The cookies as Cookie-Editor / EditThisCookie JSON (pretty, like theirs).
pub fn cookie_editor_json(cookies: &[Cookie]) -> Result<String, ExportError> {
    let list: Vec<EditorCookie> = cookies.iter().map(EditorCookie::from).collect();
    let mut s = serde_json::to_string_pretty(&list)?;
    s.push('\n');
    Ok(s)
}

/// Where [`save`] put each export (`None`: that one failed, and was logged).
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Exports {
    /// `netscape-cookies_<stamp>.txt`
    pub netscape: Option<PathBuf>,
    /// `cookie-editor_<stamp>.json`
    pub cookie_editor: Option<PathBuf>,
}

/// Write both exports into `dir` (mode 0600), stamped like the cookie file
/// `cookie_file` so the three are easy to match (or with the current time
/// when that file could not be written). Failures are logged and leave
/// the other export alone: the win never depends on these files.
pub fn save(dir: &Path, cookie_file: Option<&Path>, cookies: &[Cookie]) -> Exports {
    let stamp = cookie_file
        .and_then(stamp_of)
        .unwrap_or_else(|| chrono::Local::now().format("%Y%m%d_%H%M%S").to_string());
    let write = |what: &str, name: String, text: Result<String, ExportError>| {
        let written = text
            .map_err(|e| e.to_string())
            .and_then(|t| artifacts::write_private(dir, &name, &t).map_err(|e| e.to_string()));
        match written {
            Ok(p) => {
                tracing::info!(path = %p.display(), format = what, "{what} export saved to {} (mode 0600)", p.display());
                Some(p)
            }
            Err(cause) => {
                tracing::warn!(%cause, dir = %dir.display(), format = what, "could not save the {what} cookie export");
                None
            }
        }
    };
    Exports {
        netscape: write(
            "Netscape cookies.txt",
            format!("netscape-cookies_{stamp}.txt"),
            netscape(cookies),
        ),
        cookie_editor: write(
            "Cookie-Editor JSON",
            format!("cookie-editor_{stamp}.json"),
            cookie_editor_json(cookies),
        ),
    }
}

/// `20261128_193104` from `…/cookies_20261128_193104.txt`.
fn stamp_of(cookie_file: &Path) -> Option<String> {
    let name = cookie_file.file_name()?.to_str()?;
    let stamp = name.strip_prefix("cookies_")?.strip_suffix(".txt")?;
    Some(stamp.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The three cookies real pretix sets, plus a domain cookie with an
    /// expiry and SameSite=Lax, to cover every branch.
    fn jar() -> Vec<Cookie> {
        let host = |name: &str, value: &str, http_only: bool| Cookie {
            name: name.into(),
            value: value.into(),
            domain: "tickets.example.com".into(),
            host_only: true,
            path: "/".into(),
            secure: true,
            http_only,
            same_site: Some(SameSite::None),
            partitioned: true,
            expires: None,
        };
        vec![
            host("__Host-pretix_session", "s3ss10n", true),
            host("__Host-pretix_csrftoken", "csrf+tok", false),
            Cookie {
                name: "__QXSESSION".into(),
                value: "qx=1".into(),
                domain: "example.com".into(),
                host_only: false,
                path: "/shop".into(),
                secure: false,
                http_only: false,
                same_site: Some(SameSite::Lax),
                partitioned: false,
                expires: Some(1_893_456_000),
            },
            Cookie {
                name: "plain".into(),
                value: String::new(),
                domain: "tickets.example.com".into(),
                host_only: true,
                path: "/".into(),
                secure: true,
                http_only: false,
                same_site: None,
                partitioned: false,
                expires: Some(1_893_456_001),
            },
        ]
    }

    /// Read a cookies.txt back the way curl does: skip blank and `#`
    /// lines except `#HttpOnly_`, split on TAB, exactly seven fields.
    fn read_netscape(text: &str) -> Vec<(bool, Vec<String>)> {
        text.lines()
            .filter(|l| !l.is_empty())
            .filter_map(|l| match l.strip_prefix(HTTP_ONLY_PREFIX) {
                Some(rest) => Some((true, rest)),
                None if l.starts_with('#') => None,
                None => Some((false, l)),
            })
            .map(|(http_only, l)| {
                let fields: Vec<String> = l.split('\t').map(str::to_string).collect();
                assert_eq!(fields.len(), 7, "{l:?}");
                (http_only, fields)
            })
            .collect()
    }

    #[test]
    fn netscape_lines_carry_every_field_of_every_cookie() {
        let cookies = jar();
        let text = netscape(&cookies).unwrap();
        assert_eq!(text.lines().next(), Some(NETSCAPE_HEADER));
        let lines = read_netscape(&text);
        assert_eq!(lines.len(), cookies.len());
        for (c, (http_only, f)) in cookies.iter().zip(&lines) {
            assert_eq!(*http_only, c.http_only, "{}", c.name);
            let want_domain = if c.host_only {
                c.domain.clone()
            } else {
                format!(".{}", c.domain)
            };
            assert_eq!(f[0], want_domain);
            assert_eq!(f[1], if c.host_only { "FALSE" } else { "TRUE" });
            assert_eq!(f[2], c.path);
            assert_eq!(f[3], if c.secure { "TRUE" } else { "FALSE" });
            assert_eq!(f[4].parse::<i64>().unwrap(), c.expires.unwrap_or(0));
            assert_eq!(f[5], c.name);
            assert_eq!(f[6], c.value);
        }
        // The exact line of the session cookie, as curl writes one.
        assert!(text.contains(
            "\n#HttpOnly_tickets.example.com\tFALSE\t/\tTRUE\t0\t__Host-pretix_session\ts3ss10n\n"
        ));
        assert!(
            text.contains("\n.example.com\tTRUE\t/shop\tFALSE\t1893456000\t__QXSESSION\tqx=1\n")
        );
    }

    #[test]
    fn netscape_refuses_a_field_that_would_break_the_line() {
        for (i, bad) in ["a\tb", "a\nb", "a\rb"].into_iter().enumerate() {
            let mut cookies = jar();
            match i {
                0 => cookies[1].value = bad.into(),
                1 => cookies[1].name = bad.into(),
                _ => cookies[1].path = bad.into(),
            }
            let err = netscape(&cookies).unwrap_err();
            assert!(matches!(err, ExportError::ControlCharacter { .. }), "{err}");
        }
    }

    #[test]
    fn cookie_editor_json_has_the_documented_fields_and_values() {
        let cookies = jar();
        let text = cookie_editor_json(&cookies).unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        let arr = v.as_array().unwrap();
        assert_eq!(arr.len(), cookies.len());
        for (c, o) in cookies.iter().zip(arr) {
            let o = o.as_object().unwrap();
            // Cookie-Editor's import reads domain, name, value, path,
            // secure, httpOnly, expirationDate, storeId, hostOnly,
            // sameSite; its export adds session. Nothing else.
            let mut keys: Vec<&str> = o.keys().map(String::as_str).collect();
            keys.sort();
            let mut want = vec![
                "domain", "hostOnly", "httpOnly", "name", "path", "sameSite", "secure", "session",
                "storeId", "value",
            ];
            if c.expires.is_some() {
                want.push("expirationDate");
                want.sort();
            }
            assert_eq!(keys, want, "{}", c.name);
            assert!(!o.contains_key("partitionKey"));
            let domain = o["domain"].as_str().unwrap();
            assert_eq!(domain.trim_start_matches('.'), c.domain);
            assert_eq!(domain.starts_with('.'), !c.host_only);
            assert_eq!(o["hostOnly"], c.host_only);
            assert_eq!(o["httpOnly"], c.http_only);
            assert_eq!(o["name"], c.name.as_str());
            assert_eq!(o["path"], c.path.as_str());
            assert_eq!(o["secure"], c.secure);
            assert_eq!(o["session"], c.expires.is_none());
            assert!(o["storeId"].is_null());
            assert_eq!(o["value"], c.value.as_str());
            if let Some(e) = c.expires {
                assert!(o["expirationDate"].is_f64(), "a float, like Chrome's");
                assert_eq!(o["expirationDate"].as_f64(), Some(e as f64));
            }
            let same_site = match c.same_site {
                Some(SameSite::None) => "no_restriction",
                Some(SameSite::Lax) => "lax",
                Some(SameSite::Strict) => "strict",
                None => "unspecified",
            };
            assert_eq!(o["sameSite"], same_site);
        }
        // and it reads back into the same records
        let back: Vec<EditorCookie> = serde_json::from_str(&text).unwrap();
        assert_eq!(
            back,
            cookies.iter().map(EditorCookie::from).collect::<Vec<_>>()
        );
    }

    #[cfg(unix)]
    #[test]
    fn save_writes_both_private_files_stamped_like_the_cookie_file() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("live-responses");
        let cookie_file = dir.join("cookies_20261128_193104.txt");
        let out = save(&dir, Some(&cookie_file), &jar());
        let nets = out.netscape.unwrap();
        let json = out.cookie_editor.unwrap();
        assert_eq!(nets, dir.join("netscape-cookies_20261128_193104.txt"));
        assert_eq!(json, dir.join("cookie-editor_20261128_193104.json"));
        for p in [&nets, &json] {
            let mode = std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{p:?}");
        }
        assert_eq!(
            std::fs::read_to_string(&nets).unwrap(),
            netscape(&jar()).unwrap()
        );
        assert_eq!(
            std::fs::read_to_string(&json).unwrap(),
            cookie_editor_json(&jar()).unwrap()
        );
    }

    #[test]
    fn save_reports_a_failure_without_panicking() {
        let tmp = tempfile::tempdir().unwrap();
        // A plain file where the directory should be.
        let not_a_dir = tmp.path().join("file");
        std::fs::write(&not_a_dir, "x").unwrap();
        let out = save(&not_a_dir, None, &jar());
        assert_eq!(out, Exports::default());
    }

    #[test]
    fn a_bad_cookie_loses_only_the_netscape_file() {
        let tmp = tempfile::tempdir().unwrap();
        let mut cookies = jar();
        cookies[0].value = "a\tb".into();
        let out = save(tmp.path(), None, &cookies);
        assert!(out.netscape.is_none());
        assert!(out.cookie_editor.is_some());
    }
}
