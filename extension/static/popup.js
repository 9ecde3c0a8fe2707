// Loads the Rust/WASM popup (src/popup.rs).
import init, { popup_main } from "./pkg/pretix_race_extension.js";

init({ module_or_path: chrome.runtime.getURL("pkg/pretix_race_extension_bg.wasm") })
  .then(() => popup_main())
  .catch((e) => {
    console.error("pretix-race: cannot start the popup", e);
    document.getElementById("form-error").textContent = `cannot start: ${e}`;
    document.getElementById("form-error").hidden = false;
  });
