//! Telegram: the Bot API's `sendMessage`.
//!
//! `POST https://api.telegram.org/bot<token>/sendMessage` with JSON
//! `chat_id`, `text`, `parse_mode` ("HTML": only `&`, `<`, `>` need
//! escaping), `disable_web_page_preview` and `disable_notification`.

use serde_json::json;
use url::Url;

use super::message::{Message, Priority};

pub fn request(
    client: &reqwest::Client,
    base: &Url,
    bot_token: &str,
    chat_id: &str,
    msg: &Message,
) -> reqwest::RequestBuilder {
    let mut url = base.clone();
    url.set_path(&format!("/bot{bot_token}/sendMessage"));
    let mut text = format!("<b>{}</b>\n{}", escape(&msg.title), escape(&msg.body));
    if let Some(click) = &msg.click_url {
        text.push_str(&format!("\n<a href=\"{}\">Open</a>", escape(click)));
    }
    let body = json!({
        "chat_id": chat_id,
        "text": text,
        "parse_mode": "HTML",
        "disable_web_page_preview": true,
        "disable_notification": msg.priority == Priority::Low,
    });
    client.post(url).json(&body)
}

/// The Bot API's HTML mode: `&`, `<`, `>` (and `"` inside attributes).
fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
