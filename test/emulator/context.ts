// Per-request state handed to every handler, plus the helpers that record the body and wait in an
// abortable way (a client that goes away must stop the "GPU" at once).
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Family } from './router.js';
import type { EmulatorState } from './state.js';
import type { Fault, RecordedRequest } from './types.js';
import { splitTarget } from './paths.js';

export interface Ctx {
  req: IncomingMessage;
  res: ServerResponse;
  record: RecordedRequest;
  state: EmulatorState;
  params: Record<string, string>;
  family: Family;
  /** Aborted when the response closes, normally or because the client went away. */
  signal: AbortSignal;
  fault: Fault | undefined;
  /** The whole request body (empty for routes that stream it themselves). */
  body: Buffer;
  /** Set when the emulator itself kills the socket (a fault), so the record is not marked aborted. */
  selfDestroyed: boolean;
  /**
   * Headers a /v1 middleware set before the handler ran (ResponsesMiddleware and
   * AnthropicMessagesMiddleware, for streamed requests): they go out with whatever the handler
   * answers, errors included. In Go's order (sorted), before the handler's own.
   */
  presetHeaders?: Record<string, string>;
}

/** Only this much of each body is kept in the record. */
export const RECORD_LIMIT = 1 << 20;

export function newRecord(req: IncomingMessage): RecordedRequest {
  const url = req.url ?? '';
  const { rawPath, rawQuery } = splitTarget(url);
  return {
    method: req.method ?? '',
    url,
    path: rawPath,
    query: rawQuery,
    headers: { ...req.headers },
    rawHeaders: [...req.rawHeaders],
    body: Buffer.alloc(0),
    bodyLength: 0,
    aborted: false,
    finished: false,
    at: Date.now(),
  };
}

/**
 * Reads the request body, keeping the first RECORD_LIMIT bytes in the record. With `keep` the whole
 * body is returned; `onChunk` sees every chunk (blob uploads hash it without buffering). Resolves
 * with what arrived when the client goes away mid-body.
 */
export function readBody(
  req: IncomingMessage,
  record: RecordedRequest,
  keep: boolean,
  onChunk?: (chunk: Buffer) => void,
): Promise<{ body: Buffer; complete: boolean }> {
  return new Promise((resolve) => {
    const kept: Buffer[] = [];
    const recorded: Buffer[] = [];
    let recordedBytes = 0;
    let settled = false;
    const finish = (complete: boolean): void => {
      if (settled) return;
      settled = true;
      record.body = Buffer.concat(recorded);
      const body = keep ? Buffer.concat(kept) : Buffer.alloc(0);
      if (complete && record.bodyLength > 0 && record.bodyLength <= RECORD_LIMIT) {
        try {
          record.json = JSON.parse(record.body.toString('utf8'));
        } catch {
          // not JSON: leave `json` unset
        }
      }
      resolve({ body, complete });
    };
    req.on('data', (chunk: Buffer) => {
      record.bodyLength += chunk.length;
      if (recordedBytes < RECORD_LIMIT) {
        const part = chunk.subarray(0, RECORD_LIMIT - recordedBytes);
        recorded.push(part);
        recordedBytes += part.length;
        record.body = Buffer.concat(recorded);
      }
      if (keep) kept.push(chunk);
      onChunk?.(chunk);
    });
    req.on('end', () => finish(true));
    req.on('close', () => finish(req.complete));
    req.on('error', () => finish(false));
  });
}

/** Waits `ms`; resolves false as soon as the signal aborts. ms <= 0 still yields to the event loop. */
export function sleep(ms: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const done = (ok: boolean): void => {
      clearTimeout(timer);
      clearImmediate(immediate);
      signal.removeEventListener('abort', onAbort);
      resolve(ok);
    };
    const onAbort = (): void => done(false);
    let timer: NodeJS.Timeout | undefined;
    let immediate: NodeJS.Immediate | undefined;
    if (ms > 0) timer = setTimeout(() => done(!signal.aborted), ms);
    else immediate = setImmediate(() => done(!signal.aborted));
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** Tokens this request should generate before any num_predict cap. */
export function tokenBudget(ctx: Ctx): number {
  return Math.max(0, ctx.fault?.chunks ?? ctx.state.chunks);
}

export function chunkDelay(ctx: Ctx): number {
  return Math.max(0, ctx.fault?.chunkDelayMs ?? ctx.state.chunkDelayMs);
}

/** The client is gone or the response is over: stop producing. */
export function stopped(ctx: Ctx): boolean {
  return ctx.signal.aborted || ctx.res.destroyed || ctx.res.writableEnded;
}
