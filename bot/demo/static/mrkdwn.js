// Slack's mrkdwn to safe HTML: *bold*, _italic_, ~strike~, `code`, ```blocks```, > quotes,
// <url|text> links, <@U…> mentions, <#C…> channels, <!here>, <!date^…|fallback> dates, and a
// few :emoji: shortcodes. Everything else is escaped, so agents' text can never inject markup.

const EMOJI = {
  white_check_mark: "✅", heavy_check_mark: "✔️", x: "❌", no_entry: "⛔", warning: "⚠️",
  hourglass: "⌛", hourglass_flowing_sand: "⏳", speech_balloon: "💬", alarm_clock: "⏰",
  leftwards_arrow_with_hook: "↩️", raising_hand: "🙋", pager: "📟", lock: "🔒", eyes: "👀",
  bell: "🔔", information_source: "ℹ️", rotating_light: "🚨", memo: "📝", email: "📧",
  robot_face: "🤖", question: "❓", wave: "👋", tada: "🎉", pencil2: "✏️",
};

const PLACE = "\u0001";
const END = "\u0002";

export function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (c) => (
    { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
}

function unslack(text) {
  // Slack escapes only &, < and > in message text.
  return text.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");
}

export function plainText(obj) {
  if (!obj) return "";
  const text = typeof obj === "string" ? obj : obj.text || "";
  return escapeHtml(text).replace(/:([a-z0-9_+-]+):/g, (m, name) => EMOJI[name] || m)
    .replace(/\n/g, "<br>");
}

export function textObject(obj, ctx) {
  if (!obj) return "";
  return obj.type === "mrkdwn" && !obj.verbatim ? mrkdwn(obj.text, ctx) : plainText(obj);
}

export function mrkdwn(source, ctx) {
  const tokens = [];
  const keep = (html) => `${PLACE}${tokens.push(html) - 1}${END}`;
  let text = String(source || "");
  text = text.replace(/```([\s\S]*?)```/g, (m, code) => keep(`<pre>${escapeHtml(unslack(code))}</pre>`));
  text = text.replace(/`([^`\n]+)`/g, (m, code) => keep(`<code>${escapeHtml(unslack(code))}</code>`));
  text = text.replace(/<([^<>\n]+)>/g, (m, inner) => keep(controlToken(inner, ctx)));
  let html = escapeHtml(unslack(text));
  html = quotes(html);
  html = html.replace(/:([a-z0-9_+-]+):/g, (m, name) => EMOJI[name] || m);
  html = inline(html, "\\*", "strong");
  html = inline(html, "_", "em");
  html = inline(html, "~", "del");
  html = html.replace(/\n/g, "<br>");
  return html.replace(new RegExp(`${PLACE}(\\d+)${END}`, "g"), (m, i) => tokens[Number(i)]);
}

function inline(html, mark, tag) {
  const re = new RegExp(`(^|[\\s(>${PLACE}${END}/"'“-])${mark}(?=\\S)([^\\n]*?\\S)${mark}(?=$|[\\s).,:;!?'"”<${PLACE}${END}/-])`, "g");
  return html.replace(re, (m, before, body) => `${before}<${tag}>${body}</${tag}>`);
}

function quotes(html) {
  const out = [];
  let quote = [];
  const flush = () => {
    if (quote.length) out.push(`<blockquote>${quote.join("\n")}</blockquote>`);
    quote = [];
  };
  for (const line of html.split("\n")) {
    const m = line.match(/^&gt;\s?(.*)$/);
    if (m) { quote.push(m[1]); continue; }
    flush();
    out.push(line);
  }
  flush();
  // Block quotes end their own line; drop the newline that would double the gap.
  return out.join("\n").replace(/<\/blockquote>\n/g, "</blockquote>");
}

function controlToken(inner, ctx) {
  const [head, ...rest] = inner.split("|");
  const label = rest.join("|");
  if (head.startsWith("@")) return mention(head.slice(1), label, ctx);
  if (head.startsWith("#")) {
    const name = label || (ctx.channelName ? ctx.channelName(head.slice(1)) : head.slice(1));
    return `<span class="mention channel-mention">#${escapeHtml(unslack(name))}</span>`;
  }
  if (head.startsWith("!date^")) return slackDate(head, label);
  if (head.startsWith("!subteam^")) {
    const id = head.slice(9);
    return `<span class="mention">${escapeHtml(unslack(label || "@" + id))}</span>`;
  }
  if (head.startsWith("!")) return `<span class="mention">@${escapeHtml(head.slice(1))}</span>`;
  return link(head, label, ctx);
}

function mention(id, label, ctx) {
  const name = ctx.userName ? ctx.userName(id) : null;
  const shown = name || unslack(label) || id;
  const self = ctx.me === id ? " mention-me" : "";
  return `<span class="mention${self}" title="${escapeHtml(id)}">@${escapeHtml(shown)}</span>`;
}

function link(url, label, ctx) {
  const href = unslack(url);
  const text = unslack(label || url);
  if (!/^(https?:|mailto:)/i.test(href)) return escapeHtml(text);
  const inside = ctx.permalink ? ctx.permalink(href) : null;
  const data = inside ? ` data-channel="${escapeHtml(inside.channel)}" data-ts="${escapeHtml(inside.ts)}"` : "";
  return `<a href="${escapeHtml(href)}" target="_blank" rel="noopener noreferrer"${data}>${escapeHtml(text)}</a>`;
}

// -- <!date^epoch^{tokens} text^optional_link|fallback> -------------------------------------

const MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August",
  "September", "October", "November", "December"];
const DAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];

function slackDate(head, fallback) {
  const parts = head.split("^");
  const epoch = Number(parts[1]);
  if (!Number.isFinite(epoch) || parts.length < 3) return escapeHtml(unslack(fallback));
  const when = new Date(epoch * 1000);
  const text = parts[2].replace(/\{(\w+)\}/g, (m, token) => dateToken(token, when) ?? m);
  const iso = when.toISOString();
  return `<time datetime="${iso}" title="${escapeHtml(unslack(fallback))}">${escapeHtml(text)}</time>`;
}

function ordinal(n) {
  const s = ["th", "st", "nd", "rd"];
  const v = n % 100;
  return n + (s[(v - 20) % 10] || s[v] || s[0]);
}

function relativeDay(when) {
  const day = (d) => new Date(d.getFullYear(), d.getMonth(), d.getDate()).getTime();
  const diff = Math.round((day(when) - day(new Date())) / 86400000);
  return { 0: "today", [-1]: "yesterday", 1: "tomorrow" }[diff] || null;
}

function dateToken(token, d) {
  const pad = (n) => String(n).padStart(2, "0");
  const month = MONTHS[d.getMonth()];
  const date = `${month} ${ordinal(d.getDate())}, ${d.getFullYear()}`;
  const short = `${month.slice(0, 3)} ${d.getDate()}, ${d.getFullYear()}`;
  const long = `${DAYS[d.getDay()]}, ${date}`;
  const hours = d.getHours() % 12 || 12;
  const ampm = d.getHours() < 12 ? "AM" : "PM";
  const table = {
    date_num: `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`,
    date, date_short: short, date_long: long,
    date_pretty: relativeDay(d) || date,
    date_short_pretty: relativeDay(d) || short,
    date_long_pretty: relativeDay(d) || long,
    time: `${hours}:${pad(d.getMinutes())} ${ampm}`,
    time_secs: `${hours}:${pad(d.getMinutes())}:${pad(d.getSeconds())} ${ampm}`,
    ago: ago(d),
  };
  return table[token];
}

function ago(d) {
  const seconds = Math.round((Date.now() - d.getTime()) / 1000);
  const span = Math.abs(seconds);
  const [n, unit] = span < 60 ? [span, "second"] : span < 3600 ? [Math.round(span / 60), "minute"]
    : span < 86400 ? [Math.round(span / 3600), "hour"] : [Math.round(span / 86400), "day"];
  const words = `${n} ${unit}${n === 1 ? "" : "s"}`;
  return seconds >= 0 ? `${words} ago` : `in ${words}`;
}
