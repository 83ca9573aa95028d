import { rawRequest, type RawResponse } from '../emulator/test-support.js';

/**
 * Sends exactly this method, request-target and headers (fetch would normalise the path and
 * refuse some headers), with an explicit Content-Length whenever there is a body: Node's client
 * sends DELETE bodies without framing otherwise.
 */
export function send(base: string, method: string, path: string, opts: { headers?: Record<string, string>; body?: string | Buffer } = {}): Promise<RawResponse> {
  const headers = { ...(opts.headers ?? {}) };
  if (opts.body !== undefined) headers['content-length'] = String(Buffer.byteLength(opts.body));
  return rawRequest(base, method, path, { headers, body: opts.body });
}

export type { RawResponse };

/**
 * Writes bytes to a fresh TCP connection and returns everything the server sends back before it
 * closes (or `waitMs` passes). For requests no HTTP client will produce: empty Host, smuggling.
 */
export function rawSocket(base: string, bytes: string | Buffer, waitMs = 1500): Promise<string> {
  const u = new URL(base);
  return import('node:net').then(
    ({ connect }) =>
      new Promise((resolve, reject) => {
        const sock = connect(Number(u.port), u.hostname);
        const chunks: Buffer[] = [];
        const timer = setTimeout(() => sock.destroy(), waitMs);
        sock.on('data', (c: Buffer) => chunks.push(c));
        sock.on('close', () => {
          clearTimeout(timer);
          resolve(Buffer.concat(chunks).toString('latin1'));
        });
        sock.on('error', (e) => (chunks.length ? undefined : reject(e)));
        sock.write(bytes);
      }),
  );
}

/** Status code of the first response in raw HTTP text (0 if none). */
export function statusOf(raw: string): number {
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(raw);
  return m ? Number(m[1]) : 0;
}
