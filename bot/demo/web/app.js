// helmbot demo: a Slack-like channel over the Slack stand-in, and the cluster beside it.
// Everything shown from a message is untrusted: it is put on the page with DOM APIs and textContent only,
// never as HTML. No framework, no build step.
"use strict";

const EMOJI = {
  white_check_mark: "✅", heavy_check_mark: "✔️", x: "❌", warning: "⚠️", rocket: "🚀",
  hourglass: "⌛", hourglass_flowing_sand: "⏳", rotating_light: "🚨", arrows_counterclockwise: "🔄",
  leftwards_arrow_with_hook: "↩️", large_green_circle: "🟢", red_circle: "🔴", large_yellow_circle: "🟡",
  large_blue_circle: "🔵", white_circle: "⚪", lock: "🔒", unlock: "🔓", stop_sign: "🛑", tada: "🎉",
  eyes: "👀", construction: "🚧", information_source: "ℹ️", fire: "🔥", skull: "💀", stopwatch: "⏱️",
  package: "📦", scroll: "📜", memo: "📝", mag: "🔍", no_entry: "⛔", no_entry_sign: "🚫",
  heavy_minus_sign: "➖", arrow_right: "➡️", thumbsup: "👍", "+1": "👍", thumbsdown: "👎", "-1": "👎",
  ok_hand: "👌", wave: "👋", bell: "🔔", gear: "⚙️", wrench: "🔧", hammer: "🔨", boom: "💥",
  zzz: "💤", snowflake: "❄️", calendar: "📅", clock1: "🕐", page_facing_up: "📄", link: "🔗",
  bust_in_silhouette: "👤", busts_in_silhouette: "👥", speech_balloon: "💬", thinking_face: "🤔",
  ghost: "👻", recycle: "♻️", twisted_rightwards_arrows: "🔀", arrow_up: "⬆️", arrow_down: "⬇️",
  large_orange_circle: "🟠", black_circle: "⚫", new: "🆕", sos: "🆘", label: "🏷️",
};
const COMMAND_HINTS = {
  "/deploy": "/deploy RELEASE [VERSION] [key=value …]: upgrade a release (e.g. /deploy shop 1.1.0 web.image=…)",
  "/rollback": "/rollback RELEASE [REVISION]: roll a release back (default: the previous good revision)",
  "/helmbot": "/helmbot status RELEASE | help",
  "/promote": "/promote RELEASE FROM TO",
};
const SAFE_SCHEMES = ["http:", "https:", "mailto:"];

const state = {
  team: null, users: new Map(), channels: new Map(), user: null, channel: null,
  messages: new Map(),      // ts -> message shown in the channel (top level and broadcasts)
  ephemerals: new Map(),    // ts -> ephemeral shown to the acting user in this channel
  dismissed: new Set(),
  thread: null,             // {channel, ts, messages: Map ts -> message}
  unread: new Map(), lastEvent: 0, source: null, cluster: null, clusterRows: new Map(),
  history: [], files: new Map(),
};
const $ = (id) => document.getElementById(id);

// --- DOM helpers (text only) -------------------------------------------------------------------------------

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "dataset") Object.assign(node.dataset, value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function decodeEntities(text) {
  return text.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");
}

function emojize(text) {
  return text.replace(/:([a-z0-9_+\-]+):/g, (whole, name) => EMOJI[name] || whole);
}

// Plain text with line breaks kept, as text nodes.
function textLines(text) {
  const frag = document.createDocumentFragment();
  text.split("\n").forEach((line, i) => {
    if (i) frag.append(el("br"));
    if (line) frag.append(document.createTextNode(line));
  });
  return frag;
}

// --- mrkdwn -----------------------------------------------------------------------------------------------

const INLINE = [
  ["code", /`([^`\n]+)`/g],
  ["entity", /<([^<>\n]+)>/g],
  ["b", /(?<![\w*])\*(?!\s)([^*\n]+?)(?<!\s)\*(?![\w*])/g],
  ["i", /(?<![\w_])_(?!\s)([^_\n]+?)(?<!\s)_(?![\w_])/g],
  ["s", /(?<![\w~])~(?!\s)([^~\n]+?)(?<!\s)~(?![\w~])/g],
];

function userName(id) {
  if (id === "USLACKBOT") return "Slackbot";
  const user = state.users.get(id);
  return user ? user.name : id;
}

function renderEntity(inner) {
  const [target, label] = splitOnce(inner, "|");
  if (target.startsWith("@U") || target.startsWith("@W")) {
    const id = target.slice(1);
    return el("span", { class: "mention", title: id }, "@" + (label || userName(id)));
  }
  if (target.startsWith("#C") || target.startsWith("#G")) {
    const id = target.slice(1);
    const known = state.channels.get(id);
    const name = label || (known ? known.name : id);
    if (!known) return el("span", { class: "channel-ref" }, "#" + name);
    return el("button", { type: "button", class: "channel-ref linkish", onclick: () => openChannel(id) },
      "#" + name);
  }
  if (target.startsWith("!")) {
    if (target.startsWith("!subteam^")) return el("span", { class: "mention" }, label || "@group");
    if (target.startsWith("!date^")) return document.createTextNode(decodeEntities(label || ""));
    return el("span", { class: "mention" }, "@" + target.slice(1));
  }
  const url = decodeEntities(target);
  if (isSafeUrl(url)) {
    return el("a", { href: url, target: "_blank", rel: "noopener noreferrer" },
      emojize(decodeEntities(label || target)));
  }
  return document.createTextNode("<" + decodeEntities(inner) + ">");
}

function splitOnce(text, sep) {
  const at = text.indexOf(sep);
  return at < 0 ? [text, ""] : [text.slice(0, at), text.slice(at + 1)];
}

function isSafeUrl(url) {
  try {
    return SAFE_SCHEMES.includes(new URL(url).protocol);
  } catch (e) {
    return false;
  }
}

function inline(text) {
  const frag = document.createDocumentFragment();
  let pos = 0;
  while (pos < text.length) {
    let best = null;
    for (const [kind, re] of INLINE) {
      re.lastIndex = pos;
      const m = re.exec(text);
      if (m && (!best || m.index < best.m.index)) best = { kind, m };
    }
    if (!best) break;
    if (best.m.index > pos) frag.append(textLines(emojize(decodeEntities(text.slice(pos, best.m.index)))));
    const inner = best.m[1];
    if (best.kind === "code") frag.append(el("code", {}, decodeEntities(inner)));
    else if (best.kind === "entity") frag.append(renderEntity(inner));
    else frag.append(el(best.kind === "b" ? "strong" : best.kind === "i" ? "em" : "s", {}, inline(inner)));
    pos = best.m.index + best.m[0].length;
  }
  if (pos < text.length) frag.append(textLines(emojize(decodeEntities(text.slice(pos)))));
  return frag;
}

// Slack's mrkdwn: ```code blocks```, > quotes, then inline formatting.
function mrkdwn(text) {
  const frag = document.createDocumentFragment();
  const parts = String(text || "").split("```");
  parts.forEach((part, i) => {
    if (i % 2 === 1 && i < parts.length - 1) {
      frag.append(el("pre", { class: "code-block" }, decodeEntities(part.replace(/^\n/, "").replace(/\n$/, ""))));
      return;
    }
    const piece = i % 2 === 1 ? "```" + part : part;  // an unclosed fence is just text
    let quote = null;
    let plain = [];
    const flush = () => {
      if (plain.length) frag.append(inline(plain.join("\n")));
      plain = [];
    };
    for (const line of piece.split("\n")) {
      const q = /^(?:>|&gt;) ?(.*)$/.exec(line);
      if (q) {
        flush();
        if (!quote) { quote = el("blockquote"); frag.append(quote); } else quote.append(el("br"));
        quote.append(inline(q[1]));
      } else {
        if (quote) { quote = null; if (plain.length === 0 && line === "") continue; }
        plain.push(line);
      }
    }
    flush();
  });
  return frag;
}

function textObject(obj) {
  if (!obj) return document.createTextNode("");
  if (obj.type === "mrkdwn") return mrkdwn(obj.text);
  return textLines(obj.emoji === false ? obj.text || "" : emojize(obj.text || ""));
}

// --- Block Kit --------------------------------------------------------------------------------------------

function renderBlocks(blocks, ctx) {
  const box = el("div", { class: "blocks" });
  for (const block of blocks) box.append(renderBlock(block, ctx));
  return box;
}

function renderBlock(block, ctx) {
  switch (block.type) {
    case "header":
      return el("div", { class: "b-header", role: "heading", "aria-level": "3" }, textObject(block.text));
    case "section": {
      const node = el("div", { class: "b-section" });
      const main = el("div", { class: "b-section-main" });
      if (block.text) main.append(el("div", { class: "b-text" }, textObject(block.text)));
      if (block.fields) {
        main.append(el("div", { class: "b-fields" },
          block.fields.map((f) => el("div", { class: "b-field" }, textObject(f)))));
      }
      node.append(main);
      if (block.accessory) node.append(el("div", { class: "b-accessory" }, renderElement(block.accessory, ctx)));
      return node;
    }
    case "context":
      return el("div", { class: "b-context" }, (block.elements || []).map((e) =>
        e.type === "image" ? contextImage(e) : el("span", { class: "b-context-text" }, textObject(e))));
    case "divider":
      return el("hr", { class: "b-divider" });
    case "actions":
      return el("div", { class: "b-actions" }, (block.elements || []).map((e) => renderElement(e, ctx)));
    case "image":
      return el("figure", { class: "b-image" },
        block.title ? el("figcaption", {}, textObject(block.title)) : null,
        image(block.image_url, block.alt_text, "b-image-img"));
    case "rich_text":
      return el("div", { class: "b-rich" }, (block.elements || []).map(richElement));
    case "markdown":
      return el("div", { class: "b-text" }, mrkdwn(block.text));
    default:
      return el("div", { class: "b-unsupported" }, `[${block.type} block]`);
  }
}

function image(url, alt, cls) {
  if (typeof url === "string" && (isSafeUrl(url) || url.startsWith("data:image/"))) {
    return el("img", { src: url, alt: alt || "", class: cls, loading: "lazy", referrerpolicy: "no-referrer" });
  }
  return el("span", { class: cls + " img-missing" }, alt || "image");
}

function contextImage(e) {
  return image(e.image_url, e.alt_text, "b-context-img");
}

function richElement(e) {
  const spans = (elements) => (elements || []).map(richInline);
  switch (e.type) {
    case "rich_text_section": return el("div", {}, spans(e.elements));
    case "rich_text_preformatted": return el("pre", { class: "code-block" }, spans(e.elements));
    case "rich_text_quote": return el("blockquote", {}, spans(e.elements));
    case "rich_text_list":
      return el(e.style === "ordered" ? "ol" : "ul", {}, (e.elements || []).map((s) => el("li", {}, spans(s.elements))));
    default: return el("div", { class: "b-unsupported" }, `[${e.type}]`);
  }
}

function richInline(e) {
  let node;
  if (e.type === "link" && isSafeUrl(e.url || "")) {
    node = el("a", { href: e.url, target: "_blank", rel: "noopener noreferrer" }, e.text || e.url);
  } else if (e.type === "user") node = el("span", { class: "mention" }, "@" + userName(e.user_id));
  else if (e.type === "channel") node = el("span", { class: "channel-ref" }, "#" + ((state.channels.get(e.channel_id) || {}).name || e.channel_id));
  else if (e.type === "emoji") node = document.createTextNode(e.unicode ? String.fromCodePoint(...e.unicode.split("-").map((h) => parseInt(h, 16))) : EMOJI[e.name] || `:${e.name}:`);
  else node = textLines(e.text || "");
  const style = e.style || {};
  if (style.code) node = el("code", {}, node);
  if (style.bold) node = el("strong", {}, node);
  if (style.italic) node = el("em", {}, node);
  if (style.strike) node = el("s", {}, node);
  return node;
}

function renderElement(e, ctx) {
  switch (e.type) {
    case "button": {
      const cls = "bk-btn" + (e.style ? " " + e.style : "");
      if (e.url && isSafeUrl(e.url)) {
        return el("a", { class: cls, href: e.url, target: "_blank", rel: "noopener noreferrer" }, textObject(e.text));
      }
      const btn = el("button", { type: "button", class: cls, dataset: { actionId: e.action_id || "" } }, textObject(e.text));
      btn.addEventListener("click", () => act(btn, ctx, e, e.value));
      return btn;
    }
    case "static_select":
    case "overflow": {
      const options = [...(e.options || []), ...(e.option_groups || []).flatMap((g) => g.options || [])];
      const label = e.type === "overflow" ? "⋯" : (e.placeholder ? e.placeholder.text : "Select…");
      const select = el("select", { class: "bk-select", "aria-label": e.type === "overflow" ? "More actions" : label },
        el("option", { value: "", disabled: true, selected: true }, label),
        options.map((o) => el("option", { value: o.value }, (o.text || {}).text || o.value)));
      select.addEventListener("change", () => {
        const chosen = select.value;
        select.selectedIndex = 0;
        act(select, ctx, e, chosen);
      });
      return select;
    }
    case "image":
      return image(e.image_url, e.alt_text, "b-accessory-img");
    default:
      return el("span", { class: "b-unsupported" }, `[${e.type}]`);
  }
}

// A click: the confirm dialog first (when the element has one), then the signed block_actions.
async function act(control, ctx, element, value) {
  if (element.confirm && !(await confirmDialog(element.confirm))) return;
  control.disabled = true;
  control.classList.add("busy");
  try {
    const answer = await post("/api/click", {
      user: state.user, channel: ctx.channel, ts: ctx.ts, action_id: element.action_id, value: value ?? null,
    });
    if (!answer.ok) toast(answer.note || answer.error || "the click failed");
  } finally {
    control.disabled = false;
    control.classList.remove("busy");
  }
}

// --- confirm dialog ---------------------------------------------------------------------------------------

let closeModal = null;

function confirmDialog(confirm) {
  return new Promise((resolve) => {
    const back = $("modal-backdrop");
    const opener = document.activeElement;
    $("modal-title").replaceChildren(textObject(confirm.title));
    $("modal-text").replaceChildren(textObject(confirm.text));
    $("modal-confirm").replaceChildren(textObject(confirm.confirm || { type: "plain_text", text: "Yes" }));
    $("modal-deny").replaceChildren(textObject(confirm.deny || { type: "plain_text", text: "Cancel" }));
    $("modal-confirm").className = "bk-btn " + (confirm.style === "danger" ? "danger" : "primary");
    back.hidden = false;
    $("modal-confirm").focus();
    closeModal = (ok) => {
      back.hidden = true;
      closeModal = null;
      if (opener && opener.focus) opener.focus();
      resolve(ok);
    };
  });
}

function setupModal() {
  $("modal-confirm").addEventListener("click", () => closeModal && closeModal(true));
  $("modal-deny").addEventListener("click", () => closeModal && closeModal(false));
  $("modal-backdrop").addEventListener("click", (ev) => {
    if (ev.target === $("modal-backdrop") && closeModal) closeModal(false);
  });
  $("modal").addEventListener("keydown", (ev) => {
    if (ev.key === "Tab") {  // keep focus inside the dialog
      ev.preventDefault();
      (document.activeElement === $("modal-confirm") ? $("modal-deny") : $("modal-confirm")).focus();
    }
  });
}

// --- messages ---------------------------------------------------------------------------------------------

function formatTime(ts) {
  const d = new Date(parseFloat(ts) * 1000);
  return d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
}

function authorOf(msg) {
  if (msg.subtype === "ephemeral") return msg.user === "USLACKBOT" ? "Slackbot" : userName(msg.user);
  if (msg.bot_profile) return msg.bot_profile.name;
  return userName(msg.user);
}

function isBotMessage(msg) {
  return Boolean(msg.bot_id || msg.bot_profile || (state.users.get(msg.user) || {}).is_bot);
}

function avatar(name, bot, slackbot) {
  const initials = (name || "?").slice(0, 2).toUpperCase();
  return el("div", { class: "avatar" + (bot ? " bot" : "") + (slackbot ? " slackbot" : ""), "aria-hidden": "true" }, initials);
}

// One message as Slack shows it. `where` is "channel" or "thread".
function renderMessage(msg, where) {
  const ephemeral = msg.subtype === "ephemeral";
  const channel = msg.channel || state.channel;
  const ctx = { channel, ts: msg.ts };
  const name = authorOf(msg);
  const bot = isBotMessage(msg) || ephemeral && msg.user !== "USLACKBOT";
  const node = el("div", {
    class: "msg" + (ephemeral ? " ephemeral" : "") + (msg.subtype === "tombstone" ? " tombstone" : ""),
    dataset: { ts: msg.ts }, tabindex: "-1",
  });
  node.append(avatar(name, bot, msg.user === "USLACKBOT"));
  const body = el("div", { class: "msg-body" });
  body.append(el("div", { class: "msg-head" },
    el("span", { class: "author" }, name),
    bot ? el("span", { class: "app-badge" }, "APP") : null,
    el("time", { datetime: new Date(parseFloat(msg.ts) * 1000).toISOString(), title: new Date(parseFloat(msg.ts) * 1000).toString() }, formatTime(msg.ts))));
  if (msg.subtype === "thread_broadcast" && where === "channel" && msg.root) {
    const root = msg.root;
    body.append(el("div", { class: "broadcast-note" }, "replied to a thread: ",
      el("button", { type: "button", class: "linkish", onclick: () => openThread(channel, root.ts) },
        snippet(root.text || "(message)"))));
  }
  if (msg.subtype === "thread_broadcast" && where === "thread") {
    body.append(el("div", { class: "broadcast-note" }, "Also sent to the channel"));
  }
  const content = el("div", { class: "msg-content" });
  if (msg.blocks && msg.blocks.length) content.append(renderBlocks(msg.blocks, ctx));
  else content.append(el("div", { class: "b-text" }, mrkdwn(msg.text)));
  if (msg.edited) content.append(el("span", { class: "edited", title: "edited " + formatTime(msg.edited.ts) }, " (edited)"));
  body.append(content);
  for (const file of msg.files || []) body.append(renderFile(file));
  if (where === "channel" && msg.reply_count) {
    body.append(el("div", { class: "thread-summary" },
      el("button", { type: "button", class: "replies-link", onclick: () => openThread(channel, msg.ts) },
        `${msg.reply_count} ${msg.reply_count === 1 ? "reply" : "replies"}`),
      el("span", { class: "muted" }, " Last reply " + formatTime(msg.latest_reply))));
  }
  if (ephemeral) {
    body.append(el("div", { class: "eph-note" }, el("span", { "aria-hidden": "true" }, "👁 "), "Only visible to you",
      el("button", { type: "button", class: "linkish", onclick: () => { state.dismissed.add(msg.ts); removeEverywhere(msg.ts); } }, "Dismiss")));
  }
  node.append(body);
  return node;
}

function snippet(text) {
  const flat = decodeEntities(String(text)).replace(/\s+/g, " ").trim();
  return flat.length > 80 ? flat.slice(0, 79) + "…" : flat;
}

function renderFile(file) {
  const box = el("div", { class: "file" });
  box.append(el("div", { class: "file-head" },
    el("span", { class: "file-icon", "aria-hidden": "true" }, "📄"),
    el("span", { class: "file-name" }, file.title || file.name),
    el("span", { class: "muted" }, ` ${file.pretty_type || file.filetype || ""} · ${formatSize(file.size || 0)}`)));
  const body = el("div", { class: "file-body" }, el("span", { class: "muted" }, "loading…"));
  box.append(body);
  loadFile(file.id).then((data) => body.replaceChildren(fileSnippet(data)))
    .catch(() => body.replaceChildren(el("span", { class: "muted" }, "could not load the file")));
  return box;
}

function fileSnippet(data) {
  if (data.binary) return el("span", { class: "muted" }, "binary file");
  const lines = data.text.replace(/\n$/, "").split("\n");
  const SHOWN = 12;
  const pre = el("pre", { class: "code-block snippet" }, lines.slice(0, SHOWN).join("\n"));
  if (lines.length <= SHOWN && !data.truncated) return pre;
  const more = el("button", { type: "button", class: "linkish" }, `Show all ${lines.length} lines`);
  more.addEventListener("click", () => {
    const open = more.dataset.open === "1";
    pre.textContent = (open ? lines.slice(0, SHOWN) : lines).join("\n");
    more.dataset.open = open ? "0" : "1";
    more.textContent = open ? `Show all ${lines.length} lines` : "Show less";
  });
  return el("div", {}, pre, more);
}

function formatSize(n) {
  return n < 1024 ? `${n} B` : n < 1048576 ? `${(n / 1024).toFixed(1)} KB` : `${(n / 1048576).toFixed(1)} MB`;
}

function loadFile(id) {
  if (!state.files.has(id)) state.files.set(id, getJSON("/api/file?id=" + encodeURIComponent(id)));
  return state.files.get(id);
}

// A message list keyed by ts: insert in ts order, replace in place (no reload), remove.
function listUpsert(container, msg, where) {
  const nearBottom = container.scrollHeight - container.scrollTop - container.clientHeight < 80;
  const node = renderMessage(msg, where);
  const old = container.querySelector(`:scope > .msg[data-ts="${CSS.escape(msg.ts)}"]`);
  if (old) {
    node.classList.add("flash");
    old.replaceWith(node);
  } else {
    const after = [...container.children].find((c) => parseFloat(c.dataset.ts) > parseFloat(msg.ts));
    container.insertBefore(node, after || null);
    if (nearBottom) container.scrollTop = container.scrollHeight;
  }
  const empty = container.querySelector(":scope > .empty");
  if (empty) empty.remove();
}

function listRemove(container, ts) {
  const old = container.querySelector(`:scope > .msg[data-ts="${CSS.escape(ts)}"]`);
  if (old) old.remove();
}

function removeEverywhere(ts) {
  listRemove($("messages"), ts);
  listRemove($("thread-messages"), ts);
}

function renderChannel() {
  const box = $("messages");
  box.replaceChildren();
  const all = [...state.messages.values(), ...[...state.ephemerals.values()].filter((e) => !e.thread_ts)]
    .filter((m) => !state.dismissed.has(m.ts))
    .sort((a, b) => parseFloat(a.ts) - parseFloat(b.ts));
  for (const msg of all) box.append(renderMessage(msg, "channel"));
  if (!all.length) box.append(el("div", { class: "empty muted" }, "No messages yet. Type a slash command below."));
  box.scrollTop = box.scrollHeight;
}

function isTopLevel(msg) {
  return !msg.thread_ts || msg.thread_ts === msg.ts || msg.subtype === "thread_broadcast";
}

// --- threads ----------------------------------------------------------------------------------------------

async function openThread(channel, ts) {
  const data = await getJSON(`/api/thread?channel=${encodeURIComponent(channel)}&ts=${encodeURIComponent(ts)}`);
  const root = data.messages.length ? data.messages[0].ts : ts;
  state.thread = { channel, ts: root, messages: new Map(data.messages.map((m) => [m.ts, { ...m, channel }])) };
  for (const e of state.ephemerals.values()) if (e.thread_ts === root) state.thread.messages.set(e.ts, e);
  $("thread-pane").hidden = false;
  $("thread-channel").textContent = "#" + ((state.channels.get(channel) || {}).name || channel);
  renderThread();
  $("thread-input").focus();
}

function renderThread() {
  const box = $("thread-messages");
  box.replaceChildren();
  const all = [...state.thread.messages.values()].filter((m) => !state.dismissed.has(m.ts))
    .sort((a, b) => parseFloat(a.ts) - parseFloat(b.ts));
  all.forEach((msg, i) => {
    box.append(renderMessage(msg, "thread"));
    if (i === 0) {
      const n = all.filter((m) => m.subtype !== "ephemeral").length - 1;
      box.append(el("div", { class: "thread-divider" }, `${n} ${n === 1 ? "reply" : "replies"}`));
    }
  });
}

function closeThread() {
  state.thread = null;
  $("thread-pane").hidden = true;
  $("composer-input").focus();
}

function inOpenThread(msg, channel) {
  const t = state.thread;
  return t && t.channel === channel && (msg.ts === t.ts || msg.thread_ts === t.ts);
}

// --- live changes -----------------------------------------------------------------------------------------

function onSlackEvent(ev) {
  const channel = ev.channel;
  const msg = ev.message ? { ...ev.message, channel } : null;
  switch (ev.type) {
    case "message":
    case "message_changed":
    case "message_replied":
      if (channel === state.channel && isTopLevel(msg)) {
        if (ev.type === "message" || state.messages.has(msg.ts)) {
          state.messages.set(msg.ts, msg);
          listUpsert($("messages"), msg, "channel");
        }
      } else if (channel !== state.channel && ev.type === "message" && isTopLevel(msg)) {
        state.unread.set(channel, (state.unread.get(channel) || 0) + 1);
        renderChannelList();
      }
      if (inOpenThread(msg, channel)) {
        state.thread.messages.set(msg.ts, msg);
        renderThread();
      }
      break;
    case "message_deleted":
      state.messages.delete(ev.ts);
      removeEverywhere(ev.ts);
      if (state.thread && state.thread.messages.delete(ev.ts)) renderThread();
      break;
    case "ephemeral":
    case "ephemeral_changed":
      if (channel !== state.channel || ev.user !== state.user || state.dismissed.has(msg.ts)) break;
      state.ephemerals.set(msg.ts, msg);
      if (!msg.thread_ts) listUpsert($("messages"), msg, "channel");
      if (msg.thread_ts && state.thread && state.thread.ts === msg.thread_ts && state.thread.channel === channel) {
        state.thread.messages.set(msg.ts, msg);
        renderThread();
      }
      break;
    case "ephemeral_deleted":
      if (channel === state.channel && ev.user === state.user) {
        state.ephemerals.delete(ev.ts);
        removeEverywhere(ev.ts);
      }
      break;
    default:
      break;
  }
}

function connect() {
  if (state.source) state.source.close();
  const source = new EventSource("/api/events?after=" + state.lastEvent);
  state.source = source;
  source.onopen = () => setConn("live", true);
  source.onerror = () => setConn("reconnecting…", false);
  const track = (fn) => (e) => {
    if (e.lastEventId) state.lastEvent = parseInt(e.lastEventId, 10);
    fn(JSON.parse(e.data));
  };
  source.addEventListener("slack", track(onSlackEvent));
  source.addEventListener("cluster", track(renderCluster));
  source.addEventListener("directory", track(() => loadWorkspace().then(renderSidebar)));
  source.addEventListener("reset", track(() => reloadAll()));
}

function setConn(text, ok) {
  const node = $("conn-status");
  node.textContent = text;
  node.classList.toggle("ok", ok);
}

// --- sidebar, channels, users -----------------------------------------------------------------------------

async function loadWorkspace() {
  const ws = await getJSON("/api/workspace");
  state.team = ws.team;
  state.users = new Map(ws.users.map((u) => [u.id, u]));
  state.channels = new Map(ws.channels.map((c) => [c.id, c]));
  document.title = ws.title;
  $("team-name").textContent = ws.title;
  return ws;
}

function people() {
  return [...state.users.values()].filter((u) => !u.is_bot && u.id !== "USLACKBOT");
}

function channelLabel(c) {
  return c.is_im ? userName(c.user) : c.name;
}

function renderSidebar() {
  const select = $("user-select");
  select.replaceChildren(...people().map((u) =>
    el("option", { value: u.id, selected: u.id === state.user }, u.real_name && u.real_name !== u.name ? `${u.name} (${u.real_name})` : u.name)));
  renderChannelList();
}

function renderChannelList() {
  const regular = [...state.channels.values()].filter((c) => !c.is_im);
  const dms = [...state.channels.values()].filter((c) => c.is_im);
  const item = (c) => {
    const unread = state.unread.get(c.id) || 0;
    const current = c.id === state.channel;
    return el("li", {},
      el("button", {
        type: "button", class: "channel-item" + (current ? " current" : "") + (unread ? " unread" : ""),
        "aria-current": current ? "page" : null, onclick: () => openChannel(c.id),
      },
      el("span", { class: "hash", "aria-hidden": "true" }, c.is_im ? "●" : c.is_private ? "🔒" : "#"),
      el("span", { class: "channel-name" }, channelLabel(c)),
      unread ? el("span", { class: "badge", "aria-label": `${unread} new` }, String(unread)) : null));
  };
  $("channel-list").replaceChildren(...regular.map(item));
  $("dm-list").replaceChildren(...dms.map(item));
  $("dm-heading").hidden = dms.length === 0;
}

async function openChannel(id) {
  state.channel = id;
  state.unread.delete(id);
  localStorage.setItem("helmbot-demo-channel", id);
  const c = state.channels.get(id) || { name: id };
  $("channel-title").textContent = (c.is_im ? "" : c.is_private ? "🔒 " : "#") + channelLabel(c);
  const members = (c.members || []).length;
  const inIt = (c.members || []).includes(state.user);
  $("channel-meta").textContent = `${members} members` + (inIt ? "" : ` · ${userName(state.user)} is not a member`);
  $("composer-input").placeholder = `Message ${c.is_im ? "" : "#"}${channelLabel(c)} (try /deploy shop 1.1.0 web.image=…)`;
  if (state.thread && state.thread.channel !== id) closeThread();
  renderChannelList();
  await loadChannel();
}

async function loadChannel() {
  const q = `channel=${encodeURIComponent(state.channel)}&user=${encodeURIComponent(state.user || "")}`;
  const data = await getJSON("/api/channel?" + q);
  state.messages = new Map(data.messages.map((m) => [m.ts, { ...m, channel: state.channel }]));
  state.ephemerals = new Map(data.ephemerals.map((m) => [m.ts, m]));
  renderChannel();
}

function switchUser(id) {
  state.user = id;
  localStorage.setItem("helmbot-demo-user", id);
  openChannel(state.channel);
  if (state.thread) openThread(state.thread.channel, state.thread.ts);
}

async function reloadAll() {
  await loadWorkspace();
  renderSidebar();
  await openChannel(state.channels.has(state.channel) ? state.channel : [...state.channels.keys()][0]);
  if (state.thread) await openThread(state.thread.channel, state.thread.ts);
  renderCluster(await getJSON("/api/cluster"));
}

// --- composer ---------------------------------------------------------------------------------------------

async function send(input, threadTs) {
  const text = input.value;
  if (!text.trim()) return;
  input.value = "";
  autosize(input);
  updateHint();
  if (text.trim().startsWith("/")) state.history.push(text);
  const answer = await post("/api/send", { user: state.user, channel: state.channel, text, thread_ts: threadTs || null });
  if (!answer.sent && !input.value) { input.value = text; autosize(input); }  // refused before it was sent
  if (!answer.ok) toast(answer.note || answer.error || "not sent");
}

function autosize(area) {
  area.style.height = "auto";
  area.style.height = Math.min(area.scrollHeight, 200) + "px";
}

function updateHint() {
  const text = $("composer-input").value.trim();
  const command = text.startsWith("/") ? text.split(/\s/)[0] : "";
  const hints = Object.entries(COMMAND_HINTS).filter(([name]) => command && name.startsWith(command));
  $("composer-hint").textContent = hints.map(([, h]) => h).join("  ·  ");
}

function composerKeys(area, threadTs) {
  area.addEventListener("input", () => { autosize(area); if (!threadTs) updateHint(); });
  area.addEventListener("keydown", (ev) => {
    if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing) {
      ev.preventDefault();
      send(area, threadTs ? threadTs() : null);
    } else if (ev.key === "ArrowUp" && !area.value && state.history.length && !threadTs) {
      ev.preventDefault();
      area.value = state.history[state.history.length - 1];
      autosize(area);
      updateHint();
    }
  });
}

// --- cluster panel ----------------------------------------------------------------------------------------

const POD_CLASSES = [
  [/^(Running)$/, "ok"], [/^(Completed|Succeeded)$/, "done"], [/^Terminating$/, "gone"],
  [/(CrashLoopBackOff|Error|ErrImagePull|ImagePullBackOff|CreateContainerConfigError|CreateContainerError|OOMKilled|Failed|ExitCode|Signal|Evicted)/, "bad"],
];

function podClass(status) {
  for (const [re, cls] of POD_CLASSES) if (re.test(status)) return cls;
  return "wait";
}

function age(created) {
  if (!created) return "";
  const s = Math.max(0, Math.round((Date.now() - Date.parse(created)) / 1000));
  return s < 120 ? `${s}s` : s < 7200 ? `${Math.floor(s / 60)}m` : `${Math.floor(s / 3600)}h`;
}

function table(kind, ns, headers, rows) {
  if (!rows.length) return null;
  return el("table", { class: "kt" },
    el("caption", {}, kind),
    el("thead", {}, el("tr", {}, headers.map((h) => el("th", { scope: "col" }, h)))),
    el("tbody", {}, rows.map(([name, cells, cls]) => {
      const key = `${ns}/${kind}/${name}`;
      const sig = JSON.stringify(cells);
      const changed = state.clusterRows.has(key) && state.clusterRows.get(key) !== sig;
      state.clusterRows.set(key, sig);
      return el("tr", { class: (cls || "") + (changed ? " changed" : ""), dataset: { name } },
        cells.map((c, i) => el(i ? "td" : "th", i ? {} : { scope: "row" }, String(c))));
    })));
}

function renderCluster(snap) {
  state.cluster = snap;
  $("cluster-api").textContent = snap.api || "";
  const body = $("cluster-body");
  const parts = [];
  if (snap.error) parts.push(el("div", { class: "cluster-error" }, snap.error));
  for (const ns of snap.namespaces || []) {
    const releases = ns.releases.map((r) => el("div", { class: `release st-${r.status}`, dataset: { name: r.name } },
      el("span", { class: "release-name" }, r.name), ` rev ${r.revision} `,
      el("span", { class: "release-status" }, r.status),
      el("span", { class: "muted" }, ` (${r.revisions} kept)`)));
    parts.push(el("section", { class: "ns", "aria-label": "namespace " + ns.name },
      el("h3", {}, ns.name),
      releases.length ? el("div", { class: "releases", "aria-label": "Helm releases" }, releases) : null,
      table("Deployments", ns.name, ["name", "ready", "up-to-date", "available"], ns.deployments.map((d) =>
        [d.name, [d.name, `${d.ready}/${d.desired}`, d.updated, d.available],
          d.stalled ? "bad" : d.ready < d.desired || !d.observed ? "wait" : "ok"])),
      table("ReplicaSets", ns.name, ["name", "ready", "rev"], ns.replicasets.map((r) =>
        [r.name, [r.name, `${r.ready}/${r.desired}`, r.revision], r.desired === 0 ? "gone" : r.ready < r.desired ? "wait" : "ok"])),
      table("Pods", ns.name, ["name", "ready", "status", "restarts", "age"], ns.pods.map((p) =>
        [p.name, [p.name, p.ready, p.status, p.restarts, age(p.created)], podClass(p.status)])),
      table("Jobs", ns.name, ["name", "state", "active", "ok", "failed"], ns.jobs.map((j) =>
        [j.name, [j.name + (j.hook ? ` (${j.hook})` : ""), j.state, j.active, j.succeeded, j.failed],
          j.state === "Failed" ? "bad" : j.state === "Complete" ? "done" : "wait"]))));
  }
  if (!parts.length) parts.push(el("div", { class: "muted empty" }, "Nothing deployed yet."));
  body.replaceChildren(...parts);
}

// --- plumbing ---------------------------------------------------------------------------------------------

async function getJSON(url) {
  const resp = await fetch(url, { headers: { Accept: "application/json" } });
  const data = await resp.json();
  if (!resp.ok) throw new Error(data.error || `HTTP ${resp.status}`);
  return data;
}

async function post(url, body) {
  try {
    const resp = await fetch(url, {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
    });
    return await resp.json();
  } catch (e) {
    return { ok: false, error: "the demo server did not answer" };
  }
}

let toastTimer = null;
function toast(text) {
  const node = $("toast");
  node.textContent = text;
  node.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { node.hidden = true; }, 6000);
}

function globalKeys(ev) {
  const typing = ev.target.matches && ev.target.matches("textarea, input, select");
  if (ev.key === "Escape") {
    if (closeModal) { ev.preventDefault(); closeModal(false); }
    else if (state.thread) { ev.preventDefault(); closeThread(); }
    return;
  }
  if (closeModal) return;
  if ((ev.ctrlKey || ev.metaKey) && ev.key.toLowerCase() === "k") {
    ev.preventDefault();
    $("composer-input").focus();
  } else if (ev.key === "/" && !typing) {
    ev.preventDefault();
    const area = $("composer-input");
    area.focus();
    if (!area.value) area.value = "/";
    updateHint();
  } else if (ev.altKey && (ev.key === "ArrowUp" || ev.key === "ArrowDown")) {
    ev.preventDefault();
    const ids = [...state.channels.values()].sort((a, b) => Number(a.is_im) - Number(b.is_im)).map((c) => c.id);
    const at = ids.indexOf(state.channel);
    const next = ids[(at + (ev.key === "ArrowUp" ? -1 : 1) + ids.length) % ids.length];
    if (next) openChannel(next);
  }
}

async function main() {
  setupModal();
  const ws = await loadWorkspace();
  state.lastEvent = ws.last_event;
  const everyone = people();
  const savedUser = localStorage.getItem("helmbot-demo-user");
  state.user = state.users.has(savedUser) ? savedUser : (everyone[0] || {}).id || null;
  const savedChannel = localStorage.getItem("helmbot-demo-channel");
  const firstChannel = [...state.channels.values()].find((c) => !c.is_im && (c.members || []).includes(state.user));
  state.channel = state.channels.has(savedChannel) ? savedChannel : (firstChannel || [...state.channels.values()][0] || {}).id;
  renderSidebar();
  $("user-select").addEventListener("change", (ev) => switchUser(ev.target.value));
  $("composer").addEventListener("submit", (ev) => { ev.preventDefault(); send($("composer-input")); });
  $("thread-composer").addEventListener("submit", (ev) => { ev.preventDefault(); send($("thread-input"), state.thread && state.thread.ts); });
  composerKeys($("composer-input"));
  composerKeys($("thread-input"), () => state.thread && state.thread.ts);
  $("thread-close").addEventListener("click", closeThread);
  $("toggle-cluster").addEventListener("click", () => {
    const pane = $("cluster-pane");
    pane.hidden = !pane.hidden;
    $("toggle-cluster").setAttribute("aria-pressed", String(!pane.hidden));
  });
  document.addEventListener("keydown", globalKeys);
  if (state.channel) await openChannel(state.channel);
  connect();
  renderCluster(await getJSON("/api/cluster"));
  setInterval(() => { if (state.cluster) renderCluster(state.cluster); }, 10000);
  $("composer-input").focus();
  document.body.dataset.ready = "1";
}

main().catch((e) => toast("the demo could not start: " + e.message));
