//! Slack: an incoming webhook.
//!
//! `POST https://hooks.slack.com/services/T…/B…/X…` with a JSON body whose
//! `text` is the message (mrkdwn: `*bold*`, `<url|label>`; `&`, `<`, `>`
//! escaped). Slack answers `200 ok`.

use serde_json::json;
use url::Url;

use super::message::Message;

pub fn request(
    client: &reqwest::Client,
    base: &Url,
    tokens: [&str; 3],
    msg: &Message,
) -> reqwest::RequestBuilder {
    let mut url = base.clone();
    let [a, b, c] = tokens;
    url.set_path(&format!("/services/{a}/{b}/{c}"));
    let mut text = format!("*{}*\n{}", escape(&msg.title), escape(&msg.body));
    if let Some(click) = &msg.click_url {
        text.push_str(&format!("\n<{}|Open>", escape(click)));
    }
    client.post(url).json(&json!({ "text": text }))
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
