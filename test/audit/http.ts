import { request } from 'node:http';

/** One request with node:http: status, headers, body, bytes, and an optional early hang-up. */
export interface Hit {
  status: number;
  id: string;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  bytes: number;
  sent: number;
  aborted: boolean;
}

export function hit(
  base: string,
  o: { method?: string; path: string; key?: string; body?: unknown; headers?: Record<string, string>; abortAfterFirstChunk?: boolean },
): Promise<Hit> {
  const u = new URL(base);
  const data = o.body === undefined ? undefined : typeof o.body === 'string' ? o.body : JSON.stringify(o.body);
  const headers: Record<string, string> = { ...(o.headers ?? {}) };
  if (o.key) headers.authorization = `Bearer ${o.key}`;
  if (data !== undefined) {
    headers['content-type'] ??= 'application/json';
    headers['content-length'] = String(Buffer.byteLength(data));
  }
  return new Promise((resolve, reject) => {
    const req = request({ host: u.hostname, port: u.port, method: o.method ?? (data === undefined ? 'GET' : 'POST'), path: o.path, headers }, (res) => {
      const chunks: Buffer[] = [];
      const done = (aborted: boolean) => {
        const body = Buffer.concat(chunks);
        resolve({ status: res.statusCode ?? 0, id: String(res.headers['x-request-id'] ?? ''), headers: res.headers, text: body.toString('utf8'), bytes: body.length, sent: data ? Buffer.byteLength(data) : 0, aborted });
      };
      res.on('data', (c: Buffer) => {
        chunks.push(c);
        if (o.abortAfterFirstChunk) {
          res.removeAllListeners('data');
          req.destroy();
          done(true);
        }
      });
      res.on('end', () => done(false));
      res.on('error', () => {});
    });
    req.on('error', (err) => (o.abortAfterFirstChunk ? undefined : reject(err)));
    req.end(data);
  });
}
