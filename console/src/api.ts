/**
 * Every request the console makes. The session cookie authenticates (same origin); every request
 * but a GET carries the session's CSRF token in X-CSRF-Token, which the server requires. A 401 from
 * any call means the session is gone (expired, signed out elsewhere): the app goes to sign-in.
 */

export class ApiError extends Error {
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message);
  }
}

let csrf = '';
let onUnauthorized: (message: string) => void = () => {};

export function setCsrf(token: string): void {
  csrf = token;
}

export function whenUnauthorized(fn: (message: string) => void): void {
  onUnauthorized = fn;
}

/**
 * The gateway's base_path: whatever comes before `/console/` in the page's own path (the page is
 * only ever served there). Every request the console makes is prefixed with it.
 */
export const BASE = ((p: string) => p.slice(0, Math.max(0, p.lastIndexOf('/console/'))))(location.pathname);

type Query = Record<string, string | number | boolean | null | undefined>;

/** `/admin/v1/keys` + `{ by: 'model' }` → `/admin/v1/keys?by=model` (null/undefined/'' dropped). */
export function withQuery(path: string, query: Query = {}): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== null && v !== undefined && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s ? `${path}?${s}` : path;
}

async function errorOf(r: Response): Promise<ApiError> {
  let code = `HTTP_${r.status}`;
  let message = `${r.status} ${r.statusText}`.trim();
  try {
    const j = (await r.json()) as { error?: { code?: unknown; message?: unknown } | string };
    if (typeof j.error === 'string') message = j.error;
    else if (j.error && typeof j.error.message === 'string') {
      message = j.error.message;
      if (typeof j.error.code === 'string') code = j.error.code;
    }
  } catch {
    // Not JSON: keep the status line.
  }
  return new ApiError(r.status, code, message);
}

export interface CallOptions {
  /** Do not send the app to sign-in on 401 (the session probe and sign-in itself). */
  quiet401?: boolean;
}

export async function request<T>(method: string, path: string, body?: unknown, opts: CallOptions = {}): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (method !== 'GET') headers['x-csrf-token'] = csrf;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const init: RequestInit = { method, headers, credentials: 'same-origin', cache: 'no-store' };
  if (body !== undefined) init.body = JSON.stringify(body);
  let r: Response;
  try {
    r = await fetch(BASE + path, init);
  } catch {
    throw new ApiError(0, 'NETWORK', 'The gateway could not be reached.');
  }
  if (!r.ok) {
    const err = await errorOf(r);
    if (r.status === 401 && !opts.quiet401) onUnauthorized(err.message);
    throw err;
  }
  if (r.status === 204) return undefined as T;
  return (await r.json()) as T;
}

export const get = <T>(path: string, query?: Query, opts?: CallOptions) => request<T>('GET', withQuery(path, query), undefined, opts);
export const post = <T>(path: string, body: unknown = {}, opts?: CallOptions) => request<T>('POST', path, body, opts);
export const patch = <T>(path: string, body: unknown) => request<T>('PATCH', path, body);
export const del = <T>(path: string) => request<T>('DELETE', path);

/** A path segment from an id (ids are plain characters; encoded all the same). */
export const seg = (id: string): string => encodeURIComponent(id);
