// Loads the Rust/WASM background worker (src/background.rs). No top-level
// await: a module service worker that uses it never starts.
import init, { background_main } from "./pkg/pretix_race_extension.js";

// Chrome only delivers the message that woke the worker to listeners added in
// its first turn; hold messages here until the WASM has loaded.
const early = [];
const hold = (msg, sender, sendResponse) => { early.push([msg, sender, sendResponse]); return true; };
chrome.runtime.onMessage.addListener(hold);

init({ module_or_path: chrome.runtime.getURL("pkg/pretix_race_extension_bg.wasm") })
  .then(() => { chrome.runtime.onMessage.removeListener(hold); background_main(early); })
  .catch((e) => console.error("pretix-race: cannot start the background worker", e));
