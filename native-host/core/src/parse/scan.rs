//! Linear scans over the raw page: fixed needles found with `memchr::memmem`
//! and a tiny tag tokenizer, so the pages polled every few seconds are read
//! in microseconds and never need a DOM.
//!
//! Why not `scraper` here: building a DOM for a 14 KB page costs about a
//! millisecond, and the empty marketplace page (the one we see on almost
//! every poll) carries an `alert-danger` inside its "how it works" panel, so
//! deciding "is that red box an error?" used to parse the whole page each
//! time. The question only needs to know which elements are open around the
//! box, which a forward scan of the tags answers.

use std::sync::LazyLock;

use memchr::memmem::{Finder, FinderRev};

/// A forward finder built once, on first use (or in [`super::warm_up`]).
pub(crate) fn finder(needle: &'static str) -> Finder<'static> {
    Finder::new(needle.as_bytes())
}

static ALERT_DANGER_REV: LazyLock<FinderRev<'static>> =
    LazyLock::new(|| FinderRev::new(b"alert-danger"));
static COMMENT_END: LazyLock<Finder<'static>> = LazyLock::new(|| finder("-->"));

/// Force this module's finders (see [`super::warm_up`]).
pub(crate) fn warm_up() {
    LazyLock::force(&ALERT_DANGER_REV);
    LazyLock::force(&COMMENT_END);
}

/// The first place at or after `from` where `needle` (ASCII) occurs, ASCII
/// case ignored. The search runs `memchr2` over the needle's byte at `pivot`
/// in both cases (pick one rare in HTML, `w` rather than `s`) and compares
/// the window around each hit: SIMD speed where a case-blind automaton walks
/// byte by byte.
pub(crate) fn find_ascii_ci(hay: &[u8], needle: &[u8], pivot: usize, from: usize) -> Option<usize> {
    let (lower, upper) = (
        needle[pivot].to_ascii_lowercase(),
        needle[pivot].to_ascii_uppercase(),
    );
    let mut at = from + pivot;
    loop {
        let hit = at + memchr::memchr2(lower, upper, hay.get(at..)?)?;
        let start = hit - pivot;
        if hay
            .get(start..start + needle.len())
            .is_some_and(|w| w.eq_ignore_ascii_case(needle))
        {
            return Some(start);
        }
        at = hit + 1;
    }
}

/// Could a `(?i)` regex holding the ASCII word `needle` match `html`? Unicode
/// case folding pairs `s` with `ſ` (U+017F) and `k` with the Kelvin sign
/// (U+212A), so a page holding either of those is always a "maybe".
pub(crate) fn may_hold_word(html: &str, needle: &str, pivot: usize) -> bool {
    let bytes = html.as_bytes();
    find_ascii_ci(bytes, needle.as_bytes(), pivot, 0).is_some() || folds_to_ascii(bytes)
}

/// Does the page hold one of the two non-ASCII characters `(?i)` folds onto
/// an ASCII letter, `ſ` (U+017F) or `K` (U+212A)? Their lead bytes (0xC5,
/// 0xE2) are rare in pretix's pages, so a `memchr2` over them is cheap.
fn folds_to_ascii(bytes: &[u8]) -> bool {
    const LONG_S: &[u8] = "\u{17f}".as_bytes();
    const KELVIN: &[u8] = "\u{212a}".as_bytes();
    memchr::memchr2_iter(LONG_S[0], KELVIN[0], bytes)
        .any(|i| bytes[i..].starts_with(LONG_S) || bytes[i..].starts_with(KELVIN))
}

/// Elements that never have content or an end tag.
const VOID: [&str; 14] = [
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source",
    "track", "wbr",
];
/// Elements whose content is text, not markup: a `<div>` written inside a
/// script is no element.
const RAW_TEXT: [&str; 4] = ["script", "style", "textarea", "title"];

/// Is there an element of class `alert-danger` with no ancestor of class
/// `panel`?
///
/// The tags are read in order, keeping a stack of the open elements and
/// whether each is a panel: a start tag pushes (unless void or written
/// `/>`), an end tag pops back to the nearest open element of its name (a
/// stray end tag is ignored). Comments, doctypes and the text of
/// `script`/`style`/`textarea`/`title` are skipped. This is how an HTML
/// parser nests well-formed markup; for broken markup it may nest
/// differently, which at worst calls an error box a panel's (or the other
/// way round), never panics.
pub fn error_box_outside_panel(html: &str) -> bool {
    let bytes = html.as_bytes();
    let Some(last) = ALERT_DANGER_REV.rfind(bytes) else {
        return false;
    };
    // (name, is a panel); the count of open panels saves walking the stack.
    let mut open: Vec<(&str, bool)> = Vec::new();
    let mut panels = 0usize;
    let mut at = 0;
    while at <= last {
        let Some(lt) = memchr::memchr(b'<', &bytes[at..]).map(|i| at + i) else {
            break;
        };
        let rest = &bytes[lt..];
        if rest.starts_with(b"<!--") {
            at = match COMMENT_END.find(&rest[4..]) {
                Some(i) => lt + 4 + i + 3,
                None => bytes.len(),
            };
        } else if rest.starts_with(b"</") {
            let (name, end) = tag_name(html, lt + 2);
            if let Some(i) = open.iter().rposition(|(n, _)| n.eq_ignore_ascii_case(name)) {
                panels -= open[i..].iter().filter(|(_, p)| *p).count();
                open.truncate(i);
            }
            at = skip_past(bytes, end, b'>');
        } else if rest.get(1).is_some_and(u8::is_ascii_alphabetic) {
            let (name, end) = tag_name(html, lt + 1);
            let tag = start_tag(html, end);
            if tag
                .classes
                .split_ascii_whitespace()
                .any(|c| c == "alert-danger")
                && tag.closed
                && panels == 0
            {
                return true;
            }
            at = tag.end;
            let is_void = VOID.iter().any(|v| v.eq_ignore_ascii_case(name));
            if RAW_TEXT.iter().any(|r| r.eq_ignore_ascii_case(name)) && !tag.self_closing {
                at = raw_text_end(bytes, at, name);
            } else if !is_void && !tag.self_closing {
                let panel = tag.classes.split_ascii_whitespace().any(|c| c == "panel");
                panels += usize::from(panel);
                open.push((name, panel));
            }
        } else {
            // `<!doctype …>`, `<?…>`, or a `<` in text.
            at = if rest.get(1).is_some_and(|b| matches!(b, b'!' | b'?')) {
                skip_past(bytes, lt, b'>')
            } else {
                lt + 1
            };
        }
    }
    false
}

/// The tag name starting at `from` (letters, digits, `-`, `:`) and where it
/// ends.
pub(crate) fn tag_name(html: &str, from: usize) -> (&str, usize) {
    let bytes = html.as_bytes();
    let len = bytes[from..]
        .iter()
        .take_while(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b':'))
        .count();
    (&html[from..from + len], from + len)
}

/// Just past the next `byte` at or after `from`, or the end of the page.
fn skip_past(bytes: &[u8], from: usize, byte: u8) -> usize {
    match memchr::memchr(byte, &bytes[from.min(bytes.len())..]) {
        Some(i) => from + i + 1,
        None => bytes.len(),
    }
}

/// What the tokenizer needs of a start tag.
#[derive(Debug, PartialEq)]
pub(crate) struct StartTag<'a> {
    /// The `class` attribute's value (the first one, as HTML says), or "".
    pub classes: &'a str,
    /// Written `<… />`.
    pub self_closing: bool,
    /// Just past the closing `>` (or the end of the page).
    pub end: usize,
    /// Closed by `>`. A tag cut off by the end of the page is no element
    /// (HTML drops it), so its classes do not count.
    pub closed: bool,
}

/// Read the attributes of a start tag whose name ended at `from`: quoted
/// values may hold `>`, names are compared without regard to case.
pub(crate) fn start_tag(html: &str, from: usize) -> StartTag<'_> {
    let bytes = html.as_bytes();
    let mut classes = None;
    let mut i = from;
    let mut self_closing = false;
    let mut closed = false;
    loop {
        while bytes.get(i).is_some_and(u8::is_ascii_whitespace) {
            i += 1;
        }
        match bytes.get(i) {
            None => break,
            Some(b'>') => {
                i += 1;
                closed = true;
                break;
            }
            Some(b'/') => {
                self_closing = bytes.get(i + 1) == Some(&b'>');
                i += 1;
                continue;
            }
            Some(_) => {}
        }
        self_closing = false;
        let name_start = i;
        while bytes
            .get(i)
            .is_some_and(|b| !b.is_ascii_whitespace() && !matches!(b, b'=' | b'>' | b'/'))
        {
            i += 1;
        }
        // An attribute name is at least one byte: a lone `=` counts as one.
        if i == name_start {
            i += 1;
        }
        let name = &html[name_start..i];
        while bytes.get(i).is_some_and(u8::is_ascii_whitespace) {
            i += 1;
        }
        if bytes.get(i) != Some(&b'=') {
            continue;
        }
        i += 1;
        while bytes.get(i).is_some_and(u8::is_ascii_whitespace) {
            i += 1;
        }
        let (value, next) = match bytes.get(i) {
            Some(&q @ (b'"' | b'\'')) => {
                let start = i + 1;
                let end = memchr::memchr(q, &bytes[start..]).map_or(bytes.len(), |e| start + e);
                (&html[start..end], (end + 1).min(bytes.len()))
            }
            _ => {
                let start = i;
                let len = bytes[start..]
                    .iter()
                    .take_while(|b| !b.is_ascii_whitespace() && **b != b'>')
                    .count();
                (&html[start..start + len], start + len)
            }
        };
        if classes.is_none() && name.eq_ignore_ascii_case("class") {
            classes = Some(value);
        }
        i = next;
    }
    StartTag {
        classes: classes.unwrap_or(""),
        self_closing,
        end: i,
        closed,
    }
}

/// Just past `</name …>` closing a raw-text element, or the end of the page.
fn raw_text_end(bytes: &[u8], from: usize, name: &str) -> usize {
    let mut at = from;
    while let Some(i) = memchr::memmem::find(&bytes[at..], b"</") {
        let tag = at + i + 2;
        let after = tag + name.len();
        if bytes
            .get(tag..after)
            .is_some_and(|n| n.eq_ignore_ascii_case(name.as_bytes()))
            && !bytes.get(after).is_some_and(u8::is_ascii_alphanumeric)
        {
            return skip_past(bytes, after, b'>');
        }
        at = tag;
    }
    bytes.len()
}
