//! Pushover: `POST https://api.pushover.net/1/messages.json`.
//!
//! Form fields `token` (the application's API token), `user` (the user
//! key), `message`, `title`, `url`, `url_title` and `priority` (-2 … 2).
//! Priority 2 (emergency) would need `retry` and `expire` and repeats until
//! acknowledged; a win uses 1 (high: bypasses quiet hours) instead.

use url::Url;

use super::message::{Message, Priority};

pub fn priority(p: Priority) -> i8 {
    match p {
        Priority::Low => -1,
        Priority::Default | Priority::High => 0,
        Priority::Max => 1,
    }
}

pub fn request(
    client: &reqwest::Client,
    base: &Url,
    user_key: &str,
    app_token: &str,
    msg: &Message,
) -> reqwest::RequestBuilder {
    let mut url = base.clone();
    url.set_path("/1/messages.json");
    let priority = priority(msg.priority).to_string();
    let mut form: Vec<(&str, &str)> = vec![
        ("token", app_token),
        ("user", user_key),
        ("title", &msg.title),
        ("message", &msg.body),
        ("priority", &priority),
    ];
    if let Some(click) = &msg.click_url {
        form.push(("url", click));
        form.push(("url_title", "Open checkout"));
    }
    client.post(url).form(&form)
}
