//! From the event page to the marketplace, the way a person gets there.
//!
//! We never jump straight to a deep `/secondhand/` URL: we open the event
//! page (which also gives us a session, like any visitor), look for the
//! "Marketplace" link and follow it. Shops write that link as an absolute,
//! root-relative or relative href; all are resolved against the page's URL.

use std::sync::LazyLock;

use pretix_race_shared::Filters;
use scraper::{Html, Selector};
use url::Url;

static LINKS: LazyLock<Selector> =
    LazyLock::new(|| Selector::parse("a[href]").expect("valid selector"));

/// Force the link selector (part of [`crate::parse::warm_up`]).
pub(crate) fn warm_up() {
    LazyLock::force(&LINKS);
}

/// The marketplace URL linked from the event page at `page`, if any. Only
/// links into the same shop (same origin) count.
pub fn marketplace_link(html: &str, page: &Url) -> Option<Url> {
    let doc = Html::parse_document(html);
    doc.select(&LINKS)
        .filter_map(|a| a.value().attr("href"))
        .map(str::trim)
        .filter(|href| href.contains("secondhand/"))
        .filter_map(|href| page.join(href).ok())
        .find(|url| url.origin() == page.origin())
        .map(|mut url| {
            url.set_fragment(None);
            url
        })
}

/// The URL we poll: the marketplace plus the shop-side filters
/// (`?item=`, `?sort=`), keeping any query the link already had.
pub fn poll_url(marketplace: &Url, filters: &Filters) -> Url {
    let mut url = marketplace.clone();
    let extra: Vec<(&str, String)> = [
        filters.item.as_ref().map(|i| ("item", i.clone())),
        filters.sort.map(|s| ("sort", s.as_param().to_string())),
    ]
    .into_iter()
    .flatten()
    .collect();
    if !extra.is_empty() {
        let kept: Vec<(String, String)> = url
            .query_pairs()
            .filter(|(k, _)| k != "item" && k != "sort")
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        let mut q = url.query_pairs_mut();
        q.clear();
        for (k, v) in &kept {
            q.append_pair(k, v);
        }
        for (k, v) in &extra {
            q.append_pair(k, v);
        }
    }
    url
}

/// Is `url` (where a response sent us) the marketplace, or somewhere else?
pub fn is_marketplace(url: &Url) -> bool {
    url.path().contains("/secondhand/")
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretix_race_shared::SortOrder;

    fn fixture(name: &str) -> String {
        std::fs::read_to_string(format!(
            "{}/../../sample-responses/{name}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap()
    }

    #[test]
    fn finds_absolute_root_relative_and_relative_links() {
        let page = Url::parse("https://tickets.example.com/event/").unwrap();
        for f in [
            "sample_event_page.html",
            "sample_event_page_root_relative.html",
            "sample_event_page_relative.html",
        ] {
            assert_eq!(
                marketplace_link(&fixture(f), &page).unwrap().as_str(),
                "https://tickets.example.com/event/secondhand/",
                "{f}"
            );
        }
        assert_eq!(
            marketplace_link(&fixture("sample_event_page_no_marketplace.html"), &page),
            None
        );
    }

    #[test]
    fn ignores_foreign_links() {
        let page = Url::parse("https://tickets.example.com/event/").unwrap();
        let html = r#"<a href="https://evil.example/event/secondhand/">x</a>"#;
        assert_eq!(marketplace_link(html, &page), None);
    }

    #[test]
    fn poll_url_carries_filters() {
        let m = Url::parse("https://h.example/o/e/secondhand/").unwrap();
        assert_eq!(poll_url(&m, &Filters::default()), m);
        let f = Filters {
            item: Some("965".into()),
            sort: Some(SortOrder::PriceAsc),
            ..Filters::default()
        };
        assert_eq!(
            poll_url(&m, &f).as_str(),
            "https://h.example/o/e/secondhand/?item=965&sort=price_asc"
        );
        let with_q = Url::parse("https://h.example/o/e/secondhand/?sort=newest&x=1").unwrap();
        assert_eq!(
            poll_url(&with_q, &f).as_str(),
            "https://h.example/o/e/secondhand/?x=1&item=965&sort=price_asc"
        );
    }

    #[test]
    fn poll_url_without_filters_leaves_the_link_alone() {
        let q = Url::parse("https://h.example/o/e/secondhand/?sort=newest&item=1&x=1").unwrap();
        assert_eq!(poll_url(&q, &Filters::default()), q);
    }

    #[test]
    fn each_filter_replaces_only_its_own_parameter() {
        let q = Url::parse("https://h.example/o/e/secondhand/?item=1&sort=newest&x=1").unwrap();
        let item_only = Filters {
            item: Some("965".into()),
            ..Filters::default()
        };
        assert_eq!(
            poll_url(&q, &item_only).as_str(),
            "https://h.example/o/e/secondhand/?x=1&item=965"
        );
        let sort_only = Filters {
            sort: Some(SortOrder::Oldest),
            ..Filters::default()
        };
        assert_eq!(
            poll_url(&q, &sort_only).as_str(),
            "https://h.example/o/e/secondhand/?x=1&sort=oldest"
        );
        // Our own filters (price, type) never reach the shop.
        let ours = Filters {
            max_price: Some(10.0),
            ticket_type: Some("vip".into()),
            ..Filters::default()
        };
        assert_eq!(poll_url(&q, &ours), q);
    }

    #[test]
    fn fragment_is_dropped_and_same_origin_means_scheme_host_and_port() {
        let page = Url::parse("https://tickets.example.com/event/").unwrap();
        let html = r##"<a href="secondhand/#top">Marketplace</a>"##;
        assert_eq!(
            marketplace_link(html, &page).unwrap().as_str(),
            "https://tickets.example.com/event/secondhand/"
        );
        for foreign in [
            "http://tickets.example.com/event/secondhand/",
            "https://tickets.example.com:8443/event/secondhand/",
            "https://sub.tickets.example.com/event/secondhand/",
        ] {
            let html = format!(r#"<a href="{foreign}">x</a>"#);
            assert_eq!(marketplace_link(&html, &page), None, "{foreign}");
        }
        // A foreign link first does not hide our own one after it.
        let html = r#"<a href="https://evil.example/event/secondhand/">x</a>
                      <a href=" /event/secondhand/ ">y</a><a href="/other/">z</a>"#;
        assert_eq!(
            marketplace_link(html, &page).unwrap().as_str(),
            "https://tickets.example.com/event/secondhand/"
        );
    }

    #[test]
    fn marketplace_is_a_secondhand_path_segment() {
        for yes in [
            "https://h/o/e/secondhand/",
            "https://h/o/e/secondhand/?item=1",
            "https://h/e/secondhand/x/",
        ] {
            assert!(is_marketplace(&Url::parse(yes).unwrap()), "{yes}");
        }
        for no in [
            "https://h/o/e/",
            "https://h/o/e/secondhand",
            "https://h/o/e/mysecondhand/",
            "https://h/o/e/?next=/secondhand/",
        ] {
            assert!(!is_marketplace(&Url::parse(no).unwrap()), "{no}");
        }
    }
}
