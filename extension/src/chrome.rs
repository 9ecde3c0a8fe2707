//! Hand-written bindings for the `chrome.*` extension APIs we use (web-sys
//! has none), and small async wrappers that turn every way a call can fail
//! (a synchronous throw, a rejected promise) into `Err(message)`.
//!
//! Values cross the boundary as JSON: Rust types are serialised with
//! `serde_json` and parsed with `JSON.parse`, and the other way round with
//! `JSON.stringify`.

use js_sys::{Function, Promise, JSON};
use serde::de::DeserializeOwned;
use serde::Serialize;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

#[wasm_bindgen]
extern "C" {
    // chrome.cookies
    #[wasm_bindgen(catch, js_namespace = ["chrome", "cookies"], js_name = set)]
    fn cookies_set_raw(details: &JsValue) -> Result<Promise, JsValue>;
    #[wasm_bindgen(catch, js_namespace = ["chrome", "cookies"], js_name = get)]
    fn cookies_get_raw(details: &JsValue) -> Result<Promise, JsValue>;
    #[wasm_bindgen(catch, js_namespace = ["chrome", "cookies"], js_name = getAll)]
    fn cookies_get_all_raw(details: &JsValue) -> Result<Promise, JsValue>;
    #[wasm_bindgen(catch, js_namespace = ["chrome", "cookies"], js_name = remove)]
    fn cookies_remove_raw(details: &JsValue) -> Result<Promise, JsValue>;

    // chrome.storage
    #[wasm_bindgen(catch, js_namespace = ["chrome", "storage", "local"], js_name = get)]
    fn local_get_raw(keys: &JsValue) -> Result<Promise, JsValue>;
    #[wasm_bindgen(catch, js_namespace = ["chrome", "storage", "local"], js_name = set)]
    fn local_set_raw(items: &JsValue) -> Result<Promise, JsValue>;
    #[wasm_bindgen(catch, js_namespace = ["chrome", "storage", "session"], js_name = get)]
    fn session_get_raw(keys: &JsValue) -> Result<Promise, JsValue>;
    #[wasm_bindgen(catch, js_namespace = ["chrome", "storage", "session"], js_name = set)]
    fn session_set_raw(items: &JsValue) -> Result<Promise, JsValue>;
    #[wasm_bindgen(js_namespace = ["chrome", "storage", "onChanged"], js_name = addListener)]
    fn storage_on_changed_add(f: &Function);

    // chrome.runtime
    #[wasm_bindgen(catch, js_namespace = ["chrome", "runtime"], js_name = connectNative)]
    fn connect_native_raw(name: &str) -> Result<Port, JsValue>;
    #[wasm_bindgen(catch, js_namespace = ["chrome", "runtime"], js_name = sendMessage)]
    fn send_message_raw(message: &JsValue) -> Result<Promise, JsValue>;
    #[wasm_bindgen(js_namespace = ["chrome", "runtime", "onMessage"], js_name = addListener)]
    fn runtime_on_message_add(f: &Function);
    #[wasm_bindgen(js_namespace = ["chrome", "runtime"], js_name = getURL)]
    pub fn runtime_get_url(path: &str) -> String;

    /// A `chrome.runtime.Port`.
    #[derive(Clone)]
    pub type Port;
    #[wasm_bindgen(method, catch, js_name = postMessage)]
    fn post_message_raw(this: &Port, message: &JsValue) -> Result<(), JsValue>;
    /// `port.disconnect()` (Chrome then ends the host process).
    #[wasm_bindgen(method)]
    pub fn disconnect(this: &Port);
    #[wasm_bindgen(method, getter, js_name = onMessage)]
    fn on_message(this: &Port) -> ChromeEvent;
    #[wasm_bindgen(method, getter, js_name = onDisconnect)]
    fn on_disconnect(this: &Port) -> ChromeEvent;

    /// A `chrome.events.Event`.
    type ChromeEvent;
    #[wasm_bindgen(method, js_name = addListener)]
    fn add_listener(this: &ChromeEvent, f: &Function);

    // chrome.tabs
    #[wasm_bindgen(catch, js_namespace = ["chrome", "tabs"], js_name = create)]
    fn tabs_create_raw(props: &JsValue) -> Result<Promise, JsValue>;

    // chrome.notifications
    #[wasm_bindgen(catch, js_namespace = ["chrome", "notifications"], js_name = create)]
    fn notifications_create_raw(id: &str, options: &JsValue) -> Result<Promise, JsValue>;
    #[wasm_bindgen(js_namespace = ["chrome", "notifications", "onClicked"], js_name = addListener)]
    fn notifications_on_clicked_add(f: &Function);

    // chrome.action
    #[wasm_bindgen(catch, js_namespace = ["chrome", "action"], js_name = setBadgeText)]
    fn set_badge_text_raw(details: &JsValue) -> Result<Promise, JsValue>;
    #[wasm_bindgen(catch, js_namespace = ["chrome", "action"], js_name = setBadgeBackgroundColor)]
    fn set_badge_background_color_raw(details: &JsValue) -> Result<Promise, JsValue>;

    // chrome.permissions
    #[wasm_bindgen(catch, js_namespace = ["chrome", "permissions"], js_name = request)]
    fn permissions_request_raw(perms: &JsValue) -> Result<Promise, JsValue>;
    #[wasm_bindgen(catch, js_namespace = ["chrome", "permissions"], js_name = contains)]
    fn permissions_contains_raw(perms: &JsValue) -> Result<Promise, JsValue>;

    // Timers exist in pages and in service workers alike (web-sys's live on `Window`).
    #[wasm_bindgen(js_name = setTimeout)]
    fn set_timeout_raw(f: &Function, ms: i32) -> JsValue;
    #[wasm_bindgen(js_name = setInterval)]
    fn set_interval_raw(f: &Function, ms: i32) -> JsValue;

    #[wasm_bindgen(catch, js_namespace = ["navigator", "clipboard"], js_name = writeText)]
    fn clipboard_write_text_raw(text: &str) -> Result<Promise, JsValue>;
}

// ---------------------------------------------------------------- helpers

/// A Rust value as a JS value (via JSON).
pub fn to_js<T: Serialize + ?Sized>(v: &T) -> JsValue {
    serde_json::to_string(v)
        .ok()
        .and_then(|s| JSON::parse(&s).ok())
        .unwrap_or(JsValue::NULL)
}

/// A JS value as a Rust value (via JSON).
pub fn from_js<T: DeserializeOwned>(v: &JsValue) -> Result<T, String> {
    let s = JSON::stringify(v)
        .ok()
        .and_then(|s| s.as_string())
        .ok_or_else(|| "value cannot be turned into JSON".to_string())?;
    serde_json::from_str(&s).map_err(|e| e.to_string())
}

/// The text of a thrown error or rejection (`Error.message`, a string, …).
pub fn error_message(e: &JsValue) -> String {
    if let Some(s) = e.as_string() {
        return s;
    }
    if let Ok(m) = js_sys::Reflect::get(e, &JsValue::from_str("message")) {
        if let Some(s) = m.as_string() {
            return s;
        }
    }
    JSON::stringify(e)
        .ok()
        .and_then(|s| s.as_string())
        .unwrap_or_else(|| "unknown error".into())
}

/// `chrome.runtime.lastError?.message`, read inside a callback.
pub fn last_error() -> Option<String> {
    let chrome = js_sys::Reflect::get(&js_sys::global(), &"chrome".into()).ok()?;
    let runtime = js_sys::Reflect::get(&chrome, &"runtime".into()).ok()?;
    let err = js_sys::Reflect::get(&runtime, &"lastError".into()).ok()?;
    if err.is_undefined() || err.is_null() {
        return None;
    }
    Some(error_message(&err))
}

/// Await a chrome API call that either threw or returned a promise.
async fn settle(call: Result<Promise, JsValue>) -> Result<JsValue, String> {
    let promise = call.map_err(|e| error_message(&e))?;
    JsFuture::from(promise).await.map_err(|e| error_message(&e))
}

pub fn now_ms() -> i64 {
    js_sys::Date::now() as i64
}

pub fn set_timeout(ms: i32, f: impl FnOnce() + 'static) {
    let f = Closure::once_into_js(f);
    set_timeout_raw(f.unchecked_ref(), ms);
}

pub fn set_interval(ms: i32, f: impl FnMut() + 'static) {
    let f = Closure::<dyn FnMut()>::new(f);
    set_interval_raw(f.as_ref().unchecked_ref(), ms);
    f.forget();
}

pub fn log_warn(msg: &str) {
    web_sys::console::warn_1(&JsValue::from_str(msg));
}

// ---------------------------------------------------------------- cookies

/// `chrome.cookies.set`. A resolved `null` means Chrome did not store it.
pub async fn cookies_set<T: Serialize>(details: &T) -> Result<(), String> {
    let v = settle(cookies_set_raw(&to_js(details))).await?;
    if v.is_null() || v.is_undefined() {
        return Err(
            "Chrome did not store the cookie (chrome.cookies.set returned null: expired or refused)"
                .into(),
        );
    }
    Ok(())
}

/// `chrome.cookies.get`: the stored value, `None` when there is no such cookie.
pub async fn cookies_get<T: Serialize>(details: &T) -> Result<Option<String>, String> {
    let v = settle(cookies_get_raw(&to_js(details))).await?;
    if v.is_null() || v.is_undefined() {
        return Ok(None);
    }
    let value = js_sys::Reflect::get(&v, &"value".into()).map_err(|e| error_message(&e))?;
    Ok(value.as_string())
}

/// `chrome.cookies.getAll`, each cookie as JSON.
pub async fn cookies_get_all<T: Serialize>(details: &T) -> Result<Vec<serde_json::Value>, String> {
    let v = settle(cookies_get_all_raw(&to_js(details))).await?;
    from_js(&v)
}

/// `chrome.cookies.remove`.
pub async fn cookies_remove<T: Serialize>(details: &T) -> Result<(), String> {
    settle(cookies_remove_raw(&to_js(details)))
        .await
        .map(|_| ())
}

// ---------------------------------------------------------------- storage

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Area {
    Local,
    Session,
}

/// `chrome.storage.<area>.get(keys)` as a JSON object.
pub async fn storage_get(area: Area, keys: &[&str]) -> Result<serde_json::Value, String> {
    let keys = to_js(keys);
    let call = match area {
        Area::Local => local_get_raw(&keys),
        Area::Session => session_get_raw(&keys),
    };
    let v = settle(call).await?;
    from_js(&v)
}

/// `chrome.storage.<area>.set({key: value})`.
pub async fn storage_set<T: Serialize>(area: Area, key: &str, value: &T) -> Result<(), String> {
    let mut items = serde_json::Map::new();
    items.insert(
        key.to_string(),
        serde_json::to_value(value).map_err(|e| e.to_string())?,
    );
    storage_set_many(area, serde_json::Value::Object(items)).await
}

/// `chrome.storage.<area>.set(items)`.
pub async fn storage_set_many(area: Area, items: serde_json::Value) -> Result<(), String> {
    let items = to_js(&items);
    let call = match area {
        Area::Local => local_set_raw(&items),
        Area::Session => session_set_raw(&items),
    };
    settle(call).await.map(|_| ())
}

/// `chrome.storage.onChanged.addListener(() => f())`, for every area.
pub fn on_storage_changed(f: impl FnMut() + 'static) {
    let mut f = f;
    let cb = Closure::<dyn FnMut(JsValue, JsValue)>::new(move |_changes, _area| f());
    storage_on_changed_add(cb.as_ref().unchecked_ref());
    cb.forget();
}

// ---------------------------------------------------------------- runtime

/// `chrome.runtime.connectNative(name)`.
pub fn connect_native(name: &str) -> Result<Port, String> {
    connect_native_raw(name).map_err(|e| error_message(&e))
}

impl Port {
    /// `port.postMessage(JSON.parse(json))`.
    pub fn post_json(&self, json: &[u8]) -> Result<(), String> {
        let text = std::str::from_utf8(json).map_err(|e| e.to_string())?;
        let value = JSON::parse(text).map_err(|e| error_message(&e))?;
        self.post_message_raw(&value).map_err(|e| error_message(&e))
    }

    /// `port.onMessage.addListener(m => f(JSON.stringify(m)))`.
    pub fn on_json_message(&self, mut f: impl FnMut(String) + 'static) {
        let cb = Closure::<dyn FnMut(JsValue)>::new(move |m: JsValue| {
            let text = JSON::stringify(&m)
                .ok()
                .and_then(|s| s.as_string())
                .unwrap_or_default();
            f(text)
        });
        self.on_message().add_listener(cb.as_ref().unchecked_ref());
        cb.forget();
    }

    /// `port.onDisconnect.addListener(() => f(chrome.runtime.lastError?.message))`.
    pub fn on_disconnected(&self, f: impl FnOnce(Option<String>) + 'static) {
        let mut f = Some(f);
        let cb = Closure::<dyn FnMut(JsValue)>::new(move |_port: JsValue| {
            // lastError must be read inside the callback, or Chrome logs it
            // as unchecked.
            let err = last_error();
            if let Some(f) = f.take() {
                f(err)
            }
        });
        self.on_disconnect()
            .add_listener(cb.as_ref().unchecked_ref());
        cb.forget();
    }
}

/// `chrome.runtime.sendMessage(message)`, resolving to the reply.
pub async fn send_message<T: Serialize, R: DeserializeOwned>(message: &T) -> Result<R, String> {
    let v = settle(send_message_raw(&to_js(message))).await?;
    if v.is_undefined() {
        return Err("the background worker did not answer".into());
    }
    from_js(&v)
}

/// `chrome.runtime.onMessage.addListener((msg, sender, sendResponse) => …)`.
/// `f` gets the message and a `reply` to call (once, possibly later); the
/// listener returns `true` so the channel stays open for an async reply.
pub fn on_runtime_message(f: impl FnMut(JsValue, Function) + 'static) {
    let mut f = f;
    let cb = Closure::<dyn FnMut(JsValue, JsValue, JsValue) -> bool>::new(
        move |msg: JsValue, _sender: JsValue, send_response: JsValue| {
            let reply: Function = send_response.unchecked_into();
            f(msg, reply);
            true
        },
    );
    runtime_on_message_add(cb.as_ref().unchecked_ref());
    cb.forget();
}

/// Call a `sendResponse` with a serialisable value.
pub fn respond<T: Serialize>(reply: &Function, value: &T) {
    if let Err(e) = reply.call1(&JsValue::NULL, &to_js(value)) {
        // The popup may have closed meanwhile; nothing to do about it.
        log_warn(&format!(
            "could not answer the popup: {}",
            error_message(&e)
        ));
    }
}

// ---------------------------------------------------------------- tabs, UI

/// `chrome.tabs.create({url, active: true})`.
pub async fn tabs_create(url: &str) -> Result<(), String> {
    let props = serde_json::json!({ "url": url, "active": true });
    settle(tabs_create_raw(&to_js(&props))).await.map(|_| ())
}

/// A basic `chrome.notifications.create`.
pub async fn notify(id: &str, title: &str, message: &str) -> Result<(), String> {
    let opts = serde_json::json!({
        "type": "basic",
        "iconUrl": runtime_get_url("icons/icon128.png"),
        "title": title,
        "message": message,
        "priority": 2,
        "requireInteraction": true,
    });
    settle(notifications_create_raw(id, &to_js(&opts)))
        .await
        .map(|_| ())
}

/// `chrome.notifications.onClicked.addListener(id => f(id))`.
pub fn on_notification_clicked(f: impl FnMut(String) + 'static) {
    let mut f = f;
    let cb = Closure::<dyn FnMut(JsValue)>::new(move |id: JsValue| {
        f(id.as_string().unwrap_or_default())
    });
    notifications_on_clicked_add(cb.as_ref().unchecked_ref());
    cb.forget();
}

/// `chrome.action.setBadgeText` (+ colour when non-empty).
pub async fn set_badge(text: &str, color: &str) -> Result<(), String> {
    settle(set_badge_text_raw(&to_js(
        &serde_json::json!({ "text": text }),
    )))
    .await?;
    if !text.is_empty() {
        settle(set_badge_background_color_raw(&to_js(
            &serde_json::json!({ "color": color }),
        )))
        .await?;
    }
    Ok(())
}

// ---------------------------------------------------------------- permissions

/// Start `chrome.permissions.request({origins})` now — it must run inside the
/// click's user gesture, so before any `await` — and return its outcome.
pub fn permissions_request(
    origins: &[String],
) -> impl std::future::Future<Output = Result<bool, String>> {
    let call = permissions_request_raw(&to_js(&serde_json::json!({ "origins": origins })));
    async move { settle(call).await.map(|v| v.is_truthy()) }
}

/// `chrome.permissions.contains({origins})`.
pub async fn permissions_contains(origins: &[String]) -> Result<bool, String> {
    let call = permissions_contains_raw(&to_js(&serde_json::json!({ "origins": origins })));
    settle(call).await.map(|v| v.is_truthy())
}

// ---------------------------------------------------------------- clipboard

/// `navigator.clipboard.writeText(text)`.
pub async fn clipboard_write(text: &str) -> Result<(), String> {
    settle(clipboard_write_text_raw(text)).await.map(|_| ())
}
