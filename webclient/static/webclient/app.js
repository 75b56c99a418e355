// The web client: one page, two views (conversations, one conversation), on
// the public API (api.js) and the /ws/ feed (live.js). State lives here; the
// DOM is rendered from it. Messages are keyed by client_id when they have
// one, else by id, so a pending message, its POST answer, its
// message.created event and a catch-up page are one message, shown once.

import { ApiError, allPages, api, uuid } from "./api.js";
import { $, dayKey, formatDay, formatTime, formatWhen, h } from "./dom.js";
import { LiveFeed } from "./live.js";

const PAGE_SIZE = 30;
const TYPING_SHOWN_MS = 4000;
const TYPING_SEND_INTERVAL_MS = 2000;

const state = {
  me: null,
  threads: new Map(), // id -> thread as the API renders it
  unread: 0,
  openId: null,
  conversations: new Map(), // thread id -> {messages: Map key -> message, complete, loadingOlder}
  typing: new Map(), // thread id -> {username, timer}
  editing: null, // key of the message being edited
  confirmingDelete: null, // key of the message whose deletion awaits a yes
  reporting: null, // key of the message whose report form is open
  reported: new Map(), // key -> the confirmation shown under a message reported
  draftMembers: new Map(), // the new group form's chosen people: id -> user
  members: null, // the open group's panel: {threadId, list: [membership], myRole}
  blocked: new Set(), // ids of the users the user blocks
  lastTypingSent: 0,
};

let feed = null;
let seq = 0; // local order of pending messages

// --- small helpers -----------------------------------------------------------

function keyOf(message) {
  return message.client_id ? `c:${message.client_id}` : `i:${message.id}`;
}

// How people are shown: their display name (first and last name), else the username.
function nameOf(user) {
  return user.display_name || user.username;
}

function threadName(thread) {
  if (thread.kind === "group") return thread.title || "Untitled group";
  const other = thread.participants.find((user) => user.id !== state.me.id);
  return nameOf(other || thread.participants[0] || { username: "?" });
}

// A direct thread's other participant is online (a group shows no dot).
function otherOnline(thread) {
  if (thread.kind === "group") return false;
  const other = thread.participants.find((user) => user.id !== state.me.id);
  return Boolean(other && other.is_online);
}

function conversation(threadId) {
  let conv = state.conversations.get(threadId);
  if (!conv) {
    conv = { messages: new Map(), complete: false, loaded: false, loadingOlder: false };
    state.conversations.set(threadId, conv);
  }
  return conv;
}

function sortedMessages(conv) {
  return [...conv.messages.values()].sort((a, b) => {
    const ap = a.id === undefined, bp = b.id === undefined;
    if (ap !== bp) return ap ? 1 : -1;
    return ap ? a.seq - b.seq : a.id - b.id;
  });
}

function upsertMessage(message) {
  const conv = state.conversations.get(message.thread);
  if (!conv || !conv.loaded) return;
  const key = keyOf(message);
  const known = conv.messages.get(key);
  conv.messages.set(key, { ...known, ...message, status: "sent" });
}

function removeMessages(threadId, ids) {
  const conv = state.conversations.get(threadId);
  if (!conv) return;
  const gone = new Set(ids);
  for (const [key, message] of conv.messages) if (gone.has(message.id)) conv.messages.delete(key);
}

function setReadState(threadId, ids, isRead) {
  const marked = new Set(ids);
  const conv = state.conversations.get(threadId);
  if (conv) for (const message of conv.messages.values()) if (marked.has(message.id)) message.is_read = isRead;
  const thread = state.threads.get(threadId);
  if (thread && thread.last_message && marked.has(thread.last_message.id)) thread.last_message.is_read = isRead;
}

function showError(error) {
  if (error instanceof ApiError && error.status === 401 && state.me !== null) {
    showLogin(); // the session ended (expired, or logged out elsewhere)
    return;
  }
  const text = error instanceof ApiError ? error.message : String(error);
  const banner = $("connection");
  banner.textContent = text;
  banner.hidden = false;
  banner.dataset.kind = "error";
  setTimeout(() => {
    if (banner.dataset.kind === "error") {
      banner.hidden = true;
      delete banner.dataset.kind;
    }
  }, 5000);
}

// --- rendering ---------------------------------------------------------------

function renderTitle() {
  document.title = state.unread > 0 ? `(${state.unread}) Chat` : "Chat";
}

// Keyed like the messages: an unchanged thread keeps its element (and focus).
const threadItems = new Map(); // thread id -> {element, signature}

function renderThreads() {
  const list = $("thread-list");
  const focusedId = document.activeElement && document.activeElement.dataset.threadId;
  const threads = [...state.threads.values()].sort(
    (a, b) => b.updated.localeCompare(a.updated) || b.id - a.id,
  );
  const today = dayKey(new Date());
  const items = threads.map((thread) => {
    const last = thread.last_message;
    const signature = JSON.stringify([
      threadName(thread), thread.kind, thread.id === state.openId, thread.unread_count, thread.updated,
      last && [last.id, last.text, last.sender.id], today, otherOnline(thread), thread.muted,
    ]);
    const known = threadItems.get(thread.id);
    if (known && known.signature === signature) return known.element;
    const element = threadItem(thread);
    threadItems.set(thread.id, { element, signature });
    return element;
  });
  for (const id of threadItems.keys()) if (!state.threads.has(id)) threadItems.delete(id);
  items.forEach((item, index) => {
    if (list.children[index] !== item) list.insertBefore(item, list.children[index] || null);
  });
  while (list.children.length > items.length) list.lastElementChild.remove();
  $("no-threads").hidden = threads.length > 0;
  if (focusedId && !list.contains(document.activeElement)) {
    const again = list.querySelector(`[data-thread-id="${CSS.escape(focusedId)}"]`);
    if (again) again.focus();
  }
}

function threadItem(thread) {
  const last = thread.last_message;
  const nameId = `thread-${thread.id}-name`;
  const detailsId = `thread-${thread.id}-details`;
  let prefix = "";
  if (last && last.sender.id === state.me.id) prefix = "You: ";
  else if (last && thread.kind === "group") prefix = `${nameOf(last.sender)}: `;
  const excerpt = last ? `${prefix}${last.text}` : "No messages yet";
  return h(
    "li",
    {},
    h(
      "button",
      {
        type: "button",
        className: `thread${thread.id === state.openId ? " open" : ""}${thread.unread_count ? " unread" : ""}${
          thread.muted ? " muted" : ""}`,
        "data-thread-id": thread.id,
        // Named by the other participant (or the group's title); the rest is its description.
        "aria-labelledby": nameId,
        "aria-describedby": detailsId,
        "aria-current": thread.id === state.openId ? "true" : false,
        "data-online": otherOnline(thread) ? "true" : false, // the green dot (style.css)
        onclick: () => openThread(thread.id),
      },
      h("span", { id: nameId, className: "thread-name" }, threadName(thread)),
      h(
        "span",
        { id: detailsId, className: "thread-details" },
        h("span", { className: "excerpt" }, excerpt.length > 80 ? `${excerpt.slice(0, 80)}…` : excerpt),
        h("time", { className: "when", datetime: thread.updated }, formatWhen(new Date(thread.updated))),
        thread.muted ? h("span", { className: "muted-mark" }, "muted") : null,
        thread.unread_count
          ? h(
              "span",
              { className: "badge", "data-unread": thread.unread_count },
              String(thread.unread_count),
              h("span", { className: "visually-hidden" }, " unread"),
            )
          : null,
      ),
    ),
  );
}

// The key of the user's last message someone has read: "Seen" goes there
// (in a group, "Seen by N", or "Seen by everyone" once all have).
function lastSeenKey(messages) {
  let seen = null;
  for (const message of messages) {
    if (message.id === undefined || message.sender.id !== state.me.id) continue;
    if (message.is_read || message.read_count > 0) seen = keyOf(message);
  }
  return seen;
}

function seenLabel(message) {
  if (message.read_count === undefined) return "Seen";
  return message.is_read ? "Seen by everyone" : `Seen by ${message.read_count}`;
}

function messageElement(message, seenKey) {
  const mine = message.sender.id === state.me.id;
  const key = keyOf(message);
  const created = new Date(message.created);
  const children = [
    h(
      "div",
      { className: "meta" },
      h("span", { className: "sender" }, mine ? "You" : nameOf(message.sender)),
      " ",
      h("time", { datetime: message.created }, formatTime(created)),
    ),
  ];
  if (state.editing === key) {
    const box = h("textarea", { className: "edit-box", "aria-label": "Edit message", rows: 2 });
    box.value = message.text;
    const save = async (event) => {
      event.preventDefault();
      const text = box.value.trim();
      if (!text) return;
      try {
        const updated = await api("PATCH", `/api/threads/${message.thread}/messages/${message.id}/`, { text });
        upsertMessage(updated);
        state.editing = null;
        renderConversation();
      } catch (error) {
        showError(error);
      }
    };
    box.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) save(event);
      if (event.key === "Escape") {
        state.editing = null;
        renderConversation();
      }
    });
    children.push(
      h(
        "form",
        { className: "edit", onsubmit: save },
        box,
        h("button", { type: "submit" }, "Save"),
        h("button", { type: "button", onclick: () => { state.editing = null; renderConversation(); } }, "Cancel"),
      ),
    );
    queueMicrotask(() => box.focus());
  } else {
    children.push(h("p", { className: "text", id: `${key}-text` }, message.text));
  }
  if (message.status === "pending") {
    children.push(h("p", { className: "status" }, "Sending…"));
  } else if (message.status === "failed") {
    children.push(
      h(
        "p",
        { className: "status failed" },
        `Not sent: ${message.error || "no connection"} `,
        h("button", { type: "button", onclick: () => sendMessage(message) }, "Retry"),
      ),
    );
  } else if (key === seenKey) {
    children.push(h("p", { className: "status seen" }, seenLabel(message)));
  }
  if (mine && message.id !== undefined && state.editing !== key) {
    // Named "Edit" and "Delete"; which message they act on is their description.
    const about = `${key}-text`;
    const act = (change) => () => {
      Object.assign(state, change);
      renderConversation();
    };
    children.push(
      state.confirmingDelete === key
        ? h(
            "div",
            { className: "actions confirm", role: "group", "aria-label": "Delete this message?" },
            h("span", {}, "Delete this message?"),
            h("button", { type: "button", "aria-describedby": about, onclick: () => deleteMessage(message) },
              "Yes, delete"),
            h("button", { type: "button", onclick: act({ confirmingDelete: null }) }, "Cancel"),
          )
        : h(
            "div",
            { className: "actions" },
            h("button", { type: "button", "aria-describedby": about,
                          onclick: act({ editing: key, confirmingDelete: null }) }, "Edit"),
            h("button", { type: "button", "aria-describedby": about,
                          onclick: act({ confirmingDelete: key }) }, "Delete"),
          ),
    );
  }
  if (!mine && message.id !== undefined) children.push(reportControl(message, key));
  return h(
    "article",
    {
      className: `message${mine ? " mine" : ""}${message.status !== "sent" ? ` ${message.status}` : ""}`,
      "data-key": key,
      "data-id": message.id,
    },
    ...children,
  );
}

// Report (a message someone else sent): "Report", then a reason and an
// optional note, then a confirmation in place of the button.
const REPORT_REASONS = [["spam", "Spam"], ["harassment", "Harassment"], ["other", "Other"]];

function reportControl(message, key) {
  const done = state.reported.get(key);
  if (done) return h("p", { className: "status reported", id: `${key}-reported`, tabindex: -1 }, done);
  if (state.reporting !== key) {
    return h(
      "div",
      { className: "actions" },
      h("button", { type: "button", "aria-describedby": `${key}-text`, "data-report": key,
                    onclick: () => openReport(key) }, "Report"),
    );
  }
  const reasonId = `${key}-report-reason`;
  const noteId = `${key}-report-note`;
  const reason = h("select", { id: reasonId }, ...REPORT_REASONS.map(([value, label]) => h("option", { value }, label)));
  const note = h("textarea", { id: noteId, rows: 2, maxlength: 1000 });
  const submit = async (event) => {
    event.preventDefault();
    const text = note.value.trim();
    try {
      const report = await api("POST", `/api/threads/${message.thread}/messages/${message.id}/report/`,
        text ? { reason: reason.value, note: text } : { reason: reason.value });
      const label = REPORT_REASONS.find(([value]) => value === report.reason)?.[1] || report.reason;
      state.reported.set(key, `Reported (${label}). Thank you: staff will look at it.`);
      state.reporting = null;
      renderConversation();
      $(`${key}-reported`)?.focus();
    } catch (error) {
      showError(error); // 403 (your own message), 404 (gone), 429...: the API's words
    }
  };
  queueMicrotask(() => reason.focus());
  return h(
    "form",
    { className: "report", "aria-label": "Report this message", onsubmit: submit },
    h("label", { for: reasonId }, "Reason"),
    reason,
    h("label", { for: noteId }, "Note (optional)"),
    note,
    h(
      "div",
      { className: "form-buttons" },
      h("button", { type: "submit", "aria-describedby": `${key}-text` }, "Send report"),
      h("button", { type: "button", onclick: () => closeReport() }, "Cancel"),
    ),
  );
}

function openReport(key) {
  Object.assign(state, { reporting: key, editing: null, confirmingDelete: null });
  renderConversation();
}

// Closes the open report form and gives focus back to its "Report" button.
function closeReport() {
  const key = state.reporting;
  state.reporting = null;
  renderConversation();
  $("messages").querySelector(`[data-report="${CSS.escape(key)}"]`)?.focus();
}

// Keyed rendering: an unchanged message keeps its element, so the live region
// announces only what is new, and only changed nodes move.
const rendered = new Map(); // key -> {element, signature}

function renderConversation({ keepBottom = false, keepOffsetFromBottom = false } = {}) {
  const log = $("messages");
  const threadId = state.openId;
  $("conversation-body").hidden = threadId === null;
  $("pick-hint").hidden = threadId !== null;
  $("chat-view").classList.toggle("conversation-open", threadId !== null);
  if (threadId === null) {
    $("conversation-title").textContent = "No conversation open";
    $("conversation-subtitle").textContent = "";
    $("group-settings").hidden = true;
    $("group-panel").hidden = true;
    $("mute-toggle").hidden = true;
    $("block-toggle").hidden = true;
    log.replaceChildren();
    rendered.clear();
    return;
  }
  const thread = state.threads.get(threadId);
  $("conversation-title").textContent = thread ? threadName(thread) : "Conversation";
  const group = Boolean(thread && thread.kind === "group");
  $("group-settings").hidden = !group;
  $("conversation-subtitle").textContent = group ? `${thread.member_count} members` : "";
  renderSafetyButtons(thread);
  const conv = conversation(threadId);
  $("load-older").hidden = conv.complete || !conv.loaded;
  log.dataset.thread = threadId;
  log.dataset.loaded = conv.loaded ? "yes" : "no";
  const nearBottom = log.scrollHeight - log.scrollTop - log.clientHeight < 80;
  const fromBottom = log.scrollHeight - log.scrollTop;

  const messages = sortedMessages(conv);
  const seenKey = lastSeenKey(messages);
  const nodes = [];
  let day = null;
  const used = new Set();
  for (const message of messages) {
    const created = new Date(message.created);
    if (dayKey(created) !== day) {
      day = dayKey(created);
      const key = `day:${day}`;
      const signature = formatDay(created);
      nodes.push(reuse(key, signature, () => h("h3", { className: "day" }, signature)));
      used.add(key);
    }
    const key = keyOf(message);
    const signature = JSON.stringify([
      message.id, message.text, message.is_read, message.read_count, message.status, message.error,
      key === seenKey, state.editing === key, state.confirmingDelete === key,
      state.reporting === key, state.reported.get(key),
    ]);
    nodes.push(reuse(key, signature, () => messageElement(message, seenKey)));
    used.add(key);
  }
  for (const key of rendered.keys()) if (!used.has(key)) rendered.delete(key);
  // Put the nodes in order, touching only those out of place.
  nodes.forEach((node, index) => {
    if (log.children[index] !== node) log.insertBefore(node, log.children[index] || null);
  });
  while (log.children.length > nodes.length) log.lastElementChild.remove();

  if (keepOffsetFromBottom) log.scrollTop = log.scrollHeight - fromBottom;
  else if (keepBottom || nearBottom) log.scrollTop = log.scrollHeight;
  renderTyping();
}

function reuse(key, signature, make) {
  const known = rendered.get(key);
  if (known && known.signature === signature) return known.element;
  const element = make();
  if (known) known.element.replaceWith(element);
  rendered.set(key, { element, signature });
  return element;
}

function renderTyping() {
  const typing = state.openId === null ? null : state.typing.get(state.openId);
  $("typing").textContent = typing ? `${typing.username} is typing…` : "";
}

function renderAll() {
  renderTitle();
  renderThreads();
  renderConversation();
}

// --- loading -----------------------------------------------------------------

async function loadThreads() {
  const [threads, unread, blocked] = await Promise.all([
    allPages("/api/threads/?limit=100"),
    api("GET", "/api/threads/unread_count/"),
    allPages("/api/users/blocked/?limit=100"),
  ]);
  state.threads = new Map(threads.map((thread) => [thread.id, thread]));
  state.blocked = new Set(blocked.map((user) => user.id));
  state.unread = unread.unread_count;
  if (state.openId !== null && !state.threads.has(state.openId)) state.openId = null;
  renderAll();
}

async function loadFirstPage(threadId) {
  const conv = conversation(threadId);
  const page = await api("GET", `/api/threads/${threadId}/messages/?limit=${PAGE_SIZE}`);
  for (const message of page.results) conv.messages.set(keyOf(message), { ...message, status: "sent" });
  conv.loaded = true;
  conv.complete = page.next === null;
}

async function loadOlder() {
  const threadId = state.openId;
  const conv = threadId === null ? null : conversation(threadId);
  if (!conv || !conv.loaded || conv.complete || conv.loadingOlder) return;
  const oldest = sortedMessages(conv).find((message) => message.id !== undefined);
  if (!oldest) return;
  conv.loadingOlder = true;
  try {
    const page = await api("GET", `/api/threads/${threadId}/messages/?before=${oldest.id}&limit=${PAGE_SIZE}`);
    for (const message of page.results) {
      if (!conv.messages.has(keyOf(message))) conv.messages.set(keyOf(message), { ...message, status: "sent" });
    }
    conv.complete = page.next === null;
    if (state.openId === threadId) renderConversation({ keepOffsetFromBottom: true });
  } catch (error) {
    showError(error);
  } finally {
    conv.loadingOlder = false;
  }
  // A short first page that does not fill the log cannot be scrolled: keep going.
  const log = $("messages");
  if (state.openId === threadId && !conv.complete && log.scrollHeight <= log.clientHeight) loadOlder();
}

// After a reconnect: every loaded conversation fetches its loaded window and
// what follows it (?after=), so new messages arrive, edits and read states
// are fresh and deletions disappear; all merge by key, so none shows twice.
async function catchUp(threadId) {
  const conv = state.conversations.get(threadId);
  if (!conv || !conv.loaded) return;
  const ids = [...conv.messages.values()].filter((m) => m.id !== undefined).map((m) => m.id);
  if (!ids.length) {
    await loadFirstPage(threadId);
    return;
  }
  const from = Math.min(...ids) - 1;
  const fresh = await allPages(`/api/threads/${threadId}/messages/?after=${from}&limit=100`);
  const present = new Set(fresh.map((message) => message.id));
  const upTo = fresh.length ? fresh[fresh.length - 1].id : Math.max(...ids);
  for (const [key, message] of conv.messages) {
    if (message.id !== undefined && message.id <= upTo && !present.has(message.id)) conv.messages.delete(key);
  }
  for (const message of fresh) upsertMessage(message);
}

async function resync() {
  try {
    await loadThreads();
    await Promise.all([...state.conversations.keys()].map((threadId) => catchUp(threadId)));
    renderConversation();
    if (state.openId !== null) markRead(state.openId);
  } catch (error) {
    if (error.status === 401) showLogin();
    else showError(error);
  }
}

// --- actions -----------------------------------------------------------------

async function openThread(threadId) {
  if (state.openId !== threadId) toggleGroupPanel(false);
  state.openId = threadId;
  state.editing = null;
  state.confirmingDelete = null;
  state.reporting = null;
  rendered.clear();
  $("messages").replaceChildren();
  renderThreads();
  renderConversation();
  const conv = conversation(threadId);
  try {
    if (!conv.loaded) await loadFirstPage(threadId);
    if (state.openId !== threadId) return;
    renderConversation({ keepBottom: true });
    const log = $("messages");
    if (!conv.complete && log.scrollHeight <= log.clientHeight) loadOlder();
  } catch (error) {
    showError(error);
  }
  $("message-input").focus();
  markRead(threadId);
}

// Mute (any thread) and block (the other person of a direct thread), in the conversation's header.
function otherParticipant(thread) {
  if (!thread || thread.kind !== "direct") return null;
  return thread.participants.find((user) => user.id !== state.me.id) || null;
}

function renderSafetyButtons(thread) {
  const mute = $("mute-toggle");
  mute.hidden = !thread;
  if (thread) {
    mute.textContent = thread.muted ? "Unmute" : "Mute";
    mute.setAttribute("aria-pressed", String(Boolean(thread.muted)));
  }
  const other = otherParticipant(thread);
  const block = $("block-toggle");
  block.hidden = !other;
  if (other) {
    const blocked = state.blocked.has(other.id);
    block.textContent = blocked ? "Unblock" : "Block";
    block.setAttribute("aria-pressed", String(blocked));
  }
}

async function toggleMute() {
  const thread = state.threads.get(state.openId);
  if (!thread) return;
  const muted = !thread.muted;
  try {
    await api("POST", `/api/threads/${thread.id}/${muted ? "mute" : "unmute"}/`);
    thread.muted = muted; // the unread_count event brings the new total
    renderThreads();
    renderSafetyButtons(thread);
  } catch (error) {
    showError(error);
  }
}

async function toggleBlock() {
  const thread = state.threads.get(state.openId);
  const other = otherParticipant(thread);
  if (!other) return;
  const blocked = !state.blocked.has(other.id);
  try {
    await api(blocked ? "POST" : "DELETE", `/api/users/${other.id}/block/`);
    if (blocked) state.blocked.add(other.id);
    else state.blocked.delete(other.id);
    renderSafetyButtons(thread);
  } catch (error) {
    showError(error);
  }
}

function closeThread() {
  toggleGroupPanel(false);
  state.openId = null;
  renderThreads();
  renderConversation();
  $("thread-list").querySelector("button")?.focus();
}

const marking = new Map(); // thread id -> {again}: a mark in flight, and whether to mark once more

async function markRead(threadId) {
  const thread = state.threads.get(threadId);
  if (!thread || !thread.unread_count || document.visibilityState !== "visible") return;
  const inFlight = marking.get(threadId);
  if (inFlight) {
    // A message that arrived after the server took the mark's snapshot stays
    // unread: mark again once this one is done.
    inFlight.again = true;
    return;
  }
  const run = { again: false };
  marking.set(threadId, run);
  try {
    await api("POST", `/api/threads/${threadId}/mark_as_read/`);
    // The unread_count and message.read events bring the new counts.
  } catch (error) {
    showError(error);
  } finally {
    marking.delete(threadId);
    if (run.again && state.openId === threadId) markRead(threadId);
  }
}

// Sends to one thread go one at a time, in the order they were written:
// two concurrent POSTs could commit (and get their ids) the other way round.
const sendQueues = new Map(); // thread id -> the promise of its last queued send

function sendMessage(message) {
  const conv = conversation(message.thread);
  conv.messages.set(keyOf(message), { ...message, status: "pending", error: null });
  renderConversation({ keepBottom: true });
  const queued = (sendQueues.get(message.thread) || Promise.resolve()).then(() => deliver(message));
  sendQueues.set(message.thread, queued);
  queued.then(() => {
    if (sendQueues.get(message.thread) === queued) sendQueues.delete(message.thread);
  });
}

async function deliver(message) {
  const conv = conversation(message.thread);
  const key = keyOf(message);
  try {
    const stored = await api("POST", `/api/threads/${message.thread}/messages/`, {
      text: message.text,
      client_id: message.client_id,
    });
    if (conv.messages.has(key)) conv.messages.set(key, { ...stored, status: "sent" });
    noteLastMessage(stored);
  } catch (error) {
    if (error.status === 401) {
      showError(error); // logged out: back to the login form
      return;
    }
    const current = conv.messages.get(key);
    // The message.created event may have confirmed it already.
    if (current && current.status !== "sent") {
      conv.messages.set(key, { ...current, status: "failed", error: error.message });
    }
  }
  if (state.openId === message.thread) renderConversation();
}

function submitComposer(event) {
  event.preventDefault();
  const input = $("message-input");
  const text = input.value.trim();
  if (!text || state.openId === null) return;
  input.value = "";
  seq += 1;
  sendMessage({
    client_id: uuid(),
    seq,
    thread: state.openId,
    sender: state.me,
    text,
    created: new Date().toISOString(),
    is_read: false,
  });
}

async function deleteMessage(message) {
  state.confirmingDelete = null;
  try {
    await api("DELETE", `/api/threads/${message.thread}/messages/${message.id}/`);
    removeMessages(message.thread, [message.id]);
    renderConversation();
  } catch (error) {
    showError(error);
  }
}

function noteLastMessage(message) {
  const thread = state.threads.get(message.thread);
  if (!thread) return;
  if (!thread.last_message || thread.last_message.id <= message.id) {
    thread.last_message = message;
    if (message.created > thread.updated) thread.updated = message.created;
  }
  renderThreads();
}

// A username search box: results are buttons named by the username; picking
// one calls `onPick(user)`. `exclude(user)` hides people already chosen.
function peopleSearch(inputId, resultsId, onPick, exclude = () => false) {
  const input = $(inputId);
  const results = $(resultsId);
  let timer = null;
  input.addEventListener("input", () => {
    clearTimeout(timer);
    const text = input.value.trim();
    if (!text) {
      results.replaceChildren();
      return;
    }
    timer = setTimeout(async () => {
      try {
        const page = await api("GET", `/api/users/?search=${encodeURIComponent(text)}&limit=10`);
        if (input.value.trim() !== text) return;
        const people = page.results.filter((user) => user.id !== state.me.id && !exclude(user));
        results.replaceChildren(
          ...(people.length
            ? people.map((user) =>
                h("li", {}, h("button", { type: "button", onclick: () => {
                  input.value = "";
                  results.replaceChildren();
                  onPick(user);
                } }, user.username)),
              )
            : [h("li", { className: "hint" }, "Nobody by that name")]),
        );
      } catch (error) {
        showError(error);
      }
    }, 250);
  });
}

async function startThread(user) {
  $("search-error").textContent = "";
  try {
    const thread = await api("POST", "/api/threads/", { participants: [user.id] });
    state.threads.set(thread.id, thread);
    openThread(thread.id);
  } catch (error) {
    showError(error);
  }
}

// Enter (or "Start") in the search box starts a conversation with the typed
// username itself (any case); an unknown name shows the API's 400.
async function startByName(event) {
  event.preventDefault();
  const input = $("user-search");
  const name = input.value.trim();
  const error = $("search-error");
  error.textContent = "";
  if (!name) return;
  try {
    const thread = await api("POST", "/api/threads/", { participants: [name] });
    input.value = "";
    $("search-results").replaceChildren();
    state.threads.set(thread.id, thread);
    openThread(thread.id);
  } catch (failure) {
    if (failure.status === 401) {
      showError(failure); // logged out: back to the login form
      return;
    }
    const problem = failure.body && failure.body.participants;
    error.textContent = Array.isArray(problem) ? problem.join(" ") : failure.message;
  }
}

function typed() {
  if (state.openId === null) return;
  const now = Date.now();
  if (now - state.lastTypingSent < TYPING_SEND_INTERVAL_MS) return;
  state.lastTypingSent = now;
  feed?.send({ type: "typing", thread: state.openId });
}

// --- groups ------------------------------------------------------------------

const MANAGERS = new Set(["owner", "admin"]);

function toggleGroupForm(open) {
  $("group-form").hidden = !open;
  $("new-group").setAttribute("aria-expanded", String(open));
  if (open) {
    $("group-title").focus();
  } else {
    state.draftMembers.clear();
    $("group-title").value = "";
    $("group-error").textContent = "";
    renderDraft();
    $("new-group").focus();
  }
}

function renderDraft() {
  $("group-chosen").replaceChildren(
    ...[...state.draftMembers.values()].map((user) =>
      h(
        "li",
        {},
        h("span", { id: `draft-${user.id}` }, user.username),
        " ",
        h("button", { type: "button", "aria-describedby": `draft-${user.id}`, onclick: () => {
          state.draftMembers.delete(user.id);
          renderDraft();
        } }, "Remove"),
      ),
    ),
  );
}

async function createGroup(event) {
  event.preventDefault();
  const title = $("group-title").value.trim();
  const error = $("group-error");
  error.textContent = "";
  if (!title) {
    error.textContent = "Give the group a title.";
    return;
  }
  if (!state.draftMembers.size) {
    error.textContent = "Add at least one person.";
    return;
  }
  try {
    const thread = await api("POST", "/api/threads/", {
      kind: "group", title, participants: [...state.draftMembers.keys()],
    });
    state.threads.set(thread.id, thread);
    toggleGroupForm(false);
    openThread(thread.id);
  } catch (failure) {
    error.textContent = failure.message;
  }
}

function toggleGroupPanel(open) {
  const thread = state.threads.get(state.openId);
  const show = Boolean(open && thread && thread.kind === "group");
  $("group-panel").hidden = !show;
  $("group-settings").setAttribute("aria-expanded", String(show));
  $("group-panel-error").textContent = "";
  if (show) {
    $("rename-title").value = thread.title || "";
    loadMembers(thread.id);
  } else {
    state.members = null;
  }
}

async function loadMembers(threadId) {
  try {
    const list = await allPages(`/api/threads/${threadId}/members/?limit=100`);
    if (state.openId !== threadId || $("group-panel").hidden) return;
    const mine = list.find((membership) => membership.user.id === state.me.id);
    state.members = { threadId, list, myRole: mine ? mine.role : null };
    renderMembers();
  } catch (error) {
    if (error.status === 404) toggleGroupPanel(false);
    else showError(error);
  }
}

function canRemove(target) {
  const role = state.members?.myRole;
  if (target.user.id === state.me.id || target.role === "owner") return false;
  return role === "owner" || (role === "admin" && target.role === "member");
}

function renderMembers() {
  const members = state.members;
  if (!members) return;
  const manager = MANAGERS.has(members.myRole);
  $("rename-form").hidden = !manager;
  $("member-add").hidden = !manager;
  $("member-list").replaceChildren(
    ...members.list.map((membership) => {
      const nameId = `member-${membership.user.id}`;
      const me = membership.user.id === state.me.id;
      return h(
        "li",
        { "data-user-id": membership.user.id },
        h("span", { id: nameId, className: "member-name" }, nameOf(membership.user)),
        h("span", { className: "role" }, me ? ` (${membership.role}, you)` : ` (${membership.role})`),
        canRemove(membership)
          ? h("button", { type: "button", "aria-describedby": nameId, onclick: () => removeMember(membership.user) },
            "Remove")
          : null,
      );
    }),
  );
}

async function addMember(user) {
  const threadId = state.openId;
  try {
    await api("POST", `/api/threads/${threadId}/members/`, { user: user.id });
    loadMembers(threadId); // member.added also arrives; loading twice is harmless
  } catch (error) {
    $("group-panel-error").textContent = error.message;
  }
}

async function removeMember(user) {
  const threadId = state.openId;
  const leaving = user.id === state.me.id;
  try {
    await api("DELETE", `/api/threads/${threadId}/members/${user.id}/`);
  } catch (error) {
    $("group-panel-error").textContent = error.message;
    return;
  }
  if (leaving) {
    forgetThread(threadId);
  } else {
    loadMembers(threadId);
  }
}

async function renameGroup(event) {
  event.preventDefault();
  const threadId = state.openId;
  const title = $("rename-title").value.trim();
  if (!title) return;
  try {
    const thread = await api("PATCH", `/api/threads/${threadId}/`, { title });
    state.threads.set(thread.id, { ...state.threads.get(thread.id), ...thread });
    renderThreads();
    renderConversation();
  } catch (error) {
    $("group-panel-error").textContent = error.message;
  }
}

function forgetThread(threadId) {
  state.threads.delete(threadId);
  state.conversations.delete(threadId);
  if (state.openId === threadId) {
    state.openId = null;
    toggleGroupPanel(false);
  }
  renderAll();
}

// Group read receipts carry a reader's new position, not message ids: the
// loaded messages' read state (is_read, read_count) is fetched again, once
// per burst of receipts.
const readRefresh = new Map(); // thread id -> timer

function refreshReadState(threadId) {
  if (readRefresh.has(threadId) || !state.conversations.get(threadId)?.loaded) return;
  readRefresh.set(threadId, setTimeout(async () => {
    readRefresh.delete(threadId);
    try {
      await catchUp(threadId);
      if (state.openId === threadId) renderConversation();
    } catch (error) {
      showError(error);
    }
  }, 300));
}

// --- live events -------------------------------------------------------------

function clearTyping(threadId) {
  const typing = state.typing.get(threadId);
  if (typing) clearTimeout(typing.timer);
  state.typing.delete(threadId);
}

function onEvent(event) {
  switch (event.type) {
    case "message.created": {
      const message = event.message;
      if (!state.threads.has(message.thread)) {
        resync();
        return;
      }
      upsertMessage(message);
      noteLastMessage(message);
      if (message.sender.id !== state.me.id) clearTyping(message.thread);
      if (state.openId === message.thread) renderConversation();
      break;
    }
    case "message.updated":
      upsertMessage(event.message);
      {
        const thread = state.threads.get(event.message.thread);
        if (thread && thread.last_message && thread.last_message.id === event.message.id) {
          thread.last_message = event.message;
          renderThreads();
        }
      }
      if (state.openId === event.message.thread) renderConversation();
      break;
    case "message.deleted":
      removeMessages(event.thread, event.message_ids);
      {
        const thread = state.threads.get(event.thread);
        if (thread && thread.last_message && event.message_ids.includes(thread.last_message.id)) {
          api("GET", `/api/threads/${event.thread}/`).then((fresh) => {
            state.threads.set(fresh.id, fresh);
            renderThreads();
          }, showError);
        }
      }
      if (state.openId === event.thread) renderConversation();
      break;
    case "message.read":
    case "message.unread":
      if (!event.message_ids) {
        refreshReadState(event.thread); // a group's receipt: a position
        break;
      }
      setReadState(event.thread, event.message_ids, event.type === "message.read");
      if (state.openId === event.thread) renderConversation();
      break;
    case "unread_count": {
      state.unread = event.unread_count;
      const thread = state.threads.get(event.thread);
      if (thread) thread.unread_count = event.thread_unread_count;
      renderTitle();
      renderThreads();
      if (event.thread === state.openId && event.thread_unread_count > 0) markRead(event.thread);
      break;
    }
    case "thread.created":
      state.threads.set(event.thread.id, { ...state.threads.get(event.thread.id), ...event.thread });
      renderThreads();
      if (state.openId === event.thread.id) renderConversation();
      break;
    case "thread.updated": {
      // A group's new title: {"thread": id, "title"}.
      const thread = state.threads.get(event.thread);
      if (thread) thread.title = event.title;
      renderThreads();
      if (state.openId === event.thread) {
        renderConversation();
        if (!$("group-panel").hidden && document.activeElement !== $("rename-title")) {
          $("rename-title").value = event.title;
        }
      }
      break;
    }
    case "thread.deleted":
      forgetThread(event.thread);
      break;
    case "member.added":
    case "member.removed":
    case "member.updated": {
      const removedMe = event.type === "member.removed" && event.user.id === state.me.id;
      if (removedMe) {
        forgetThread(event.thread);
        break;
      }
      const thread = state.threads.get(event.thread);
      if (!thread) {
        resync(); // added to a group: it is new to this user
        break;
      }
      if (event.member_count !== undefined) thread.member_count = event.member_count;
      if (state.members && state.members.threadId === event.thread) loadMembers(event.thread);
      if (state.openId === event.thread) renderConversation();
      break;
    }
    case "presence": {
      // Someone I share a thread with came online or went offline.
      for (const thread of state.threads.values()) {
        for (const user of thread.participants) {
          if (user.id === event.user.id) Object.assign(user, { is_online: event.is_online, last_seen: event.last_seen });
        }
      }
      renderThreads();
      break;
    }
    case "typing": {
      if (event.user.id === state.me.id) break;
      clearTyping(event.thread);
      const timer = setTimeout(() => {
        state.typing.delete(event.thread);
        renderTyping();
      }, TYPING_SHOWN_MS);
      state.typing.set(event.thread, { username: nameOf(event.user), timer });
      renderTyping();
      break;
    }
    default:
      break;
  }
}

function setConnection(online) {
  const banner = $("connection");
  document.body.classList.toggle("offline", !online);
  document.body.dataset.live = online ? "online" : "offline"; // for tests and styles
  if (online) {
    if (banner.dataset.kind === "offline") {
      banner.hidden = true;
      delete banner.dataset.kind;
    }
  } else {
    banner.textContent = "Offline: reconnecting…";
    banner.dataset.kind = "offline";
    banner.hidden = false;
  }
}

// --- log in, log out ---------------------------------------------------------

function showLogin() {
  feed?.stop();
  feed = null;
  Object.assign(state, {
    me: null, threads: new Map(), unread: 0, openId: null, conversations: new Map(), reporting: null,
    reported: new Map(),
  });
  rendered.clear();
  threadItems.clear();
  state.draftMembers.clear();
  state.members = null;
  $("thread-list").replaceChildren();
  $("group-form").hidden = true;
  $("group-panel").hidden = true;
  renderTitle();
  $("chat-view").hidden = true;
  $("login-view").hidden = false;
  setConnection(true);
  document.body.dataset.live = "off";
  $("login-username").focus();
}

async function start(me) {
  state.me = me;
  $("login-view").hidden = true;
  $("chat-view").hidden = false;
  $("me").textContent = me.username;
  renderAll();
  try {
    await loadThreads();
  } catch (error) {
    showError(error);
  }
  feed = new LiveFeed({
    onEvent,
    onOnline: async () => {
      await resync();
      setConnection(true); // online once caught up
    },
    onOffline: () => setConnection(false),
    onUnauthorized: async () => {
      try {
        await api("GET", "/api/users/me/");
      } catch (error) {
        if (error.status === 401 || error.status === 403) showLogin();
      }
    },
  });
  feed.start();
  $("thread-list").querySelector("button")?.focus();
}

async function logIn(event) {
  event.preventDefault();
  const error = $("login-error");
  error.textContent = "";
  try {
    const me = await api("POST", "/api/session/", {
      username: $("login-username").value,
      password: $("login-password").value,
    });
    $("login-password").value = "";
    start(me);
  } catch (failure) {
    error.textContent = failure.message;
  }
}

async function register(event) {
  event.preventDefault();
  const error = $("register-error");
  error.textContent = "";
  const username = $("register-username").value;
  const password = $("register-password").value;
  const email = $("register-email").value.trim();
  try {
    await api("POST", "/api/users/", email ? { username, password, email } : { username, password });
    const me = await api("POST", "/api/session/", { username, password });
    $("register-password").value = "";
    start(me);
  } catch (failure) {
    error.textContent = failure.message;
  }
}

async function logOut() {
  feed?.stop(); // first: the server closes the session's sockets as it logs out
  try {
    await api("DELETE", "/api/session/");
  } catch (error) {
    showError(error);
    feed?.start();
    return;
  }
  showLogin();
}

// --- wiring ------------------------------------------------------------------

function wire() {
  $("login-form").addEventListener("submit", logIn);
  $("register-form").addEventListener("submit", register);
  $("logout").addEventListener("click", logOut);
  $("back").addEventListener("click", closeThread);
  $("composer").addEventListener("submit", submitComposer);
  $("load-older").addEventListener("click", loadOlder);
  $("search-form").addEventListener("submit", startByName);
  $("user-search").addEventListener("input", () => { $("search-error").textContent = ""; });
  peopleSearch("user-search", "search-results", startThread);
  peopleSearch("group-search", "group-search-results", (user) => {
    state.draftMembers.set(user.id, user);
    renderDraft();
  }, (user) => state.draftMembers.has(user.id));
  peopleSearch("member-search", "member-search-results", addMember,
    (user) => Boolean(state.members?.list.some((m) => m.user.id === user.id)));
  $("new-group").addEventListener("click", () => toggleGroupForm(true));
  $("group-cancel").addEventListener("click", () => toggleGroupForm(false));
  $("group-form").addEventListener("submit", createGroup);
  $("group-settings").addEventListener("click", () => toggleGroupPanel($("group-panel").hidden));
  $("group-panel-close").addEventListener("click", () => toggleGroupPanel(false));
  $("rename-form").addEventListener("submit", renameGroup);
  $("leave-group").addEventListener("click", () => removeMember(state.me));
  $("mute-toggle").addEventListener("click", toggleMute);
  $("block-toggle").addEventListener("click", toggleBlock);
  const input = $("message-input");
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) submitComposer(event);
  });
  input.addEventListener("input", typed);
  $("messages").addEventListener("scroll", () => {
    if ($("messages").scrollTop < 40) loadOlder();
  });
  document.addEventListener("keydown", (event) => {
    if (event.key !== "Escape" || state.editing !== null) return;
    if (state.reporting !== null) {
      closeReport();
    } else if (!$("group-form").hidden && $("group-form").contains(document.activeElement)) {
      toggleGroupForm(false);
    } else if (!$("group-panel").hidden) {
      toggleGroupPanel(false);
      $("group-settings").focus();
    } else if (state.openId !== null) {
      closeThread();
    }
  });
  document.addEventListener("visibilitychange", () => {
    if (state.openId !== null) markRead(state.openId);
  });
}

async function boot() {
  wire();
  // The page says whether its request had a logged-in session: no 401 to
  // ask for when it did not.
  if (document.body.dataset.loggedIn !== "yes") {
    showLogin();
    return;
  }
  try {
    start(await api("GET", "/api/users/me/"));
  } catch (error) {
    if (error.status === 401 || error.status === 403) showLogin();
    else {
      showLogin();
      showError(error);
    }
  }
}

boot();
