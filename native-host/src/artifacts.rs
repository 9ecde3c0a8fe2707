//! Debug files in `live-responses/`: odd pages, cart transcripts, cookies.
//!
//! Left alone for weeks, the directory must not fill the disk. Odd pages
//! are the only files that recur with polling, so they are kept by shape,
//! once each, under fixed caps ([`DebugPages`], [`MAX_DEBUG_PAGES`] files
//! and [`MAX_DEBUG_BYTES`] bytes). Cookie files, cart transcripts and the
//! demo certificate are written once per win or run and are never rotated:
//! they may hold the only copy of a cart.
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

use crate::bounded::BoundedSet;
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

/// One-off form of [`DebugPages::on_event`]: a fresh store over `dir` (it
/// reads the shapes already saved from the file names), for a caller that
/// has no store to keep. Long-running listeners keep a [`DebugPages`].
pub fn save_unknown_page(dir: &Path, ev: &RaceEvent) -> Option<PathBuf> {
    DebugPages::new(dir).on_event(ev)
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

// ---------------------------------------------------------------------------
// Debug pages: one file per page *shape*, within fixed caps.
//
// A shop whose wording we do not recognise answers every poll with the same
// odd page. Saving each one wrote ~86,000 files a day at a 1 s interval; a
// human needs one copy of each layout. So a page is saved only if its shape
// (see `page_shape`) is new, and the debug pages in the directory are kept
// under `MAX_DEBUG_PAGES` files and `MAX_DEBUG_BYTES` bytes, oldest removed
// first. The shape is part of the file name, so a restarted process knows
// what is already there without any extra bookkeeping file.

/// At most this many debug pages stay in `live-responses/` (default cap).
pub const MAX_DEBUG_PAGES: usize = 50;

/// At most this many bytes of debug pages stay in `live-responses/`
/// (default cap: 20 MiB).
pub const MAX_DEBUG_BYTES: u64 = 20 * 1024 * 1024;

/// A single page body is cut to this many bytes before saving, so one huge
/// answer cannot take the whole byte budget.
pub const MAX_PAGE_BYTES: usize = 1024 * 1024;

/// Page shapes remembered in memory, including those whose file has been
/// removed again (so a rotated-out shape is not saved over and over).
pub const REMEMBERED_SHAPES: usize = 1024;

/// A hash of an HTML page's *structure*: the sequence of start and end tag
/// names, each with its `class` tokens (digits removed). Text, comments,
/// every other attribute (CSRF tokens, ids, URLs), the contents of
/// `<script>`/`<style>`, whitespace and numbers are left out, so two polls
/// of the same odd page hash the same however their tokens and timestamps
/// differ, while a different layout hashes differently.
///
/// The hash (64-bit FNV-1a) is stable across runs and builds: it is part of
/// saved file names.
pub fn page_shape(html: &str) -> u64 {
    let mut h = Fnv64::new();
    let b = html.as_bytes();
    let mut i = 0;
    while let Some(off) = b[i..].iter().position(|&c| c == b'<') {
        i += off + 1;
        let rest = &b[i..];
        if rest.starts_with(b"!--") {
            i = find(b, i + 3, b"-->").map_or(b.len(), |e| e + 3);
            continue;
        }
        if rest.first().is_some_and(|&c| c == b'!' || c == b'?') {
            i = find(b, i, b">").map_or(b.len(), |e| e + 1);
            continue;
        }
        let closing = rest.first() == Some(&b'/');
        let name_start = i + usize::from(closing);
        let name_len = b[name_start..]
            .iter()
            .take_while(|c| c.is_ascii_alphanumeric() || **c == b'-' || **c == b':')
            .count();
        // `a < b` in text, or a lone `</`: not a tag.
        if name_len == 0 || !b[name_start].is_ascii_alphabetic() {
            continue;
        }
        let name = &html[name_start..name_start + name_len];
        let (class, end) = scan_attributes(html, name_start + name_len);
        if closing {
            h.write(b"/");
        }
        for c in name.bytes() {
            h.write(&[c.to_ascii_lowercase()]);
        }
        if let Some(class) = class {
            for token in class.split_ascii_whitespace() {
                h.write(b" .");
                for c in token.bytes().filter(|c| !c.is_ascii_digit()) {
                    h.write(&[c]);
                }
            }
        }
        h.write(b">");
        i = end;
        // Raw text: script and style bodies are not markup.
        if !closing && (name.eq_ignore_ascii_case("script") || name.eq_ignore_ascii_case("style")) {
            i = end_of_raw_text(b, i, name.as_bytes());
        }
    }
    h.finish()
}

/// Attributes of the tag whose name ends at `i`: its `class` value, and
/// the index just past the tag's `>` (or the end of the page).
fn scan_attributes(html: &str, mut i: usize) -> (Option<&str>, usize) {
    let b = html.as_bytes();
    let mut class = None;
    loop {
        while i < b.len() && (b[i].is_ascii_whitespace() || b[i] == b'/') {
            i += 1;
        }
        if i >= b.len() {
            return (class, b.len());
        }
        if b[i] == b'>' {
            return (class, i + 1);
        }
        let name_start = i;
        while i < b.len() && !b[i].is_ascii_whitespace() && !matches!(b[i], b'=' | b'>' | b'/') {
            i += 1;
        }
        let name = &html[name_start..i];
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        if i >= b.len() || b[i] != b'=' {
            continue;
        }
        i += 1;
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        let (value_start, value_end) = match b.get(i) {
            Some(&q @ (b'"' | b'\'')) => {
                let end = b[i + 1..]
                    .iter()
                    .position(|&c| c == q)
                    .map_or(b.len(), |p| i + 1 + p);
                let v = (i + 1, end);
                i = (end + 1).min(b.len());
                v
            }
            _ => {
                let start = i;
                while i < b.len() && !b[i].is_ascii_whitespace() && b[i] != b'>' {
                    i += 1;
                }
                (start, i)
            }
        };
        if name.eq_ignore_ascii_case("class") {
            class = Some(&html[value_start..value_end]);
        }
    }
}

/// Index of the `<` of the `</name` that ends a raw-text element.
fn end_of_raw_text(b: &[u8], mut i: usize, name: &[u8]) -> usize {
    while let Some(p) = find(b, i, b"</") {
        let after = &b[p + 2..];
        if after.len() >= name.len() && after[..name.len()].eq_ignore_ascii_case(name) {
            return p;
        }
        i = p + 2;
    }
    b.len()
}

fn find(hay: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    hay.get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| from + p)
}

/// 64-bit FNV-1a: tiny, and its output is fixed by definition (unlike
/// `DefaultHasher`), which file names need.
struct Fnv64(u64);

impl Fnv64 {
    fn new() -> Self {
        Fnv64(0xcbf2_9ce4_8422_2325)
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

/// File name of a debug page: `<kind>_<shape as 16 hex>_<YYYYMMDD>_<HHMMSS>.html`.
fn debug_page_name(kind: &str, shape: u64) -> String {
    let kind: String = kind
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    format!("{kind}_{shape:016x}_{}.html", stamp())
}

/// The shape in a debug page's file name; `None` for every other file
/// (cookie files, transcripts, certificates, exports, older page names),
/// which the caps never touch.
pub fn debug_page_shape(file_name: &str) -> Option<u64> {
    let stem = file_name.strip_suffix(".html")?;
    let mut parts = stem.rsplitn(4, '_');
    let (time, date, shape, kind) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|c| c.is_ascii_digit());
    if kind.is_empty() || !digits(date, 8) || !digits(time, 6) || shape.len() != 16 {
        return None;
    }
    u64::from_str_radix(shape, 16).ok()
}

/// How much the debug pages may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caps {
    pub files: usize,
    pub bytes: u64,
}

impl Default for Caps {
    fn default() -> Self {
        Caps {
            files: MAX_DEBUG_PAGES,
            bytes: MAX_DEBUG_BYTES,
        }
    }
}

/// What [`DebugPages::save`] did.
#[derive(Debug, PartialEq, Eq)]
pub enum Saved {
    /// A new shape, written here.
    New(PathBuf),
    /// A page of this shape was saved before: nothing written.
    Known,
}

/// The debug pages of one `live-responses/` directory, for one listener.
#[derive(Debug)]
pub struct DebugPages {
    dir: PathBuf,
    caps: Caps,
    shapes: BoundedSet<u64>,
    /// Whether the shapes already on disk have been read.
    loaded: bool,
    /// The last save failed; further failures are logged at debug level,
    /// so a broken directory costs one warning, not one per poll.
    failing: bool,
}

impl DebugPages {
    /// A store over `dir` with the default caps.
    pub fn new(dir: &Path) -> Self {
        Self::with_caps(dir, Caps::default())
    }

    pub fn with_caps(dir: &Path, caps: Caps) -> Self {
        DebugPages {
            dir: dir.to_path_buf(),
            caps,
            shapes: BoundedSet::new(REMEMBERED_SHAPES),
            loaded: false,
            failing: false,
        }
    }

    /// Save `body` unless a page of its shape was saved before, then trim
    /// the debug pages to the caps, oldest first.
    pub fn save(&mut self, kind: &str, url: &Url, status: u16, body: &str) -> io::Result<Saved> {
        let shape = page_shape(body);
        if !self.loaded {
            self.load()?;
        }
        if self.shapes.contains(&shape) {
            return Ok(Saved::Known);
        }
        let body = cut(body, MAX_PAGE_BYTES);
        let contents = format!("<!-- {url} HTTP {status} -->\n{body}");
        let path = write_private(&self.dir, &debug_page_name(kind, shape), &contents)?;
        self.shapes.insert(shape);
        self.trim(&path)?;
        Ok(Saved::New(path))
    }

    /// If `ev` is an [`RaceEvent::UnknownPage`], save it (once per shape)
    /// and log where, or why not. Listeners call this for every event, so
    /// the race itself never touches the disk.
    pub fn on_event(&mut self, ev: &RaceEvent) -> Option<PathBuf> {
        let RaceEvent::UnknownPage {
            url,
            status,
            kind,
            body,
        } = ev
        else {
            return None;
        };
        match self.save(kind, url, *status, body) {
            Ok(Saved::New(path)) => {
                self.failing = false;
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
            Ok(Saved::Known) => {
                self.failing = false;
                tracing::debug!(
                    url = %url,
                    status,
                    kind,
                    "unexpected page of a shape already saved"
                );
                None
            }
            Err(err) => {
                let dir = self.dir.display();
                if self.failing {
                    tracing::debug!(cause = %err, dir = %dir, "still cannot save unexpected pages");
                } else {
                    tracing::warn!(
                        cause = %err,
                        dir = %dir,
                        "could not save the unexpected page in {dir}: {err} \
                         (further failures are logged at debug level)"
                    );
                }
                self.failing = true;
                None
            }
        }
    }

    /// Remember the shapes of the pages already in the directory.
    fn load(&mut self) -> io::Result<()> {
        for page in self.pages()? {
            self.shapes.insert(page.shape);
        }
        self.loaded = true;
        Ok(())
    }

    /// The debug pages in the directory (none if it does not exist yet).
    fn pages(&self) -> io::Result<Vec<DebugPage>> {
        let entries = match fs::read_dir(&self.dir) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        let mut pages = Vec::new();
        for entry in entries {
            let entry = entry?;
            let name = entry.file_name();
            let Some(shape) = name.to_str().and_then(debug_page_shape) else {
                continue;
            };
            let meta = entry.metadata()?;
            if !meta.is_file() {
                continue;
            }
            pages.push(DebugPage {
                path: entry.path(),
                shape,
                bytes: meta.len(),
                modified: meta.modified().ok(),
            });
        }
        Ok(pages)
    }

    /// Remove the oldest debug pages until the rest fit the caps; `newest`
    /// (the page just saved) always stays.
    fn trim(&self, newest: &Path) -> io::Result<()> {
        let mut pages = self.pages()?;
        pages.retain(|p| p.path != newest);
        // Oldest first; the name (with its time stamp) breaks ties.
        pages.sort_by(|a, b| (a.modified, &a.path).cmp(&(b.modified, &b.path)));
        let newest_bytes = fs::metadata(newest)?.len();
        let mut files = pages.len() + 1;
        let mut bytes: u64 = pages.iter().map(|p| p.bytes).sum::<u64>() + newest_bytes;
        for page in &pages {
            if files <= self.caps.files && bytes <= self.caps.bytes {
                break;
            }
            match fs::remove_file(&page.path) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
            files -= 1;
            bytes -= page.bytes;
        }
        Ok(())
    }
}

struct DebugPage {
    path: PathBuf,
    shape: u64,
    bytes: u64,
    modified: Option<std::time::SystemTime>,
}

/// `s` cut to at most `max` bytes, on a character boundary.
fn cut(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
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

    fn url() -> Url {
        Url::parse("https://shop.invalid/org/fest/secondhand/").unwrap()
    }

    /// An odd page as a shop might send it on poll `n`: fresh token, time
    /// and counter every time, same layout.
    fn odd_page(n: u32) -> String {
        format!(
            "<!DOCTYPE html><html><head><title>Sold out {n}</title>\
             <script>var t = '<b>{n}</b>';</script></head>\
             <body class=\"page-{n} shop\"><div id=\"x{n}\" class=\"panel\">\
             <!-- rendered at 12:{n} --><p>Nothing here, {n} people watching</p>\
             <form action=\"/buy/{n}/\"><input type=\"hidden\" name=\"csrfmiddlewaretoken\" \
             value=\"tok{n}en\"></form></div></body></html>"
        )
    }

    fn html_files(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".html"))
            .collect();
        v.sort();
        v
    }

    /// Pretend `path` was written `secs` seconds ago (file times are too
    /// coarse to order pages written within a test).
    fn age(path: &Path, secs: u64) {
        let when = std::time::SystemTime::now() - std::time::Duration::from_secs(secs);
        fs::File::options()
            .write(true)
            .open(path)
            .unwrap()
            .set_modified(when)
            .unwrap();
    }

    /// A page with its own layout: `n` nested sections.
    fn layout(n: usize) -> String {
        format!("<html><body>{}</body></html>", "<section>".repeat(n))
    }

    #[test]
    fn the_shape_ignores_text_tokens_ids_urls_numbers_and_scripts() {
        assert_eq!(page_shape(&odd_page(1)), page_shape(&odd_page(987_654)));
        // a different layout, a different class, an extra element: different
        let base = page_shape(&odd_page(1));
        assert_ne!(base, page_shape(&odd_page(1).replace("panel", "alert")));
        assert_ne!(base, page_shape(&odd_page(1).replace("<p>", "<p><br>")));
        assert_ne!(page_shape(&layout(1)), page_shape(&layout(2)));
        // markup that is not well formed hashes without a panic
        for junk in [
            "<",
            "</",
            "<a",
            "<a class=",
            "<a class=\"x",
            "<!--",
            "<script>",
            "a < b",
        ] {
            page_shape(junk);
        }
    }

    #[test]
    fn debug_page_names_carry_the_shape_and_nothing_else_matches() {
        let name = debug_page_name("ticket_unavailable", 0xfeed);
        assert_eq!(debug_page_shape(&name), Some(0xfeed), "{name}");
        for other in [
            "cookies_20260101_120000.txt",
            "cart_add_20260101_120000.txt",
            "demo-ca.pem",
            "unknown_20260101_120000_4242.html",
            "export.html",
        ] {
            assert_eq!(debug_page_shape(other), None, "{other}");
        }
    }

    #[test]
    fn the_same_shape_is_saved_once_even_across_restarts() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("live");
        let mut store = DebugPages::new(&dir);
        let first = store.save("unknown", &url(), 200, &odd_page(1)).unwrap();
        assert!(matches!(first, Saved::New(_)), "{first:?}");
        for n in 2..200 {
            assert_eq!(
                store.save("unknown", &url(), 200, &odd_page(n)).unwrap(),
                Saved::Known
            );
        }
        // a new process reads the shape from the file name
        let mut again = DebugPages::new(&dir);
        assert_eq!(
            again.save("unknown", &url(), 200, &odd_page(500)).unwrap(),
            Saved::Known
        );
        assert_eq!(html_files(&dir).len(), 1);
    }

    #[test]
    fn different_shapes_are_saved_separately() {
        let tmp = tempfile::tempdir().unwrap();
        let mut store = DebugPages::new(tmp.path());
        assert!(matches!(
            store.save("unknown", &url(), 200, &layout(1)),
            Ok(Saved::New(_))
        ));
        assert!(matches!(
            store.save("checkout", &url(), 200, &layout(2)),
            Ok(Saved::New(_))
        ));
        assert_eq!(html_files(tmp.path()).len(), 2);
    }

    #[test]
    fn the_file_cap_removes_the_oldest_debug_page_and_nothing_else() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let keep = [
            write_private(dir, "cookies_20200101_000000.txt", "s=1").unwrap(),
            write_private(dir, "cart_add_20200101_000000.txt", "POST").unwrap(),
            write_private(dir, "demo-ca.pem", "PEM").unwrap(),
            write_private(dir, "unknown_20200101_000000_1.html", "old style").unwrap(),
        ];
        for p in &keep {
            age(p, 10_000); // older than every debug page
        }
        let caps = Caps {
            files: 3,
            bytes: MAX_DEBUG_BYTES,
        };
        let mut store = DebugPages::with_caps(dir, caps);
        let mut saved = Vec::new();
        for n in 1..=5 {
            let Saved::New(p) = store.save("unknown", &url(), 200, &layout(n)).unwrap() else {
                panic!("layout {n} is new");
            };
            age(&p, 1_000 - n as u64);
            saved.push(p);
        }
        for (i, p) in saved.iter().enumerate() {
            assert_eq!(p.exists(), i >= 2, "page {i} (oldest first)");
        }
        for p in &keep {
            assert!(p.exists(), "{} was rotated away", p.display());
        }
        // a rotated-out shape is still remembered: not saved again
        assert_eq!(
            store.save("unknown", &url(), 200, &layout(1)).unwrap(),
            Saved::Known
        );
    }

    #[test]
    fn the_byte_cap_removes_the_oldest_debug_pages() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let cookie = write_private(dir, "cookies_20200101_000000.txt", &"c".repeat(5_000)).unwrap();
        age(&cookie, 10_000);
        let caps = Caps {
            files: 50,
            bytes: 2_500,
        };
        let mut store = DebugPages::with_caps(dir, caps);
        let mut saved = Vec::new();
        for n in 1..=4 {
            // ~1 kB each, different layouts
            let page = format!("{}{}", layout(n), "x".repeat(1_000));
            let Saved::New(p) = store.save("unknown", &url(), 200, &page).unwrap() else {
                panic!("layout {n} is new");
            };
            age(&p, 1_000 - n as u64);
            saved.push(p);
        }
        let left: Vec<bool> = saved.iter().map(|p| p.exists()).collect();
        assert_eq!(left, [false, false, true, true]);
        let total: u64 = saved
            .iter()
            .filter(|p| p.exists())
            .map(|p| fs::metadata(p).unwrap().len())
            .sum();
        assert!(total <= 2_500, "{total}");
        assert!(cookie.exists(), "the cookie file does not count and stays");
    }

    #[test]
    fn a_huge_page_is_cut_to_the_page_limit() {
        let tmp = tempfile::tempdir().unwrap();
        let mut store = DebugPages::new(tmp.path());
        let huge = format!("<html>{}", "é".repeat(MAX_PAGE_BYTES));
        let Saved::New(p) = store.save("unknown", &url(), 200, &huge).unwrap() else {
            panic!("new");
        };
        let len = fs::metadata(&p).unwrap().len() as usize;
        assert!(len <= MAX_PAGE_BYTES + 200, "{len}");
    }

    #[test]
    fn a_directory_that_cannot_be_made_is_an_error_not_a_panic() {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("file");
        fs::write(&file, "").unwrap();
        // ENOTDIR, even for root
        let mut store = DebugPages::new(&file.join("live"));
        for n in 0..3 {
            let err = store
                .save("unknown", &url(), 200, &odd_page(n))
                .unwrap_err();
            assert_ne!(err.kind(), io::ErrorKind::NotFound, "{err}");
        }
        let ev = RaceEvent::UnknownPage {
            url: url(),
            status: 200,
            kind: "unknown",
            body: odd_page(9),
        };
        assert_eq!(store.on_event(&ev), None);
        assert!(store.failing, "the failure is remembered (warned once)");
    }
}
