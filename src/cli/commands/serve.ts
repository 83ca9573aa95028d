import { startGateway } from '../../server/app.js';
import { createLogger } from '../../server/logger.js';
import { COMMON_HELP, configFrom, parse } from '../args.js';

export const SERVE_HELP = `gatehouse serve: run the gateway in front of Ollama

Usage:
  gatehouse serve [--config FILE] [--listen HOST:PORT] [--upstream URL] [--data-dir DIR]

Options:
  --listen HOST:PORT   where to listen (default 127.0.0.1:11435; env GATEHOUSE_LISTEN)
  --upstream URL       the Ollama server (default http://127.0.0.1:11434; env GATEHOUSE_UPSTREAM)
${COMMON_HELP}

On first start with no keys, a key named "initial" is written to <data dir>/initial-key.
SIGTERM/SIGINT stop accepting connections and let running responses finish (up to 30 s).
SIGHUP re-reads tls.cert, tls.key and tls.client_ca for new connections; open ones are not dropped.`;

export async function serveCommand(argv: string[]): Promise<number> {
  const { values } = parse(argv, { listen: { type: 'string' }, upstream: { type: 'string' } });
  if (values.help) {
    console.log(SERVE_HELP);
    return 0;
  }
  const { config, file, warnings } = configFrom(values, { listen: values.listen, upstream: values.upstream }, false);
  const log = createLogger(config.log);
  if (file) log.info({ file }, 'config loaded');
  for (const w of warnings) log.warn(w);
  const gw = await startGateway({ config, log });
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
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
    process.on('SIGHUP', () => {
      if (!stopping) gw.reloadTls();
    });
  });
  // Everything is closed; should a stray handle keep the event loop alive, exit anyway.
  setTimeout(() => process.exit(code), 3000).unref();
  return code;
}
