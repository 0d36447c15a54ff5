// The demo page: a small Slack client for the local Slack-compatible server. It long-polls the
// server's state, draws channels, DMs, threads, the App Home and modals for the chosen user,
// and sends every click through the server's control endpoints, which sign it and deliver it
// to the bot exactly as Slack would.

import { h, renderBlocks } from "./blocks.js";
import { ModalLayer } from "./modal.js";
import { mrkdwn, plainText } from "./mrkdwn.js";
import { tour } from "./tour.js";

const $ = (sel) => document.querySelector(sel);
const page = {
  snap: null, info: { people: [] }, me: null, where: "home", thread: null,
  seen: {}, announced: new Set(), version: 0, firstSnap: true,
};

// -- talking to the local Slack server ------------------------------------------------------

async function control(path, body) {
  const init = body ? { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) } : {};
  const resp = await fetch(`/_sandbox/${path}`, init);
  const doc = await resp.json();
  if (!doc.ok) throw new Error(doc.detail || doc.error || `HTTP ${resp.status}`);
  return doc.result;
}

page.act = async (endpoint, args) => {
  try {
    const result = await control(endpoint, { user: page.me, ...args });
    if (result && result.error && endpoint !== "submit") toast(`The app did not answer in time (${result.error}).`);
    return result;
  } catch (err) {
    toast(`Could not ${endpoint}: ${err.message}`);
    return null;
  }
};

// A toast belongs to the person it was shown to: switching "Viewing as" clears them all.
// Plain text by default; `html` (already escaped by mrkdwn()) for a message's own text.
function toast(text, { html = null } = {}) {
  const box = $("#toasts");
  const item = html === null
    ? h("div", { class: "toast", "data-for": page.me }, text)
    : h("div", { class: "toast", "data-for": page.me, html });
  box.append(item);
  setTimeout(() => item.remove(), 6000);
}

function clearToasts() {
  $("#toasts").replaceChildren();
}
page.toast = toast;

async function poll() {
  for (;;) {
    try {
      const since = page.snap ? `?since=${page.version}&wait=20` : "";
      const snap = await control(`state${since}`);
      setLive(true);
      if (!page.snap || snap.version !== page.version) {
        page.snap = snap;
        page.version = snap.version;
        render();
      }
    } catch (err) {
      setLive(false);
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
}

function setLive(ok) {
  const el = $("#live");
  el.textContent = ok ? "● live" : "○ reconnecting…";
  el.classList.toggle("off", !ok);
}

// -- who is who -----------------------------------------------------------------------------

const users = () => (page.snap ? page.snap.workspace.users : []);
const userName = (id) => { const u = users().find((x) => x.id === id); return u ? u.real_name || u.name : null; };
const channelsOf = (me) => page.snap.workspace.channels.filter((c) => !c.members || c.members.includes(me));
const channelName = (id) => { const c = page.snap.workspace.channels.find((x) => x.id === id); return c ? c.name : id; };
const dmsOf = (me) => Object.entries(page.snap.workspace.dms).filter(([, members]) => members.includes(me)).map(([id]) => id);
const isDm = (id) => id in page.snap.workspace.dms;

function permalink(href) {
  const m = href.match(/\/archives\/([A-Z0-9]+)\/p(\d{10})(\d{6})/);
  return m ? { channel: m[1], ts: `${m[2]}.${m[3]}` } : null;
}

function context() {
  return {
    me: page.me, userName, channelName, permalink, users,
    channels: () => channelsOf(page.me),
    onClick: clickButton, onSelect: chooseOption, confirm: confirmDialog,
  };
}

// -- acting ---------------------------------------------------------------------------------

function where(surface, block) {
  const place = surface.kind === "view" ? { view_id: surface.viewId } : { channel: surface.channel, message_ts: surface.ts };
  return { block_id: block.block_id, ...place };
}

async function clickButton(surface, block, e, btn) {
  btn.disabled = true;
  btn.setAttribute("aria-busy", "true");
  try {
    await page.act("click", { action_id: e.action_id, ...where(surface, block) });
  } finally {
    btn.disabled = false;
    btn.removeAttribute("aria-busy");
  }
}

function chooseOption(surface, block, e, value) {
  page.act("select", { action_id: e.action_id, value, ...where(surface, block) });
}

function confirmDialog(confirm, go, opener) {
  const root = $("#confirm-root");
  const done = (yes) => { root.replaceChildren(); root.hidden = true; opener.focus(); if (yes) go(); };
  const text = confirm.text || {};
  const yes = h("button", { type: "button", class: `btn ${confirm.style === "danger" ? "danger" : "primary"}`, onclick: () => done(true) },
    confirm.confirm ? confirm.confirm.text : "Yes");
  const box = h("div", { class: "modal-backdrop" },
    h("div", { role: "alertdialog", "aria-modal": "true", "aria-labelledby": "confirm-title", "aria-describedby": "confirm-text",
      class: "modal-frame confirm", onkeydown: (ev) => { if (ev.key === "Escape") done(false); } },
    h("h2", { id: "confirm-title" }, confirm.title ? confirm.title.text : "Are you sure?"),
    h("div", { id: "confirm-text", html: text.type === "mrkdwn" ? mrkdwn(text.text, context()) : plainText(text) }),
    h("div", { class: "modal-foot" },
      h("button", { type: "button", class: "btn", onclick: () => done(false) }, confirm.deny ? confirm.deny.text : "Cancel"), yes)));
  root.replaceChildren(box);
  root.hidden = false;
  yes.focus();
}

// -- navigation -----------------------------------------------------------------------------

function go(target, ts) {
  page.where = target;
  page.thread = null;
  saveHash();
  if (target === "home") control("app_home_opened", { user: page.me }).catch((err) => toast(err.message));
  render();
  if (ts) highlight(ts);
}

function highlight(ts) {
  const el = document.querySelector(`[data-ts="${ts}"]`);
  if (!el) return;
  el.scrollIntoView({ block: "center" });
  el.classList.add("flash");
  setTimeout(() => el.classList.remove("flash"), 2000);
}

function saveHash() {
  history.replaceState(null, "", `#as=${page.me}&in=${page.where}`);
}

function readHash() {
  const params = new URLSearchParams(location.hash.slice(1));
  return { as: params.get("as"), in: params.get("in") };
}

// -- drawing --------------------------------------------------------------------------------

function render() {
  if (!page.snap) return;
  const focusKey = document.activeElement && document.activeElement.dataset ? document.activeElement.dataset.key : null;
  const visible = page.where === "home" || channelsOf(page.me).some((c) => c.id === page.where) || dmsOf(page.me).includes(page.where);
  if (!visible) page.where = "home";
  renderSidebar();
  renderMain();
  renderThread();
  announceEphemerals();
  const stack = page.snap.views[page.me] || [];
  page.modal.show(stack.length ? stack[stack.length - 1] : null, context());
  if (focusKey) {
    const again = [...document.querySelectorAll("[data-key]")].find((el) => el.dataset.key === focusKey);
    if (again && !again.disabled) again.focus();
  }
}

function topLevel(channel) {
  const posted = (page.snap.channels[channel] || []).filter((m) => !m.deleted);
  const mine = page.snap.ephemerals.filter((m) => m.channel === channel && m.ephemeral_user === page.me
    && (!m.message.thread_ts || m.message.thread_ts === m.ts));
  return [...posted, ...mine].sort((a, b) => Number(a.ts) - Number(b.ts));
}

function renderSidebar() {
  const seen = (page.seen[page.me] ||= {});
  if (page.where !== "home") seen[page.where] = topLevel(page.where).length;
  const entry = (id, label, icon) => {
    const unread = id === "home" ? 0 : topLevel(id).length - (seen[id] ?? 0);
    return h("li", {}, h("button", {
      type: "button", class: `nav-item${unread > 0 ? " unread" : ""}`, "aria-current": page.where === id ? "page" : null,
      "data-nav": id, onclick: () => go(id),
    }, h("span", { class: "nav-icon", "aria-hidden": "true" }, icon), label,
    unread > 0 ? h("span", { class: "badge", "aria-label": `${unread} new` }, String(unread)) : null));
  };
  $("#nav").replaceChildren(
    h("h2", { class: "nav-title" }, "Apps"),
    h("ul", {}, entry("home", "signoff — Home", "🏠")),
    h("h2", { class: "nav-title" }, "Channels"),
    h("ul", {}, channelsOf(page.me).map((c) => entry(c.id, c.name, "#"))),
    h("h2", { class: "nav-title" }, "Direct messages"),
    h("ul", {}, dmsOf(page.me).length ? dmsOf(page.me).map((id) => entry(id, "signoff (app)", "✉"))
      : h("li", { class: "nav-empty" }, "none yet")),
  );
}

function renderMain() {
  const main = $("#main");
  const list = main.querySelector(".messages");
  const atBottom = !list || list.scrollHeight - list.scrollTop - list.clientHeight < 40;
  const scroll = list ? list.scrollTop : 0;
  const fresh = main.dataset.showing !== `${page.me}|${page.where}`;
  main.dataset.showing = `${page.me}|${page.where}`;
  if (page.where === "home") { main.replaceChildren(...homeView()); return; }
  const title = isDm(page.where) ? "signoff (app)" : `#${channelName(page.where)}`;
  const items = topLevel(page.where).map((m) => messageItem(m, { replies: true }));
  const ol = h("ol", { class: "messages", "aria-label": `Messages in ${title}` },
    items.length ? items : h("li", { class: "empty" }, "No messages yet."));
  main.replaceChildren(h("header", { class: "pane-head" }, h("h1", { id: "pane-title" }, title),
    isDm(page.where) ? h("p", { class: "pane-sub" }, "Direct messages from the signoff app") : null), ol);
  ol.scrollTop = fresh || atBottom ? ol.scrollHeight : scroll;
}

function homeView() {
  const home = page.snap.homes[page.me];
  const head = h("header", { class: "pane-head" }, h("h1", { id: "pane-title" }, "signoff"), h("p", { class: "pane-sub" }, "App Home"));
  if (!home) return [head, h("p", { class: "empty" }, "Opening the App Home…")];
  const surface = { kind: "view", viewId: home.id };
  return [head, h("div", { class: "home", "aria-label": "App Home" }, renderBlocks(home.view.blocks, surface, context()))];
}

function author(data) {
  if (data.bot_id || data.user === page.snap.workspace.bot_user_id) {
    return [h("span", { class: "author" }, (data.bot_profile && data.bot_profile.name) || "signoff"), h("span", { class: "app-tag" }, "APP")];
  }
  return [h("span", { class: "author" }, userName(data.user) || data.user || "someone")];
}

function when(ts) {
  const d = new Date(Number(ts) * 1000);
  return h("time", { datetime: d.toISOString(), class: "ts" }, d.toLocaleTimeString([], { hour: "numeric", minute: "2-digit" }));
}

function messageItem(m, { replies }) {
  const data = m.message;
  const surface = { kind: "message", channel: m.channel, ts: m.ts };
  const body = data.blocks && data.blocks.length ? renderBlocks(data.blocks, surface, context())
    : h("div", { class: "bk-text", html: mrkdwn(data.text, context()) });
  const thread = m.thread || [];
  const eph = Boolean(m.ephemeral_user);
  return h("li", { class: `message${eph ? " ephemeral" : ""}`, "data-ts": m.ts, "data-channel": m.channel },
    h("div", { class: "meta" }, ...author(data), when(m.ts),
      m.history && m.history.length ? h("span", { class: "edited" }, "(edited)") : null,
      eph ? h("span", { class: "only-you" }, "Only visible to you") : null),
    body,
    replies && thread.length ? h("button", {
      type: "button", class: "replies", "data-key": `replies|${m.ts}`,
      onclick: () => { page.thread = { channel: m.channel, ts: m.ts }; render(); $("#thread h2").focus(); },
    }, `${thread.length} ${thread.length === 1 ? "reply" : "replies"}`) : null);
}

function renderThread() {
  const pane = $("#thread");
  const open = page.thread && page.where === page.thread.channel;
  const parent = open ? topLevel(page.thread.channel).find((m) => m.ts === page.thread.ts) : null;
  if (!parent) { pane.hidden = true; pane.replaceChildren(); return; }
  const mine = page.snap.ephemerals.filter((m) => m.ephemeral_user === page.me && m.message.thread_ts === parent.ts && m.ts !== parent.ts);
  const replies = [...(parent.thread || []).map((r) => ({ ...r })), ...mine].sort((a, b) => Number(a.ts) - Number(b.ts));
  pane.hidden = false;
  pane.replaceChildren(
    h("header", { class: "pane-head" }, h("h2", { tabindex: "-1" }, "Thread"),
      h("button", { type: "button", class: "icon-btn", "aria-label": "Close thread", onclick: () => { page.thread = null; render(); } }, "✕")),
    h("ol", { class: "messages thread-messages", "aria-label": "Thread" },
      messageItem(parent, { replies: false }), ...replies.map((r) => messageItem(r, { replies: false }))));
}

function announceEphemerals() {
  const mine = page.snap.ephemerals.filter((m) => m.ephemeral_user === page.me);
  for (const m of mine) {
    const key = `${m.channel}|${m.ts}`;
    if (page.announced.has(key)) continue;
    page.announced.add(key);
    if (!page.firstSnap) {
      toast("", { html: `Only visible to you: ${mrkdwn(m.message.text || "", context())}` });
    }
  }
  page.firstSnap = false;
}

// -- start ----------------------------------------------------------------------------------

function renderSwitcher() {
  const select = $("#as");
  select.replaceChildren(...page.info.people.map((p) => h("option", { value: p.id, selected: p.id === page.me || null }, `${p.name} — ${p.role}`)));
  select.addEventListener("change", () => {
    page.me = select.value;
    page.thread = null;
    clearToasts();
    page.announced = new Set(page.snap.ephemerals.filter((m) => m.ephemeral_user === page.me).map((m) => `${m.channel}|${m.ts}`));
    go(page.where);
  });
}

async function start() {
  page.info = await (await fetch("/demo/info.json")).json();
  const wanted = readHash();
  page.me = page.info.people.some((p) => p.id === wanted.as) ? wanted.as : page.info.people[0].id;
  page.where = wanted.in || "home";
  page.modal = new ModalLayer($("#modal-root"), page);
  renderSwitcher();
  $("#tour").replaceChildren(...tour(page.info));
  document.addEventListener("click", (ev) => {
    const a = ev.target.closest("a[data-channel]");
    if (!a) return;
    ev.preventDefault();
    go(a.dataset.channel, a.dataset.ts);
  });
  if (page.where === "home") control("app_home_opened", { user: page.me }).catch(() => {});
  saveHash();
  poll();
}

start();
