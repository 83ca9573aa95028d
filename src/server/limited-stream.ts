import type { IncomingMessage } from 'node:http';
import { Transform } from 'node:stream';
import { refuse } from '../core/errors.js';

/**
 * A request body passed through to Ollama as it arrives (blob uploads can be gigabytes), with a
 * byte cap and an idle deadline. Exceeding either fails the stream with a GatewayError, which
 * aborts the upstream request and is answered to the client as 413 or 408.
 */
export function limitedStream(req: IncomingMessage, maxBytes: number, idleMs: number, onBytes: (total: number) => void): Transform {
  let total = 0;
  let timer: NodeJS.Timeout | null = null;
  const t = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      total += chunk.length;
      onBytes(total);
      if (total > maxBytes) {
        cb(refuse('GW_ERR_BODY_TOO_LARGE', `upload is larger than body_limits.blob (${maxBytes} bytes)`));
        return;
      }
      timer?.refresh();
      cb(null, chunk);
    },
    flush(cb) {
      if (timer) clearTimeout(timer);
      cb();
    },
  });
  timer = setTimeout(() => t.destroy(refuse('GW_ERR_BODY_TIMEOUT', `the upload stalled for ${Math.round(idleMs / 1000)} s`)), idleMs);
  t.on('close', () => {
    if (timer) clearTimeout(timer);
  });
  req.on('aborted', () => t.destroy(refuse('GW_ERR_BODY_TIMEOUT', 'the client stopped sending the upload')));
  req.pipe(t);
  return t;
}
