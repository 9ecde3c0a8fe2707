//! The in-flight scan (`parse::Watch`) on arbitrary pages arriving in
//! arbitrary chunks: whatever it names while the page is still coming is
//! exactly the listing the whole page's fast reading puts first (never one
//! read from a form, title or price cut at the chunk's end), and once the
//! whole page is in, it names that listing if there is one.
//!
//! Input layout: the first two bytes choose the chunk size (1–4096), the
//! rest is the page, decoded lossily as the engine reads bodies.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pretix_race_core::parse;

fuzz_target!(|data: &[u8]| {
    let Some((size, page)) = data.split_first_chunk::<2>() else {
        return;
    };
    let chunk = (u16::from_le_bytes(*size) as usize % 4096).max(1);
    let html = String::from_utf8_lossy(page);
    let first = parse::fast::listings(&html).into_iter().next();

    let mut watch = parse::Watch::new();
    let mut n = 0;
    loop {
        n = (n + chunk).min(html.len());
        while !html.is_char_boundary(n) {
            n += 1;
        }
        if let Some(named) = watch.first_wanted(&html[..n], |_| true) {
            assert_eq!(Some(&named), first.as_ref(), "named at byte {n}");
            return;
        }
        if n == html.len() {
            assert_eq!(first, None, "the whole page is in and nothing was named");
            return;
        }
    }
});
