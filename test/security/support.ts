import { Agent, request } from 'node:http';
import { connect, type Socket } from 'node:net';
import type { Emulator, RecordedRequest } from '../emulator/index.js';

/**
 * Shared pieces of the adversarial suite (test/security). Each suite starts its own real emulator
 * and `gatehouse serve` process; these helpers send exactly the bytes an attacker would, and answer
 * the question every test asks: did anything reach Ollama?
 */

/**
 * Config every adversarial stack starts from: the failed-auth limiter off (these suites send
 * thousands of bad credentials from one address on purpose; the limiter has its own tests) and no
 * separate metrics listener (its fixed default port would clash between parallel test files).
 */
export const BASE_CONFIG = { limits: { auth_failures: { max: 0 } }, metrics: { listen: 'off' } } as const;

export interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  /** Gatehouse's request id for this exchange (also sent to Ollama when forwarded). */
  id: string;
  ms: number;
}

export interface SendOptions {
  headers?: Record<string, string> | string[];
  body?: string | Buffer;
  agent?: Agent;
  /** Source address of the TCP connection (any 127.x address works on Linux loopback). */
  localAddress?: string;
  timeoutMs?: number;
}

/** One request with exactly this method, request-target and headers; never throws on HTTP errors. */
export function hit(base: string, method: string, path: string, o: SendOptions = {}): Promise<Reply> {
  const u = new URL(base);
  let headers: Record<string, string> | string[] = o.headers ?? {};
  if (o.body !== undefined) {
    const len = String(Buffer.byteLength(o.body));
    headers = Array.isArray(headers) ? [...headers, 'content-length', len] : { ...headers, 'content-length': len };
  }
  const setHost = Array.isArray(headers) ? !headers.some((h, i) => i % 2 === 0 && h.toLowerCase() === 'host') : !Object.keys(headers).some((h) => h.toLowerCase() === 'host');
  // Node's client adds Host by itself only for object headers.
  if (Array.isArray(headers) && setHost) headers = ['host', u.host, ...headers];
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const req = request(
      { host: u.hostname, port: u.port, method, path, headers, setHost, agent: o.agent, localAddress: o.localAddress, timeout: o.timeoutMs ?? 15_000 },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8'), id: String(res.headers['x-request-id'] ?? ''), ms: performance.now() - t0 }),
        );
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${method} ${path}: no answer within ${o.timeoutMs ?? 15_000} ms`)));
    req.on('error', reject);
    req.end(o.body);
  });
}

/** Starts a streamed POST; resolves at the response head. `abort()` drops the connection like a client that left. */
export function openStream(base: string, path: string, headers: Record<string, string>, body: string): Promise<{ status: number; firstChunk: Promise<void>; abort(): void }> {
  const u = new URL(base);
  return new Promise((resolve, reject) => {
    const req = request({ host: u.hostname, port: u.port, method: 'POST', path, headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) }, agent: false }, (res) => {
      const firstChunk = new Promise<void>((r) => res.once('data', () => r()));
      res.on('error', () => {});
      resolve({ status: res.statusCode ?? 0, firstChunk, abort: () => req.destroy() });
    });
    req.on('error', (e) => (req.destroyed ? undefined : reject(e)));
    req.end(body);
  });
}

/** The requests Ollama received for one Gatehouse request id. */
export function upstreamOf(emu: Emulator, id: string): RecordedRequest[] {
  if (!id) return [];
  return emu.requests.filter((r) => r.headers['x-request-id'] === id);
}

/** Runs `tasks` with at most `n` in flight; resolves with their results in order. */
export async function pool<T>(n: number, tasks: Array<() => Promise<T>>): Promise<T[]> {
  const out: T[] = new Array(tasks.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < tasks.length) {
      const i = next++;
      out[i] = await tasks[i]!();
    }
  };
  await Promise.all(Array.from({ length: Math.min(n, tasks.length) }, worker));
  return out;
}

/**
 * One request written byte for byte on its own connection (for request-targets Node's parser
 * refuses: its 400 closes the connection, which would race a keep-alive agent).
 */
export async function rawHit(base: string, method: string, target: string, headers: Record<string, string>, body?: string | Buffer): Promise<Reply> {
  const t0 = performance.now();
  const u = new URL(base);
  const lines = [`${method} ${target} HTTP/1.1`, `host: ${u.host}`, 'connection: close'];
  for (const [k, v] of Object.entries(headers)) lines.push(`${k}: ${v}`);
  if (body !== undefined) lines.push(`content-length: ${Buffer.byteLength(body)}`);
  const c = await openRaw(base);
  c.write(Buffer.concat([Buffer.from(lines.join('\r\n') + '\r\n\r\n', 'latin1'), body === undefined ? Buffer.alloc(0) : Buffer.from(body)]));
  const timer = setTimeout(() => c.sock.destroy(), 5000);
  await c.closed;
  clearTimeout(timer);
  const raw = c.received();
  const head = raw.split('\r\n\r\n')[0] ?? '';
  const id = /\r\nx-request-id: ([^\r]*)/i.exec(head)?.[1] ?? '';
  const gwError = /\r\nx-gatehouse-error: ([^\r]*)/i.exec(head)?.[1];
  return { status: statuses(raw)[0] ?? 0, headers: gwError ? { 'x-gatehouse-error': gwError } : {}, body: raw.slice(head.length + 4), id, ms: performance.now() - t0 };
}

/** A raw TCP client that records what it receives and when the server closed the connection. */
export interface RawConn {
  sock: Socket;
  received(): string;
  /** Resolves with ms since open when the server closes (or the socket errors). */
  closed: Promise<number>;
  write(bytes: string | Buffer): void;
}

export function openRaw(base: string, localAddress?: string): Promise<RawConn> {
  const u = new URL(base);
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const sock = connect({ port: Number(u.port), host: u.hostname, ...(localAddress ? { localAddress } : {}) });
    const chunks: Buffer[] = [];
    sock.on('data', (c: Buffer) => chunks.push(c));
    const closed = new Promise<number>((res) => {
      sock.once('close', () => res(performance.now() - t0));
    });
    sock.on('error', () => {});
    sock.once('connect', () =>
      resolve({
        sock,
        received: () => Buffer.concat(chunks).toString('latin1'),
        closed,
        write: (b) => {
          if (!sock.destroyed) sock.write(b);
        },
      }),
    );
    sock.once('error', reject);
  });
}

/** Every status code in a raw HTTP/1.x byte stream, in order. */
export function statuses(raw: string): number[] {
  return [...raw.matchAll(/HTTP\/1\.[01] (\d{3}) /g)].map((m) => Number(m[1]));
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Median of a list of numbers. */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** p-th percentile (0..100), nearest rank. */
export function percentile(xs: readonly number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}
