import { spawnSync } from 'node:child_process';
import { createConnection } from 'node:net';
import { randomBytes } from 'node:crypto';
import { principalFromRecord, type ResolvedPrincipal } from '../../src/auth/principal.js';
import { ManualClock, type Clock } from '../../src/core/clock.js';
import { GatewayError } from '../../src/core/errors.js';
import type { PrincipalLimits } from '../../src/core/types.js';
import { ConfigSchema, type ConfigInput } from '../../src/config/schema.js';
import { createLimiter } from '../../src/limits/index.js';
import type { GatewayLimiter } from '../../src/limits/limiter.js';
import type { Admission, AdmissionRequest } from '../../src/limits/types.js';
import { ROUTES, type RouteDef } from '../../src/routes/table.js';
import pino from 'pino';

export const silent = pino({ level: 'silent' });

export function route(id: string): RouteDef {
  const r = ROUTES.find((x) => x.id === id);
  if (!r) throw new Error(`no route ${id}`);
  return r;
}

export const CHAT = route('chat');
export const TAGS = route('tags');

export function principal(id: string, limits: Partial<PrincipalLimits> = {}): ResolvedPrincipal {
  return principalFromRecord({
    id, name: id, kind: 'api_key', hash: null, hint: null, fingerprint: null, publicKey: null,
    scopes: ['inference', 'models:read'], models: null,
    limits: { rpm: null, tpm: null, tpd: null, concurrency: null, ...limits },
    clamps: {}, createdAt: 0, expiresAt: null, revokedAt: null, lastUsedAt: null,
  } as unknown as Parameters<typeof principalFromRecord>[0]);
}

export interface Ask {
  route?: RouteDef;
  models?: string[];
  /** The prompt estimate (the whole reservation when `output` is not given). */
  tokens?: number;
  /** The request's output cap (default 0: the reservation is exactly `tokens`). */
  output?: number;
  signal?: AbortSignal;
}

export function request(p: ResolvedPrincipal, a: Ask = {}): AdmissionRequest {
  return {
    principal: p,
    route: a.route ?? CHAT,
    models: a.models ?? ['registry.ollama.ai/library/llama3:latest'],
    promptEstimate: a.tokens ?? 0,
    outputCap: a.output ?? 0,
    signal: a.signal ?? new AbortController().signal,
  };
}

/** Admits and returns either the admission or the GatewayError it was refused with. */
export async function tryAdmit(l: GatewayLimiter, req: AdmissionRequest): Promise<Admission | GatewayError> {
  try {
    return await l.admit(req);
  } catch (e) {
    if (e instanceof GatewayError) return e;
    throw e;
  }
}

/** One header's value in an admission's flat [name, value, …] list (names lower case). */
export function headerValue(list: readonly string[], name: string): string | undefined {
  for (let i = 0; i < list.length; i += 2) if (list[i] === name) return list[i + 1];
  return undefined;
}

export function isRefusal(x: Admission | GatewayError): x is GatewayError {
  return x instanceof GatewayError;
}

export const REDIS_URL = process.env.GATEHOUSE_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** True when Redis answers; in CI (CI=true) an unreachable Redis is an error, not a skip. */
export async function redisAvailable(url = REDIS_URL): Promise<boolean> {
  const u = new URL(url);
  const ok = await new Promise<boolean>((resolve) => {
    const s = createConnection({ host: u.hostname, port: Number(u.port || 6379) });
    const done = (v: boolean) => {
      s.destroy();
      resolve(v);
    };
    s.setTimeout(1000, () => done(false));
    s.once('error', () => done(false));
    s.once('connect', () => {
      s.write('PING\r\n');
      s.once('data', (d) => done(d.toString().startsWith('+PONG')));
    });
  });
  if (!ok && process.env.CI === 'true') throw new Error(`Redis is not reachable at ${url}, and CI=true: the Redis limit tests must run in CI`);
  return ok;
}

export const SKIP_REDIS = `Redis is not reachable at ${REDIS_URL} (start redis-server, or set GATEHOUSE_TEST_REDIS_URL); skipping the Redis limit tests`;

/** The outage tests start their own redis-server: they need the binary, not a running Redis. */
export function redisServerInstalled(): boolean {
  const ok = spawnSync('redis-server', ['--version'], { encoding: 'utf8' }).status === 0;
  if (!ok && process.env.CI === 'true') throw new Error('redis-server is not installed, and CI=true: the Redis outage tests must run in CI');
  return ok;
}

export const SKIP_REDIS_SERVER = 'redis-server is not installed; skipping the tests that stop and start a private Redis';

export function uniquePrefix(tag: string): string {
  return `gh-test:${tag}:${process.pid}:${randomBytes(4).toString('hex')}:`;
}

export interface Built {
  limiter: GatewayLimiter;
  clock: ManualClock;
}

export type Backend = 'memory' | 'redis';

/** A limiter from a (partial) config, on a manual clock. */
export async function build(
  backend: Backend,
  limits: NonNullable<ConfigInput['limits']> = {},
  opts: { clock?: Clock; prefix?: string; url?: string; log?: import('pino').Logger; redis?: NonNullable<ConfigInput['redis']> } = {},
): Promise<{ limiter: GatewayLimiter; clock: Clock }> {
  const clock = opts.clock ?? new ManualClock();
  const config = ConfigSchema.parse({
    limits: { auth_failures: { max: 0 }, ...limits, backend },
    redis: { url: opts.url ?? REDIS_URL, key_prefix: opts.prefix ?? uniquePrefix(backend), ...opts.redis },
  });
  const limiter = await createLimiter(config, { clock, log: opts.log ?? silent });
  return { limiter, clock };
}

/** Deletes every key under a prefix (cleanup after Redis tests). */
export async function deletePrefix(prefix: string, url = REDIS_URL): Promise<void> {
  const { Redis } = await import('ioredis');
  const r = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await r.connect();
    let cursor = '0';
    do {
      const [next, keys] = await r.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length) await r.del(...keys);
    } while (cursor !== '0');
  } finally {
    r.disconnect();
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Resolves when `p` settles, or with 'pending' after `ms`. */
export function within<T>(p: Promise<T>, ms: number): Promise<T | 'pending'> {
  return Promise.race([p, sleep(ms).then(() => 'pending' as const)]);
}

/** A private redis-server child on a free loopback port (for outage tests: never the system one). */
export interface OwnRedis {
  url: string;
  port: number;
  stop(): Promise<void>;
  start(): Promise<void>;
}

export async function startOwnRedis(): Promise<OwnRedis> {
  const { createServer } = await import('node:net');
  const { spawn } = await import('node:child_process');
  const port = await new Promise<number>((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as import('node:net').AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
  let proc: import('node:child_process').ChildProcess | null = null;
  const start = () =>
    new Promise<void>((resolve, reject) => {
      const running = proc as import('node:child_process').ChildProcess | null;
      if (running && running.exitCode === null && running.signalCode === null) return resolve();
      const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--protected-mode', 'yes'], { stdio: ['ignore', 'pipe', 'pipe'] });
      proc = child;
      let out = '';
      const timer = setTimeout(() => reject(new Error(`redis-server did not start on ${port}:\n${out}`)), 10_000);
      child.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('Ready to accept connections')) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        if (!out.includes('Ready to accept connections')) reject(new Error(`redis-server exited with ${code}:\n${out}`));
      });
    });
  const stop = () =>
    new Promise<void>((resolve) => {
      const p = proc;
      proc = null;
      if (!p || p.exitCode !== null || p.signalCode !== null) return resolve();
      p.once('exit', () => resolve());
      p.kill('SIGKILL');
    });
  await start();
  return { url: `redis://127.0.0.1:${port}`, port, stop, start };
}

/** Polls `pred` until it holds (or throws after `ms`). */
export async function eventually(pred: () => boolean | Promise<boolean>, ms = 5000, what = 'condition'): Promise<void> {
  const end = Date.now() + ms;
  for (;;) {
    if (await pred()) return;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(20);
  }
}

/** A pino logger that keeps its lines (to assert on transitions). */
export function capturingLog(): { log: import('pino').Logger; lines: () => Array<{ level: number; msg: string }> } {
  const out: string[] = [];
  const log = pino({ level: 'info' }, { write: (s: string) => void out.push(s) });
  return { log, lines: () => out.map((l) => JSON.parse(l) as { level: number; msg: string }) };
}
