// The request pipeline, in the order Ollama's stack applies it:
//   record → Go's request-target parsing (400) → http.ServeMux clean-path redirect (301)
//   → gin: route lookup, trailing-slash redirect (no middleware) → CORS → Host check
//   → 405 / 404 texts, or faults then the handler.
// Every request is recorded before anything is answered, and its body is read (into the record)
// before the answer too, except for the blob upload, which hashes the body as it streams.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { newRecord, readBody, sleep, type Ctx } from './context.js';
import { checkCors } from './cors.js';
import { checkHost } from './host-check.js';
import { cleanPath, splitTarget, unescapePath, withQuery } from './paths.js';
import { sendEmpty, sendJson, sendRaw, sendText, JSON_TYPE } from './reply.js';
import type { Router } from './router.js';
import type { EmulatorState } from './state.js';

export interface DispatchOptions {
  /** Ollama checks Host only when listening on loopback. */
  hostCheck: boolean;
}

function firstHeader(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

function looksLikeJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

async function bufferBody(ctx: Ctx): Promise<void> {
  ctx.body = (await readBody(ctx.req, ctx.record, true)).body;
  ctx.state.changed(); // the record now has its body: wake waitFor predicates
}

/** net/http's http.Redirect: an HTML body for GET/HEAD only. */
function redirect(ctx: Ctx, status: number, location: string): void {
  const isGet = ctx.req.method === 'GET' || ctx.req.method === 'HEAD';
  const text = status === 301 ? 'Moved Permanently' : 'Temporary Redirect';
  const body = isGet ? `<a href="${location.replace(/&/g, '&amp;').replace(/"/g, '&#34;')}">${text}</a>.\n\n` : '';
  sendRaw(ctx, status, body, { Location: location, ...(isGet ? { 'Content-Type': 'text/html; charset=utf-8' } : {}) });
}

async function pipeline(ctx: Ctx, router: Router, opts: DispatchOptions): Promise<void> {
  const { req, res } = ctx;
  const method = req.method ?? '';
  const url = req.url ?? '';
  if (method === 'OPTIONS' && url === '*') {
    await bufferBody(ctx);
    return sendEmpty(ctx, 200); // net/http answers "OPTIONS *" itself
  }
  const { rawPath, rawQuery } = splitTarget(url);
  const path = rawPath.startsWith('/') ? unescapePath(rawPath) : undefined;
  // net/http refuses a malformed target and a repeated Host header ("too many Host headers").
  const hostCount = req.rawHeaders.filter((h, i) => i % 2 === 0 && h.toLowerCase() === 'host').length;
  if (path === undefined || hostCount > 1) {
    await bufferBody(ctx);
    return sendRaw(ctx, 400, '400 Bad Request', { 'Content-Type': 'text/plain; charset=utf-8', Connection: 'close' });
  }
  const clean = cleanPath(path);
  if (clean !== path) {
    await bufferBody(ctx);
    return redirect(ctx, 301, withQuery(clean, rawQuery));
  }

  const match = router.match(method, path);
  if (match.kind === 'redirect') {
    await bufferBody(ctx);
    return redirect(ctx, method === 'GET' ? 301 : 307, withQuery(match.path, rawQuery));
  }

  const host = firstHeader(req.headers.host);
  const cors = checkCors(method, firstHeader(req.headers.origin), host);
  const hostVerdict = opts.hostCheck ? checkHost(host) : 'allowed-ip';
  const streamsBody = match.kind === 'found' && match.route.bodyStreamedBy === method;
  const passes = cors.kind === 'pass' && hostVerdict !== 'forbidden' && !(hostVerdict === 'allowed-name' && method === 'OPTIONS');
  if (!(streamsBody && passes)) await bufferBody(ctx);

  if (cors.kind === 'forbidden') return sendEmpty(ctx, 403);
  if (cors.kind === 'preflight') return sendRaw(ctx, 204, '', cors.headers);
  for (const [k, v] of Object.entries(cors.headers)) res.setHeader(k, v);
  if (hostVerdict === 'forbidden') return sendEmpty(ctx, 403);
  if (hostVerdict === 'allowed-name' && method === 'OPTIONS') return sendEmpty(ctx, 204);

  if (match.kind === 'method-not-allowed') {
    res.setHeader('Allow', match.allow.join(', '));
    return sendText(ctx, 405, '405 method not allowed', 'text/plain');
  }
  if (match.kind === 'not-found') return sendText(ctx, 404, '404 page not found', 'text/plain');

  ctx.params = match.params;
  ctx.family = match.route.family;
  ctx.fault = ctx.state.takeFault(ctx.record);
  const fault = ctx.fault;
  if (fault?.hangMs && !(await sleep(fault.hangMs, ctx.signal))) return;
  if (fault?.status !== undefined) {
    if (streamsBody) await bufferBody(ctx);
    const body = fault.body ?? JSON.stringify({ error: 'emulated fault' });
    const contentType = fault.contentType ?? (looksLikeJson(body) ? JSON_TYPE : 'text/plain; charset=utf-8');
    return sendRaw(ctx, fault.status, body, { 'Content-Type': contentType });
  }
  await match.handler(ctx);
}

export function createRequestListener(state: EmulatorState, router: Router, opts: DispatchOptions): (req: IncomingMessage, res: ServerResponse) => void {
  return (req: IncomingMessage, res: ServerResponse): void => {
    const record = newRecord(req);
    state.requests.push(record);
    state.handlerStarted();
    const ac = new AbortController();
    const ctx: Ctx = {
      req,
      res,
      record,
      state,
      params: {},
      family: 'native',
      signal: ac.signal,
      fault: undefined,
      body: Buffer.alloc(0),
      selfDestroyed: false,
    };
    res.on('finish', () => {
      record.finished = true;
      state.changed();
    });
    res.on('close', () => {
      // 'close' also follows a normal end; only an unfinished response means the client left.
      if (!res.writableEnded && !ctx.selfDestroyed) record.aborted = true;
      ac.abort();
      state.changed();
    });
    pipeline(ctx, router, opts)
      .catch((err: unknown) => {
        if (!res.headersSent) sendJson(ctx, 500, { error: err instanceof Error ? err.message : String(err) });
        else res.destroy();
      })
      .finally(() => state.handlerEnded());
  };
}
