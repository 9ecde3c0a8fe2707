//! End-to-end tests of the simulator over real TLS, with reqwest as the
//! client. They pin down the behaviour other tests rely on: if the
//! simulator got lenient, client tests against it would prove nothing.
//!
//! Timing is scripted with `Trigger::AfterPolls`, never with sleeps.

use std::collections::BTreeMap;
use std::time::Duration;

use regex::Regex;
use reqwest::header::{HeaderMap, LOCATION, RETRY_AFTER, SET_COOKIE};
use reqwest::{StatusCode, Version};

use super::csrf;
use super::*;

const A: &str = "a1b2c3d4e5f6g7h8";
const B: &str = "b8g7h6f5e4d3c2b1";

fn scenario_with(listings: Vec<ScriptedListing>) -> Scenario {
    Scenario {
        listings,
        ..Scenario::new("org", "event")
    }
}

fn type_a() -> ScriptedListing {
    ScriptedListing::new(A, "Ticket – Type A", "190.00")
}

fn type_b() -> ScriptedListing {
    ScriptedListing::new(B, "Ticket – Type B", "220.00")
}

fn client_builder(server: &SimServer) -> reqwest::ClientBuilder {
    let cert = reqwest::Certificate::from_pem(server.cert_pem().as_bytes()).expect("cert");
    reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(cert)
        .redirect(reqwest::redirect::Policy::none())
}

/// What a response looked like.
struct Page {
    status: StatusCode,
    version: Version,
    headers: HeaderMap,
    body: String,
}

impl Page {
    fn set_cookies(&self) -> Vec<&str> {
        self.headers
            .get_all(SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect()
    }
    fn location(&self) -> Option<&str> {
        self.headers.get(LOCATION).and_then(|v| v.to_str().ok())
    }
    fn title(&self) -> String {
        let re = Regex::new(r"(?s)<title>(.*?)</title>").unwrap();
        let raw = re
            .captures(&self.body)
            .map(|c| c[1].to_owned())
            .unwrap_or_default();
        raw.split_whitespace().collect::<Vec<_>>().join(" ")
    }
    /// `(form action, csrf token)` of every buy form.
    fn buy_forms(&self) -> Vec<(String, String)> {
        let re = Regex::new(
            r#"(?s)<form method="post"\s+action="([^"]*/secondhand/buy/[^"]*)">\s*<input type="hidden" name="csrfmiddlewaretoken" value="([^"]*)">"#,
        )
        .unwrap();
        re.captures_iter(&self.body)
            .map(|c| (c[1].to_owned(), c[2].to_owned()))
            .collect()
    }
}

/// A minimal browser with a hand-kept cookie jar, so tests can tamper with
/// cookies and headers. (One test below uses reqwest's own cookie store.)
struct Browser {
    http: reqwest::Client,
    base: String,
    jar: BTreeMap<String, String>,
}

impl Browser {
    fn new(server: &SimServer) -> Self {
        Browser {
            http: client_builder(server).build().unwrap(),
            base: server.base_url(),
            jar: BTreeMap::new(),
        }
    }

    fn url(&self, path_or_url: &str) -> String {
        if path_or_url.starts_with("https://") {
            path_or_url.to_owned()
        } else {
            format!("{}{}", self.base, path_or_url)
        }
    }

    fn cookie_header(&self) -> String {
        self.jar
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    async fn send(&mut self, request: reqwest::RequestBuilder) -> Page {
        let request = if self.jar.is_empty() {
            request
        } else {
            request.header("cookie", self.cookie_header())
        };
        let response = request.send().await.expect("request");
        let page = Page {
            status: response.status(),
            version: response.version(),
            headers: response.headers().clone(),
            body: response.text().await.expect("body"),
        };
        for c in page.set_cookies() {
            let (name, rest) = c.split_once('=').unwrap();
            let value = rest.split(';').next().unwrap();
            self.jar.insert(name.to_owned(), value.to_owned());
        }
        page
    }

    async fn get(&mut self, path_or_url: &str) -> Page {
        let req = self.http.get(self.url(path_or_url));
        self.send(req).await
    }

    /// POSTs a buy form the way a browser does: urlencoded, with `Origin`
    /// and a same-origin `Referer`.
    async fn buy(&mut self, action: &str, token: &str) -> Page {
        let origin = self.base.clone();
        let referer = format!("{}/org/event/secondhand/", self.base);
        self.post(action, token, Some(&origin), Some(&referer))
            .await
    }

    async fn post(
        &mut self,
        action: &str,
        token: &str,
        origin: Option<&str>,
        referer: Option<&str>,
    ) -> Page {
        let mut req = self
            .http
            .post(self.url(action))
            .form(&[("csrfmiddlewaretoken", token)]);
        if let Some(o) = origin {
            req = req.header("origin", o);
        }
        if let Some(r) = referer {
            req = req.header("referer", r);
        }
        self.send(req).await
    }

    /// Event page, then marketplace: a session and the marketplace page.
    async fn arrive(&mut self) -> Page {
        let event = self.get("/org/event/").await;
        assert_eq!(event.status, StatusCode::OK);
        self.get("/org/event/secondhand/").await
    }
}

async fn start(scenario: Scenario) -> SimServer {
    SimServer::start(scenario).await.expect("server starts")
}

async fn wait(server: &SimServer, pred: impl Fn(&RecordedRequest) -> bool) -> RecordedRequest {
    tokio::time::timeout(Duration::from_secs(10), server.wait_for_request(pred))
        .await
        .expect("request within 10 s")
}

fn assert_csrf_failure(page: &Page) {
    assert_eq!(page.status, StatusCode::FORBIDDEN, "{}", page.body);
    assert_eq!(page.title(), "403 Forbidden");
    assert!(page
        .body
        .contains("CSRF verification failed. Request aborted."));
}

#[tokio::test]
async fn http2_is_negotiated_and_recorded() {
    let server = start(Scenario::new("org", "event")).await;
    let mut h2 = Browser::new(&server);
    assert_eq!(h2.get("/org/event/").await.version, Version::HTTP_2);

    let mut h1 = Browser::new(&server);
    h1.http = client_builder(&server).http1_only().build().unwrap();
    assert_eq!(h1.get("/org/event/").await.version, Version::HTTP_11);

    let versions: Vec<String> = server.requests().into_iter().map(|r| r.version).collect();
    assert_eq!(versions, ["HTTP/2.0", "HTTP/1.1"]);
}

#[tokio::test]
async fn first_visit_sets_the_three_cookies_with_live_attributes() {
    let server = start(Scenario::new("org", "event")).await;
    let mut b = Browser::new(&server);
    let page = b.get("/org/event/").await;
    let cookies = page.set_cookies();
    assert_eq!(cookies.len(), 3, "{cookies:?}");
    let csrf_re = Regex::new(
        r"^__Host-pretix_csrftoken=[A-Za-z0-9]{32}; expires=\w{3}, \d{2} \w{3} \d{4} \d{2}:\d{2}:\d{2} GMT; Max-Age=31449600; Partitioned; Path=/; SameSite=None; Secure$",
    )
    .unwrap();
    let session_re = Regex::new(
        r"^__Host-pretix_session=[a-z0-9]{32}; expires=\w{3}, \d{2} \w{3} \d{4} \d{2}:\d{2}:\d{2} GMT; HttpOnly; Max-Age=1209600; Partitioned; Path=/; SameSite=None; Secure$",
    )
    .unwrap();
    let proxy_re =
        Regex::new(r"^__QXSESSION=[0-9a-f]{32}; Path=/; Secure; HttpOnly; SameSite=Lax$").unwrap();
    assert!(csrf_re.is_match(cookies[0]), "{}", cookies[0]);
    assert!(session_re.is_match(cookies[1]), "{}", cookies[1]);
    assert!(proxy_re.is_match(cookies[2]), "{}", cookies[2]);

    // Back with the cookies: no new session, only the csrftoken renewed
    // (Django re-sends it on every page that embeds a token).
    let secret = b.jar["__Host-pretix_csrftoken"].clone();
    let again = b.get("/org/event/").await;
    let cookies = again.set_cookies();
    assert_eq!(cookies.len(), 1, "{cookies:?}");
    assert!(cookies[0].starts_with(&format!("__Host-pretix_csrftoken={secret};")));
}

#[tokio::test]
async fn link_styles_and_late_link() {
    for (style, href) in [
        (LinkStyle::Absolute, None),
        (LinkStyle::RootRelative, Some("/org/event/secondhand/")),
        (LinkStyle::Relative, Some("secondhand/")),
    ] {
        let server = start(Scenario {
            link_style: style,
            ..Scenario::new("org", "event")
        })
        .await;
        let expected = href
            .map(str::to_owned)
            .unwrap_or_else(|| server.marketplace_url());
        let page = Browser::new(&server).get("/org/event/").await;
        assert!(
            page.body.contains(&format!(
                r#"<a class="btn btn-lg btn-primary" href="{expected}">Marketplace</a>"#
            )),
            "{style:?}: {}",
            page.body
        );
    }

    // The link shows up on the third event-page GET.
    let server = start(Scenario {
        marketplace_link: Trigger::AfterPolls(2),
        ..Scenario::new("org", "event")
    })
    .await;
    let mut b = Browser::new(&server);
    for _ in 0..2 {
        let page = b.get("/org/event/").await;
        assert!(!page.body.contains("secondhand/"));
        assert!(!page.body.contains("Marketplace"));
    }
    assert!(b.get("/org/event/").await.body.contains("secondhand/"));
}

#[tokio::test]
async fn marketplace_renders_listing_panels_with_masked_tokens() {
    let server = start(scenario_with(vec![type_a(), type_b()])).await;
    let mut b = Browser::new(&server);
    let page = b.arrive().await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(page.title(), "Ticket Marketplace :: Example Event");
    assert!(page.body.contains(r#"<div class="panel panel-info">"#));
    assert!(page
        .body
        .contains(r#"<select name="item" class="form-control" id="id_item">"#));
    assert!(page
        .body
        .contains(r#"<select name="sort" class="form-control" id="id_sort">"#));
    assert!(page.body.contains(r#"<div class="panel panel-default">"#));
    assert!(page
        .body
        .contains(r#"<h3 class="panel-title">Ticket – Type A</h3>"#));
    assert!(page
        .body
        .contains(r#"<h2 class="text-primary">190.00 EUR</h2>"#));

    let forms = page.buy_forms();
    assert_eq!(forms.len(), 2);
    assert_eq!(
        forms[0].0,
        format!("{}/org/event/secondhand/buy/{A}/", server.base_url())
    );
    assert_eq!(
        forms[1].0,
        format!("{}/org/event/secondhand/buy/{B}/", server.base_url())
    );
    let secret = &b.jar["__Host-pretix_csrftoken"];
    for (_, token) in &forms {
        assert_eq!(token.len(), 64);
        assert_eq!(csrf::unmask(token).as_ref(), Some(secret));
    }
    assert_ne!(forms[0].1, forms[1].1, "each form gets its own mask");
}

#[tokio::test]
async fn empty_and_inactive_pages() {
    let server = start(Scenario {
        marketplace_active: Trigger::AfterPolls(1),
        ..Scenario::new("org", "event")
    })
    .await;
    let mut b = Browser::new(&server);
    let inactive = b.arrive().await;
    assert_eq!(inactive.status, StatusCode::OK);
    assert_eq!(
        inactive.title(),
        "Ticket marketplace is not currently active. :: Example Event"
    );
    let empty = b.get("/org/event/secondhand/").await;
    assert_eq!(empty.status, StatusCode::OK);
    assert!(empty.body.contains("No tickets available at the moment"));
    assert!(empty.buy_forms().is_empty());
    assert_eq!(server.marketplace_polls(), 2);
}

#[tokio::test]
async fn item_filter_and_sort_are_honoured() {
    let other = ScriptedListing {
        item: "966".into(),
        ..ScriptedListing::new("c0c0c0c0c0c0c0c0", "Up-and-coming Ticket", "99.00")
    };
    let server = start(scenario_with(vec![type_a(), type_b(), other])).await;
    let mut b = Browser::new(&server);
    b.arrive().await;
    let ids = |p: &Page| -> Vec<String> {
        p.buy_forms()
            .iter()
            .map(|(a, _)| a.rsplit('/').nth(1).unwrap().to_owned())
            .collect()
    };
    let desc = b.get("/org/event/secondhand/?sort=price_desc").await;
    assert_eq!(ids(&desc), [B, A, "c0c0c0c0c0c0c0c0"]);
    assert!(desc
        .body
        .contains(r#"<option value="price_desc" selected>"#));
    let asc = b
        .get("/org/event/secondhand/?sort=price_asc&item=965")
        .await;
    assert_eq!(ids(&asc), [A, B]);
    assert!(asc
        .body
        .contains(r#"<option value="965" selected>Ticket</option>"#));
    let only = b.get("/org/event/secondhand/?item=966").await;
    assert_eq!(ids(&only), ["c0c0c0c0c0c0c0c0"]);
}

#[tokio::test]
async fn buys_without_proper_csrf_are_refused() {
    let server = start(scenario_with(vec![type_a()])).await;
    let mut b = Browser::new(&server);
    let page = b.arrive().await;
    let (action, token) = page.buy_forms().remove(0);
    let base = server.base_url();
    let referer = format!("{base}/org/event/secondhand/");

    // No Origin / an Origin with a path / a foreign Origin.
    assert_csrf_failure(&b.post(&action, &token, None, Some(&referer)).await);
    assert_csrf_failure(
        &b.post(&action, &token, Some(&referer), Some(&referer))
            .await,
    );
    let evil = "https://evil.example";
    assert_csrf_failure(&b.post(&action, &token, Some(evil), Some(&referer)).await);
    // No Referer / a foreign one.
    assert_csrf_failure(&b.post(&action, &token, Some(&base), None).await);
    assert_csrf_failure(
        &b.post(&action, &token, Some(&base), Some("https://evil.example/"))
            .await,
    );
    // A token that doesn't unmask to the secret; the bare secret itself.
    let secret = b.jar["__Host-pretix_csrftoken"].clone();
    assert_csrf_failure(&b.buy(&action, &csrf::mask(&csrf::new_secret())).await);
    assert_csrf_failure(&b.buy(&action, &secret).await);
    assert_csrf_failure(&b.buy(&action, "").await);
    // Right token, but not urlencoded.
    let req = b
        .http
        .post(&action)
        .header("origin", &base)
        .header("referer", &referer)
        .header("content-type", "text/plain")
        .body(format!("csrfmiddlewaretoken={token}"));
    assert_csrf_failure(&b.send(req).await);
    // Garbage that is "urlencoded".
    let req = b
        .http
        .post(&action)
        .header("origin", &base)
        .header("referer", &referer)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("%%%&&=\u{0}=");
    assert_csrf_failure(&b.send(req).await);

    // A stranger without cookies, and a stranger with a self-made secret.
    let mut stranger = Browser::new(&server);
    assert_csrf_failure(&stranger.buy(&action, &token).await);
    stranger
        .jar
        .insert("__Host-pretix_csrftoken".into(), secret.clone());
    assert_csrf_failure(&stranger.buy(&action, &token).await);
    let mut forger = Browser::new(&server);
    forger.arrive().await;
    let forged = csrf::new_secret();
    forger
        .jar
        .insert("__Host-pretix_csrftoken".into(), forged.clone());
    assert_csrf_failure(&forger.buy(&action, &csrf::mask(&forged)).await);

    assert!(server.sold().is_empty());
    // And after all that, the real thing still works.
    let won = b.buy(&action, &token).await;
    assert_eq!(won.status, StatusCode::FOUND);
}

#[tokio::test]
async fn winning_buy_reserves_and_reaches_checkout() {
    let server = start(scenario_with(vec![type_a()])).await;
    let mut b = Browser::new(&server);
    // Without a cart the checkout sends you home.
    b.arrive().await;
    let empty = b.get("/org/event/checkout/questions/").await;
    assert_eq!(empty.status, StatusCode::FOUND);
    assert_eq!(empty.location(), Some("/org/event/"));

    let page = b.get("/org/event/secondhand/").await;
    let (action, token) = page.buy_forms().remove(0);
    let won = b.buy(&action, &token).await;
    assert_eq!(won.status, StatusCode::FOUND);
    assert_eq!(won.location(), Some("/org/event/checkout/start"));
    let cookies = won.set_cookies();
    assert!(
        cookies[0].starts_with("__Host-pretix_csrftoken="),
        "{cookies:?}"
    );
    assert!(cookies[0].ends_with("; Partitioned; Path=/; SameSite=None; Secure"));
    assert!(cookies[1].starts_with("__Host-pretix_session="));
    assert!(cookies[1].contains("; HttpOnly; Max-Age=1209600; Partitioned;"));

    let session = b.jar["__Host-pretix_session"].clone();
    assert_eq!(
        server.sold(),
        [Sale {
            listing_id: A.into(),
            session
        }]
    );

    let start = b.get("/org/event/checkout/start").await;
    assert_eq!(start.status, StatusCode::FOUND);
    let questions = start.location().unwrap().to_owned();
    assert_eq!(questions, "/org/event/checkout/questions/");
    let checkout = b.get(&questions).await;
    assert_eq!(checkout.status, StatusCode::OK);
    assert!(checkout
        .title()
        .starts_with("Step 1 of 3: Your information"));
    assert!(checkout.title().ends_with(":: Example Event"));
    assert!(checkout.body.contains("<strong>Your cart</strong>"));
    assert!(checkout.body.contains("<strong>190,00 €</strong>"));
    assert!(checkout.body.contains("data-expires=\""));

    // The listing is gone from the marketplace.
    let after = b.get("/org/event/secondhand/").await;
    assert!(after.body.contains("No tickets available at the moment"));
}

#[tokio::test]
async fn second_buyer_of_a_listing_loses() {
    for lost_style in [LostStyle::UnavailablePage, LostStyle::Redirect] {
        let server = start(Scenario {
            lost_style,
            ..scenario_with(vec![type_a()])
        })
        .await;
        let (mut first, mut second) = (Browser::new(&server), Browser::new(&server));
        let (action1, token1) = first.arrive().await.buy_forms().remove(0);
        let (action2, token2) = second.arrive().await.buy_forms().remove(0);
        assert_eq!(action1, action2);
        assert_eq!(first.buy(&action1, &token1).await.status, StatusCode::FOUND);
        let lost = second.buy(&action2, &token2).await;
        match lost_style {
            LostStyle::UnavailablePage => {
                assert_eq!(lost.status, StatusCode::OK);
                assert_eq!(lost.title(), "Ticket unavailable :: Example Event");
                assert!(lost.body.contains("purchased by someone else"));
            }
            LostStyle::Redirect => {
                assert_eq!(lost.status, StatusCode::FOUND);
                assert_eq!(lost.location(), Some("/org/event/secondhand/"));
            }
        }
        assert_eq!(server.sold().len(), 1);
        assert_eq!(server.sold()[0].session, first.jar["__Host-pretix_session"]);
    }
}

#[tokio::test]
async fn competitor_snipes_a_listing_as_soon_as_it_is_shown() {
    let sniped = ScriptedListing {
        taken_by_competitor: true,
        ..type_b()
    };
    let server = start(scenario_with(vec![type_a(), sniped])).await;
    let mut b = Browser::new(&server);
    let page = b.arrive().await;
    let forms = page.buy_forms();
    assert_eq!(forms.len(), 2, "the sniped listing is shown once");
    let lost = b.buy(&forms[1].0, &forms[1].1).await;
    assert_eq!(lost.title(), "Ticket unavailable :: Example Event");
    assert_eq!(
        server.sold(),
        [Sale {
            listing_id: B.into(),
            session: "competitor".into()
        }]
    );
    // Gone from later pages; the other listing can still be won.
    let again = b.get("/org/event/secondhand/").await.buy_forms();
    assert_eq!(again.len(), 1);
    assert_eq!(
        b.buy(&again[0].0, &again[0].1).await.status,
        StatusCode::FOUND
    );
}

#[tokio::test]
async fn unknown_or_unlisted_ids_redirect_to_the_marketplace() {
    let later = ScriptedListing {
        appears: Trigger::AfterPolls(5),
        ..type_b()
    };
    let server = start(scenario_with(vec![type_a(), later])).await;
    let mut b = Browser::new(&server);
    let (_, token) = b.arrive().await.buy_forms().remove(0);
    for id in ["zzzzzzzzzzzzzzzz", B] {
        let page = b
            .buy(&format!("/org/event/secondhand/buy/{id}/"), &token)
            .await;
        assert_eq!(page.status, StatusCode::FOUND, "{id}");
        assert_eq!(page.location(), Some("/org/event/secondhand/"));
    }
    assert!(server.sold().is_empty());
}

#[tokio::test]
async fn scripted_proxy_answers_replace_the_page() {
    let server = start(Scenario {
        marketplace_script: vec![
            (2, Scripted::TooManyRequests),
            (
                3,
                Scripted::Conflict {
                    retry_after: "30".into(),
                },
            ),
            (4, Scripted::Unavailable),
            (5, Scripted::RedirectToEvent),
        ],
        ..scenario_with(vec![type_a()])
    })
    .await;
    let mut b = Browser::new(&server);
    assert_eq!(b.arrive().await.status, StatusCode::OK);
    let p = b.get("/org/event/secondhand/").await;
    assert_eq!(p.status, StatusCode::TOO_MANY_REQUESTS);
    let p = b.get("/org/event/secondhand/").await;
    assert_eq!(p.status, StatusCode::CONFLICT);
    assert_eq!(p.headers.get(RETRY_AFTER).unwrap(), "30");
    let p = b.get("/org/event/secondhand/").await;
    assert_eq!(p.status, StatusCode::SERVICE_UNAVAILABLE);
    let p = b.get("/org/event/secondhand/").await;
    assert_eq!(p.status, StatusCode::FOUND);
    assert_eq!(p.location(), Some("/org/event/"));
    let p = b.get("/org/event/secondhand/").await;
    assert_eq!(p.status, StatusCode::OK);
    assert_eq!(p.buy_forms().len(), 1);
    assert_eq!(server.marketplace_polls(), 6);
}

#[tokio::test]
async fn session_reset_sends_the_visitor_back_to_the_event_page() {
    let server = start(Scenario {
        session_reset_at_poll: Some(2),
        ..scenario_with(vec![type_a()])
    })
    .await;
    let mut b = Browser::new(&server);
    let (action, old_token) = b.arrive().await.buy_forms().remove(0);
    let old_session = b.jar["__Host-pretix_session"].clone();

    let expired = b.get("/org/event/secondhand/").await;
    assert_eq!(expired.status, StatusCode::FOUND);
    assert_eq!(expired.location(), Some("/org/event/"));
    assert!(expired.set_cookies().is_empty());
    // The stale session can't buy either.
    assert_csrf_failure(&b.buy(&action, &old_token).await);

    let event = b.get("/org/event/").await;
    assert_eq!(event.set_cookies().len(), 2, "fresh csrftoken and session");
    assert_ne!(b.jar["__Host-pretix_session"], old_session);
    let (action, token) = b.get("/org/event/secondhand/").await.buy_forms().remove(0);
    assert_eq!(b.buy(&action, &token).await.status, StatusCode::FOUND);
}

#[tokio::test]
async fn first_valid_buy_is_refused_and_the_secret_rotated() {
    let server = start(Scenario {
        reject_first_buy_csrf: true,
        ..scenario_with(vec![type_a()])
    })
    .await;
    let mut b = Browser::new(&server);
    let (action, token) = b.arrive().await.buy_forms().remove(0);
    let old_secret = b.jar["__Host-pretix_csrftoken"].clone();

    let refused = b.buy(&action, &token).await;
    assert_csrf_failure(&refused);
    let cookies = refused.set_cookies();
    assert_eq!(cookies.len(), 1);
    assert!(cookies[0].starts_with("__Host-pretix_csrftoken="));
    assert_ne!(b.jar["__Host-pretix_csrftoken"], old_secret);

    // The old token no longer matches; neither does the old cookie.
    assert_csrf_failure(&b.buy(&action, &token).await);
    let mut stale = Browser::new(&server);
    stale.jar = b.jar.clone();
    stale
        .jar
        .insert("__Host-pretix_csrftoken".into(), old_secret);
    assert_csrf_failure(&stale.buy(&action, &token).await);

    // A fresh page has a fresh token.
    let (action, token) = b.get("/org/event/secondhand/").await.buy_forms().remove(0);
    assert_eq!(b.buy(&action, &token).await.status, StatusCode::FOUND);
}

#[tokio::test]
async fn wait_for_request_wakes_on_new_and_finds_old_requests() {
    let server = std::sync::Arc::new(start(scenario_with(vec![type_a()])).await);
    let mut b = Browser::new(&server);
    b.get("/org/event/").await;
    // Already seen.
    let seen = wait(&server, |r| r.path == "/org/event/").await;
    assert_eq!(seen.status, 200);
    assert_eq!(seen.method, "GET");
    assert!(seen.cookies.is_empty(), "first visit, no cookies yet");

    // Not yet sent: the waiter runs concurrently and wakes on the POST.
    let waiter = {
        let server = server.clone();
        tokio::spawn(async move { wait(&server, |r| r.method == "POST").await })
    };
    let (action, token) = b.get("/org/event/secondhand/").await.buy_forms().remove(0);
    b.buy(&action, &token).await;
    let post = waiter.await.unwrap();
    assert_eq!(post.path, format!("/org/event/secondhand/buy/{A}/"));
    assert_eq!(post.status, 302);
    assert_eq!(post.location.as_deref(), Some("/org/event/checkout/start"));
    assert_eq!(post.header("Origin"), Some(server.base_url().as_str()));
    let form = post.form.expect("urlencoded form recorded");
    assert_eq!(form["csrfmiddlewaretoken"], token);
    assert_eq!(
        post.cookies.get("__Host-pretix_session"),
        b.jar.get("__Host-pretix_session")
    );
    assert_eq!(post.version, "HTTP/2.0");
}

#[tokio::test]
async fn after_delay_is_measured_from_server_start() {
    let now = ScriptedListing {
        appears: Trigger::AfterDelay(Duration::ZERO),
        ..type_a()
    };
    let much_later = ScriptedListing {
        appears: Trigger::AfterDelay(Duration::from_secs(3600)),
        ..type_b()
    };
    let server = start(scenario_with(vec![now, much_later])).await;
    let forms = Browser::new(&server).arrive().await.buy_forms();
    assert_eq!(forms.len(), 1);
    assert!(forms[0].0.contains(A));
}

/// reqwest's own cookie store accepts the cookies (`__Host-`, `Partitioned`,
/// IP host) and the whole flow works like it would for a real client.
#[tokio::test]
async fn full_flow_with_a_real_cookie_store() {
    let server = start(Scenario {
        link_style: LinkStyle::Relative,
        ..scenario_with(vec![type_a()])
    })
    .await;
    let http = client_builder(&server).cookie_store(true).build().unwrap();
    let event_url = url::Url::parse(&server.event_url()).unwrap();
    let event = http.get(event_url.clone()).send().await.unwrap();
    let body = event.text().await.unwrap();
    let href = Regex::new(r#"href="([^"]*secondhand/)">Marketplace"#)
        .unwrap()
        .captures(&body)
        .unwrap()[1]
        .to_owned();
    let market_url = event_url.join(&href).unwrap();
    let market = http.get(market_url.clone()).send().await.unwrap();
    let page = Page {
        status: market.status(),
        version: market.version(),
        headers: market.headers().clone(),
        body: market.text().await.unwrap(),
    };
    assert_eq!(page.status, StatusCode::OK);
    let (action, token) = page.buy_forms().remove(0);
    let won = http
        .post(&action)
        .header("origin", server.base_url())
        .header("referer", market_url.as_str())
        .form(&[("csrfmiddlewaretoken", token)])
        .send()
        .await
        .unwrap();
    assert_eq!(won.status(), StatusCode::FOUND);
    let start_url = event_url
        .join(won.headers()[LOCATION].to_str().unwrap())
        .unwrap();
    let start = http.get(start_url.clone()).send().await.unwrap();
    let questions = start_url
        .join(start.headers()[LOCATION].to_str().unwrap())
        .unwrap();
    let checkout = http.get(questions).send().await.unwrap();
    assert_eq!(checkout.status(), StatusCode::OK);
    assert!(checkout.text().await.unwrap().contains("Step 1 of 3"));
    assert_eq!(server.sold().len(), 1);
}

#[tokio::test]
async fn odd_requests_get_4xx_not_panics() {
    let server = start(scenario_with(vec![type_a()])).await;
    let mut b = Browser::new(&server);
    for path in [
        "/",
        "/org/event",
        "/org/event/secondhand",
        "/other/event/",
        "/org/other/secondhand/",
        "/org/event/secondhand/buy/",
        "/org/event/%ff%fe/",
    ] {
        let status = b.get(path).await.status;
        assert!(status.is_client_error(), "{path}: {status}");
    }
    assert_eq!(b.get("/nope/").await.status, StatusCode::NOT_FOUND);
    // Wrong methods are 404s too.
    let req = b
        .http
        .post(format!("{}/org/event/secondhand/", server.base_url()));
    assert_eq!(b.send(req).await.status, StatusCode::NOT_FOUND);
    let req = b.http.get(format!(
        "{}/org/event/secondhand/buy/{A}/",
        server.base_url()
    ));
    assert_eq!(b.send(req).await.status, StatusCode::NOT_FOUND);
    // A Host that isn't ours (HTTP/1.1 lets us send one).
    let h1 = client_builder(&server).http1_only().build().unwrap();
    let wrong_host = h1
        .get(format!("{}/org/event/", server.base_url()))
        .header("host", "tickets.example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_host.status(), StatusCode::BAD_REQUEST);
    // Still serving.
    assert_eq!(b.get("/org/event/").await.status, StatusCode::OK);
}

#[tokio::test]
async fn shutdown_stops_serving() {
    let server = start(Scenario::new("org", "event")).await;
    let mut b = Browser::new(&server);
    assert_eq!(b.get("/org/event/").await.status, StatusCode::OK);
    server.shutdown();
    // The kept-alive connection is dropped and no new one is accepted.
    assert!(b.http.get(server.event_url()).send().await.is_err());
    let fresh = client_builder(&server).build().unwrap();
    assert!(fresh.get(server.event_url()).send().await.is_err());
}

/// What `pretix-race demo` needs from its scenario, driven through a real
/// client on tokio's paused clock: nothing on the first polls, then (once
/// the scripted delay has passed, in virtual time) two listings at once;
/// the first one on the page is taken by the competitor (so the demo shows
/// a lost race), the second can be won and reaches checkout.
#[tokio::test(start_paused = true)]
async fn demo_scenario_shows_a_lost_race_then_a_win() {
    let demo = Scenario::demo();
    let delay = match demo.listings[0].appears {
        Trigger::AfterDelay(d) => d,
        ref other => panic!("the demo's listings appear after a delay, not {other:?}"),
    };
    assert!(
        delay > Duration::ZERO,
        "the demo shows a few empty polls first"
    );
    let server = start(demo.clone()).await;
    // No pool idle timer: on a paused clock, the only timer is ours.
    let http = client_builder(&server)
        .pool_idle_timeout(None)
        .build()
        .unwrap();
    let mut b = Browser {
        http,
        base: server.base_url(),
        jar: BTreeMap::new(),
    };
    let market = server.marketplace_url();
    assert_eq!(b.get(&server.event_url()).await.status, StatusCode::OK);
    for _ in 0..2 {
        let empty = b.get(&market).await;
        assert_eq!(empty.status, StatusCode::OK);
        assert!(empty.buy_forms().is_empty(), "nothing before the delay");
    }

    tokio::time::advance(delay).await;
    let page = b.get(&market).await;
    let forms = page.buy_forms();
    assert_eq!(forms.len(), 2, "both listings appear together");
    let listing_of = |action: &str| {
        demo.listings
            .iter()
            .find(|l| action.contains(&format!("/buy/{}/", l.id)))
            .unwrap_or_else(|| panic!("no listing for {action}"))
    };
    let (first, second) = (listing_of(&forms[0].0), listing_of(&forms[1].0));
    assert!(first.taken_by_competitor && !second.taken_by_competitor);

    // The first buy loses to the competitor...
    let origin = server.base_url();
    let lost = b
        .post(&forms[0].0, &forms[0].1, Some(&origin), Some(&market))
        .await;
    assert_eq!(lost.status, StatusCode::OK);
    assert!(lost.buy_forms().is_empty(), "{}", lost.body);
    assert_eq!(
        server.sold(),
        [Sale {
            listing_id: first.id.clone(),
            session: "competitor".into()
        }]
    );
    // ...the second is ours and reaches checkout.
    let won = b
        .post(&forms[1].0, &forms[1].1, Some(&origin), Some(&market))
        .await;
    assert_eq!(won.status, StatusCode::FOUND, "{}", won.body);
    let start_url = won.location().unwrap().to_owned();
    let questions = b.get(&start_url).await;
    assert_eq!(questions.status, StatusCode::FOUND);
    let checkout = b.get(questions.location().unwrap()).await;
    assert_eq!(checkout.status, StatusCode::OK);
    assert!(checkout.body.contains("<strong>Your cart</strong>"));
    assert_eq!(server.sold().len(), 2);
    assert_eq!(server.sold()[1].listing_id, second.id);
    assert_eq!(server.sold()[1].session, b.jar["__Host-pretix_session"]);
}
