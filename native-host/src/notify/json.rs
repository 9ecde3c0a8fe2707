//! The generic JSON POST (`json://`, `jsons://`, and `--webhook`).
//!
//! `--webhook` keeps the original tool's payload exactly (see
//! [`super::webhook::Payload`]) and gets only the two events it always got.
//! A `json://` URL gets every event, in Apprise's JSON shape (`version`,
//! `title`, `message`, `type`) plus our `event`, `priority` and `url`.

use serde_json::json;
use url::Url;

use super::message::{Kind, Message, Priority};

/// Apprise's notification `type`.
fn apprise_type(msg: &Message) -> &'static str {
    match (msg.kind, msg.priority) {
        (Kind::Won, _) => "success",
        (Kind::Health | Kind::Lost, _) => "failure",
        (_, Priority::High | Priority::Max) => "warning",
        _ => "info",
    }
}

/// `None` when a legacy (`--webhook`) channel has nothing to say about `msg`.
pub fn request(
    client: &reqwest::Client,
    url: &Url,
    legacy: bool,
    msg: &Message,
) -> Option<reqwest::RequestBuilder> {
    if legacy {
        return msg
            .legacy
            .as_ref()
            .map(|payload| client.post(url.clone()).json(payload));
    }
    let body = json!({
        "version": "1.0",
        "title": msg.title,
        "message": msg.body,
        "type": apprise_type(msg),
        "event": msg.kind.name(),
        "priority": format!("{:?}", msg.priority).to_lowercase(),
        "url": msg.click_url,
    });
    Some(client.post(url.clone()).json(&body))
}
