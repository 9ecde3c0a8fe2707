//! HTML the simulator serves, rendered from templates in `templates/`.
//!
//! The templates are trimmed copies of the captured reference pages: the
//! markup a client keys on (`panel panel-default`, `panel-title`,
//! `text-primary`, the absolute buy-form action, the hidden
//! `csrfmiddlewaretoken`, titles with pretix's odd whitespace) is kept as on
//! the live site, while stylesheets, scripts and modal dialogs are dropped.
//!
//! Templating is deliberately tiny: `{{name}}` placeholders filled by
//! [`fill`]. Every value that comes from a scenario or a request is escaped
//! with [`escape`] by the page functions below; the templates themselves are
//! trusted.

use std::time::SystemTime;

use chrono::{DateTime, Utc};

use super::i18n::Lang;
use super::market::{parse_cents, CartLine};

const LAYOUT: &str = include_str!("templates/layout.html");
const MARKETPLACE: &str = include_str!("templates/marketplace.html");
const LISTINGS: &str = include_str!("templates/listings.html");
const LISTING: &str = include_str!("templates/listing.html");
const NO_TICKETS: &str = include_str!("templates/no_tickets.html");
const INACTIVE: &str = include_str!("templates/inactive.html");
const UNAVAILABLE: &str = include_str!("templates/unavailable.html");
const CHECKOUT: &str = include_str!("templates/checkout.html");
const CART_ROW: &str = include_str!("templates/cart_row.html");
const EVENT: &str = include_str!("templates/event.html");
const EVENT_BUTTON: &str = include_str!("templates/event_marketplace_button.html");
const EVENT_ASIDE: &str = include_str!("templates/event_marketplace_aside.html");
const CSRF_FAILURE: &str = include_str!("templates/csrf_failure.html");
const NOT_FOUND: &str = include_str!("templates/not_found.html");
const PROXY_ERROR: &str = include_str!("templates/proxy_error.html");

/// Replaces each `{{name}}` in `template` with its value from `vars`.
/// Unknown placeholders render as nothing (a test checks that no template
/// uses a name its page function doesn't supply).
pub fn fill(template: &str, vars: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(template.len() + 256);
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            // A lone "{{" is text, not a placeholder.
            out.push_str(&rest[start..]);
            return out;
        };
        let name = &after[..end];
        if let Some((_, value)) = vars.iter().find(|(k, _)| *k == name) {
            out.push_str(value);
        }
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    out
}

/// Escapes text for HTML element content and double-quoted attributes.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#x27;"),
            c => out.push(c),
        }
    }
    out
}

/// Where the simulated shop lives: what every page needs to build links.
#[derive(Debug, Clone)]
pub struct Site {
    /// `https://127.0.0.1:PORT`
    pub base_url: String,
    /// `/org/event/`
    pub event_path: String,
    /// `Example Event`
    pub event_name: String,
    /// The one language the shop speaks.
    pub lang: Lang,
}

impl Site {
    pub fn event_url(&self) -> String {
        format!("{}{}", self.base_url, self.event_path)
    }
    pub fn marketplace_path(&self) -> String {
        format!("{}secondhand/", self.event_path)
    }
    pub fn checkout_start_path(&self) -> String {
        format!("{}checkout/start", self.event_path)
    }
    pub fn checkout_questions_path(&self) -> String {
        format!("{}checkout/questions/", self.event_path)
    }
    /// The buy form's action: absolute, like pretix builds it from its
    /// configured site URL.
    pub fn buy_url(&self, listing_id: &str) -> String {
        format!(
            "{}{}secondhand/buy/{}/",
            self.base_url, self.event_path, listing_id
        )
    }

    /// Fills `template` with `vars` and this shop's translations.
    fn fill(&self, template: &str, vars: &[(&str, &str)]) -> String {
        let mut all: Vec<(&str, &str)> = vars.to_vec();
        all.extend(self.lang.vars());
        all.push(("html_lang", self.lang.html_lang()));
        all.push(("locale", self.lang.code()));
        fill(template, &all)
    }

    /// Wraps page content in the shared pretix chrome. `next` is the current
    /// path (with query), used by the language switcher like on the site.
    fn layout(&self, title: &str, next: &str, content: &str) -> String {
        let now = unix_now();
        let locales = self.locales(next);
        self.fill(
            LAYOUT,
            &[
                ("locales", &locales),
                ("title", &escape(title)),
                ("event_name", &escape(&self.event_name)),
                ("now", &format!("{:.6}", now)),
                ("next", &escape(&next.replace('?', "%3F"))),
                ("event_url", &escape(&self.event_url())),
                ("content", content),
            ],
        )
    }
}

impl Site {
    /// The language switcher: the English shop offers English and German,
    /// like the captured one; the others offer only their own language.
    fn locales(&self, next: &str) -> String {
        let next = escape(&next.replace('?', "%3F"));
        let entry = |code: &str, label: &str, active: bool| {
            let class = if active { "active" } else { "" };
            format!(
                "                                <li><a href=\"/locale/set?locale={code}&next={next}\" class=\"{class}\" rel=\"nofollow\" lang=\"{code}\" hreflang=\"{code}\">{label}</a></li>\n"
            )
        };
        match self.lang {
            Lang::En => entry("en", "English", true) + &entry("de-informal", "Deutsch", false),
            Lang::De => entry("de", "Deutsch", true),
            Lang::Fr => entry("fr", "Français", true),
            Lang::Nl => entry("nl", "Nederlands", true),
        }
    }
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// The event's front page, with or without the marketplace link (`href`
/// already in the scenario's link style).
pub fn event_page(site: &Site, marketplace_href: Option<&str>, token: &str) -> String {
    let (button, aside) = match marketplace_href {
        Some(href) => {
            let href = escape(href);
            (
                site.fill(EVENT_BUTTON, &[("href", &href)]),
                site.fill(EVENT_ASIDE, &[("href", &href)]),
            )
        }
        None => (String::new(), String::new()),
    };
    let price = site.lang.money(9900, "EUR");
    site.fill(
        EVENT,
        &[
            ("price", &escape(&price)),
            ("event_name", &escape(&site.event_name)),
            ("event_url", &escape(&site.event_url())),
            ("token", token),
            ("marketplace_button", &button),
            ("marketplace_aside", &aside),
        ],
    )
}

/// One listing as shown on the marketplace page.
#[derive(Debug, Clone)]
pub struct ShownListing<'a> {
    pub id: &'a str,
    pub ticket_type: &'a str,
    pub price: &'a str,
    pub currency: &'a str,
    /// A freshly masked CSRF token for this form.
    pub token: String,
}

/// The marketplace filter form's state and choices.
#[derive(Debug, Clone, Default)]
pub struct Filter<'a> {
    /// `(value, label)` of every product in the item drop-down.
    pub items: Vec<(String, String)>,
    pub selected_item: Option<&'a str>,
    pub selected_sort: Option<&'a str>,
}

/// `sort` values the site offers, with the keys of their labels.
pub const SORTS: [(&str, &str); 4] = [
    ("price_asc", "t_sort_price_asc"),
    ("price_desc", "t_sort_price_desc"),
    ("newest", "t_sort_newest"),
    ("oldest", "t_sort_oldest"),
];

fn option(value: &str, label: &str, selected: bool) -> String {
    let sel = if selected { " selected" } else { "" };
    format!(
        "  <option value=\"{}\"{sel}>{}</option>\n",
        escape(value),
        escape(label)
    )
}

/// The marketplace: listings, or the "No tickets available" notice when
/// `listings` is empty.
pub fn marketplace_page(
    site: &Site,
    next: &str,
    filter: &Filter<'_>,
    listings: &[ShownListing<'_>],
) -> String {
    let selected_item = filter.selected_item.filter(|i| !i.is_empty());
    let lang = site.lang;
    let mut item_options = option("", lang.text("t_all_tickets"), selected_item.is_none());
    for (value, label) in &filter.items {
        item_options.push('\n');
        item_options.push_str(&option(value, label, selected_item == Some(value)));
    }
    let sort_options = SORTS
        .iter()
        .map(|(value, label)| option(value, lang.text(label), filter.selected_sort == Some(value)))
        .collect::<Vec<_>>()
        .join("\n");

    let results = if listings.is_empty() {
        site.fill(NO_TICKETS, &[])
    } else {
        let listed = Utc::now().format("%Y-%m-%d").to_string();
        let panels: String = listings
            .iter()
            .map(|l| {
                let money = parse_cents(l.price)
                    .map(|c| lang.listing_money(c, l.currency))
                    .unwrap_or_else(|| format!("{} {}", l.price, l.currency));
                site.fill(
                    LISTING,
                    &[
                        ("ticket_type", &escape(l.ticket_type)),
                        ("money", &escape(&money)),
                        ("listed", &listed),
                        ("action", &escape(&site.buy_url(l.id))),
                        ("token", &l.token),
                    ],
                )
            })
            .collect();
        fill(LISTINGS, &[("panels", &panels)])
    };
    let content = site.fill(
        MARKETPLACE,
        &[
            ("item_options", &item_options),
            ("sort_options", &sort_options),
            ("results", &results),
        ],
    );
    site.layout(lang.text("t_marketplace"), next, &content)
}

/// The page shown while the marketplace is switched off (HTTP 200).
pub fn inactive_page(site: &Site, next: &str) -> String {
    let price = site.lang.money(9900, "EUR");
    let content = site.fill(INACTIVE, &[("price", &escape(&price))]);
    site.layout(site.lang.text("t_inactive"), next, &content)
}

/// The page for a lost race (HTTP 200).
pub fn unavailable_page(site: &Site, next: &str) -> String {
    let back = escape(&format!("{}{}", site.base_url, site.marketplace_path()));
    let content = site.fill(UNAVAILABLE, &[("marketplace_url", &back)]);
    site.layout(site.lang.text("t_unavailable_title"), next, &content)
}

/// Checkout step 1 for a non-empty cart. The deadline shown is the earliest
/// expiry of the cart's positions.
pub fn checkout_page(site: &Site, next: &str, cart: &[CartLine], token: &str) -> String {
    let now = SystemTime::now();
    let deadline = cart.iter().map(|l| l.expires).min().unwrap_or(now);
    let remaining = deadline.duration_since(now).unwrap_or_default().as_secs();
    let expires = DateTime::<Utc>::from(deadline)
        .format("%Y-%m-%d %H:%M:%S%z")
        .to_string();

    let rows: String = cart
        .iter()
        .enumerate()
        .map(|(i, line)| {
            // "Ticket – Type A" is product "Ticket", variation "Type A".
            let (product, variation) = match line.ticket_type.split_once(" – ") {
                Some((p, v)) => (
                    p,
                    format!("\n                                    – {}", escape(v)),
                ),
                None => (line.ticket_type.as_str(), String::new()),
            };
            let price = parse_cents(&line.price)
                .map(|c| site.lang.money(c, &line.currency))
                .unwrap_or_else(|| format!("{} {}", line.price, line.currency));
            site.fill(
                CART_ROW,
                &[
                    ("item", &escape(&line.item)),
                    ("position", &(i + 1).to_string()),
                    ("product", &escape(product)),
                    ("variation", &variation),
                    ("price", &escape(&price)),
                ],
            )
        })
        .collect();
    let total: i64 = cart.iter().filter_map(|l| parse_cents(&l.price)).sum();
    let currency = cart.first().map(|l| l.currency.as_str()).unwrap_or("EUR");
    let lang = site.lang;
    let product_count = match cart.len() {
        1 => lang.text("t_one_product").to_owned(),
        n => lang.text("t_products_n").replace("{n}", &n.to_string()),
    };
    let reserved = lang
        .text("t_reserved")
        .replace("{n}", &(remaining / 60).to_string());
    let content = site.fill(
        CHECKOUT,
        &[
            ("expires", &expires),
            (
                "countdown",
                &format!("{:02}:{:02}", remaining / 60, remaining % 60),
            ),
            ("reserved", &escape(&reserved)),
            ("row_count", &(cart.len() + 2).to_string()),
            ("cart_rows", &rows),
            ("product_count", &product_count),
            ("total", &escape(&lang.money(total, currency))),
            ("event_url", &escape(&site.event_url())),
            ("token", token),
        ],
    );
    let title = format!(
        "{} –\n    {}\n",
        lang.text("t_step_title"),
        lang.text("t_checkout")
    );
    site.layout(&title, next, &content)
}

/// Django's CSRF failure page (HTTP 403), in the shop's language.
pub fn csrf_failure_page(site: &Site, reason: &str) -> String {
    site.fill(CSRF_FAILURE, &[("reason", &escape(reason))])
}

/// A plain 404 page.
pub fn not_found_page() -> String {
    NOT_FOUND.to_owned()
}

/// openresty's error page, e.g. `429 Too Many Requests`.
pub fn proxy_error_page(status_line: &str) -> String {
    fill(PROXY_ERROR, &[("status", &escape(status_line))])
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn site() -> Site {
        Site {
            base_url: "https://127.0.0.1:1".into(),
            event_path: "/o/e/".into(),
            event_name: "Example Event".into(),
            lang: Lang::En,
        }
    }

    #[test]
    fn fill_replaces_known_and_drops_unknown() {
        assert_eq!(fill("a{{x}}b{{y}}c{{", &[("x", "1")]), "a1bc{{");
        assert_eq!(fill("{{x}}{{x}}", &[("x", "<")]), "<<");
    }

    #[test]
    fn escape_covers_html_specials() {
        assert_eq!(
            escape(r#"<a href="x">&'"#),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#x27;"
        );
    }

    #[test]
    fn prices_parse_to_cents() {
        assert_eq!(parse_cents("190.00"), Some(19000));
        assert_eq!(parse_cents("5.5"), Some(550));
        assert_eq!(parse_cents("42"), Some(4200));
        assert_eq!(parse_cents("1.234"), None);
        assert_eq!(parse_cents("abc"), None);
        assert_eq!(parse_cents("-1.00"), None);
    }

    /// Every page renders with no placeholder left over.
    #[test]
    fn no_placeholder_survives_rendering() {
        let s = site();
        let listing = ShownListing {
            id: "abcdefghijklmnop",
            ticket_type: "Ticket – Type A",
            price: "190.00",
            currency: "EUR",
            token: "t".repeat(64),
        };
        let filter = Filter {
            items: vec![("965".into(), "Ticket".into())],
            selected_item: Some("965"),
            selected_sort: Some("price_desc"),
        };
        let cart = [CartLine {
            listing_id: "abcdefghijklmnop".into(),
            ticket_type: "Ticket – Type A".into(),
            price: "190.00".into(),
            currency: "EUR".into(),
            item: "965".into(),
            expires: SystemTime::now() + Duration::from_secs(600),
        }];
        let pages = [
            event_page(&s, Some("secondhand/"), "tok"),
            event_page(&s, None, "tok"),
            marketplace_page(&s, "/o/e/secondhand/", &filter, &[listing]),
            marketplace_page(&s, "/o/e/secondhand/", &Filter::default(), &[]),
            inactive_page(&s, "/o/e/secondhand/"),
            unavailable_page(&s, "/o/e/secondhand/buy/x/"),
            checkout_page(&s, "/o/e/checkout/questions/", &cart, "tok"),
            csrf_failure_page(&s, "why"),
            not_found_page(),
            proxy_error_page("429 Too Many Requests"),
        ];
        for page in pages {
            assert!(!page.contains("{{"), "unfilled placeholder in:\n{page}");
        }
    }

    /// A German, French or Dutch shop shows none of the English words a
    /// client might key on, and writes money its own way.
    #[test]
    fn other_languages_render_without_english_markers() {
        let cart = [CartLine {
            listing_id: "x".into(),
            ticket_type: "Ticket – Type A".into(),
            price: "1234.50".into(),
            currency: "EUR".into(),
            item: "965".into(),
            expires: SystemTime::now() + Duration::from_secs(600),
        }];
        let listing = ShownListing {
            id: "abcdefghijklmnop",
            ticket_type: "Ticket – Type A",
            price: "90.00",
            currency: "EUR",
            token: "t".repeat(64),
        };
        for (lang, money) in [
            (Lang::De, "1.234,50 €"),
            (Lang::Fr, "1\u{202f}234,50\u{202f}€"),
            (Lang::Nl, "€ 1.234,50"),
        ] {
            let s = Site { lang, ..site() };
            let pages = [
                marketplace_page(&s, "/", &Filter::default(), std::slice::from_ref(&listing)),
                marketplace_page(&s, "/", &Filter::default(), &[]),
                inactive_page(&s, "/"),
                unavailable_page(&s, "/"),
                checkout_page(&s, "/", &cart, "tok"),
                csrf_failure_page(&s, "why"),
                event_page(&s, Some("secondhand/"), "tok"),
            ];
            for page in &pages {
                for english in [
                    "Your cart",
                    "Step 1 of",
                    "No tickets available",
                    "not currently active",
                    "Ticket unavailable",
                    "CSRF verification failed",
                    "Marketplace",
                    "English",
                ] {
                    assert!(
                        !page.contains(english),
                        "{lang:?} shows {english:?}:\n{page}"
                    );
                }
                assert!(
                    page.contains(&format!("lang=\"{}\"", lang.html_lang())),
                    "{lang:?}"
                );
            }
            assert!(
                pages[4].contains(&format!("<strong>{money}</strong>")),
                "{lang:?}"
            );
            assert!(
                pages[0].contains(&lang.listing_money(9000, "EUR")),
                "{lang:?}"
            );
        }
    }

    #[test]
    fn checkout_shows_cart_in_site_format() {
        let cart = [CartLine {
            listing_id: "x".into(),
            ticket_type: "Ticket – Type A".into(),
            price: "190.00".into(),
            currency: "EUR".into(),
            item: "965".into(),
            expires: SystemTime::now() + Duration::from_secs(600),
        }];
        let page = checkout_page(&site(), "/", &cart, "tok");
        assert!(page.contains("Step 1 of 3: Your information"));
        assert!(page.contains("<strong>Your cart</strong>"));
        assert!(page.contains("<strong>190,00 €</strong>"));
        assert!(page.contains("– Type A"));
        assert!(page.contains("One product"));
        assert!(page.contains("data-expires=\""));
    }
}
