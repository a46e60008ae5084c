// The demo's Slack-like client: polls /ui/state, renders Block Kit, drives the bot via /ui/*.
"use strict";
const $ = (sel) => document.querySelector(sel);
const ui = { user: null, conv: "dm", people: [], names: {}, channels: [], view: null,
             errors: {}, openThreads: new Set(), lastRender: "" };

function esc(text) {
  return String(text ?? "").replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

function mrkdwn(raw) {
  let text = esc(raw);
  text = text.replace(/&lt;@([UW][A-Z0-9]+)(\|[^&]*)?&gt;/g,
    (_m, id) => `<b class="mention">@${esc(ui.names[id] || id)}</b>`);
  text = text.replace(/&lt;#([CG][A-Z0-9]+)\|([^&]*)&gt;/g, (_m, _id, name) => `<b>#${name}</b>`);
  text = text.replace(/&lt;(https?:[^|&]*)\|([^&]*)&gt;/g, '<a href="$1" target="_blank">$2</a>');
  text = text.replace(/```([\s\S]*?)```/g, "<pre><code>$1</code></pre>");
  text = text.replace(/`([^`\n]+)`/g, "<code>$1</code>");
  text = text.replace(/(^|[\s(])\*([^*\n]+)\*/g, "$1<b>$2</b>");
  text = text.replace(/(^|[\s(])_([^_\n]+)_/g, "$1<i>$2</i>");
  text = text.replace(/(^|[\s(])~([^~\n]+)~/g, "$1<s>$2</s>");
  text = text.split("\n").map((line) => line.startsWith("&gt;")
    ? `<blockquote>${line.slice(4)}</blockquote>` : line).join("\n");
  return text.replace(/\n/g, "<br>");
}

function textObj(t) {
  if (!t) return "";
  return t.type === "mrkdwn" ? mrkdwn(t.text) : esc(t.text);
}

function button(el, ctx) {
  const style = el.style ? ` ${el.style}` : "";
  const data = encodeURIComponent(JSON.stringify({ action_id: el.action_id, value: el.value,
    block_id: ctx.block_id, type: "button", text: el.text }));
  return `<button class="bk${style}" data-action="${data}" data-ts="${ctx.ts || ""}"
    data-channel="${ctx.channel || ""}" data-view="${ctx.view || ""}">${textObj(el.text)}</button>`;
}

function element(el, ctx) {
  if (el.type === "button") return button(el, ctx);
  if (el.type === "image") return `<img src="${esc(el.image_url)}" alt="${esc(el.alt_text)}">`;
  if (el.type === "mrkdwn" || el.type === "plain_text") return `<span>${textObj(el)}</span>`;
  return "";
}

function inputBlock(block, ctx) {
  const el = block.element || {};
  const id = `in-${block.block_id}`;
  const optional = block.optional ? ' <span class="optional">(optional)</span>' : "";
  let control = "";
  if (el.type === "plain_text_input") {
    const value = esc(el.initial_value || "");
    control = el.multiline
      ? `<textarea id="${id}" data-block="${block.block_id}" data-action-id="${el.action_id}" maxlength="${el.max_length || 3000}">${value}</textarea>`
      : `<input type="text" id="${id}" data-block="${block.block_id}" data-action-id="${el.action_id}" value="${value}">`;
  } else if (el.type === "checkboxes") {
    const chosen = new Set((el.initial_options || []).map((o) => o.value));
    control = (el.options || []).map((o) => `<label class="check"><input type="checkbox"
      data-block="${block.block_id}" data-action-id="${el.action_id}" value="${esc(o.value)}"
      data-text="${encodeURIComponent(JSON.stringify(o.text))}" ${chosen.has(o.value) ? "checked" : ""}>
      ${textObj(o.text)}</label><br>`).join("");
  }
  const hint = block.hint ? `<div class="hint">${textObj(block.hint)}</div>` : "";
  const error = ctx.errors && ctx.errors[block.block_id]
    ? `<div class="error">${esc(ctx.errors[block.block_id])}</div>` : "";
  return `<div class="input"><label for="${id}">${textObj(block.label)}${optional}</label>${control}${hint}${error}</div>`;
}

function blocks(list, ctx) {
  return (list || []).map((b) => {
    const c = { ...ctx, block_id: b.block_id };
    switch (b.type) {
      case "header": return `<div class="block header">${textObj(b.text)}</div>`;
      case "divider": return '<div class="block divider"></div>';
      case "section": {
        const fields = b.fields ? `<div class="fields">${b.fields.map((f) =>
          `<div>${textObj(f)}</div>`).join("")}</div>` : "";
        const acc = b.accessory ? element(b.accessory, c) : "";
        return `<div class="block section">${textObj(b.text)}${fields}${acc}</div>`;
      }
      case "context": return `<div class="block context">${(b.elements || []).map((e) =>
        element(e, c)).join(" ")}</div>`;
      case "actions": return `<div class="actions">${(b.elements || []).map((e) =>
        element(e, c)).join("")}</div>`;
      case "image": return `<div class="block"><img src="${esc(b.image_url)}" alt="${esc(b.alt_text)}"></div>`;
      case "markdown": return `<div class="block">${mrkdwn(b.text)}</div>`;
      case "input": return inputBlock(b, c);
      default: return "";
    }
  }).join("");
}

function files(list) {
  return (list || []).map((f) => f.name && f.name.endsWith(".pdf")
    ? `<div class="files">📄 <a href="/ui/file/${f.id}" target="_blank">${esc(f.title || f.name)}</a></div>`
    : `<div class="files"><div class="block context">${esc(f.title || f.name)}</div>
       <img src="/ui/file/${f.id}" alt="${esc(f.title || f.name)}"></div>`).join("");
}

function when(ts) {
  const d = new Date(parseFloat(ts) * 1000);
  return isNaN(d) ? "" : d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

function message(m, channel, extraClass = "") {
  const isBot = !m.user || m.user === ui.bot || m.bot_id;
  const who = isBot ? "Drumbeat" : (ui.names[m.user] || m.user);
  const body = m.blocks && m.blocks.length
    ? blocks(m.blocks, { ts: m.ts, channel }) : `<div class="block">${mrkdwn(m.text || "")}</div>`;
  return `<div class="msg ${extraClass}" data-ts="${m.ts || ""}">
    <div class="avatar ${isBot ? "bot" : ""}">${isBot ? "🥁" : esc(who[0] || "?")}</div>
    <div class="msg-body"><div class="msg-head"><b>${esc(who)}</b>
    <span class="time">${when(m.ts)}</span></div>${body}${files(m.files)}REPLIES</div></div>`;
}

function renderConversation(state) {
  const top = state.messages.filter((m) => !m.thread_ts || m.thread_ts === m.ts);
  const replies = {};
  state.messages.filter((m) => m.thread_ts && m.thread_ts !== m.ts).forEach((m) => {
    (replies[m.thread_ts] = replies[m.thread_ts] || []).push(m);
  });
  let html = top.map((m) => {
    const list = replies[m.ts] || [];
    let thread = "";
    if (list.length) {
      const open = ui.openThreads.has(m.ts);
      thread = `<div class="thread-toggle" data-thread="${m.ts}">${open ? "Hide" : "Show"} ${list.length} ${list.length === 1 ? "reply" : "replies"}</div>`;
      if (open) thread += `<div class="thread">${list.map((r) => message(r, state.channel).replace("REPLIES", "")).join("")}</div>`;
    }
    return message(m, state.channel).replace("REPLIES", thread);
  }).join("");
  html += (state.ephemerals || []).map((e) => message({ ...e, user: null }, state.channel, "ephemeral")
    .replace("REPLIES", '<div class="ephemeral-note">Only visible to you</div>')).join("");
  return html || '<div class="empty">Nothing here yet. Use the time control above, or a slash command below.</div>';
}

function renderHome(state) {
  if (!state.home) return '<div class="empty">Loading your Home tab…</div>';
  return `<div class="msg"><div class="msg-body">${blocks(state.home.blocks, { view: "home" })}</div></div>`;
}

function renderModal(views) {
  const view = (views || [])[views.length - 1];
  const modal = $("#modal");
  if (!view) { modal.classList.add("hidden"); ui.view = null; return; }
  const changed = !ui.view || ui.view.id !== view.id || ui.view.hash !== view.hash;
  ui.view = view;
  if (!changed) return;
  $("#modaltitle").innerHTML = textObj(view.title);
  $("#modalbody").innerHTML = blocks(view.blocks, { view: view.id, errors: ui.errors });
  $("#modalsubmit").textContent = view.submit ? view.submit.text : "Done";
  $("#modalsubmit").style.display = view.submit ? "" : "none";
  modal.classList.remove("hidden");
}

function collectValues() {
  const values = {};
  document.querySelectorAll("#modalbody [data-block]").forEach((el) => {
    const block = el.dataset.block, action = el.dataset.actionId;
    values[block] = values[block] || {};
    if (el.type === "checkbox") {
      const entry = values[block][action] || { type: "checkboxes", selected_options: [] };
      if (el.checked) entry.selected_options.push({ value: el.value,
        text: JSON.parse(decodeURIComponent(el.dataset.text)) });
      values[block][action] = entry;
    } else {
      values[block][action] = { type: "plain_text_input", value: el.value };
    }
  });
  return values;
}

async function post(path, body) {
  const res = await fetch(path, { method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ user: ui.user, ...body }) });
  return res.json();
}

function status(text) { $("#status").textContent = text || ""; }

async function refresh() {
  if (!ui.user) return;
  const res = await fetch(`/ui/state?user=${ui.user}&conv=${encodeURIComponent(ui.conv)}`);
  const state = await res.json();
  $("#clock").textContent = state.clock && state.clock.text ? state.clock.text : "";
  $("#dmcount").textContent = state.unread ? String(state.unread) : "";
  const html = ui.conv === "home" ? renderHome(state) : renderConversation(state);
  if (html !== ui.lastRender) {
    const box = $("#messages");
    const atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 40;
    box.innerHTML = html;
    ui.lastRender = html;
    if (atBottom || ui.conv !== "home") box.scrollTop = box.scrollHeight;
  }
  renderModal(state.views || []);
}

function selectConv(conv, title) {
  ui.conv = conv;
  ui.lastRender = "";
  document.querySelectorAll(".conv").forEach((a) => a.classList.toggle("active", a.dataset.conv === conv));
  $("#convtitle").textContent = title;
  if (conv === "home") post("/ui/home", {}).then(refresh);
  refresh();
}

async function boot() {
  const data = await (await fetch("/ui/bootstrap")).json();
  ui.people = data.people; ui.bot = data.bot; ui.channels = data.channels;
  data.people.forEach((p) => { ui.names[p.id] = p.name; });
  const select = $("#user");
  select.innerHTML = data.people.map((p) => `<option value="${p.id}">${esc(p.name)} — ${esc(p.role)}${p.team ? " · " + esc(p.team) : ""}</option>`).join("");
  const params = new URLSearchParams(location.search);
  ui.user = params.get("user") || (data.people.find((p) => p.role === "rep") || data.people[0] || {}).id;
  select.value = ui.user;
  select.addEventListener("change", () => { ui.user = select.value; ui.view = null; selectConv(ui.conv, $("#convtitle").textContent); });
  $("#channels").innerHTML = data.channels.map((c) => `<a href="#" class="conv" data-conv="${c.id}"># ${esc(c.name)}</a>`).join("");
  document.querySelectorAll(".conv").forEach((a) => a.addEventListener("click", (ev) => {
    ev.preventDefault();
    selectConv(a.dataset.conv, a.textContent.trim());
  }));
  selectConv("dm", "Messages with Drumbeat");
  setInterval(refresh, 1500);
}

document.addEventListener("click", async (ev) => {
  const toggle = ev.target.closest("[data-thread]");
  if (toggle) {
    const ts = toggle.dataset.thread;
    ui.openThreads.has(ts) ? ui.openThreads.delete(ts) : ui.openThreads.add(ts);
    ui.lastRender = ""; refresh(); return;
  }
  const btn = ev.target.closest("button[data-action]");
  if (btn) {
    const action = JSON.parse(decodeURIComponent(btn.dataset.action));
    const body = { action };
    if (btn.dataset.view && btn.dataset.view !== "home") { body.view_id = btn.dataset.view; body.values = collectValues(); }
    else if (btn.dataset.ts) { body.channel = btn.dataset.channel; body.ts = btn.dataset.ts; }
    status("…");
    await post("/ui/action", body);
    status(""); ui.lastRender = ""; refresh();
    return;
  }
  const jump = ev.target.closest("button[data-jump]");
  if (jump) {
    status("Moving the clock and running what is due…");
    const res = await post("/ui/clock", { jump: jump.dataset.jump });
    status(res.said || res.error || "");
    ui.lastRender = ""; refresh();
  }
});

$("#composer").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const text = $("#command").value.trim();
  if (!text) return;
  const channel = ui.conv === "dm" || ui.conv === "home" ? null : ui.conv;
  status(`Sent ${text}`);
  const res = await post("/ui/command", { text, channel });
  if (res.error) status(res.error);
  $("#command").value = "";
  if (ui.conv === "home") selectConv("dm", "Messages with Drumbeat");
  setTimeout(refresh, 300);
});

$("#modalsubmit").addEventListener("click", async () => {
  if (!ui.view) return;
  const res = await post("/ui/submit", { view_id: ui.view.id, values: collectValues() });
  const answer = res.answer || {};
  if (answer.response_action === "errors") {
    ui.errors = answer.errors || {};
    const values = collectValues();
    $("#modalbody").innerHTML = blocks(ui.view.blocks, { view: ui.view.id, errors: ui.errors });
    Object.entries(values).forEach(([block, actions]) => Object.values(actions).forEach((v) => {
      const el = document.querySelector(`#modalbody [data-block="${block}"]`);
      if (el && v.type === "plain_text_input") el.value = v.value;
    }));
    status("Please fix the highlighted fields.");
    return;
  }
  ui.errors = {}; ui.view = null; $("#modal").classList.add("hidden");
  status("Submitted."); refresh();
});

$("#modalclose").addEventListener("click", async () => {
  if (ui.view) await post("/ui/close", { view_id: ui.view.id });
  ui.view = null; ui.errors = {}; $("#modal").classList.add("hidden");
});

boot();
