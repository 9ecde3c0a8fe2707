//! Debug files in `live-responses/`: odd pages, cart transcripts, cookies.
//!
//! Cookies are credentials (whoever has them has the cart), and transcripts
//! and pages carry them or CSRF tokens too. So the directory is created (or
//! tightened to) mode 0700 and every file in it is created with mode 0600
//! before a byte is written. These files are written after the race moment,
//! never between seeing a listing and the buy POST.

use std::fmt::Write as _;
use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use chrono::Local;
use pretix_race_shared::Cookie;
use url::Url;

use crate::cart::Transcript;
use crate::events::RaceEvent;

/// Create `dir` if needed and make it private to the user.
pub fn ensure_dir(dir: &Path) -> io::Result<()> {
    fs::create_dir_all(dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

/// Write `contents` to a new private file `dir/name` (mode 0600 from birth).
pub fn write_private(dir: &Path, name: &str, contents: &str) -> io::Result<PathBuf> {
    ensure_dir(dir)?;
    let path = dir.join(name);
    let mut opts = OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(&path)?;
    #[cfg(unix)]
    {
        // An older file of the same name keeps its mode through open();
        // tighten it too.
        use std::os::unix::fs::PermissionsExt;
        f.set_permissions(fs::Permissions::from_mode(0o600))?;
    }
    f.write_all(contents.as_bytes())?;
    Ok(path)
}

/// Open `dir/name` for appending (a log), private like every file here.
pub fn open_private_append(dir: &Path, name: &str) -> io::Result<fs::File> {
    ensure_dir(dir)?;
    let mut opts = OpenOptions::new();
    opts.append(true).create(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    opts.open(dir.join(name))
}

fn stamp() -> String {
    Local::now().format("%Y%m%d_%H%M%S").to_string()
}

/// Save a page we did not expect, for a human to look at.
pub fn save_page(
    dir: &Path,
    kind: &str,
    url: &Url,
    status: u16,
    body: &str,
) -> io::Result<PathBuf> {
    let name = format!("{kind}_{}_{}.html", stamp(), std::process::id());
    let contents = format!("<!-- {url} HTTP {status} -->\n{body}");
    write_private(dir, &name, &contents)
}

/// If `ev` is an [`RaceEvent::UnknownPage`], save the page into `dir` and log
/// where (or why not). Listeners call this for every event they receive, so
/// the race itself never touches the disk.
pub fn save_unknown_page(dir: &Path, ev: &RaceEvent) -> Option<PathBuf> {
    let RaceEvent::UnknownPage {
        url,
        status,
        kind,
        body,
    } = ev
    else {
        return None;
    };
    match save_page(dir, kind, url, *status, body) {
        Ok(path) => {
            tracing::info!(
                url = %url,
                status,
                kind,
                path = %path.display(),
                "unexpected page saved to {}",
                path.display()
            );
            Some(path)
        }
        Err(err) => {
            // A full disk or an unwritable directory stays that way: say so
            // once per directory, not on every odd page of a long race.
            if first_failure_in(dir) {
                tracing::warn!(
                    cause = %err,
                    url = %url,
                    dir = %dir.display(),
                    "could not save the unexpected page to {}: {err} (the race goes on; further pages are not saved)",
                    dir.display()
                );
            } else {
                tracing::debug!(cause = %err, url = %url, "could not save the unexpected page: {err}");
            }
            None
        }
    }
}

/// True the first time `dir` failed in this process.
fn first_failure_in(dir: &Path) -> bool {
    static FAILED: std::sync::Mutex<Vec<PathBuf>> = std::sync::Mutex::new(Vec::new());
    let mut failed = FAILED.lock().unwrap_or_else(|e| e.into_inner());
    if failed.iter().any(|d| d == dir) {
        return false;
    }
    failed.push(dir.to_path_buf());
    true
}

/// `cookies_YYYYMMDD_HHMMSS.txt`: the session, the checkout URL, the script.
pub fn save_cookies(
    dir: &Path,
    cookies: &[Cookie],
    checkout_url: &Url,
    script: &str,
) -> io::Result<PathBuf> {
    let mut s = String::new();
    let _ = writeln!(s, "# pretix-race session, {}", Local::now().to_rfc3339());
    let _ = writeln!(s, "# checkout: {checkout_url}");
    for c in cookies {
        let _ = writeln!(s, "{}={}", c.name, c.value);
    }
    let _ = writeln!(s, "\n# DevTools console fallback:\n{script}");
    write_private(dir, &format!("cookies_{}.txt", stamp()), &s)
}

/// `cart_add_YYYYMMDD_HHMMSS.txt`: request and response of the buy POST, in
/// the original tool's layout.
pub fn save_transcript(dir: &Path, t: &Transcript) -> io::Result<PathBuf> {
    write_private(
        dir,
        &format!("cart_add_{}.txt", stamp()),
        &format_transcript(t),
    )
}

pub fn format_transcript(t: &Transcript) -> String {
    let rule = "=".repeat(60);
    let mut s = String::new();
    let _ = writeln!(s, "{rule}\nCART ADD REQUEST/RESPONSE DEBUG\n{rule}\n");
    let _ = writeln!(s, "REQUEST:\n  URL: {}\n  Method: POST\n", t.url);
    let _ = writeln!(s, "  Cookies sent:");
    for (k, v) in &t.cookies_sent {
        let _ = writeln!(s, "    {k}={v}");
    }
    let _ = writeln!(
        s,
        "\n  Form data:\n    csrfmiddlewaretoken={}\n",
        t.csrf_token
    );
    let _ = writeln!(s, "RESPONSE:");
    match t.status {
        Some(st) => {
            let _ = writeln!(s, "  Status: {st}");
        }
        None => {
            let _ = writeln!(s, "  Status: (no response)");
        }
    }
    if let Some(e) = &t.error {
        let _ = writeln!(s, "  Error: {e}");
    }
    if let Some(l) = &t.location {
        let _ = writeln!(s, "  Location: {l}");
    }
    if let Some(u) = &t.final_url {
        let _ = writeln!(s, "  Final URL: {u}");
    }
    let _ = writeln!(s, "\n  Response headers:");
    for (k, v) in &t.headers {
        let _ = writeln!(s, "    {k}: {v}");
    }
    let _ = writeln!(
        s,
        "\n  Response body (first 5000 chars):\n{}\n{}\n{}",
        "-".repeat(40),
        t.body_head,
        "-".repeat(40)
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn files_are_0600_in_a_0700_dir() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("live-responses");
        fs::create_dir(&dir).unwrap();
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
        let p = write_private(&dir, "x.txt", "secret").unwrap();
        assert_eq!(
            fs::metadata(&dir).unwrap().permissions().mode() & 0o777,
            0o700
        );
        assert_eq!(
            fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o600
        );
        // an existing looser file is tightened
        fs::set_permissions(&p, fs::Permissions::from_mode(0o644)).unwrap();
        write_private(&dir, "x.txt", "again").unwrap();
        assert_eq!(
            fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(fs::read_to_string(&p).unwrap(), "again");
    }

    #[cfg(unix)]
    #[test]
    fn unknown_pages_are_saved_privately_and_other_events_are_not() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("live");
        let url = Url::parse("https://shop.invalid/org/fest/secondhand/").unwrap();
        let ev = RaceEvent::UnknownPage {
            url: url.clone(),
            status: 200,
            kind: "unknown",
            body: "<p>odd</p>".into(),
        };
        let path = save_unknown_page(&dir, &ev).expect("saved");
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        assert!(
            name.starts_with("unknown_") && name.ends_with(".html"),
            "{name}"
        );
        let text = fs::read_to_string(&path).unwrap();
        assert_eq!(text, format!("<!-- {url} HTTP 200 -->\n<p>odd</p>"));
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let other = RaceEvent::MarketplaceInactive;
        assert_eq!(save_unknown_page(&dir, &other), None);
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 1);
    }
}
