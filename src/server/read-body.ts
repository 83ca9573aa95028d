import type { IncomingMessage } from 'node:http';
import { refuse, type GatewayError } from '../core/errors.js';

/**
 * Reads a whole request body (JSON and multipart routes) with a size cap and a deadline, so a
 * client cannot make Gatehouse hold megabytes or a socket forever. A declared Content-Length over
 * the cap is refused before reading a byte.
 *
 * The bytes are gathered into one buffer as they arrive (sized from Content-Length when there is
 * one, so a body costs its own size once, not chunks plus a copy), and `onProgress` sees each
 * addition: the JSON reader runs chunk by chunk there, so a large body is read while it arrives and
 * never holds the event loop for long, and a malformed one is refused without waiting for the rest.
 */
export type BodyProgress = (buf: Buffer, received: number) => GatewayError | null;

export function readBody(
  req: IncomingMessage,
  maxBytes: number,
  timeoutMs: number,
  resolve: (body: Buffer | GatewayError) => void,
  onProgress: BodyProgress | null = null,
): void {
  const declared = req.headers['content-length'];
  const length = declared !== undefined && /^\d+$/.test(declared) ? Number(declared) : null;
  if (length !== null && length > maxBytes) {
    resolve(tooLarge(maxBytes));
    return;
  }
  let buf: Buffer | null = null;
  let first: Buffer | null = null;
  let size = 0;
  let settled = false;
  const done = (v: Buffer | GatewayError): void => {
    if (settled) return;
    settled = true;
    clearTimeout(timer);
    req.off('data', onData);
    req.off('end', onEnd);
    req.off('error', onError);
    req.off('aborted', onError);
    resolve(v);
  };
  const onData = (c: Buffer): void => {
    const total = size + c.length;
    if (total > maxBytes) {
      done(tooLarge(maxBytes));
      return;
    }
    if (buf === null && first === null && (length === null || length === c.length)) {
      // The common case, a small body in one chunk: keep it as it is.
      first = c;
    } else {
      if (buf === null) {
        buf = Buffer.allocUnsafe(Math.max(length ?? 0, total, first ? first.length * 2 : 0, 16 * 1024));
        if (first) first.copy(buf, 0);
        first = null;
      } else if (total > buf.length) {
        const grown = Buffer.allocUnsafe(Math.min(Math.max(buf.length * 2, total), maxBytes));
        buf.copy(grown, 0, 0, size);
        buf = grown;
      }
      c.copy(buf, size);
    }
    size = total;
    if (onProgress) {
      const problem = onProgress(first ?? buf!, size);
      if (problem) return done(problem);
      // A large body: one chunk per turn of the event loop. libuv hands a fast sender's data over
      // up to 32 reads at a time; reading all of them at once would keep other requests (and
      // /healthz) waiting behind megabytes of JSON.
      if (size > YIELD_AFTER) {
        req.pause();
        setImmediate(resume);
      }
    }
  };
  const resume = (): void => {
    if (!settled) req.resume();
  };
  const onEnd = (): void => {
    if (first) return done(first);
    done(buf === null ? Buffer.alloc(0) : buf.subarray(0, size));
  };
  const onError = (): void => done(refuse('GW_ERR_BODY_TIMEOUT', 'the request body was not received completely'));
  const timer = setTimeout(() => done(refuse('GW_ERR_BODY_TIMEOUT', `the request body did not arrive within ${Math.round(timeoutMs / 1000)} s`)), timeoutMs);
  req.on('data', onData);
  req.on('end', onEnd);
  req.on('error', onError);
  req.on('aborted', onError);
}

/** Bodies above this are read one chunk per event-loop turn. */
const YIELD_AFTER = 256 * 1024;

function tooLarge(max: number): GatewayError {
  return refuse('GW_ERR_BODY_TOO_LARGE', `request body is larger than this route allows (${max} bytes; see body_limits in the config)`);
}
