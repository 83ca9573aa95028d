// startEmulator: wires state, router and the HTTP server, and exposes the test-facing handle.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequestListener } from './dispatch.js';
import { isLoopbackListener } from './host-check.js';
import { Router } from './router.js';
import { ROUTES } from './routes.js';
import { EmulatorState } from './state.js';
import { DEFAULT_MODELS, type Emulator, type EmulatorOptions, type Fault } from './types.js';

export async function startEmulator(opts: EmulatorOptions = {}): Promise<Emulator> {
  const host = opts.host ?? '127.0.0.1';
  const state = new EmulatorState(opts.models ?? DEFAULT_MODELS, opts.chunks ?? 5, opts.chunkDelayMs ?? 0, opts.fleet);
  const listener = createRequestListener(state, new Router(ROUTES), { hostCheck: isLoopbackListener(host) });

  const server = createServer(
    {
      // Go's server has no request timeouts and accepts a request without Host (the Host check
      // then sees an empty host, which it allows), so neither Node default may interfere.
      requestTimeout: 0,
      requireHostHeader: false,
    },
    listener,
  );
  // Go keeps idle keep-alive connections open indefinitely; close() tears them down.
  server.keepAliveTimeout = 0;

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const urlHost = host.includes(':') ? `[${host}]` : host;

  const emulator: Emulator = {
    url: `http://${urlHost}:${port}`,
    port,
    requests: state.requests,
    tokensSent: state.tokensSent,
    inFlight: () => state.inFlight(),
    fault: (f: Fault) => state.addFault(f),
    clearFaults: () => state.clearFaults(),
    reset: () => state.reset(),
    stats: () => state.stats(),
    maxRunning: () => state.stats().maxRunning,
    install: (name: string) => state.install(name) !== undefined,
    uninstall: (name: string) => {
      const model = state.findModel(name);
      if (!model) return false;
      state.remove(model);
      return true;
    },
    waitFor: (pred, timeoutMs = 2000) =>
      new Promise<void>((resolve, reject) => {
        const check = (): void => {
          let ok: boolean;
          try {
            ok = pred(emulator);
          } catch (err) {
            cleanup();
            reject(err);
            return;
          }
          if (ok) {
            cleanup();
            resolve();
          }
        };
        const off = state.onChange(check);
        const poll = setInterval(check, 10); // for predicates over things the state does not signal
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`emulator.waitFor: condition not met within ${timeoutMs} ms`));
        }, timeoutMs);
        const cleanup = (): void => {
          off();
          clearInterval(poll);
          clearTimeout(timer);
        };
        check();
      }),
    close: async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      state.fleet?.close();
      await closed;
      // Destroyed sockets abort running generations; let their handlers unwind.
      await emulator.waitFor((e) => e.inFlight() === 0, 1000).catch(() => undefined);
    },
  };
  return emulator;
}
