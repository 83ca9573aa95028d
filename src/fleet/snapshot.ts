import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Fleet } from './fleet.js';

/**
 * What `gatehouse nodes` shows, as each gateway process sees it: written by every serving process
 * to `<data_dir>/nodes/<pid>.json` once a second (atomically: a temporary file renamed), removed
 * when it stops. The CLI reads every fresh file and sums in-flight and queue across processes
 * (`serve --workers N` and replicas sharing a data directory each have their own view).
 */

export interface NodeView {
  name: string;
  url: string;
  /** up, down, or unknown (never polled yet). */
  health: 'up' | 'down' | 'unknown';
  breaker: 'closed' | 'open' | 'half-open';
  inFlight: number;
  parallel: number;
  maxLoaded: number;
  resident: { model: string; expiresAt: string | null; loading: boolean; sizeVram: number | null }[];
  installed: number;
  lastError: { at: string; message: string } | null;
  coldLoads: number;
  coldLoadSeconds: number;
  retries: number;
  requests: number;
}

export interface FleetSnapshot {
  pid: number;
  at: string;
  queued: number;
  nodes: NodeView[];
}

export function snapshot(fleet: Fleet, now = Date.now()): FleetSnapshot {
  return {
    pid: process.pid,
    at: new Date(now).toISOString(),
    queued: fleet.queued,
    nodes: fleet.nodes.map((n) => ({
      name: n.name,
      url: n.target.url,
      health: n.psAt === 0 && !n.up ? (n.lastError ? 'down' : 'unknown') : n.up ? 'up' : 'down',
      breaker: n.breaker.state === 'open' && now >= n.breaker.openUntil ? 'half-open' : n.breaker.state,
      inFlight: n.inFlight,
      parallel: n.parallel,
      maxLoaded: n.maxLoaded,
      resident: [...n.resident].map(([model, r]) => ({
        model,
        expiresAt: Number.isFinite(r.expiresAt) ? new Date(r.expiresAt).toISOString() : null,
        loading: r.loading,
        sizeVram: typeof r.entry?.size_vram === 'number' ? r.entry.size_vram : null,
      })),
      installed: n.installed.size,
      lastError: n.lastError ? { at: new Date(n.lastError.at).toISOString(), message: n.lastError.message } : null,
      coldLoads: n.stats.coldLoads,
      coldLoadSeconds: n.stats.coldLoadSeconds,
      retries: n.stats.retries,
      requests: n.stats.requests,
    })),
  };
}

export function snapshotDir(dataDir: string): string {
  return join(dataDir, 'nodes');
}

/**
 * Writes this process's snapshot every `everyMs` until stopped; the file is removed on stop. A data
 * directory that cannot take it (read-only) costs only `gatehouse nodes`' live view: `onError` is
 * told once, and serving goes on.
 */
export function startSnapshots(fleet: Fleet, dataDir: string, onError: (err: Error) => void, everyMs = 1000): () => void {
  const dir = snapshotDir(dataDir);
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (err) {
    onError(err as Error);
    return () => {};
  }
  const file = join(dir, `${process.pid}.json`);
  const write = (): void => {
    try {
      writeFileSync(`${file}.tmp`, JSON.stringify(snapshot(fleet)), { mode: 0o600 });
      renameSync(`${file}.tmp`, file);
    } catch {
      // A full or read-only disk must not disturb serving; `gatehouse nodes` then says the view is stale.
    }
  };
  write();
  const t = setInterval(write, everyMs);
  t.unref();
  return () => {
    clearInterval(t);
    rmSync(file, { force: true });
    rmSync(`${file}.tmp`, { force: true });
  };
}

/** Every snapshot written within `maxAgeMs` (stale files of processes that died are skipped). */
export function readSnapshots(dataDir: string, maxAgeMs: number, now = Date.now()): FleetSnapshot[] {
  let names: string[];
  try {
    names = readdirSync(snapshotDir(dataDir));
  } catch {
    return [];
  }
  const out: FleetSnapshot[] = [];
  for (const name of names) {
    if (!/^\d+\.json$/.test(name)) continue;
    try {
      const s = JSON.parse(readFileSync(join(snapshotDir(dataDir), name), 'utf8')) as FleetSnapshot;
      if (now - Date.parse(s.at) <= maxAgeMs) out.push(s);
    } catch {
      // being replaced, or not ours
    }
  }
  return out;
}
