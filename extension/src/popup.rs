//! The popup: a form that starts and stops races, and a view of what the
//! background worker stored. It renders from `chrome.storage` only and
//! re-renders on `chrome.storage.onChanged`, so closing and reopening it
//! never loses anything.

use std::cell::RefCell;
use std::future::Future;

use pretix_race_shared::protocol::StartRequest;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::spawn_local;
use web_sys::{
    Document, Element, HtmlAnchorElement, HtmlElement, HtmlInputElement, HtmlSelectElement,
    HtmlTextAreaElement,
};

use crate::chrome::{self, Area};
use crate::form::{self, FieldError};
use crate::model::{
    CmdReply, LocalState, PopupCmd, SessionState, Settings, LOCAL_KEYS, LOCAL_SETTINGS,
    SESSION_KEYS,
};
use crate::view;

/// Text inputs and selects of the form, by element id.
const TEXT_FIELDS: [&str; 8] = [
    "url",
    "event",
    "interval",
    "item",
    "sort",
    "max-price",
    "ticket-type",
    "wait-marketplace",
];

#[derive(Default)]
struct Pop {
    session: SessionState,
    local: LocalState,
    loaded: bool,
}

thread_local! {
    static POP: RefCell<Pop> = RefCell::new(Pop::default());
    /// The log lines on screen.
    static LOG_SHOWN: RefCell<Vec<(&'static str, String)>> = const { RefCell::new(Vec::new()) };
}

/// Entry point, called by `popup.js` once the WASM is loaded.
pub fn main() {
    for id in TEXT_FIELDS {
        on(id, "input", save_form);
        on(id, "change", save_form);
    }
    on("dry-run", "change", save_form);
    on("start", "click", on_start);
    on("stop", "click", on_stop);
    on("test-handoff", "click", on_test_handoff);
    on("open-checkout", "click", on_open_checkout);
    on("copy-script", "click", on_copy_script);
    chrome::on_storage_changed(|| spawn_local(reload()));
    // The backoff countdown moves without storage changes.
    chrome::set_interval(1000, render);
    spawn_local(async {
        reload().await;
        // Wake the background worker and have it (re)connect to the host.
        let _ = chrome::send_message::<_, CmdReply>(&PopupCmd::Connect).await;
    });
}

async fn reload() {
    let session = chrome::storage_get(Area::Session, &SESSION_KEYS).await;
    let local = chrome::storage_get(Area::Local, &LOCAL_KEYS).await;
    let first = POP.with(|p| {
        let mut p = p.borrow_mut();
        if let Ok(v) = &session {
            p.session = SessionState::from_storage(v);
        }
        if let Ok(v) = &local {
            p.local = LocalState::from_storage(v);
        }
        !std::mem::replace(&mut p.loaded, true)
    });
    if let Err(e) = session.and(local) {
        show_form_error(&format!("cannot read the extension's storage: {e}"));
    }
    if first {
        let settings = POP.with(|p| p.borrow().local.settings.clone().unwrap_or_default());
        fill_form(&settings);
    }
    render();
}

// ---------------------------------------------------------------- DOM helpers

fn document() -> Option<Document> {
    web_sys::window()?.document()
}

fn el(id: &str) -> Option<Element> {
    document()?.get_element_by_id(id)
}

fn typed<T: JsCast>(id: &str) -> Option<T> {
    el(id)?.dyn_into::<T>().ok()
}

fn on(id: &str, event: &str, f: fn()) {
    let Some(e) = el(id) else {
        chrome::log_warn(&format!("popup.html has no #{id}"));
        return;
    };
    let cb = Closure::<dyn FnMut(web_sys::Event)>::new(move |_| f());
    let _ = e.add_event_listener_with_callback(event, cb.as_ref().unchecked_ref());
    cb.forget();
}

fn set_text(id: &str, text: &str) {
    if let Some(e) = el(id) {
        if e.text_content().as_deref() != Some(text) {
            e.set_text_content(Some(text));
        }
    }
}

fn set_hidden(id: &str, hidden: bool) {
    if let Some(e) = typed::<HtmlElement>(id) {
        e.set_hidden(hidden);
    }
}

fn set_body_data(key: &str, value: &str) {
    let Some(body) = document().and_then(|d| d.body()) else {
        return;
    };
    let data = body.dataset();
    if value.is_empty() {
        data.delete(key);
    } else {
        let _ = data.set(key, value);
    }
}

fn value_of(id: &str) -> String {
    if let Some(i) = typed::<HtmlInputElement>(id) {
        return i.value();
    }
    if let Some(s) = typed::<HtmlSelectElement>(id) {
        return s.value();
    }
    String::new()
}

fn set_value(id: &str, v: &str) {
    if let Some(i) = typed::<HtmlInputElement>(id) {
        i.set_value(v);
    } else if let Some(s) = typed::<HtmlSelectElement>(id) {
        s.set_value(v);
    }
}

// ---------------------------------------------------------------- form

fn read_form() -> Settings {
    Settings {
        url: value_of("url"),
        event: value_of("event"),
        interval: value_of("interval"),
        item: value_of("item"),
        sort: value_of("sort"),
        max_price: value_of("max-price"),
        ticket_type: value_of("ticket-type"),
        dry_run: typed::<HtmlInputElement>("dry-run").is_some_and(|c| c.checked()),
        wait_marketplace: value_of("wait-marketplace"),
    }
}

fn fill_form(s: &Settings) {
    set_value("url", &s.url);
    set_value("event", &s.event);
    set_value("interval", &s.interval);
    set_value("item", &s.item);
    set_value("sort", &s.sort);
    set_value("max-price", &s.max_price);
    set_value("ticket-type", &s.ticket_type);
    set_value("wait-marketplace", &s.wait_marketplace);
    if let Some(c) = typed::<HtmlInputElement>("dry-run") {
        c.set_checked(s.dry_run);
    }
}

fn save_form() {
    let s = read_form();
    spawn_local(async move {
        if let Err(e) = chrome::storage_set(Area::Local, LOCAL_SETTINGS, &s).await {
            show_form_error(&format!("cannot save the settings: {e}"));
        }
    });
}

fn clear_form_error() {
    for id in TEXT_FIELDS {
        if let Some(e) = el(id) {
            let _ = e.remove_attribute("aria-invalid");
        }
    }
    set_text("form-error", "");
    set_hidden("form-error", true);
}

fn show_form_error(message: &str) {
    set_text("form-error", message);
    set_hidden("form-error", false);
}

fn show_field_error(e: &FieldError) {
    show_form_error(&e.message);
    if let Some(field) = el(e.field) {
        let _ = field.set_attribute("aria-invalid", "true");
    }
    if let Some(field) = typed::<HtmlElement>(e.field) {
        let _ = field.focus();
    }
}

/// Ask for access to a remote shop. The request is made *now*, inside the
/// click (Chrome requires a user gesture); the returned future resolves to
/// whether the extension may use the shop's cookies.
fn request_access(url: &str) -> Result<impl Future<Output = Result<(), String>>, FieldError> {
    let origin = form::shop_origin(url).map_err(|message| FieldError {
        field: "url",
        message,
    })?;
    let pattern = form::permission_pattern(&origin).map_err(|message| FieldError {
        field: "url",
        message,
    })?;
    let pending = pattern.map(|p| (chrome::permissions_request(std::slice::from_ref(&p)), p));
    Ok(async move {
        let Some((request, pattern)) = pending else {
            return Ok(());
        };
        match request.await {
            Ok(true) => Ok(()),
            Ok(false) => Err(format!(
                "pretix-race needs access to {origin} to hand the cart over to this browser; Start again and allow it"
            )),
            Err(e) => {
                // E.g. no user gesture: fine if it was granted before.
                match chrome::permissions_contains(&[pattern]).await {
                    Ok(true) => Ok(()),
                    _ => Err(format!("cannot get access to {origin}: {e}")),
                }
            }
        }
    })
}

async fn send(cmd: PopupCmd) {
    match chrome::send_message::<_, CmdReply>(&cmd).await {
        Ok(r) if r.ok => {}
        Ok(r) => show_form_error(r.error.as_deref().unwrap_or("the command failed")),
        Err(e) => show_form_error(&format!("the background worker did not answer: {e}")),
    }
}

fn on_start() {
    clear_form_error();
    let s = read_form();
    save_form();
    let request: StartRequest = match form::validate(&s) {
        Ok(r) => r,
        Err(e) => return show_field_error(&e),
    };
    let access = match request_access(&request.url) {
        Ok(a) => a,
        Err(e) => return show_field_error(&e),
    };
    spawn_local(async move {
        match access.await {
            Ok(()) => send(PopupCmd::Start { request }).await,
            Err(e) => show_form_error(&e),
        }
    });
}

fn on_stop() {
    clear_form_error();
    spawn_local(send(PopupCmd::Stop));
}

/// A fake win through the real handoff path, testing the setup as it is:
/// no permission is requested here, so a shop the extension may not touch
/// yet shows Chrome's refusal (and the fallback script) — pressing Start once
/// grants the access.
fn on_test_handoff() {
    clear_form_error();
    let url = form::test_handoff_url(&read_form());
    spawn_local(send(PopupCmd::TestHandoff { url }));
}

fn on_open_checkout() {
    let url = POP.with(|p| {
        p.borrow()
            .local
            .last_win
            .as_ref()
            .map(|w| w.checkout_url.clone())
    });
    let Some(url) = url else { return };
    spawn_local(async move {
        if let Err(e) = chrome::tabs_create(&url).await {
            show_form_error(&format!("cannot open checkout: {e}"));
        }
    });
}

fn on_copy_script() {
    let Some(area) = typed::<HtmlTextAreaElement>("fallback-script") else {
        return;
    };
    let text = area.value();
    spawn_local(async move {
        match chrome::clipboard_write(&text).await {
            Ok(()) => set_text("copy-status", "Copied."),
            Err(_) => {
                // No clipboard access: select it so Ctrl+C does the rest.
                area.select();
                set_text("copy-status", "Selected — press Ctrl+C (⌘C) to copy.");
            }
        }
    });
}

// ---------------------------------------------------------------- render

fn render() {
    POP.with(|p| {
        let p = p.borrow();
        if !p.loaded {
            return;
        }
        let s = view::status_view(
            p.session.status.as_ref(),
            p.session.last_error.as_ref(),
            chrome::now_ms(),
        );
        set_body_data("state", &s.state);
        set_text("state", &s.state_text);
        set_text("state-hint", &s.hint);
        set_hidden("state-hint", s.hint.is_empty());
        set_text("polls", &s.polls);
        set_text("last-poll", &s.last_poll);
        set_text("listings-seen", &s.listings_seen);
        set_text("backoff", &s.backoff);
        set_text("last-error", &s.last_error);

        let h = view::host_view(p.session.host.as_ref());
        set_body_data("host", h.dataset);
        set_text("host-status", &h.text);
        if let Some(e) = el("host-status") {
            let detail = p
                .session
                .host
                .as_ref()
                .and_then(|c| c.message.clone())
                .unwrap_or_default();
            let _ = e.set_attribute("title", &detail);
        }

        let w = view::win_view(p.local.last_win.as_ref());
        set_body_data("handoff", w.handoff);
        set_hidden("win", !w.visible);
        set_text("win-title", &w.title);
        set_text("win-ticket", &w.ticket);
        set_text("win-price", &w.price);
        set_text("win-expires", &w.expires);
        set_hidden("win-expires-row", w.expires.is_empty());
        if let Some(a) = typed::<HtmlAnchorElement>("win-checkout-url") {
            a.set_href(&w.checkout_url);
            set_text("win-checkout-url", &w.checkout_url);
        }
        set_text("handoff-error", &w.handoff_error);
        set_hidden("handoff-error", w.handoff_error.is_empty());
        if let Some(t) = typed::<HtmlTextAreaElement>("fallback-script") {
            if t.value() != w.script {
                t.set_value(&w.script);
            }
        }

        render_log(&view::log_lines(&p.session.log, 20));
    });
}

fn render_log(lines: &[(&'static str, String)]) {
    let (Some(doc), Some(list)) = (document(), el("log")) else {
        return;
    };
    // Rebuild only when it changed (the 1 s tick renders too).
    let changed = LOG_SHOWN.with(|shown| {
        let mut shown = shown.borrow_mut();
        let changed = shown.as_slice() != lines;
        if changed {
            *shown = lines.to_vec();
        }
        changed
    });
    if !changed {
        return;
    }
    list.set_text_content(None);
    for (level, message) in lines {
        if let Ok(li) = doc.create_element("li") {
            let _ = li.set_attribute("class", level);
            li.set_text_content(Some(message));
            let _ = list.append_child(&li);
        }
    }
    set_hidden("log-empty", !lines.is_empty());
}
