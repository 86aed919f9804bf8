// The API's JSON routes from a page: JSend unwrapped, failures thrown as ApiError.
// The caller is the session cookie a login set, or a bearer token kept for this tab only
// (sessionStorage: it leaves with the tab, and no other site's script can read it).

const TOKEN_KEY = "lumi.token";
let language = null; // sent as Accept-Language when a page sets it (else the browser's own)

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export function setToken(token) {
  if (token) sessionStorage.setItem(TOKEN_KEY, token.startsWith("Bearer ") ? token : `Bearer ${token}`);
  else sessionStorage.removeItem(TOKEN_KEY);
}

// the language the API should answer in (docs/languages.md): the page's, so that the API's
// sentences (error messages, a task's errorMessage) match the page's words
export function setLanguage(tag) {
  language = tag;
}

// the headers every call of a page carries: its caller and its language
export function callerHeaders() {
  const headers = {};
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (token) headers.Authorization = token;
  if (language) headers["Accept-Language"] = language;
  return headers;
}

export function hasToken() {
  return sessionStorage.getItem(TOKEN_KEY) !== null;
}

export async function api(method, path, body) {
  const headers = { Accept: "application/json", ...callerHeaders() };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(`/api/v1${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: "same-origin",
  });
  let payload = null;
  try {
    payload = await response.json();
  } catch {
    payload = null;
  }
  if (response.ok && payload && payload.status === "success") return payload.data;
  const data = payload && payload.status === "fail" ? payload.data : payload || {};
  throw new ApiError(response.status, data.code || "HTTP_ERROR", data.message || response.statusText);
}

// Elements from data, never from HTML strings: nothing a dead letter or a prompt holds can run.
export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else if (name === "text") node.textContent = String(value);
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export function show(node, visible) {
  node.hidden = !visible;
}
