// Fetch wrapper: same-origin cookies, the CSRF header on unsafe methods, and
// errors turned into an ApiError whose message is words a person can read.

const UNSAFE = new Set(["POST", "PUT", "PATCH", "DELETE"]);

const STATUS_WORDS = {
  400: "That request was not valid.",
  401: "You are signed out. Sign in again to continue.",
  403: "You do not have permission to do that.",
  404: "That no longer exists, or you cannot see it.",
  409: "Someone else changed this at the same time. It has been refreshed.",
  413: "That is too large.",
  422: "Some fields were not valid.",
  429: "Too many requests; slow down a little.",
};

export class ApiError extends Error {
  constructor(message, { status = 0, code = "", details = [], body = null } = {}) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details;
    this.body = body;
  }
}

/** The CSRF token from the cookie Django sets (ensure_csrf_cookie on every page). */
export function csrfToken() {
  const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
  return match ? decodeURIComponent(match[1]) : "";
}

/** Words for a failed response body in the API's {"error": {code, message, details}} shape. */
export function describeError(status, body) {
  const err = body && typeof body === "object" ? body.error : null;
  let message = err && typeof err.message === "string" && err.message ? err.message : "";
  const details = err && Array.isArray(err.details) ? err.details : [];
  if (status === 422 && details.length) {
    // Validation details name the field; show the first one in words.
    const first = details[0] || {};
    const where = Array.isArray(first.loc) ? first.loc.filter((p) => p !== "body").join(" → ") : "";
    const what = first.msg || first.message || "";
    if (what) message = where ? `${where}: ${what}` : what;
  }
  if (!message) message = STATUS_WORDS[status] || `The server could not do that (error ${status}).`;
  return { message: capitalize(message), code: (err && err.code) || "", details };
}

function capitalize(text) {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** Call the JSON API; resolves with the parsed body, rejects with ApiError. */
export async function api(path, { method = "GET", body, query, signal, headers = {} } = {}) {
  let url = path.startsWith("/") ? path : `/api/${path}`;
  if (query) {
    const params = new URLSearchParams();
    for (const [key, value] of Object.entries(query)) {
      if (value !== undefined && value !== null && value !== "") params.set(key, value);
    }
    const qs = params.toString();
    if (qs) url += (url.includes("?") ? "&" : "?") + qs;
  }
  const init = { method, credentials: "same-origin", signal, headers: { Accept: "application/json", ...headers } };
  if (UNSAFE.has(method)) init.headers["X-CSRFToken"] = csrfToken();
  if (body instanceof FormData) {
    init.body = body;
  } else if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(url, init);
  } catch (exc) {
    if (exc.name === "AbortError") throw exc;
    throw new ApiError("Cannot reach the server. Check your connection and try again.", { status: 0, code: "offline" });
  }
  const text = await response.text();
  let parsed = null;
  if (text) {
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = null; // an HTML error page: never shown raw
    }
  }
  if (!response.ok) {
    const { message, code, details } = describeError(response.status, parsed);
    throw new ApiError(message, { status: response.status, code, details, body: parsed });
  }
  return parsed;
}

/** Every item of a cursor-paginated list, page by page (onPage sees each page as it lands). */
export async function* pages(path, query = {}, { signal } = {}) {
  let cursor = null;
  do {
    const page = await api(path, { query: { ...query, cursor }, signal });
    yield page.items || [];
    cursor = page.next_cursor || null;
  } while (cursor);
}

/** Show a short message to the person (errors stay longer). */
export function toast(message, kind = "info") {
  const region = document.getElementById("toasts");
  if (!region) return;
  const item = document.createElement("div");
  item.className = `toast ${kind}`;
  item.textContent = message;
  region.append(item);
  setTimeout(() => item.remove(), kind === "error" ? 8000 : 3500);
}
