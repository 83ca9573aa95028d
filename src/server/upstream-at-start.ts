import { connect } from 'node:net';
import type { UpstreamAddress } from '../config/resolved.js';

/**
 * At start: does anything accept connections at an upstream target? A TCP connect only, no HTTP
 * request, so Ollama sees no traffic Gatehouse did not forward (and an emulator in tests records
 * none). Resolves null when it connects, else why not ("connect ECONNREFUSED 127.0.0.1:11434").
 * Ollama down at start is not fatal (it may start after Gatehouse): the caller warns.
 */
export function upstreamAtStart(target: Pick<UpstreamAddress, 'hostname' | 'port'>, timeoutMs: number): Promise<string | null> {
  const { hostname: host, port } = target;
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (why: string | null) => {
      socket.destroy();
      resolve(why);
    };
    socket.setTimeout(timeoutMs, () => done(`no connection within ${timeoutMs} ms`));
    socket.once('connect', () => done(null));
    socket.once('error', (err: NodeJS.ErrnoException) => done(err.code === 'ECONNREFUSED' ? `connect ECONNREFUSED ${host}:${port}` : err.message));
  });
}
