/**
 * The things measured, all in front of the same fake upstream:
 *   direct       the upstream itself (no proxy, no auth): the limit
 *   gatehouse    the compiled CLI (`dist/src/main.js serve`), fresh data dir, a key made by
 *                `gatehouse keys create` with limits far above the load (the limiter runs, never refuses)
 *   gatehouse-auth, gatehouse-redis, gatehouse-workers   (only when asked for in TARGETS) the same
 *                with a key without limits; with the limits on the local Redis (limits.backend:
 *                redis); and as `serve --workers $WORKERS` (default 2) with the limits on Redis
 *   nginx        only if installed: static bearer check, proxy_buffering off, upstream keepalive
 *   node-undici  node:http + undici Pool (bench/node-undici.ts): the bare-Node floor
 */
import { execFile } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort, startServer, waitHttp, type Server } from './children.js';

const run = promisify(execFile);

export interface Target {
  name: string;
  url: string;
  /** root of the proxy's process tree (null: direct, no proxy) */
  pid: number | null;
  /** bearer token, or null when the target takes none (direct) */
  token: string | null;
  notes: string[];
  stop(): Promise<void>;
}

export interface Paths {
  /** the benchmark's compiled folder (dist/bench) */
  benchDist: string;
  gatehouseBin: string;
  runDir: string;
}

export function direct(upstreamUrl: string): Target {
  return { name: 'direct', url: upstreamUrl, pid: null, token: null, notes: [], stop: async () => {} };
}

/**
 * Inherited GATEHOUSE_* variables are dropped (a stray GATEHOUSE_CONFIG in a shell would change
 * what is measured); `extraEnv` ("GATEHOUSE_LOG__LEVEL=warn" …) and `extraArgs` are added on purpose.
 */
/**
 * `jwt`: clients send a JWT from this loopback issuer instead of the API key; the gateway gets
 * `auth.oidc` for it and a policy with the same limits as the key (what S2 with a JWT compares).
 */
export async function gatehouse(p: Paths, upstreamUrl: string, o: { args: string[]; env: string[]; nodeArgs: string[]; name?: string; limits?: boolean; jwt?: { issuer: string; token: string } }): Promise<Target> {
  const { args: extraArgs, env: extraEnv, nodeArgs } = o;
  const name = o.name ?? 'gatehouse';
  const data = mkdtempSync(join(tmpdir(), 'gatehouse-bench-'));
  chmodSync(data, 0o700);
  const port = await freePort();
  const metricsPort = await freePort();
  // Metrics stay on (the default) but on a free port, so a Gatehouse already using 9464 here does not collide.
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('GATEHOUSE_')) env[k] = v;
  env.GATEHOUSE_DATA_DIR = data;
  env.GATEHOUSE_METRICS__LISTEN = `127.0.0.1:${metricsPort}`;
  const notes: string[] = [];
  for (const kv of extraEnv) {
    const i = kv.indexOf('=');
    if (i < 1 || !kv.startsWith('GATEHOUSE_')) throw new Error(`BENCH_GATEHOUSE_ENV: expected GATEHOUSE_NAME=value, got "${kv}"`);
    env[kv.slice(0, i)] = kv.slice(i + 1);
    notes.push(`env ${kv}`);
  }
  if (extraArgs.length) notes.push(`serve ${extraArgs.join(' ')}`);
  if (nodeArgs.length) notes.push(`node ${nodeArgs.join(' ')}`);
  const create = (limits: boolean) =>
    run(process.execPath, [p.gatehouseBin, 'keys', 'create', '--name', 'bench', '--data-dir', data,
      ...(limits ? ['--rpm', '100000000', '--tpm', '1000000000000', '--concurrency', '1000000'] : []), '--json'], { cwd: data, env });
  let out: string;
  try {
    out = (await create(o.limits !== false)).stdout;
    notes.push(o.limits === false ? 'key without limits' : 'key limits rpm 1e8, tpm 1e12, concurrency 1e6');
  } catch (e) {
    notes.push(`limit flags refused (${(e as Error).message.split('\n')[0]}); key without per-key limits`);
    out = (await create(false)).stdout;
  }
  let key = (JSON.parse(out.trim().split('\n').pop() ?? '{}') as { key?: string }).key;
  if (!key) throw new Error(`gatehouse keys create printed no key: ${out.slice(0, 300)}`);
  if (o.jwt) {
    const config = join(data, 'gatehouse.yaml');
    writeFileSync(config, JSON.stringify({ auth: { oidc: [{ issuer: o.jwt.issuer, audience: 'gatehouse', rules: [{ group: 'bench', policy: 'bench' }] }] } }));
    env.GATEHOUSE_CONFIG = config;
    await run(process.execPath, [p.gatehouseBin, 'policies', 'create', 'bench', '--data-dir', data, '--scopes', 'inference,models:read',
      ...(o.limits !== false ? ['--rpm', '100000000', '--tpm', '1000000000000', '--concurrency', '1000000'] : [])], { cwd: data, env });
    key = o.jwt.token;
    notes.push('clients send a JWT (auth.oidc, loopback issuer, ES256), policy with the key\'s limits');
  }
  const s = startServer('gatehouse', process.execPath,
    [...nodeArgs, p.gatehouseBin, 'serve', '--listen', `127.0.0.1:${port}`, '--upstream', upstreamUrl, '--data-dir', data, ...extraArgs],
    { env, cwd: data, log: join(p.runDir, 'logs', `${name}.log`) });
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    await s.stop();
    rmSync(data, { recursive: true, force: true });
  };
  try {
    await ready(s, `${url}/healthz`);
  } catch (e) {
    rmSync(data, { recursive: true, force: true });
    throw e;
  }
  return { name, url, pid: s.pid, token: key, notes, stop };
}

export async function nginx(p: Paths, bin: string, upstreamUrl: string, token: string): Promise<Target> {
  const port = await freePort();
  const d = join(p.runDir, 'nginx');
  mkdirSync(join(d, 'tmp'), { recursive: true });
  const conf = `worker_processes 1;
daemon off;
pid ${d}/nginx.pid;
error_log ${d}/error.log warn;
worker_rlimit_nofile 65535;
events { worker_connections 16384; }
http {
  access_log off;
  client_body_temp_path ${d}/tmp/body; proxy_temp_path ${d}/tmp/proxy;
  fastcgi_temp_path ${d}/tmp/fastcgi; uwsgi_temp_path ${d}/tmp/uwsgi; scgi_temp_path ${d}/tmp/scgi;
  keepalive_requests 100000000;
  keepalive_timeout 300s;
  upstream ollama { server ${upstreamUrl.replace(/^http:\/\//, '')}; keepalive 512; keepalive_requests 100000000; keepalive_timeout 300s; }
  server {
    listen 127.0.0.1:${port} backlog=4096;
    location / {
      if ($http_authorization != "Bearer ${token}") { return 401 '{"error":"unauthorized"}'; }
      proxy_pass http://ollama;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Authorization "";
      proxy_buffering off;
      proxy_request_buffering off;
      proxy_read_timeout 600s;
    }
  }
}
`;
  writeFileSync(join(d, 'nginx.conf'), conf);
  const s = startServer('nginx', bin, ['-e', join(d, 'error.log'), '-p', d, '-c', join(d, 'nginx.conf')], { log: join(p.runDir, 'logs', 'nginx.log') });
  const url = `http://127.0.0.1:${port}`;
  await ready(s, `${url}/`);
  return { name: 'nginx', url, pid: s.pid, token, notes: ['1 worker'], stop: () => s.stop() };
}

export async function nodeUndici(p: Paths, upstreamUrl: string, token: string): Promise<Target> {
  const port = await freePort();
  const s = startServer('node-undici', process.execPath, [join(p.benchDist, 'node-undici.js')], {
    env: { ...process.env, PORT: String(port), UPSTREAM: upstreamUrl, TOKEN: token },
    log: join(p.runDir, 'logs', 'node-undici.log'),
  });
  const url = `http://127.0.0.1:${port}`;
  await ready(s, `${url}/`);
  return { name: 'node-undici', url, pid: s.pid, token, notes: [], stop: () => s.stop() };
}

async function ready(s: Server, url: string): Promise<void> {
  try {
    await waitHttp(url, s.proc);
  } catch (e) {
    await s.stop();
    throw new Error(`${s.name}: ${(e as Error).message} (log: ${s.log})`);
  }
}
