//! Reading a marketplace page while it is still arriving.
//!
//! The buy POST does not have to wait for the page's footer: pretix renders
//! each listing as one `panel panel-default` block with its title, its price
//! and then its buy form, so once the form's token input has arrived, that
//! listing is complete. [`Watch`] is fed the page so far after every chunk
//! and names the first complete listing the caller wants; the caller fires
//! the POST at once and reads the rest of the page as usual.
//!
//! Only the fast path reads a page in flight (the `scraper` fallback needs
//! the whole document), and what it finds is exactly what [`super::fast`]
//! finds on the whole page for the same panel: the first buy form of the
//! panel, its first title and price headings. A panel cut in the middle of
//! any of those is not a listing *yet*; it is looked at again with the next
//! chunk. The whole page is still classified once it is in; a listing that
//! was fired at early is simply the first one tried.

use super::fast;
use super::Listing;

/// The `panel panel-default` marker, less its last byte: a marker cut at
/// the end of the page so far starts no later than this many bytes from it.
const MARKER_TAIL: usize = "panel panel-default".len() - 1;

/// Follows one page as it arrives. Each call looks only at panels that
/// were not yet complete, so a page of `n` bytes costs O(`n`) over all its
/// chunks, whatever their number.
#[derive(Debug, Default, Clone)]
pub struct Watch {
    /// Where the next look starts: the start of the last panel seen (it may
    /// have been cut), or just before the end of the last prefix when it
    /// held no panel marker.
    from: usize,
}

impl Watch {
    pub fn new() -> Watch {
        Watch::default()
    }

    /// The first complete listing in `prefix` (the page so far; each call
    /// must pass a longer or equal prefix of the same page) that `want`
    /// accepts, among the panels not yet passed over.
    pub fn first_wanted(
        &mut self,
        prefix: &str,
        mut want: impl FnMut(&Listing) -> bool,
    ) -> Option<Listing> {
        let from = self.from.min(prefix.len());
        let rest = prefix.get(from..)?;
        let mut last_start = None;
        for (start, piece) in fast::pieces(rest) {
            last_start = Some(from + start);
            if let Some(listing) = fast::panel(piece) {
                if want(&listing) {
                    return Some(listing);
                }
            }
        }
        self.from = match last_start {
            // The last panel may still grow (a later chunk completes it).
            Some(start) => start,
            // No marker: one may be cut at the end; start a little before.
            None => floor_boundary(prefix, prefix.len().saturating_sub(MARKER_TAIL)).max(from),
        };
        None
    }
}

/// The largest char boundary of `s` at or below `at`.
fn floor_boundary(s: &str, at: usize) -> usize {
    (0..=at.min(s.len()))
        .rev()
        .find(|&i| s.is_char_boundary(i))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::fast;

    fn fixture(name: &str) -> String {
        let path = format!(
            "{}/../../sample-responses/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {path}: {e}"))
    }

    /// Where the listing's buy form is complete: just past the `">` that
    /// closes its token input.
    fn form_end(page: &str, token: &str) -> usize {
        let at = page.find(token).expect("token in page");
        at + token.len() + 2
    }

    #[test]
    fn a_listing_is_named_exactly_when_its_buy_form_is_complete() {
        let page = fixture("sample_ticket_type_a.html");
        let whole = fast::listings(&page);
        assert_eq!(whole.len(), 1);
        let end = form_end(&page, &whole[0].csrf_token);
        // Every cut around the form, and a sample of the rest of the page.
        let cuts = (end.saturating_sub(600)..(end + 50).min(page.len()))
            .chain((0..page.len()).step_by(211))
            .chain([page.len()]);
        for n in cuts.filter(|&n| page.is_char_boundary(n)) {
            let got = Watch::new().first_wanted(&page[..n], |_| true);
            if n >= end {
                assert_eq!(got.as_ref(), Some(&whole[0]), "cut at {n}");
            } else {
                assert_eq!(got, None, "cut at {n} (form complete at {end})");
            }
        }
    }

    #[test]
    fn fed_in_chunks_it_fires_on_the_first_chunk_that_completes_the_form() {
        let page = fixture("sample_ticket_type_a.html");
        let whole = fast::listings(&page);
        let end = form_end(&page, &whole[0].csrf_token);
        for chunk in [1, 7, 19, 1024, 4096, 16_384] {
            let mut watch = Watch::new();
            let mut fired = None;
            let mut n = 0;
            while n < page.len() {
                n = (n + chunk).min(page.len());
                while !page.is_char_boundary(n) {
                    n += 1;
                }
                if let Some(l) = watch.first_wanted(&page[..n], |_| true) {
                    fired = Some((n, l));
                    break;
                }
            }
            let (at, listing) = fired.unwrap_or_else(|| panic!("chunks of {chunk}: never fired"));
            assert_eq!(listing, whole[0], "chunks of {chunk}");
            assert!(
                at >= end && at < end + chunk + 4,
                "chunks of {chunk}: fired at {at}, form ends at {end}"
            );
        }
    }

    #[test]
    fn listings_the_caller_does_not_want_are_passed_over_in_page_order() {
        let page = fixture("sample_several_listings.html");
        let whole = fast::listings(&page);
        assert!(whole.len() >= 2, "fixture has several listings");
        let mut watch = Watch::new();
        let second = watch.first_wanted(&page, |l| l.form_action != whole[0].form_action);
        assert_eq!(second.as_ref(), Some(&whole[1]));
        let mut asked = Vec::new();
        let none = Watch::new().first_wanted(&page, |l| {
            asked.push(l.form_action.clone());
            false
        });
        assert_eq!(none, None);
        let expected: Vec<_> = whole.iter().map(|l| l.form_action.clone()).collect();
        assert_eq!(asked, expected);
    }

    #[test]
    fn a_panel_marker_cut_between_chunks_is_still_found() {
        let page = fixture("sample_ticket_type_a.html");
        let whole = fast::listings(&page);
        let marker = page.find("panel panel-default").expect("marker");
        let mut watch = Watch::new();
        // Cut inside the marker, then a cut with no marker at all, then the rest.
        for n in [marker + 5, marker + 11] {
            assert_eq!(watch.first_wanted(&page[..n], |_| true), None);
        }
        assert_eq!(watch.first_wanted(&page, |_| true).as_ref(), whole.first());
    }

    #[test]
    fn a_panel_whose_price_follows_its_form_waits_for_the_price() {
        let panel = concat!(
            r#"<div class="panel panel-default"><h3 class="panel-title">Ticket</h3>"#,
            r#"<form method="post" action="/o/e/secondhand/buy/abc/">"#,
            r#"<input type="hidden" name="csrfmiddlewaretoken" value="tok">"#,
            r#"</form><h2 class="text-primary">12.00 EUR</h2></div>"#
        );
        let before_price = panel.find("<h2").expect("price");
        let mut watch = Watch::new();
        assert_eq!(
            watch.first_wanted(&panel[..before_price + 30], |_| true),
            None
        );
        let got = watch.first_wanted(panel, |_| true).expect("complete panel");
        assert_eq!(got.price_text, "12.00 EUR");
        assert_eq!(got.form_action, "/o/e/secondhand/buy/abc/");
        assert_eq!(got.csrf_token, "tok");
    }

    #[test]
    fn looks_restart_near_the_end_and_respect_char_boundaries() {
        assert_eq!(floor_boundary("abc", 2), 2);
        assert_eq!(floor_boundary("abc", 9), 3);
        // 'é' is two bytes: 1..3.
        assert_eq!(floor_boundary("aé", 2), 1);
        assert_eq!(floor_boundary("", 0), 0);
        let mut watch = Watch::new();
        let text = "x".repeat(100) + "é";
        assert_eq!(watch.first_wanted(&text, |_| true), None);
        // The marker is 19 bytes: a cut one starts at most 18 before the end.
        assert_eq!(watch.from, 102 - 18);
        // A shorter prefix than before (never passed by a caller) is harmless.
        assert_eq!(watch.first_wanted("x", |_| true), None);
    }
}
