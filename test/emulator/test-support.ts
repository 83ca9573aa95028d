// Helpers for the emulator's own tests. `fetch` normalises URLs and refuses some headers (Host),
// so wire-level checks use node:http directly.
import { request } from 'node:http';

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** Sends exactly this request-target and these headers, and reads the whole answer. */
export function rawRequest(
  base: string,
  method: string,
  path: string,
  opts: { headers?: Record<string, string>; rawHeaders?: string[]; body?: string | Buffer } = {},
): Promise<RawResponse> {
  const u = new URL(base);
  // A flat [name, value, ...] list lets a test send repeated headers.
  const headers = opts.rawHeaders ? [...Object.entries(opts.headers ?? {}).flat(), ...opts.rawHeaders] : (opts.headers ?? {});
  return new Promise((resolve, reject) => {
    const req = request(
      { host: u.hostname, port: u.port, method, path, headers, setHost: !opts.headers?.['Host'] && !opts.headers?.['host'] },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(opts.body);
  });
}

export function postJson(base: string, path: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(base + path, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

/** Every NDJSON line of a finished body, parsed. */
export function ndjson(text: string): Array<Record<string, unknown>> {
  assertFramed(text.endsWith('\n'), 'NDJSON body must end with a newline');
  return text
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

export interface SseFrame {
  event?: string;
  data: string;
}

/** Splits an SSE body into frames; each frame must be terminated by a blank line. */
export function sseFrames(text: string): SseFrame[] {
  assertFramed(text.endsWith('\n\n'), 'SSE body must end with a blank line');
  return text
    .split('\n\n')
    .filter((f) => f.length > 0)
    .map((f) => {
      const frame: SseFrame = { data: '' };
      for (const line of f.split('\n')) {
        if (line.startsWith('event: ')) frame.event = line.slice('event: '.length);
        else if (line.startsWith('data: ')) frame.data = line.slice('data: '.length);
        else throw new Error(`unexpected SSE line: ${line}`);
      }
      return frame;
    });
}

function assertFramed(ok: boolean, message: string): void {
  if (!ok) throw new Error(message);
}

/** Reads a streamed body chunk by chunk, recording each read separately. */
export async function readChunks(res: Response): Promise<string[]> {
  const out: string[] = [];
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return out;
    out.push(decoder.decode(value));
  }
}

export function multipartBody(boundary: string, parts: Array<{ name: string; filename?: string; value: string | Buffer }>): Buffer {
  const pieces: Buffer[] = [];
  for (const p of parts) {
    const disposition = `form-data; name="${p.name}"${p.filename ? `; filename="${p.filename}"` : ''}`;
    const type = p.filename ? 'Content-Type: application/octet-stream\r\n' : '';
    pieces.push(Buffer.from(`--${boundary}\r\nContent-Disposition: ${disposition}\r\n${type}\r\n`));
    pieces.push(Buffer.isBuffer(p.value) ? p.value : Buffer.from(p.value));
    pieces.push(Buffer.from('\r\n'));
  }
  pieces.push(Buffer.from(`--${boundary}--\r\n`));
  return Buffer.concat(pieces);
}
