import type { Logger } from 'pino';
import { recordConfigChange, serverActor } from '../audit/config-events.js';
import type { Config } from '../config/schema.js';
import { isLoopback, splitHostPort } from '../core/ip.js';
import type { GatewayMetrics } from '../metrics/definitions.js';
import { startMetricsListener, type MetricsListener } from '../metrics/listener.js';
import type { AuditStore } from '../store/types.js';
import { compileHostCheck } from './host-check.js';
import { listenFailure } from './startup-errors.js';

/**
 * Start-up steps shared by a single gateway process (app.ts) and the `--workers` primary
 * (workers.ts), which does them once for all its workers.
 */

/** Records the configuration in the admin trail; a failure is logged, never fatal. */
export async function recordStartConfig(audit: AuditStore, config: Config, log: Logger): Promise<void> {
  try {
    const changed = await recordConfigChange(audit, config, serverActor());
    if (changed?.action === 'config.change') log.info({ changed: Object.keys(changed.detail.changes as object) }, 'configuration changed since the last start (recorded in the audit trail)');
  } catch (err) {
    log.warn({ err: (err as Error).message }, 'could not record the configuration in the audit trail');
  }
}

/**
 * The separate /metrics listener (metrics.listen: HOST:PORT). If it cannot open, Gatehouse does
 * not start: a configured endpoint that is silently missing is found only when the graphs are
 * empty. `metrics.listen: off` is how to run without it.
 */
export async function openMetricsListener(config: Config, metrics: Pick<GatewayMetrics, 'render' | 'contentType'>, log: Logger, o: { what: string; mainHint: boolean }): Promise<MetricsListener> {
  const hostOk = compileHostCheck(config.allowed_hosts);
  let listener: MetricsListener;
  try {
    listener = await startMetricsListener(config.metrics.listen, metrics, (h) => hostOk(h).ok);
  } catch (err) {
    throw listenFailure(err as NodeJS.ErrnoException, 'metrics listener', config.metrics.listen, 'metrics.listen (GATEHOUSE_METRICS__LISTEN or the config file)', `, ${o.mainHint ? '"main" (serve /metrics on the main listener to keys with the metrics scope) ' : ''}or "off" (no metrics)`);
  }
  log.info({ metrics_url: listener.url }, o.what);
  if (!isLoopback(splitHostPort(config.metrics.listen).host)) {
    const hint = o.mainHint ? ', or set metrics.listen: main to serve /metrics only to keys with the "metrics" scope' : '';
    log.warn(`the metrics listener on ${config.metrics.listen} has no authentication: keep it on a private network${hint}`);
  }
  return listener;
}
