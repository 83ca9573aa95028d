/**
 * The routers a fleet run compares, each started in front of a fresh set of nodes:
 *   least-connections, random   bench/fleet/baseline-router.ts
 *   gatehouse                   `gatehouse serve --config FILE` with `upstreams:` listing the nodes
 *   gatehouse-workers2          the same with `serve --workers 2` (limits on Redis: REDIS_URL,
 *                               default redis://127.0.0.1:6379; metrics on their own listener)
 * Gatehouse gets a fresh data dir and a key from `gatehouse keys create` without limits
 * (limits.defaults are all null: nothing is counted against the load).
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort, startServer, waitHttp, type Server } from '../lib/children.js';
import type { FleetNode } from './nodes.js';

const run = promisify(execFile);

export const ROUTER_NAMES = ['least-connections', 'random', 'gatehouse', 'gatehouse-workers2'] as const;
export type RouterName = (typeof ROUTER_NAMES)[number];

export interface Router {
  name: RouterName;
  url: string;
  /** bearer token, null for the baselines */
  token: string | null;
  notes: string[];
  stop(): Promise<void>;
}

export interface RouterPaths {
  benchDist: string;
  gatehouseBin: string;
  runDir: string;
}

export async function startBaseline(p: RouterPaths, name: 'least-connections' | 'random', nodes: readonly FleetNode[], seed: number): Promise<Router> {
  const port = await freePort();
  const s = startServer(name, process.execPath, [join(p.benchDist, 'fleet', 'baseline-router.js')], {
    env: { ...process.env, PORT: String(port), NODES: nodes.map((n) => n.url).join(','), POLICY: name, SEED: String(seed + 1) },
    log: join(p.runDir, `${name}-router.log`),
  });
  const url = `http://127.0.0.1:${port}`;
  await ready(s, `${url}/`);
  return { name, url, token: null, notes: [], stop: () => s.stop() };
}

/** The gateway's config for these nodes (the `upstreams` list is what issue #20 adds). */
export function gatehouseConfig(o: { port: number; dataDir: string; metricsPort: number; nodes: readonly FleetNode[]; parallel: number; maxLoaded: number; redis?: { url: string; prefix: string } }): string {
  const upstreams = o.nodes.map((n) => `  - { name: ${n.spec.name}, url: ${n.url}, parallel: ${o.parallel}, max_loaded: ${o.maxLoaded} }`);
  return [
    `listen: 127.0.0.1:${o.port}`,
    `data_dir: ${o.dataDir}`,
    'upstreams:',
    ...upstreams,
    ...(o.redis ? ['limits:', '  backend: redis', 'redis:', `  url: ${o.redis.url}`, `  key_prefix: "${o.redis.prefix}"`] : []),
    'metrics:',
    `  listen: 127.0.0.1:${o.metricsPort}`,
    'log:',
    '  level: warn',
    '  requests: refused',
    '',
  ].join('\n');
}

export async function startGatehouse(p: RouterPaths, name: 'gatehouse' | 'gatehouse-workers2', nodes: readonly FleetNode[], o: { parallel: number; maxLoaded: number }): Promise<Router> {
  const workers = name === 'gatehouse-workers2' ? 2 : 1;
  const data = mkdtempSync(join(tmpdir(), 'gatehouse-fleet-'));
  chmodSync(data, 0o700);
  const cleanup = (): void => rmSync(data, { recursive: true, force: true });
  try {
    const port = await freePort();
    const redis = workers > 1 ? { url: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', prefix: `gatehouse-fleet-${randomBytes(6).toString('hex')}:` } : undefined;
    const config = gatehouseConfig({ port, dataDir: data, metricsPort: await freePort(), nodes, ...o, ...(redis ? { redis } : {}) });
    const configPath = join(p.runDir, `${name}.yaml`);
    writeFileSync(configPath, config, { mode: 0o600 });
    // Inherited GATEHOUSE_* variables would change what is measured.
    const env: NodeJS.ProcessEnv = {};
    for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('GATEHOUSE_')) env[k] = v;
    // The key is made with --data-dir, not --config, so that it exists even when this build
    // refuses the config; serve then reports what it refuses.
    const created = await run(process.execPath, [p.gatehouseBin, 'keys', 'create', '--name', 'fleet-bench', '--data-dir', data, '--json'], { cwd: data, env, timeout: 30_000 });
    const key = (JSON.parse(created.stdout.trim().split('\n').pop() ?? '{}') as { key?: string }).key;
    if (!key) throw new Error(`gatehouse keys create printed no key: ${created.stdout.slice(0, 300)}`);
    const args = [p.gatehouseBin, 'serve', '--config', configPath, ...(workers > 1 ? ['--workers', String(workers)] : [])];
    const log = join(p.runDir, `${name}.log`);
    const s = startServer(name, process.execPath, args, { env, cwd: data, log });
    const url = `http://127.0.0.1:${port}`;
    try {
      await waitHttp(`${url}/healthz`, s.proc, 30_000);
    } catch (e) {
      await s.stop();
      const tail = readFileSync(log, 'utf8').trim().split('\n').slice(-8).join('\n    ');
      const hint = /upstreams|unrecognized|unknown/i.test(tail)
        ? 'this build does not accept `upstreams:` yet (multi-node routing, issue #20, lands in another branch)'
        : 'see the log';
      throw new Error(`${name} did not start: ${(e as Error).message}; ${hint}\n    config: ${configPath}\n    log tail:\n    ${tail}`);
    }
    return {
      name,
      url,
      token: key,
      notes: [`${workers} worker${workers > 1 ? 's' : ''}`, ...(redis ? [`limits on ${redis.url}`] : [])],
      stop: async () => {
        await s.stop();
        cleanup();
      },
    };
  } catch (e) {
    cleanup();
    throw e;
  }
}

async function ready(s: Server, url: string): Promise<void> {
  try {
    await waitHttp(url, s.proc, 15_000);
  } catch (e) {
    await s.stop();
    throw new Error(`${s.name}: ${(e as Error).message} (log: ${s.log})`);
  }
}
