//! A very small Chrome DevTools Protocol client for the browser test.
//!
//! We need five things from Chromium: open a page, attach to it, evaluate
//! JavaScript (awaiting promises), list targets and take a screenshot. That
//! is a JSON request/response exchange over one WebSocket; a full CDP crate
//! (thousands of generated types, minutes of build) would pin us to one
//! protocol revision for no gain. Requests carry an id; responses are
//! matched by id; events are broadcast to whoever waits for one.

#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::sync::{broadcast, mpsc, oneshot};
use tokio_tungstenite::tungstenite::Message;

type Pending = Arc<Mutex<HashMap<u64, oneshot::Sender<Value>>>>;

/// A connection to the browser endpoint (`ws://127.0.0.1:PORT/devtools/browser/…`).
#[derive(Clone)]
pub struct Cdp {
    next_id: Arc<AtomicU64>,
    pending: Pending,
    out: mpsc::UnboundedSender<String>,
    events: broadcast::Sender<Value>,
}

impl Cdp {
    pub async fn connect(ws_url: &str) -> Result<Cdp, String> {
        let (ws, _) = tokio_tungstenite::connect_async(ws_url)
            .await
            .map_err(|e| e.to_string())?;
        let (mut sink, mut stream) = ws.split();
        let pending: Pending = Arc::default();
        let (out, mut rx) = mpsc::unbounded_channel::<String>();
        tokio::spawn(async move {
            while let Some(text) = rx.recv().await {
                if sink.send(Message::text(text)).await.is_err() {
                    return;
                }
            }
        });
        let p = pending.clone();
        let (events, _) = broadcast::channel(1024);
        let ev = events.clone();
        tokio::spawn(async move {
            while let Some(Ok(msg)) = stream.next().await {
                let Message::Text(text) = msg else { continue };
                let Ok(v) = serde_json::from_str::<Value>(&text) else {
                    continue;
                };
                if let Some(id) = v.get("id").and_then(Value::as_u64) {
                    if let Some(tx) = p.lock().unwrap().remove(&id) {
                        let _ = tx.send(v);
                    }
                } else {
                    let _ = ev.send(v);
                }
            }
        });
        Ok(Cdp {
            next_id: Arc::new(AtomicU64::new(1)),
            pending,
            out,
            events,
        })
    }

    /// Send `method` (to `session` if given) and await its result.
    pub async fn call(
        &self,
        session: Option<&str>,
        method: &str,
        params: Value,
    ) -> Result<Value, String> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let mut msg = json!({"id": id, "method": method, "params": params});
        if let Some(s) = session {
            msg["sessionId"] = json!(s);
        }
        let (tx, rx) = oneshot::channel();
        self.pending.lock().unwrap().insert(id, tx);
        self.out.send(msg.to_string()).map_err(|e| e.to_string())?;
        let resp = rx
            .await
            .map_err(|_| format!("{method}: connection closed"))?;
        if let Some(err) = resp.get("error") {
            return Err(format!("{method}: {err}"));
        }
        Ok(resp["result"].clone())
    }

    /// Open `url` in a new tab, attach to it and wait for its load event.
    pub async fn open(&self, url: &str) -> Result<Page, String> {
        let t = self
            .call(None, "Target.createTarget", json!({"url": "about:blank"}))
            .await?;
        let target = t["targetId"].as_str().ok_or("no targetId")?.to_string();
        let page = self.attach(&target).await?;
        let mut events = self.events.subscribe();
        page.call("Page.enable", json!({})).await?;
        page.call("Page.navigate", json!({"url": url})).await?;
        // about:blank fires its own load event: only the one after our
        // document's navigation counts.
        let mut navigated = false;
        loop {
            let ev = events.recv().await.map_err(|e| e.to_string())?;
            if ev["sessionId"] != page.session.as_str() {
                continue;
            }
            match ev["method"].as_str() {
                Some("Page.frameNavigated") => {
                    let frame = &ev["params"]["frame"];
                    if frame.get("parentId").is_none()
                        && frame["url"].as_str().is_some_and(|u| u.starts_with(url))
                    {
                        navigated = true;
                    }
                }
                Some("Page.loadEventFired") if navigated => return Ok(page),
                _ => {}
            }
        }
    }

    pub async fn attach(&self, target: &str) -> Result<Page, String> {
        let s = self
            .call(
                None,
                "Target.attachToTarget",
                json!({"targetId": target, "flatten": true}),
            )
            .await?;
        Ok(Page {
            cdp: self.clone(),
            session: s["sessionId"].as_str().ok_or("no sessionId")?.to_string(),
            target: target.to_string(),
        })
    }

    pub async fn targets(&self) -> Result<Vec<Value>, String> {
        let t = self.call(None, "Target.getTargets", json!({})).await?;
        Ok(t["targetInfos"].as_array().cloned().unwrap_or_default())
    }
}

/// One attached page.
pub struct Page {
    cdp: Cdp,
    pub session: String,
    pub target: String,
}

impl Page {
    /// Resolve once the JS expression `cond` is true, re-checking after each
    /// page or runtime event of this tab (navigation, load, new context), so
    /// a tab that is still loading is waited for, not polled.
    pub async fn wait_until(&self, cond: &str) -> Result<(), String> {
        let mut events = self.cdp.events.subscribe();
        self.call("Page.enable", json!({})).await?;
        self.call("Runtime.enable", json!({})).await?;
        loop {
            if let Ok(Value::Bool(true)) = self.eval(cond).await {
                return Ok(());
            }
            loop {
                let ev = events.recv().await.map_err(|e| e.to_string())?;
                if ev["sessionId"] == self.session.as_str() {
                    break;
                }
            }
        }
    }

    pub async fn call(&self, method: &str, params: Value) -> Result<Value, String> {
        self.cdp.call(Some(&self.session), method, params).await
    }

    /// Evaluate `expr`, awaiting it if it is a promise; returns its value.
    pub async fn eval(&self, expr: &str) -> Result<Value, String> {
        let r = self
            .cdp
            .call(
                Some(&self.session),
                "Runtime.evaluate",
                json!({"expression": expr, "awaitPromise": true, "returnByValue": true, "userGesture": true}),
            )
            .await?;
        if let Some(ex) = r.get("exceptionDetails") {
            return Err(format!("JS exception: {ex}"));
        }
        Ok(r["result"]["value"].clone())
    }

    pub async fn screenshot_png(&self, width: u32, height: u32) -> Result<Vec<u8>, String> {
        // A background tab renders no frames: bring it to the front first.
        self.call("Page.bringToFront", json!({})).await?;
        self.cdp
            .call(
                Some(&self.session),
                "Emulation.setDeviceMetricsOverride",
                json!({"width": width, "height": height, "deviceScaleFactor": 1, "mobile": false}),
            )
            .await?;
        let r = self
            .cdp
            .call(
                Some(&self.session),
                "Page.captureScreenshot",
                json!({"format": "png"}),
            )
            .await?;
        let b64 = r["data"].as_str().ok_or("no screenshot data")?;
        base64_decode(b64)
    }
}

fn base64_decode(s: &str) -> Result<Vec<u8>, String> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(s)
        .map_err(|e| e.to_string())
}
