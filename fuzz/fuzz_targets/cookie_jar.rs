//! The cookie jar on arbitrary `Set-Cookie` headers.
//!
//! Input layout: first line is the response URL, each further line one
//! `Set-Cookie` header from that response. After storing them, the jar must
//! answer `header_for` (the next request's `Cookie` header) and `snapshot`
//! (the handoff) without panicking, and never hand a cookie to another host.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pretix_race_core::cookies::Jar;
use url::Url;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut lines = text.lines();
    let Some(Ok(url)) = lines.next().map(|l| Url::parse(l.trim())) else {
        return;
    };
    let jar = Jar::new();
    for header in lines {
        jar.store(header, &url);
    }
    let _ = jar.header_for(&url);
    for cookie in jar.snapshot() {
        let _ = cookie.pair();
        let _ = cookie.to_chrome_set(url.origin().ascii_serialization().as_str());
    }
    // A host outside the response's domain gets nothing. (A response from
    // `*.invalid` could legitimately set `Domain=invalid`: skip those.)
    let other = Url::parse("https://unrelated.invalid/").expect("constant");
    let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
    if !host.trim_end_matches('.').ends_with("invalid") {
        assert!(
            jar.header_for(&other).is_none(),
            "cookie leaked to another host"
        );
    }
});
