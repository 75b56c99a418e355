// The public REST API (README, "The API"), authenticated by Django's session
// cookie. The cookie is httpOnly: this code never sees it. Writes carry the
// CSRF token from the csrftoken cookie in the X-CSRFToken header, which is
// what DRF's SessionAuthentication checks.

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);
const TIMEOUT_MS = 20000;

export class ApiError extends Error {
  constructor(status, body) {
    super(ApiError.describe(status, body));
    this.status = status; // 0: no answer (network down, server gone, timeout)
    this.body = body;
  }

  static describe(status, body) {
    if (status === 0) return "No connection to the server.";
    if (body && typeof body === "object") {
      const parts = [];
      for (const [field, value] of Object.entries(body)) {
        const text = Array.isArray(value) ? value.join(" ") : String(value);
        parts.push(field === "detail" || field === "non_field_errors" ? text : `${field}: ${text}`);
      }
      if (parts.length) return parts.join(" ");
    }
    return `The server answered ${status}.`;
  }
}

function csrfToken() {
  for (const part of document.cookie.split(";")) {
    const [name, ...value] = part.trim().split("=");
    if (name === "csrftoken") return decodeURIComponent(value.join("="));
  }
  return "";
}

// The API's `next` links are absolute; keep only the path, so that the
// request stays on this origin whatever scheme a proxy made them with.
export function pathOf(url) {
  const parsed = new URL(url, window.location.href);
  return parsed.pathname + parsed.search;
}

export async function api(method, path, body) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (!SAFE_METHODS.has(method)) headers["X-CSRFToken"] = csrfToken();
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "same-origin",
      cache: "no-store",
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
  } catch {
    throw new ApiError(0, null);
  }
  let data = null;
  if (response.status !== 204) {
    try {
      data = await response.json();
    } catch {
      data = null;
    }
  }
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

// Every page of a cursor listing, following `next` until it is null.
export async function allPages(path) {
  const results = [];
  let next = path;
  while (next) {
    const page = await api("GET", next);
    results.push(...page.results);
    next = page.next ? pathOf(page.next) : null;
  }
  return results;
}

// A random (version 4) UUID for a message's client_id. crypto.randomUUID needs
// a secure context (HTTPS or localhost); getRandomValues works everywhere.
export function uuid() {
  if (window.crypto.randomUUID) return window.crypto.randomUUID();
  const bytes = window.crypto.getRandomValues(new Uint8Array(16));
  bytes[6] = (bytes[6] & 0x0f) | 0x40;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
