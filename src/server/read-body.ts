import type { IncomingMessage } from 'node:http';
import { refuse, type GatewayError } from '../core/errors.js';

/**
 * Reads a whole request body (JSON and multipart routes) with a size cap and a deadline, so a
 * client cannot make Gatehouse hold megabytes or a socket forever. A declared Content-Length over
 * the cap is refused before reading a byte.
 */
export function readBody(req: IncomingMessage, maxBytes: number, timeoutMs: number, resolve: (body: Buffer | GatewayError) => void): void {
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > maxBytes) {
    resolve(tooLarge(maxBytes));
    return;
  }
  {
    const chunks: Buffer[] = [];
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
      size += c.length;
      if (size > maxBytes) {
        done(tooLarge(maxBytes));
        return;
      }
      chunks.push(c);
    };
    const onEnd = (): void => done(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
    const onError = (): void => done(refuse('GW_ERR_BODY_TIMEOUT', 'the request body was not received completely'));
    const timer = setTimeout(() => done(refuse('GW_ERR_BODY_TIMEOUT', `the request body did not arrive within ${Math.round(timeoutMs / 1000)} s`)), timeoutMs);
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('aborted', onError);
  }
}

function tooLarge(max: number): GatewayError {
  return refuse('GW_ERR_BODY_TOO_LARGE', `request body is larger than this route allows (${max} bytes; see body_limits in the config)`);
}
