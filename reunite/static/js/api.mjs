// The JSON API helper shared by every page module: CSRF header from the page (then from each
// answer that carries a fresh token), JSON in and out, and errors as ApiError with the field.

let csrfToken = document.querySelector('meta[name="csrf-token"]')?.content || '';

/** A 4xx/5xx answer from the JSON API: {status, code, message, field}. */
export class ApiError extends Error {
  constructor(status, data) {
    super(data.message || `HTTP ${status}`);
    this.status = status;
    this.code = data.error || null;
    this.field = data.field || null;
  }
}

/** GET (no body) or POST JSON with the CSRF header; resolves to the parsed answer. */
export async function call(path, body) {
  const init = {
    method: body === undefined ? 'GET' : 'POST',
    credentials: 'same-origin',
    headers: { Accept: 'application/json', 'X-CSRFToken': csrfToken },
  };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const res = await fetch(path, init);
  let data = {};
  try {
    data = await res.json();
  } catch {
    data = {};
  }
  if (data && data.csrf_token) csrfToken = data.csrf_token;
  if (!res.ok) throw new ApiError(res.status, data || {});
  return data;
}
