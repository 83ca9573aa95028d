import { startGateway } from '../../server/app.js';
import { isWorker, runWorkers, workersUnsupported } from '../../server/workers.js';
import { createLogger } from '../../server/logger.js';
import { StartupError } from '../../server/startup-errors.js';
import { StoreAccessError } from '../../store/errors.js';
import type { Logger } from 'pino';
import { COMMON_HELP, configFrom, parse } from '../args.js';

export const SERVE_HELP = `gatehouse serve: run the gateway in front of Ollama

Usage:
  gatehouse serve [--config FILE] [--listen HOST:PORT] [--upstream URL] [--data-dir DIR] [--workers N]

Options:
  --listen HOST:PORT   where to listen (default 127.0.0.1:11435; env GATEHOUSE_LISTEN)
  --upstream URL       the Ollama server (default http://127.0.0.1:11434; env GATEHOUSE_UPSTREAM)
  --workers N          N gateway processes on one port (default 1). Needs limits.backend: redis
                       (limits stay exact across workers) and a metrics listener rather than
                       metrics.listen: main; the workers' metrics are summed there.
${COMMON_HELP}

On first start with no keys, a key named "initial" is written to <data dir>/initial-key.
SIGTERM/SIGINT stop accepting connections and let running responses finish (up to 30 s).
SIGHUP re-reads tls.cert, tls.key and tls.client_ca for new connections; open ones are not dropped.`;

export async function serveCommand(argv: string[]): Promise<number> {
  const { values } = parse(argv, { listen: { type: 'string' }, upstream: { type: 'string' }, workers: { type: 'string' } }, 0, 'gatehouse serve');
  if (values.help) {
    console.log(SERVE_HELP);
    return 0;
  }
  const { config, file, warnings } = configFrom(values, { listen: values.listen, upstream: values.upstream }, false);
  const workers = values.workers === undefined ? 1 : Number(values.workers);
  if (!Number.isInteger(workers) || workers < 1 || workers > 64) {
    console.error(`gatehouse serve: --workers must be a whole number from 1 to 64, got "${values.workers}"`);
    return 2;
  }
  const worker = isWorker();
  if (workers > 1 && !worker) {
    const why = workersUnsupported(config);
    if (why) {
      console.error(`gatehouse serve: ${why}`);
      return 2;
    }
  }
  const log = createLogger(config.log);
  if (file && !worker) log.info({ file }, 'config loaded');
  if (!worker) for (const w of warnings) log.warn(w);
  let gw: Awaited<ReturnType<typeof startGateway>>;
  if (workers > 1 && !worker) {
    try {
      return await runWorkers(config, log, workers);
    } catch (err) {
      return startFailed(err as Error, log);
    }
  }
  // One handler for the process's life, installed before start-up: a stop asked for while starting
  // (the "listening" line is out before start-up returns) is honoured once started. Removing and
  // re-adding a signal listener would drop a signal already received but not yet dispatched.
  let early: NodeJS.Signals | null = null;
  let onSignal = (signal: NodeJS.Signals): void => {
    if (early) process.exit(1); // a second signal while start-up hangs: give up at once
    early = signal;
  };
  const handler = (signal: NodeJS.Signals) => onSignal(signal);
  process.on('SIGTERM', handler).on('SIGINT', handler);
  try {
    gw = await startGateway({ config, log, worker });
  } catch (err) {
    return startFailed(err as Error, log);
  }
  const code = await new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      log.info({ signal }, 'shutting down: no new connections, waiting for in-flight requests');
      // In-flight responses get up to 30 s; then the audit queue is flushed and the stores closed.
      gw.close(30_000).then(
        () => {
          log.info('stopped');
          log.flush();
          resolve(0);
        },
        (err: Error) => {
          log.error({ err: err.message }, 'shutdown failed');
          log.flush();
          resolve(1);
        },
      );
    };
    onSignal = stop;
    // A worker whose primary is gone (killed outright) must not live on unsupervised.
    if (worker) process.once('disconnect', () => stop('primary gone'));
    process.on('SIGHUP', () => {
      if (!stopping) gw.reloadTls();
    });
    if (early) stop(early);
  });
  // A worker's channel to its primary would keep it alive: close it, the process then exits.
  if (worker && process.connected) process.disconnect();
  // Everything is closed; should a stray handle keep the event loop alive, exit anyway.
  setTimeout(() => process.exit(code), 3000).unref();
  return code;
}

/**
 * Gatehouse did not start: say why (the message names the setting or command that fixes it) on
 * stderr, in the log, and exit 1. Whatever was already open (store, writer thread, pools) is
 * left to the exit: waiting for each to close would only delay a start that has failed.
 */
function startFailed(err: Error, log: Logger): number {
  const known = err instanceof StartupError || err instanceof StoreAccessError;
  log.fatal({ err: err.message, code: (err as { code?: string }).code }, 'gatehouse did not start');
  log.flush();
  console.error(`gatehouse serve: ${known ? err.message : `did not start: ${err.message}`}`);
  // Exit once the log is flushed, even if an open handle (a writer thread, a pool) would keep the process alive.
  setTimeout(() => process.exit(1), 200).unref();
  return 1;
}
