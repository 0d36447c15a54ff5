// Block Kit to DOM: the layout blocks of messages, Home tabs and modals, and their elements.
// Interactive elements call back into the page (ctx.onClick / ctx.onSelect), which sends the
// user's action to the local Slack server; nothing here talks to the network.

import { escapeHtml, mrkdwn, plainText, textObject } from "./mrkdwn.js";

let uid = 0;
export const nextId = (prefix) => `${prefix}-${++uid}`;

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "html") el.innerHTML = value;
    else if (key === "class") el.className = value;
    else if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else el.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined && child !== false) {
      el.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
  }
  return el;
}

// surface: {kind: "message" | "view", channel, ts, viewId, modal}
export function renderBlocks(blocks, surface, ctx) {
  const box = h("div", { class: "blocks" });
  for (const block of blocks || []) {
    const el = renderBlock(block, surface, ctx);
    if (el) box.append(el);
  }
  return box;
}

function renderBlock(block, surface, ctx) {
  const render = {
    header: () => h("h3", { class: "bk-header", html: plainText(block.text) }),
    section: () => section(block, surface, ctx),
    context: () => context(block, ctx),
    divider: () => h("hr", { class: "bk-divider" }),
    actions: () => h("div", { class: "bk-actions", role: "group", "aria-label": "Actions" },
      (block.elements || []).map((e) => element(e, block, surface, ctx))),
    image: () => image(block),
    input: () => input(block, surface, ctx),
    rich_text: () => richText(block, ctx),
  }[block.type];
  if (!render) return h("div", { class: "bk-unknown" }, `[${block.type} block]`);
  const el = render();
  el.dataset.blockId = block.block_id || "";
  return el;
}

function section(block, surface, ctx) {
  const body = h("div", { class: "bk-section-body" });
  if (block.text) body.append(h("div", { class: "bk-text", html: textObject(block.text, ctx) }));
  if (block.fields && block.fields.length) {
    body.append(h("div", { class: "bk-fields" },
      block.fields.map((f) => h("div", { class: "bk-field", html: textObject(f, ctx) }))));
  }
  const el = h("div", { class: "bk-section" }, body);
  if (block.accessory) {
    el.append(h("div", { class: "bk-accessory" }, element(block.accessory, block, surface, ctx)));
  }
  return el;
}

function context(block, ctx) {
  return h("div", { class: "bk-context" }, (block.elements || []).map((e) => (
    e.type === "image" ? h("img", { src: e.image_url, alt: e.alt_text || "", class: "bk-context-img" })
      : h("span", { class: "bk-context-item", html: textObject(e, ctx) }))));
}

function image(block) {
  return h("figure", { class: "bk-image" },
    h("img", { src: block.image_url, alt: block.alt_text || "" }),
    block.title ? h("figcaption", { html: plainText(block.title) }) : null);
}

function richText(block, ctx) {
  const text = (block.elements || []).map((part) => (part.elements || []).map((e) => (
    e.type === "user" ? `<@${e.user_id}>` : e.type === "link" ? `<${e.url}|${e.text || e.url}>`
      : e.text || "")).join("")).join("\n");
  return h("div", { class: "bk-text", html: mrkdwn(text, ctx) });
}

// -- elements -------------------------------------------------------------------------------

export function element(e, block, surface, ctx) {
  const make = {
    button: () => button(e, block, surface, ctx),
    overflow: () => overflow(e, block, surface, ctx),
    image: () => h("img", { src: e.image_url, alt: e.alt_text || "", class: "bk-acc-img" }),
  }[e.type];
  if (make) return make();
  const control = field(e, nextId("el"), ctx);
  control.addEventListener("change", () => ctx.onSelect(surface, block, e, readControl(control)));
  return control;
}

function button(e, block, surface, ctx) {
  const style = e.style === "primary" ? " primary" : e.style === "danger" ? " danger" : "";
  const btn = h("button", {
    type: "button", class: `btn${style}`, "data-action-id": e.action_id,
    "data-key": `${surface.channel || surface.viewId}|${surface.ts || ""}|${block.block_id}|${e.action_id}|${e.value || ""}`,
    "aria-label": e.accessibility_label || null, html: plainText(e.text),
  });
  btn.addEventListener("click", () => {
    if (e.url) window.open(e.url, "_blank", "noopener");
    const go = () => ctx.onClick(surface, block, e, btn);
    if (e.confirm) ctx.confirm(e.confirm, go, btn); else go();
  });
  return btn;
}

function overflow(e, block, surface, ctx) {
  const select = h("select", { class: "bk-overflow", "aria-label": "More actions" },
    h("option", { value: "" }, "⋯"),
    (e.options || []).map((o) => h("option", { value: o.value, html: plainText(o.text) })));
  select.addEventListener("change", () => {
    if (select.value) ctx.onSelect(surface, block, e, select.value);
    select.value = "";
  });
  return select;
}

function options(e, ctx) {
  if (e.type === "users_select" || e.type === "multi_users_select") {
    return ctx.users().map((u) => ({ value: u.id, text: { text: u.real_name || u.name } }));
  }
  if (/(conversations|channels)_select$/.test(e.type)) {
    return ctx.channels().map((c) => ({ value: c.id, text: { text: `#${c.name}` } }));
  }
  const groups = (e.option_groups || []).flatMap((g) => g.options || []);
  return [...(e.options || []), ...groups];
}

const initialOf = (e) => e.initial_option || null;
const initialUser = (e) => e.initial_user || e.initial_conversation || e.initial_channel || null;

// A form control for an element; `data-type` tells readControl how to read it back.
export function field(e, id, ctx, described) {
  const common = { id, "data-type": e.type, "data-action-id": e.action_id, "aria-describedby": described };
  const placeholder = e.placeholder ? e.placeholder.text : null;
  switch (e.type) {
    case "plain_text_input": case "email_text_input": case "url_text_input": case "number_input": {
      const attrs = { ...common, placeholder, maxlength: e.max_length || null, class: "bk-input" };
      if (e.type === "number_input") attrs.inputmode = e.is_decimal_allowed ? "decimal" : "numeric";
      if (e.type === "email_text_input") attrs.type = "email";
      if (e.multiline) return h("textarea", { ...attrs, rows: 6 }, e.initial_value || "");
      return h("input", { type: "text", ...attrs, value: e.initial_value ?? "" });
    }
    case "checkboxes": case "radio_buttons": return choices(e, common);
    case "datepicker": return h("input", { ...common, type: "date", class: "bk-input", value: e.initial_date || "" });
    case "timepicker": return h("input", { ...common, type: "time", class: "bk-input", value: e.initial_time || "" });
    case "datetimepicker": return h("input", { ...common, type: "datetime-local", class: "bk-input", value: localDateTime(e.initial_date_time) });
    default: return select(e, common, ctx, placeholder);
  }
}

function select(e, common, ctx, placeholder) {
  const multi = e.type.startsWith("multi_");
  const initial = multi ? (e.initial_options || e.initial_users || []).map((o) => o.value || o)
    : [initialOf(e)?.value ?? initialUser(e)].filter((v) => v);
  const el = h("select", { ...common, class: "bk-select", multiple: multi || null },
    multi ? null : h("option", { value: "" }, placeholder || "Choose an option"),
    options(e, ctx).map((o) => h("option", { value: o.value, selected: initial.includes(o.value) || null,
      html: plainText(o.text) })));
  return el;
}

function choices(e, common) {
  const kind = e.type === "checkboxes" ? "checkbox" : "radio";
  const chosen = (e.initial_options || (e.initial_option ? [e.initial_option] : [])).map((o) => o.value);
  const name = nextId("choice");
  return h("div", { ...common, role: kind === "radio" ? "radiogroup" : "group", class: "bk-choices" },
    (e.options || []).map((o) => {
      const id = nextId("opt");
      return h("div", { class: "bk-choice" },
        h("input", { type: kind, id, name, value: o.value, checked: chosen.includes(o.value) || null }),
        h("label", { for: id, html: plainText(o.text) }),
        o.description ? h("span", { class: "bk-choice-desc", html: plainText(o.description) }) : null);
    }));
}

function localDateTime(epoch) {
  if (!epoch) return "";
  const d = new Date(epoch * 1000);
  const pad = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

// What the user entered, in the shape the sandbox's fill/submit/select endpoints take.
export function readControl(el) {
  const type = el.dataset.type;
  if (type === "checkboxes") return [...el.querySelectorAll("input:checked")].map((i) => i.value);
  if (type === "radio_buttons") return el.querySelector("input:checked")?.value ?? null;
  if (el.multiple) return [...el.selectedOptions].map((o) => o.value);
  if (type === "datetimepicker") return el.value ? Math.round(new Date(el.value).getTime() / 1000) : null;
  if (type === "number_input") return el.value.trim() === "" ? null : el.value.trim();
  if (["datepicker", "timepicker"].includes(type) || el.tagName === "SELECT") {
    return el.value === "" ? null : el.value;
  }
  return el.value;
}

export function writeControl(el, value) {
  const type = el.dataset.type;
  if (type === "checkboxes" || type === "radio_buttons") {
    const wanted = Array.isArray(value) ? value : [value];
    el.querySelectorAll("input").forEach((i) => { i.checked = wanted.includes(i.value); });
  } else if (el.multiple) {
    [...el.options].forEach((o) => { o.selected = (value || []).includes(o.value); });
  } else if (type === "datetimepicker") {
    el.value = localDateTime(value);
  } else {
    el.value = value ?? "";
  }
}

function input(block, surface, ctx) {
  const e = block.element || {};
  const id = nextId("input");
  const hintId = block.hint ? `${id}-hint` : null;
  const errorId = `${id}-error`;
  const control = field(e, id, ctx, [hintId, errorId].filter(Boolean).join(" "));
  control.dataset.input = "1";
  control.dataset.blockId = block.block_id;
  if (!block.optional && control.tagName !== "DIV") control.setAttribute("aria-required", "true");
  if (block.dispatch_action) {
    control.addEventListener("change", () => ctx.onSelect(surface, block, e, readControl(control)));
  }
  const labelTag = control.tagName === "DIV" ? "span" : "label";
  const label = h(labelTag, { class: "bk-label", for: labelTag === "label" ? id : null, id: `${id}-label` },
    h("span", { html: plainText(block.label) }),
    block.optional ? h("span", { class: "bk-optional" }, " (optional)") : null);
  if (labelTag === "span") control.setAttribute("aria-labelledby", `${id}-label`);
  return h("div", { class: "bk-input-block" }, label, control,
    block.hint ? h("div", { class: "bk-hint", id: hintId, html: plainText(block.hint) }) : null,
    h("div", { class: "bk-error", id: errorId, role: "alert", hidden: true }));
}

export { escapeHtml };
