// The page of the workspace app. It posts its telemetry events to the
// app's own backend through the webtelemetry client, which the backend
// serves, and never talks to the collector.
import * as telemetry from "/api/telemetry/client.js";

const state = {
  workspaces: [],
  current: null, // the open workspace, with its messages
  status: null, // the backend's telemetry status, null while unknown
  saving: false, // a toggle change is being saved
  keptOff: false, // an opt-out was saved while another switch locked telemetry off
};

const $ = (id) => document.getElementById(id);

async function main() {
  const boot = await api("GET", "/api/state");
  if (boot.allowAutomation) {
    // The backend was started for its own end-to-end tests, which drive
    // this page with browser automation.
    telemetry.configure({ allowAutomation: true });
  }
  state.workspaces = boot.workspaces;
  fillSelect($("workspace-runtime"), boot.runtimeTypes);
  fillSelect($("model"), boot.models);
  fillSelect($("thinking"), boot.thinkingLevels, "medium");

  $("new-workspace").addEventListener("submit", onCreateWorkspace);
  $("composer").addEventListener("submit", onSend);
  $("message-text").addEventListener("keydown", (e) => {
    if (e.key === "Enter" && (e.metaKey || e.ctrlKey)) $("composer").requestSubmit();
  });
  $("telemetry-toggle").addEventListener("change", onToggle);
  $("telemetry-keep-off").addEventListener("click", onKeepOff);
  window.addEventListener("hashchange", showView);
  // The choice can change behind the page, such as with "mux telemetry
  // disable" in a terminal, so the status is read again on return.
  window.addEventListener("focus", () => refreshStatus());
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") refreshStatus();
  });

  await refreshStatus();
  renderWorkspaces();
  renderMessages();
  showView();
  document.body.dataset.ready = "true";
}

// api sends a JSON request to the backend and returns the decoded response,
// or throws an Error with the backend's message.
async function api(method, path, body) {
  const init = { method, headers: { Accept: "application/json" } };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(path, init);
  const data = await response.json().catch(() => null);
  if (!response.ok) throw new Error((data && data.error) || "HTTP " + response.status);
  return data;
}

function fillSelect(select, values, selected) {
  select.replaceChildren(...values.map((v) => new Option(v, v, v === selected, v === selected)));
}

function showView() {
  const settings = location.hash === "#/settings";
  $("settings-view").hidden = !settings;
  $("workspaces-view").hidden = settings;
  $("nav-settings").classList.toggle("active", settings);
  $("nav-workspaces").classList.toggle("active", !settings);
  if (settings) refreshStatus().then(renderSettings);
}

async function refreshStatus() {
  try {
    state.status = await telemetry.getStatus();
  } catch {
    // Unknown status: the toggle stays disabled and sharing hidden.
    state.status = null;
  }
  renderSettings();
}

// Workspaces.

async function onCreateWorkspace(event) {
  event.preventDefault();
  const name = $("workspace-name").value;
  const runtimeType = $("workspace-runtime").value;
  $("workspace-error").textContent = "";
  let ws;
  try {
    ws = await api("POST", "/api/workspaces", { name, runtimeType });
  } catch (err) {
    $("workspace-error").textContent = err.message;
    return;
  }
  telemetry.track("workspace_created", {
    workspaceId: ws.id,
    runtimeType: ws.runtimeType,
    frontendPlatform: telemetry.frontendPlatform(),
  });
  state.workspaces.push({ id: ws.id, name: ws.name, runtimeType: ws.runtimeType });
  $("workspace-name").value = "";
  state.current = ws;
  renderWorkspaces();
  renderMessages();
}

async function openWorkspace(id) {
  const from = state.current;
  if (from && from.id === id) return;
  const ws = await api("GET", "/api/workspaces/" + encodeURIComponent(id));
  if (from) {
    telemetry.track("workspace_switched", { fromWorkspaceId: from.id, toWorkspaceId: ws.id });
  }
  state.current = ws;
  $("share-result").textContent = "";
  renderWorkspaces();
  renderMessages();
}

function renderWorkspaces() {
  const items = state.workspaces.map((ws) => {
    const button = document.createElement("button");
    button.type = "button";
    button.dataset.id = ws.id;
    button.className = state.current && state.current.id === ws.id ? "active" : "";
    button.append(ws.name);
    const runtime = document.createElement("span");
    runtime.className = "runtime";
    runtime.textContent = ws.runtimeType;
    button.append(runtime);
    button.addEventListener("click", () => openWorkspace(ws.id).catch(showError));
    const li = document.createElement("li");
    li.append(button);
    return li;
  });
  $("workspace-list").replaceChildren(...items);
}

// Messages.

async function onSend(event) {
  event.preventDefault();
  const ws = state.current;
  const text = $("message-text").value.trim();
  if (!ws || text === "") return;
  const model = $("model").value;

  telemetry.track("message_sent", {
    workspaceId: ws.id,
    model,
    agentId: "exec",
    message_length_b2: text.length,
    runtimeType: ws.runtimeType,
    frontendPlatform: telemetry.frontendPlatform(),
    thinkingLevel: $("thinking").value,
  });

  $("message-text").value = "";
  $("app-error").textContent = "";
  $("send").disabled = true;
  ws.messages.push({ id: "", role: "user", text });
  ws.pending = true;
  renderMessages();
  try {
    const result = await api("POST", "/api/workspaces/" + encodeURIComponent(ws.id) + "/messages", { text, model });
    ws.messages[ws.messages.length - 1] = result.user;
    ws.messages.push(result.reply);
  } catch (err) {
    showError(err);
  } finally {
    ws.pending = false;
    $("send").disabled = false;
    renderMessages();
  }
}

function renderMessages() {
  const ws = state.current;
  $("workspace-title").textContent = ws ? ws.name : "No workspace open";
  $("empty-hint").hidden = Boolean(ws);
  $("composer").hidden = !ws;
  // Sharing uses the vendor's service, so it is hidden when the user opted
  // out of telemetry, and while the status is unknown.
  const canShare = state.status !== null && !state.status.explicit;
  if (!canShare) $("share-result").textContent = "";
  if (!ws) {
    $("messages").replaceChildren();
    return;
  }
  const items = ws.messages.map((m) => renderMessage(m, canShare));
  if (ws.pending) {
    const li = document.createElement("li");
    li.className = "message assistant pending";
    li.textContent = "The model is thinking…";
    items.push(li);
  }
  $("messages").replaceChildren(...items);
}

function renderMessage(m, canShare) {
  const li = document.createElement("li");
  li.className = "message " + m.role;
  const meta = document.createElement("div");
  meta.className = "meta";
  meta.append(m.role === "user" ? "You" : m.model || "model");
  if (canShare && m.id) {
    const share = document.createElement("button");
    share.type = "button";
    share.className = "share";
    share.textContent = "Share";
    share.addEventListener("click", () => shareMessage(m.id));
    meta.append(share);
  }
  const text = document.createElement("div");
  text.className = "text";
  text.textContent = m.text;
  li.append(meta, text);
  return li;
}

async function shareMessage(id) {
  try {
    const { url } = await api("POST", "/api/share", { messageId: id });
    $("share-result").textContent = "Share link: " + new URL(url, location.href).href;
  } catch (err) {
    showError(err);
    // The backend rejects sharing after an opt-out the page did not see,
    // so the Share buttons follow the status it reads again.
    await refreshStatus();
  }
}

function showError(err) {
  $("app-error").textContent = "Error: " + err.message;
}

// Settings.

// renderSettings draws the toggle from the backend's status only, so it
// never reads "off" while events are sent.
function renderSettings() {
  const toggle = $("telemetry-toggle");
  const st = state.status;
  const line = $("telemetry-state");
  const note = $("telemetry-note");
  const keepOff = $("telemetry-keep-off");
  keepOff.hidden = st === null || !st.locked || state.keptOff;
  keepOff.disabled = state.saving;
  if (st === null) {
    toggle.checked = false;
    toggle.disabled = true;
    line.textContent = "The telemetry status could not be loaded.";
    return;
  }
  toggle.checked = st.enabled;
  toggle.disabled = st.locked || state.saving;
  toggle.setAttribute("aria-checked", String(st.enabled));
  line.textContent = st.enabled ? "Usage telemetry is on." : "Usage telemetry is off.";
  // Variables set to a value that turns nothing off, such as
  // MUX_DISABLE_TELEMETRY=true, are named, because the user who set them
  // expects telemetry to be off.
  const ignored = (st.notes || []).map((sentence) => " " + sentence + ".").join("");
  if (st.locked) {
    note.className = "note locked";
    note.textContent = "Locked: " + st.reason + ". This setting cannot change it; unset the variable and restart Mux to choose here.";
    if (state.keptOff) note.textContent += " Saved: usage telemetry stays off once the lock is gone.";
    note.textContent += ignored;
  } else if (!note.classList.contains("error")) {
    note.className = "note";
    const explicit = st.explicit ? "You turned usage telemetry off. Sharing is hidden while it is off." : "";
    note.textContent = (explicit + ignored).trim();
  }
  renderMessages();
}

// onToggle saves the user's choice. The switch keeps showing the state in
// force until the backend confirms the change, and a failed save leaves it
// there with a message.
async function onToggle() {
  const toggle = $("telemetry-toggle");
  const requested = toggle.checked;
  toggle.checked = state.status ? state.status.enabled : false;
  state.saving = true;
  toggle.disabled = true;
  const note = $("telemetry-note");
  note.className = "note";
  note.textContent = requested ? "Turning usage telemetry on…" : "Turning usage telemetry off…";
  try {
    state.status = await telemetry.setEnabled(requested);
    note.textContent = "";
  } catch (err) {
    await telemetry.getStatus().then((st) => (state.status = st), () => {});
    const now = state.status && state.status.enabled ? "on" : "off";
    note.className = "note error";
    note.textContent = "Could not save your choice: " + err.message + ". Usage telemetry is still " + now + ".";
  } finally {
    state.saving = false;
    renderSettings();
  }
}

// onKeepOff saves an opt-out while another switch keeps telemetry off, so
// that it stays off once that switch no longer applies.
async function onKeepOff() {
  state.saving = true;
  renderSettings();
  try {
    state.status = await telemetry.setEnabled(false);
    state.keptOff = true;
  } catch (err) {
    showError(new Error("could not save your choice: " + err.message));
  } finally {
    state.saving = false;
    renderSettings();
  }
}

main().catch((err) => {
  document.body.dataset.ready = "error";
  document.body.prepend(Object.assign(document.createElement("p"), { className: "error", textContent: "The app failed to start: " + err.message }));
});
