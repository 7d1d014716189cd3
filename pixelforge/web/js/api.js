// The native API (/api/v1). Identity travels in the pf_client cookie the server sets, so every
// call is same-origin with credentials; another identity's task answers 404 like a missing one.
const BASE = "api/v1";

export class ApiError extends Error {
  /** fields: a 422's per-field errors ({loc, msg, type}), so that the form can name and mark them; code: the
   * native API's machine code of the error (one of ERROR_CODES in protocol.js), null when the answer has none. */
  constructor(status, detail, retryAfter = null, fields = [], code = null) {
    super(detail);
    this.status = status;
    this.detail = detail;
    this.retryAfter = retryAfter;
    this.fields = fields;
    this.code = code;
  }
}

/** FastAPI's error bodies: {"detail": "text"} or {"detail": [{"loc": [...], "msg": "..."}]}. */
function describe(body, fallback) {
  const detail = body?.detail;
  if (typeof detail === "string") return detail;
  if (Array.isArray(detail)) {
    return detail
      .map((item) => {
        const where = (item.loc ?? []).filter((part) => part !== "body").join(".");
        return where ? `${where}: ${item.msg}` : item.msg;
      })
      .join("; ");
  }
  return fallback;
}

async function request(method, path, body) {
  const init = { method, credentials: "same-origin", headers: { Accept: "application/json" } };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(`${BASE}${path}`, init);
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!response.ok) {
    const retry = response.headers.get("Retry-After");
    const fields = Array.isArray(data?.detail) ? data.detail : [];
    const code = typeof data?.code === "string" ? data.code : null;
    throw new ApiError(response.status, describe(data, `HTTP ${response.status}`), retry ? Number(retry) : null, fields,
      code);
  }
  return data;
}

export const taskPath = (id) => `/tasks/${encodeURIComponent(id)}`;

export const api = {
  models: () => request("GET", "/models"),
  words: (model, prompt) =>
    request("GET", `/models/${encodeURIComponent(model)}/words?${new URLSearchParams({ prompt })}`),
  submit: (params) => request("POST", "/tasks", params),
  task: (id) => request("GET", taskPath(id)),
  tasks: ({ limit = 20, states = [] } = {}) => {
    const query = new URLSearchParams({ limit: String(limit) });
    for (const state of states) query.append("state", state);
    return request("GET", `/tasks?${query}`);
  },
  interrupt: (id, keepPartial = false, when = "now") =>
    request("POST", `${taskPath(id)}/interrupt`, { keep_partial: keepPartial, when }),
  cancel: (id) => request("DELETE", taskPath(id)),
  cancelQueue: () => request("POST", "/queue/cancel", { scope: "queued" }),
  retry: (id) => request("POST", `${taskPath(id)}/retry`),
  move: (id, to) => request("POST", `${taskPath(id)}/move`, { to }),
  skip: (id) => request("POST", `${taskPath(id)}/skip`),
};

export const eventsUrl = (id, after = 0) => `${BASE}${taskPath(id)}/events${after ? `?after=${after}` : ""}`;
export const latestPreviewUrl = (id) => `${BASE}${taskPath(id)}/previews/latest`;

/** The server gives absolute paths (/api/v1/...); keep them relative so a proxy prefix still works. */
export const imageUrl = (image, scale = 1) => {
  const url = image.url.replace(/^\//, "");
  return scale > 1 ? `${url}?scale=${scale}` : url;
};

/** A server URL (/api/v1/..., as in events and tasks) made relative, like imageUrl. */
export const fileUrl = (url) => url.replace(/^\//, "");
