//! The background service worker: the native-messaging connection, the
//! popup's commands, and the cookie handoff.
//!
//! Chrome may stop this worker whenever it is idle (an open native port keeps
//! it alive while a race runs). Every piece of state the popup shows is
//! therefore mirrored into `chrome.storage` the moment it changes; the
//! in-memory copy only saves re-reading it.

use std::cell::RefCell;

use js_sys::Function;
use pretix_race_shared::protocol::{
    decode, encode, FromHost, Handoff, LogLevel, RaceState, Status, ToHost, HOST_NAME,
};
use wasm_bindgen::JsValue;
use wasm_bindgen_futures::spawn_local;

use crate::chrome::{self, Area, Port};
use crate::conn;
use crate::handoff::{self, CookieFailure};
use crate::model::{
    is_active, CmdReply, ErrorNote, HostConn, HostState, LogLine, PopupCmd, SessionState,
    WinRecord, LOCAL_LAST_WIN, SESSION_HOST, SESSION_KEYS, SESSION_LAST_ERROR, SESSION_LOG,
    SESSION_STATUS,
};

const WIN_NOTIFICATION: &str = "pretix-race-win";

#[derive(Default)]
struct Bg {
    /// Session state has been loaded from storage; commands wait until then.
    ready: bool,
    queued: Vec<(JsValue, Function)>,
    session: SessionState,
    /// The open port and its generation (callbacks of older ports are ignored).
    port: Option<(u32, Port)>,
    generation: u32,
    /// Reconnect attempts since the last `Hello`.
    attempts: u32,
}

thread_local! {
    static BG: RefCell<Bg> = RefCell::new(Bg::default());
}

fn with<R>(f: impl FnOnce(&mut Bg) -> R) -> R {
    BG.with(|b| f(&mut b.borrow_mut()))
}

/// Entry point, called by `background.js` once the WASM is loaded.
///
/// `early` holds `[message, sender, sendResponse]` triples that the loader
/// queued while the WASM was still loading (listeners must be registered in
/// the worker's first turn, or the message that woke it is lost).
pub fn main(early: js_sys::Array) {
    chrome::on_runtime_message(on_command);
    chrome::on_notification_clicked(|id| {
        if id == WIN_NOTIFICATION {
            spawn_local(open_last_checkout());
        }
    });
    for item in early.iter() {
        let item: js_sys::Array = item.into();
        let reply: Function = wasm_bindgen::JsCast::unchecked_into(item.get(2));
        on_command(item.get(0), reply);
    }
    spawn_local(start());
}

/// Load the session state, repair what a worker restart left behind, then
/// serve queued commands and connect.
async fn start() {
    let loaded = match chrome::storage_get(Area::Session, &SESSION_KEYS).await {
        Ok(v) => SessionState::from_storage(&v),
        Err(e) => {
            chrome::log_warn(&format!("cannot read chrome.storage.session: {e}"));
            SessionState::default()
        }
    };
    let queued = with(|b| {
        // Nothing writes session state before `ready` (commands wait).
        b.session = loaded;
        b.ready = true;
        std::mem::take(&mut b.queued)
    });
    // A worker that starts has no port: a race the previous one relayed has
    // lost its host (Chrome ends the host with the port).
    let stale = with(|b| {
        b.session
            .status
            .as_ref()
            .is_some_and(|s| is_active(s.state))
    });
    if stale {
        mark_race_lost("the extension's background worker restarted");
    }
    for (msg, reply) in queued {
        on_command(msg, reply);
    }
    if with(|b| b.port.is_none()) {
        connect();
    }
}

// ---------------------------------------------------------------- state

fn save_session(key: &'static str) {
    let value = with(|b| match key {
        SESSION_STATUS => serde_json::to_value(&b.session.status),
        SESSION_HOST => serde_json::to_value(&b.session.host),
        SESSION_LAST_ERROR => serde_json::to_value(&b.session.last_error),
        _ => serde_json::to_value(&b.session.log),
    });
    let Ok(value) = value else { return };
    spawn_local(async move {
        if let Err(e) = chrome::storage_set(Area::Session, key, &value).await {
            chrome::log_warn(&format!(
                "cannot write {key} to chrome.storage.session: {e}"
            ));
        }
    });
}

fn set_host(state: HostState, host_version: Option<String>, message: Option<String>) {
    with(|b| {
        b.session.host = Some(HostConn {
            state,
            host_version,
            message,
            since: chrome::now_ms(),
        })
    });
    save_session(SESSION_HOST);
}

fn host_state() -> Option<HostState> {
    with(|b| b.session.host.as_ref().map(|h| h.state))
}

fn set_last_error(message: Option<String>) {
    with(|b| {
        b.session.last_error = message.map(|message| ErrorNote {
            message,
            time: chrome::now_ms(),
        })
    });
    save_session(SESSION_LAST_ERROR);
}

fn log(level: LogLevel, message: impl Into<String>) {
    let message = message.into();
    if level != LogLevel::Info {
        chrome::log_warn(&message);
    }
    with(|b| {
        b.session.push_log(LogLine {
            level,
            message,
            time: chrome::now_ms(),
        })
    });
    save_session(SESSION_LOG);
}

fn set_status(status: Option<Status>) {
    with(|b| b.session.status = status);
    save_session(SESSION_STATUS);
}

/// The host went away while a race was running: say so instead of leaving
/// "polling" on screen forever.
fn mark_race_lost(why: &str) {
    let status = with(|b| b.session.status.clone());
    if let Some(mut s) = status.filter(|s| is_active(s.state)) {
        let msg = format!("the race ended: {why}");
        s.state = RaceState::Failed;
        s.backoff_until = None;
        s.last_error = Some(msg.clone());
        set_status(Some(s));
        set_last_error(Some(msg));
    }
}

// ---------------------------------------------------------------- the port

fn connect() {
    let generation = with(|b| {
        b.generation += 1;
        b.generation
    });
    set_host(HostState::Connecting, None, None);
    let port = match chrome::connect_native(HOST_NAME) {
        Ok(p) => p,
        Err(e) => {
            on_disconnect(generation, Some(e));
            return;
        }
    };
    port.on_json_message(move |json| on_host_message(generation, json));
    port.on_disconnected(move |err| on_disconnect(generation, err));
    with(|b| b.port = Some((generation, port.clone())));
    if let Err(e) = port.post_json(&encode(&ToHost::Hello)) {
        log(LogLevel::Error, format!("cannot greet the host: {e}"));
    }
}

fn current_port(generation: u32) -> Option<Port> {
    with(|b| {
        b.port
            .as_ref()
            .filter(|(g, _)| *g == generation)
            .map(|(_, p)| p.clone())
    })
}

fn on_disconnect(generation: u32, err: Option<String>) {
    let is_current = with(|b| {
        if b.generation != generation {
            return false;
        }
        b.port = None;
        b.attempts += 1;
        true
    });
    if !is_current {
        return;
    }
    let state = conn::classify_disconnect(err.as_deref());
    let message = err.unwrap_or_else(|| "the host closed the connection".into());
    log(
        LogLevel::Warn,
        format!("native host disconnected: {message}"),
    );
    set_host(state, None, Some(message.clone()));
    mark_race_lost(&format!("the host disconnected ({message})"));
    let attempts = with(|b| b.attempts);
    if let Some(ms) = conn::reconnect_delay_ms(attempts, state) {
        chrome::set_timeout(ms as i32, move || {
            // Only if nothing (e.g. a popup's `connect`) reconnected meanwhile.
            if with(|b| b.port.is_none() && b.generation == generation) {
                connect();
            }
        });
    }
}

fn on_host_message(generation: u32, json: String) {
    if current_port(generation).is_none() {
        return;
    }
    match decode::<FromHost>(json.as_bytes()) {
        Ok(FromHost::Hello { host_version }) => {
            with(|b| b.attempts = 0);
            log(LogLevel::Info, format!("connected to host v{host_version}"));
            set_host(HostState::Connected, Some(host_version), None);
        }
        Ok(FromHost::Status(status)) => {
            let new_error = status
                .last_error
                .clone()
                .filter(|e| with(|b| b.session.last_error.as_ref().map(|n| &n.message) != Some(e)));
            if new_error.is_some() {
                set_last_error(new_error);
            }
            set_status(Some(status));
        }
        Ok(FromHost::Handoff(h)) => spawn_local(take_over(generation, h)),
        Ok(FromHost::Log { level, message }) => log(level, message),
        Ok(FromHost::Error { message }) => {
            log(LogLevel::Error, format!("host: {message}"));
            set_last_error(Some(message));
        }
        Err(e) => {
            let (mismatch, text) = conn::decode_problem(&e);
            log(LogLevel::Error, text.clone());
            if mismatch {
                let version =
                    with(|b| b.session.host.as_ref().and_then(|h| h.host_version.clone()));
                set_host(HostState::Mismatch, version, Some(text));
            } else {
                set_last_error(Some(text));
            }
        }
    }
}

fn send(msg: &ToHost) -> Result<(), String> {
    let port = with(|b| b.port.as_ref().map(|(_, p)| p.clone()));
    let port = port.ok_or("not connected to the host")?;
    port.post_json(&encode(msg))
}

// ---------------------------------------------------------------- commands

fn on_command(msg: JsValue, reply: Function) {
    if !with(|b| b.ready) {
        with(|b| b.queued.push((msg, reply)));
        return;
    }
    let answer = match chrome::from_js::<PopupCmd>(&msg) {
        Ok(cmd) => run_command(cmd),
        Err(e) => CmdReply::err(format!("unknown command: {e}")),
    };
    chrome::respond(&reply, &answer);
}

fn ensure_connected() {
    if with(|b| b.port.is_none()) {
        with(|b| b.attempts = 0);
        connect();
    }
}

fn run_command(cmd: PopupCmd) -> CmdReply {
    if let PopupCmd::Connect = cmd {
        if host_state() == Some(HostState::Mismatch) {
            // The user may have installed a matching host since: start it anew.
            let old = with(|b| b.port.take());
            if let Some((_, port)) = old {
                port.disconnect();
            }
        }
        ensure_connected();
        return CmdReply::ok();
    }
    if host_state() == Some(HostState::Mismatch) {
        let why = with(|b| b.session.host.as_ref().and_then(|h| h.message.clone()));
        return CmdReply::err(format!("protocol mismatch: {}", why.unwrap_or_default()));
    }
    ensure_connected();
    let msg = match cmd {
        PopupCmd::Connect => unreachable!("handled above"),
        PopupCmd::Start { request } => {
            log(
                LogLevel::Info,
                format!(
                    "start: {} {}, every {} s{}",
                    request.url,
                    request.event,
                    request.interval_secs,
                    if request.dry_run { " (dry run)" } else { "" }
                ),
            );
            set_status(None);
            set_last_error(None);
            spawn_local(async {
                let _ = chrome::set_badge("", "").await;
            });
            ToHost::Start(request)
        }
        PopupCmd::Stop => ToHost::Stop,
        PopupCmd::TestHandoff { url } => ToHost::TestHandoff { url },
    };
    match send(&msg) {
        Ok(()) => CmdReply::ok(),
        Err(e) => CmdReply::err(e),
    }
}

// ---------------------------------------------------------------- handoff

/// Put the won session into the profile, open checkout, tell the host.
async fn take_over(generation: u32, h: Handoff) {
    log(
        LogLevel::Info,
        format!("handoff: {} ({}) → {}", h.ticket, h.price, h.checkout_url),
    );
    let failures = set_cookies(&h).await;
    let result = handoff::result(&failures);
    let win = WinRecord::new(&h, result.clone(), chrome::now_ms());
    if let Err(e) = chrome::storage_set(Area::Local, LOCAL_LAST_WIN, &win).await {
        log(LogLevel::Error, format!("cannot store the win: {e}"));
    }
    // Answer the port that asked (even if it closed since, then nobody waits).
    if let Some(port) = current_port(generation) {
        if let Err(e) = port.post_json(&encode(&ToHost::HandoffResult(result.clone()))) {
            log(LogLevel::Error, format!("cannot answer the host: {e}"));
        }
    }
    let (title, message) = handoff::notification(&h, &result);
    if result.ok {
        log(LogLevel::Info, "session cookies set; opening checkout");
        if let Err(e) = chrome::tabs_create(&h.checkout_url).await {
            log(LogLevel::Error, format!("cannot open checkout: {e}"));
            set_last_error(Some(format!("cannot open checkout: {e}")));
        }
    } else {
        let e = result.error.clone().unwrap_or_default();
        log(LogLevel::Error, format!("handoff failed: {e}"));
        set_last_error(Some(format!("handoff failed: {e}")));
    }
    if let Err(e) = chrome::notify(WIN_NOTIFICATION, &title, &message).await {
        log(LogLevel::Warn, format!("cannot show a notification: {e}"));
    }
    let (badge, color) = if result.ok {
        ("WON", "#1a7f37")
    } else {
        ("ERR", "#cf222e")
    };
    if let Err(e) = chrome::set_badge(badge, color).await {
        log(LogLevel::Warn, format!("cannot set the badge: {e}"));
    }
}

/// Set and verify every cookie; what failed, with Chrome's words.
async fn set_cookies(h: &Handoff) -> Vec<CookieFailure> {
    let steps = match handoff::plan(h) {
        Ok(s) => s,
        Err(reason) => return vec![CookieFailure { name: None, reason }],
    };
    let mut failures = Vec::new();
    for step in &steps {
        remove_partitioned_copies(step).await;
        let outcome = match chrome::cookies_set(&step.set).await {
            Err(e) => Err(e),
            Ok(()) => match chrome::cookies_get(&step.verify).await {
                Ok(got) => handoff::check_stored(step, got.as_deref()),
                Err(e) => Err(format!("set, but chrome.cookies.get failed: {e}")),
            },
        };
        if let Err(reason) = outcome {
            failures.push(CookieFailure {
                name: Some(step.set.name.clone()),
                reason,
            });
        }
    }
    failures
}

/// Best effort, failures ignored: drop stale partitioned copies of a cookie.
async fn remove_partitioned_copies(step: &handoff::CookieStep) {
    let Some(query) = &step.find_partitioned else {
        return;
    };
    match chrome::cookies_get_all(query).await {
        Ok(found) => {
            for rm in handoff::removals_for(step, &found) {
                if let Err(e) = chrome::cookies_remove(&rm).await {
                    log(
                        LogLevel::Warn,
                        format!("cannot remove a partitioned {:?}: {e}", step.set.name),
                    );
                }
            }
        }
        // A Chrome that cannot list partitions: guess the partition keys.
        Err(_) => {
            for rm in &step.remove_partitioned {
                let _ = chrome::cookies_remove(rm).await;
            }
        }
    }
}

async fn open_last_checkout() {
    let url = chrome::storage_get(Area::Local, &[LOCAL_LAST_WIN])
        .await
        .ok()
        .and_then(|v| v.get(LOCAL_LAST_WIN).cloned())
        .and_then(|w| serde_json::from_value::<WinRecord>(w).ok())
        .map(|w| w.checkout_url);
    if let Some(url) = url {
        if let Err(e) = chrome::tabs_create(&url).await {
            log(LogLevel::Error, format!("cannot open checkout: {e}"));
        }
    }
}
