// cusax-bridge moderator console. Plain JavaScript, no dependencies. The
// token lives in sessionStorage only (never in the URL); every call goes
// to the admin API with it. The room view follows the API's event stream,
// read with fetch() because EventSource cannot send an Authorization header.
"use strict";

const KEY = "cusax-admin-token";
const $ = (id) => document.getElementById(id);
const LEVELS = { text: "chat", audio: "phone", both: "both" };

let current = null;      // room name shown
let stream = null;       // AbortController of the open event stream
let participants = new Map();

function token() { return sessionStorage.getItem(KEY) || ""; }

async function api(method, path, body) {
  const opts = { method, headers: { "Authorization": "Bearer " + token() } };
  if (body !== undefined) {
    opts.headers["Content-Type"] = "application/json";
    opts.body = JSON.stringify(body);
  }
  const res = await fetch("/api/v1" + path, opts);
  if (res.status === 401) { logout("The token was refused."); throw new Error("unauthorised"); }
  if (!res.ok) {
    let detail = res.statusText;
    try { detail = (await res.json()).detail || detail; } catch (e) { /* not JSON */ }
    setStatus(method + " " + path + ": " + res.status + " " + detail);
    throw new Error(detail);
  }
  return res.status === 204 ? null : res.json();
}

function setStatus(s) { $("status").textContent = s; }

function logout(msg) {
  sessionStorage.removeItem(KEY);
  if (stream) { stream.abort(); stream = null; }
  $("app").hidden = true;
  $("logout").hidden = true;
  $("login").hidden = false;
  $("login-error").textContent = msg || "";
}

async function login(ev) {
  ev.preventDefault();
  sessionStorage.setItem(KEY, $("token").value);
  $("token").value = "";
  try {
    await showApp();
  } catch (e) { /* logout() already showed why */ }
}

async function showApp() {
  await loadRooms();
  $("login").hidden = true;
  $("app").hidden = false;
  $("logout").hidden = false;
  setStatus("connected");
}

async function loadRooms() {
  const rooms = await api("GET", "/rooms");
  const ul = $("rooms");
  ul.replaceChildren();
  for (const r of rooms) {
    const li = document.createElement("li");
    const b = document.createElement("button");
    b.id = "room-" + r.name;
    const n = r.counts.text + r.counts.audio + r.counts.both;
    b.textContent = r.name + " (" + n + ")" + (r.locked ? " 🔒" : "");
    b.addEventListener("click", () => openRoom(r.name));
    li.append(b);
    ul.append(li);
  }
}

function openRoom(name) {
  if (stream) stream.abort();
  current = name;
  participants = new Map();
  $("participants").replaceChildren();
  $("room").hidden = false;
  $("room-name").textContent = name;
  $("log").replaceChildren();
  follow(name);
  loadBans();
}

// follow reads the room's Server-Sent Events until aborted.
async function follow(name) {
  const ctl = new AbortController();
  stream = ctl;
  try {
    const res = await fetch("/api/v1/rooms/" + encodeURIComponent(name) + "/events",
      { headers: { "Authorization": "Bearer " + token() }, signal: ctl.signal });
    if (res.status === 401) { logout("The token was refused."); return; }
    if (!res.ok) { setStatus("events: " + res.status); return; }
    const reader = res.body.getReader();
    const dec = new TextDecoder();
    let buf = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += dec.decode(value, { stream: true });
      let i;
      while ((i = buf.indexOf("\n\n")) >= 0) {
        const block = buf.slice(0, i);
        buf = buf.slice(i + 2);
        let kind = "message", data = "";
        for (const line of block.split("\n")) {
          if (line.startsWith("event: ")) kind = line.slice(7);
          else if (line.startsWith("data: ")) data += line.slice(6);
        }
        if (data) onEvent(kind, JSON.parse(data));
      }
    }
    setStatus("event stream ended");
  } catch (e) {
    if (e.name !== "AbortError") setStatus("event stream: " + e.message);
  }
}

function onEvent(kind, d) {
  if (kind === "snapshot") {
    participants = new Map(d.participants.map((p) => [p.id, p]));
    $("room-subject").textContent = d.subject;
    $("lock").checked = d.locked;
    render();
    return;
  }
  const li = document.createElement("li");
  li.textContent = kind + (d.participant ? " " + d.participant.name + " (" + d.participant.id + ")" : "") +
    (d.actor ? " by " + d.actor : "");
  $("log").prepend(li);
  switch (kind) {
    case "left": case "kicked": case "banned":
      if (d.participant) participants.delete(d.participant.id);
      if (kind === "banned") loadBans();
      break;
    case "lock-changed": $("lock").checked = d.locked; break;
    case "subject-changed": $("room-subject").textContent = d.subject; break;
    case "affiliation-changed": loadBans(); if (d.participant) participants.set(d.participant.id, d.participant); break;
    case "conference-ended": participants.clear(); break;
    default:
      if (d.participant) participants.set(d.participant.id, d.participant);
  }
  render();
}

function button(label, cls, fn) {
  const b = document.createElement("button");
  b.textContent = label;
  b.className = cls;
  b.addEventListener("click", fn);
  return b;
}

// render updates the participant table in place: a row per participant,
// kept (with its buttons) while the participant stays, so that a click is
// never lost to a redraw.
function render() {
  const tb = $("participants");
  for (const tr of Array.from(tb.rows)) {
    if (!participants.has(tr.dataset.id)) tr.remove();
  }
  for (const p of participants.values()) {
    let tr = document.getElementById("p-" + p.id);
    if (!tr) {
      tr = newRow(p.id);
      tb.append(tr);
    }
    const c = tr.cells;
    c[0].textContent = p.name;
    c[1].firstChild.textContent = LEVELS[p.level] || p.level;
    c[2].textContent = [p.identities.sip, p.identities.xmpp, p.jid_hint && p.jid_hint + " (unverified)"].filter(Boolean).join(" ");
    c[3].textContent = p.role;
    c[4].textContent = p.muted ? "muted" + (p.muted_by ? " by " + p.muted_by : "") : "no";
    c[4].className = "muted muted-" + (p.muted ? "yes" : "no");
    tr.querySelector("button.mute").textContent = p.muted ? "Unmute" : "Mute";
  }
}

function newRow(id) {
  const tr = document.createElement("tr");
  tr.id = "p-" + id;
  tr.dataset.id = id;
  for (let i = 0; i < 5; i++) tr.append(document.createElement("td"));
  const lv = document.createElement("span");
  lv.className = "level";
  tr.cells[1].append(lv);
  tr.cells[3].className = "role";
  const acts = document.createElement("td");
  const base = () => "/rooms/" + encodeURIComponent(current) + "/participants/" + encodeURIComponent(id);
  acts.append(
    button("Mute", "mute", () => {
      const p = participants.get(id);
      if (p) api("POST", base() + "/mute", { muted: !p.muted, reason: "console" }).catch(() => {});
    }),
    button("Kick", "kick", () => api("POST", base() + "/kick", { reason: "console" }).catch(() => {})),
    button("Ban", "ban", () => {
      const p = participants.get(id);
      const ident = p && (p.identities.xmpp || p.identities.sip);
      if (ident) api("PUT", "/rooms/" + encodeURIComponent(current) + "/bans/" + encodeURIComponent(ident), { reason: "console" }).catch(() => {});
    }));
  tr.append(acts);
  return tr;
}

async function loadBans() {
  if (!current) return;
  const bans = await api("GET", "/rooms/" + encodeURIComponent(current) + "/bans");
  const ul = $("bans");
  ul.replaceChildren();
  for (const b of bans) {
    const li = document.createElement("li");
    li.textContent = b.identity + (b.reason ? " — " + b.reason : "") + " ";
    li.append(button("Lift", "unban", async () => {
      await api("DELETE", "/rooms/" + encodeURIComponent(current) + "/bans/" + encodeURIComponent(b.identity));
      loadBans();
    }));
    ul.append(li);
  }
}

$("login-form").addEventListener("submit", login);
$("logout").addEventListener("click", () => logout(""));
$("refresh").addEventListener("click", () => loadRooms());
$("lock").addEventListener("change", (e) => {
  api("PATCH", "/rooms/" + encodeURIComponent(current), { locked: e.target.checked }).catch(() => {});
});
$("dialout-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  await api("POST", "/rooms/" + encodeURIComponent(current) + "/dialout", { uri: $("dialout-uri").value });
  setStatus("calling " + $("dialout-uri").value);
});

if (token()) showApp().catch(() => {}); else logout("");
