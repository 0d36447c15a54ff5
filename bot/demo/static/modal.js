// Modals: the top view of the current user's stack, as an accessible dialog. Submitting
// sends what the user entered to the local Slack server, which checks it the way Slack's
// client does (required fields, lengths, number ranges) and then delivers view_submission
// to the bot; field errors from either come back in the view's state.

import { h, readControl, renderBlocks, writeControl } from "./blocks.js";
import { plainText } from "./mrkdwn.js";

const NUMBER = /^-?\d+(\.\d+)?$/;

export class ModalLayer {
  constructor(root, page) {
    this.root = root;
    this.page = page;
    this.key = null;
    this.view = null;
    this.localErrors = {};
    this.returnFocus = null;
  }

  // view: {id, view, errors} from the sandbox, or null when no modal is open.
  show(entry, ctx) {
    if (!entry) { this.close(); return; }
    const key = `${entry.id}|${JSON.stringify({ ...entry.view, state: null })}`;
    if (key !== this.key) this.build(entry, ctx, key);
    this.view = entry;
    this.showErrors({ ...this.localErrors, ...(entry.errors || {}) });
  }

  close() {
    if (this.key === null) return;
    this.root.replaceChildren();
    this.root.hidden = true;
    this.key = null;
    this.view = null;
    if (this.returnFocus && document.contains(this.returnFocus)) this.returnFocus.focus();
  }

  build(entry, ctx, key) {
    const typed = this.key && this.view && this.view.id === entry.id ? this.values() : {};
    if (this.key === null) this.returnFocus = document.activeElement;
    this.key = key;
    this.localErrors = {};
    const view = entry.view;
    const surface = { kind: "view", viewId: entry.id, modal: true };
    const titleId = `modal-title-${entry.id}`;
    const form = h("form", { class: "modal", novalidate: true, onsubmit: (ev) => { ev.preventDefault(); this.submit(); } },
      h("header", { class: "modal-head" },
        h("h2", { id: titleId, html: plainText(view.title) }),
        h("button", { type: "button", class: "icon-btn", "aria-label": "Close", onclick: () => this.dismiss() }, "✕")),
      h("div", { class: "modal-body" }, renderBlocks(view.blocks, surface, ctx)),
      h("footer", { class: "modal-foot" },
        h("button", { type: "button", class: "btn", onclick: () => this.dismiss() },
          view.close ? view.close.text : "Cancel"),
        view.submit ? h("button", { type: "submit", class: "btn primary" }, view.submit.text) : null));
    const dialog = h("div", { class: "modal-backdrop" },
      h("div", { role: "dialog", "aria-modal": "true", "aria-labelledby": titleId, class: "modal-frame",
        "data-view-id": entry.id, onkeydown: (ev) => this.onKey(ev) }, form));
    this.root.replaceChildren(dialog);
    this.root.hidden = false;
    this.restore(entry, typed);
    const first = dialog.querySelector("[data-input]:not(div), [data-input] input, .modal-body button, .modal-foot button");
    (first || form).focus();
  }

  restore(entry, typed) {
    const state = (entry.view.state && entry.view.state.values) || {};
    for (const el of this.controls()) {
      const kept = typed[el.dataset.blockId];
      if (kept && el.dataset.actionId in kept) { writeControl(el, kept[el.dataset.actionId]); continue; }
      const entered = stateValue((state[el.dataset.blockId] || {})[el.dataset.actionId]);
      if (entered !== undefined) writeControl(el, entered);
    }
  }

  controls() {
    return [...this.root.querySelectorAll("[data-input]")];
  }

  values() {
    const values = {};
    for (const el of this.controls()) {
      (values[el.dataset.blockId] ||= {})[el.dataset.actionId] = readControl(el);
    }
    return values;
  }

  // Slack's client refuses a number input that holds something other than a number.
  checkNumbers() {
    const errors = {};
    for (const el of this.controls()) {
      if (el.dataset.type === "number_input" && el.value.trim() !== "" && !NUMBER.test(el.value.trim())) {
        errors[el.dataset.blockId] = "Enter a number.";
      }
    }
    return errors;
  }

  showErrors(errors) {
    let first = null;
    for (const el of this.controls()) {
      const block = el.closest(".bk-input-block");
      const box = block.querySelector(".bk-error");
      const message = errors[el.dataset.blockId];
      box.textContent = message || "";
      box.hidden = !message;
      block.classList.toggle("has-error", Boolean(message));
      if (message) el.setAttribute("aria-invalid", "true"); else el.removeAttribute("aria-invalid");
      if (message && !first) first = el;
    }
    return first;
  }

  async submit() {
    if (!this.view) return;
    this.localErrors = this.checkNumbers();
    if (Object.keys(this.localErrors).length) {
      const first = this.showErrors(this.localErrors);
      if (first) first.focus();
      return;
    }
    const values = this.values();
    const button = this.root.querySelector(".modal-foot button[type=submit]");
    if (button) button.disabled = true;
    try {
      const result = await this.page.act("submit", { view_id: this.view.id, values });
      if (result && result.errors && Object.keys(result.errors).length) {
        const first = this.showErrors(result.errors);
        if (first) first.focus();
      }
      if (result && result.error) this.page.toast(`The app did not accept the submission: ${result.error}`);
    } finally {
      if (button && document.contains(button)) button.disabled = false;
    }
  }

  dismiss() {
    if (this.view) this.page.act("close", { view_id: this.view.id });
  }

  onKey(ev) {
    if (ev.key === "Escape") { ev.preventDefault(); this.dismiss(); return; }
    if (ev.key !== "Tab") return;
    const focusable = [...this.root.querySelectorAll("button, input, select, textarea, a[href]")]
      .filter((el) => !el.disabled && el.offsetParent !== null);
    if (!focusable.length) return;
    const [first, last] = [focusable[0], focusable[focusable.length - 1]];
    if (ev.shiftKey && document.activeElement === first) { ev.preventDefault(); last.focus(); }
    else if (!ev.shiftKey && document.activeElement === last) { ev.preventDefault(); first.focus(); }
  }
}

// An entry of view.state.values as the plain value the form controls take.
function stateValue(entry) {
  if (!entry) return undefined;
  for (const [key, value] of Object.entries(entry)) {
    if (key === "type" || value === null || value === undefined) continue;
    if (key === "selected_option") return value.value;
    if (key === "selected_options") return value.map((o) => o.value);
    return value;
  }
  return undefined;
}
