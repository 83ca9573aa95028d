import { UsageError } from './args.js';

/**
 * The CLI's side of the admin API: `--url URL --token TOKEN` (or GATEHOUSE_URL / GATEHOUSE_TOKEN)
 * make `keys`, `policies`, `usage`, `audit` and `nodes` act through a running gateway instead of
 * opening the store themselves. The token is an API key with the `admin` scope.
 */

export const REMOTE_OPTIONS = {
  url: { type: 'string' },
  token: { type: 'string' },
} as const;

export const REMOTE_HELP = `  --url URL          act through a running gateway's admin API (/admin/v1) instead of the local store
                     (env GATEHOUSE_URL); needs admin.listen on that gateway
  --token KEY        an API key with the admin scope for --url (env GATEHOUSE_TOKEN: preferred, as a
                     flag it shows in the process list)`;

/** What an admin API refusal said: its code, status and message. */
export class AdminApiError extends Error {
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message);
    this.name = 'AdminApiError';
  }
}

export class AdminClient {
  readonly base: string;
  readonly #token: string;

  constructor(url: string, token: string) {
    this.base = url.replace(/\/+$/, '');
    this.#token = token;
  }

  get<T>(path: string, query: Record<string, string | number | boolean | undefined> = {}): Promise<T> {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) if (v !== undefined) q.set(k, String(v));
    const s = q.toString();
    return this.#send<T>('GET', s ? `${path}?${s}` : path);
  }

  post<T>(path: string, body: unknown = {}): Promise<T> {
    return this.#send<T>('POST', path, body);
  }

  patch<T>(path: string, body: unknown): Promise<T> {
    return this.#send<T>('PATCH', path, body);
  }

  delete<T>(path: string): Promise<T> {
    return this.#send<T>('DELETE', path);
  }

  async #send<T>(method: string, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = { authorization: `Bearer ${this.#token}`, accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    let res: Response;
    try {
      res = await fetch(`${this.base}/admin/v1${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    } catch (err) {
      throw new Error(`cannot reach the gateway at ${this.base}: ${((err as Error).cause as Error | undefined)?.message ?? (err as Error).message}`);
    }
    const text = await res.text();
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new Error(`${this.base} answered ${method} /admin/v1${path} with ${res.status} and no JSON: is --url the gateway's address (admin.listen)?`);
    }
    if (!res.ok) {
      const e = (json as { error?: { code?: string; message?: string } }).error;
      throw new AdminApiError(res.status, e?.code ?? 'unknown', `${e?.message ?? `HTTP ${res.status}`} (${e?.code ?? res.status})`);
    }
    return json as T;
  }
}

/** The client the flags or environment ask for, or null for the local store. */
export function adminClientFrom(values: Record<string, unknown>, env: NodeJS.ProcessEnv = process.env): AdminClient | null {
  const url = (values.url as string | undefined) ?? (env.GATEHOUSE_URL || undefined);
  const token = (values.token as string | undefined) ?? (env.GATEHOUSE_TOKEN || undefined);
  if (!url) {
    if (values.token !== undefined) throw new UsageError('--token goes with --url (or GATEHOUSE_URL): the gateway to act through');
    return null;
  }
  if (!/^https?:\/\/[^/]+/.test(url)) throw new UsageError(`--url: "${url}" is not an http(s) URL such as https://gateway.example.com`);
  if (!token) throw new UsageError('--url needs --token KEY (or GATEHOUSE_TOKEN): an API key with the admin scope');
  return new AdminClient(url, token);
}
