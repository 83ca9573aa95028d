import cluster, { type Worker } from 'node:cluster';
import type { Logger } from 'pino';
import { AggregatorRegistry } from 'prom-client';
import type { Config } from '../config/schema.js';
import type { MetricsListener } from '../metrics/listener.js';
import { openStores } from '../store/index.js';
import { ensureInitialKey } from './initial-key.js';
import { openMetricsListener, recordStartConfig } from './startup.js';

/**
 * `gatehouse serve --workers N`: N gateway processes (node:cluster) accepting on one listening
 * socket, for hosts with cores to spare. Limits stay exact because they live in Redis, shared by
 * the workers as by replicas (limits.backend: redis is required); keys, usage and audit are in
 * the one store. This primary process serves no traffic: it prepares the store once (migrations,
 * the initial key, the config record), starts the workers and replaces one that dies, serves the
 * workers' metrics summed on the metrics listener, and passes SIGTERM/SIGINT/SIGHUP on.
 */

/** Why a configuration cannot run with several workers, or null. */
export function workersUnsupported(config: Config): string | null {
  if (config.limits.backend !== 'redis') {
    return '--workers needs limits.backend: redis: each worker is a process of its own, and only a shared store keeps rate, token and concurrency limits exact across them (set limits.backend: redis and redis.url)';
  }
  if (config.metrics.listen === 'main') {
    return '--workers does not support metrics.listen: main (a scrape would reach one worker and see only its share); use a metrics listener (metrics.listen: HOST:PORT), where the workers\' metrics are summed';
  }
  return null;
}

/** Restarts allowed in RESTART_WINDOW_MS before the primary gives up (a crash loop). */
const MAX_RESTARTS = 5;
const RESTART_WINDOW_MS = 60_000;
/** After SIGTERM, workers have their own 30 s grace; this is the primary's limit on waiting. */
const STOP_WAIT_MS = 40_000;

export async function runWorkers(config: Config, log: Logger, count: number): Promise<number> {
  // Once, here, rather than racing in N workers: schema migrations, the first key, the config record.
  const stores = await openStores({ dataDir: config.data_dir, store: config.store, role: 'server' });
  try {
    await ensureInitialKey(stores.keys, config.data_dir, log);
    await recordStartConfig(stores.audit, config, log);
  } finally {
    await stores.close();
  }
  if (config.ssh.enabled && config.ssh.replay === 'once') {
    log.warn('ssh.replay: once is kept per worker: a captured signed request can be replayed once on each of the other workers within ssh.window');
  }

  // Before any worker starts: a metrics listener that cannot open stops the start (startup.ts).
  let metricsListener: MetricsListener | null = null;
  if (config.metrics.listen !== 'off') {
    const aggregator = new AggregatorRegistry();
    const summed = { render: () => aggregator.clusterMetrics(), contentType: aggregator.contentType };
    metricsListener = await openMetricsListener(config, summed, log, { what: 'metrics listening (the workers\' metrics, summed)', mainHint: false });
  }

  // Workers accept on the shared socket themselves (the kernel spreads connections), rather than
  // the primary accepting every connection and handing it over.
  cluster.schedulingPolicy = cluster.SCHED_NONE;
  cluster.setupPrimary({ args: process.argv.slice(2), silent: false });

  let stopping = false;
  const restarts: number[] = [];
  const fork = (): Worker => cluster.fork({ GATEHOUSE_WORKER: '1' });
  for (let i = 0; i < count; i++) fork();
  log.info({ workers: count, pid: process.pid }, 'gatehouse primary: workers started');

  return new Promise<number>((resolve) => {
    let code = 0;
    const stop = (signal: NodeJS.Signals, exitCode: number) => {
      if (stopping) return;
      stopping = true;
      code = exitCode;
      log.info({ signal }, 'shutting down: stopping the workers');
      for (const w of Object.values(cluster.workers ?? {})) w?.process.kill(signal);
      setTimeout(() => {
        for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGKILL');
      }, STOP_WAIT_MS).unref();
      if (Object.keys(cluster.workers ?? {}).length === 0) void done();
    };
    const done = async () => {
      await metricsListener?.close();
      log.info('stopped');
      log.flush();
      resolve(code);
    };
    cluster.on('exit', (w, exitCode, signal) => {
      if (stopping) {
        if (Object.keys(cluster.workers ?? {}).length === 0) void done();
        return;
      }
      const now = Date.now();
      while (restarts.length && now - restarts[0]! > RESTART_WINDOW_MS) restarts.shift();
      if (restarts.length >= MAX_RESTARTS) {
        log.error({ worker: w.process.pid, code: exitCode, signal, restarts: restarts.length }, `workers keep dying (${MAX_RESTARTS} restarts within a minute): stopping`);
        stop('SIGTERM', 1);
        return;
      }
      restarts.push(now);
      log.error({ worker: w.process.pid, code: exitCode, signal }, 'a worker died: starting another');
      setTimeout(() => {
        if (!stopping) fork();
      }, 200 * restarts.length).unref();
    });
    process.once('SIGTERM', () => stop('SIGTERM', 0));
    process.once('SIGINT', () => stop('SIGINT', 0));
    process.on('SIGHUP', () => {
      for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGHUP');
    });
  });
}

/** In a worker: let the primary collect this registry for the summed /metrics. */
export function shareMetricsWithPrimary(registry: import('prom-client').Registry): void {
  // Constructing one is what installs the worker's answer to the primary's requests.
  new AggregatorRegistry();
  AggregatorRegistry.setRegistries([registry]);
}

export function isWorker(): boolean {
  return cluster.isWorker && process.env.GATEHOUSE_WORKER === '1';
}
