//! Discord: execute a webhook.
//!
//! `POST /api/webhooks/{webhook.id}/{webhook.token}` with a JSON body of
//! `content` (up to 2000 characters), an optional `username` and `embeds`
//! (each with `title`, `description`, `url`, `color`). At least one of
//! `content` and `embeds` must be present; we send both.

use serde_json::json;
use url::Url;

use super::message::{Message, Priority};

/// Embed colour per priority (an RGB integer): red for a win.
fn color(p: Priority) -> u32 {
    match p {
        Priority::Max => 0xE0_3C_31,
        Priority::High => 0xF0_A0_20,
        Priority::Default => 0x3C_78_D8,
        Priority::Low => 0x99_99_99,
    }
}

pub fn request(
    client: &reqwest::Client,
    base: &Url,
    id: &str,
    token: &str,
    msg: &Message,
) -> reqwest::RequestBuilder {
    let mut url = base.clone();
    url.set_path(&format!("/api/webhooks/{id}/{token}"));
    let mut embed = json!({
        "title": truncate(&msg.title, 256),
        "description": truncate(&msg.body, 4096),
        "color": color(msg.priority),
    });
    if let Some(click) = &msg.click_url {
        embed["url"] = json!(click);
    }
    let body = json!({
        "username": "pretix-race",
        "content": truncate(&msg.title, 2000),
        "embeds": [embed],
    });
    client.post(url).json(&body)
}

/// At most `max` characters (Discord counts characters, not bytes).
pub(crate) fn truncate(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}
