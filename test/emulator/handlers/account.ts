// Account and cloud routes (doc §1.1). Real Ollama proxies these to ollama.com with the server
// owner's key; the emulator never leaves the machine and answers small canned bodies instead, so
// tests can check that a gateway keeps them admin-only.
import type { Ctx } from '../context.js';
import { bindJson } from '../handler-kit.js';
import { sendEmpty, sendError, sendJson } from '../reply.js';
import { WebFetchRequest, WebSearchRequest } from '../request-schemas.js';

export function whoamiHandler(ctx: Ctx): void {
  sendJson(ctx, 200, { id: 'u_emulator', email: 'owner@example.com', name: 'emulator-owner', plan: 'free' });
}

/** POST /api/signout and the deprecated DELETE /api/user/keys/:encodedKey. */
export function signoutHandler(ctx: Ctx): void {
  sendEmpty(ctx, 200);
}

export function webSearchHandler(ctx: Ctx): void {
  const body = bindJson<{ query?: string; max_results?: number }>(ctx, WebSearchRequest);
  if (!body) return;
  if (!body.query) return sendError(ctx, 400, 'query is required');
  const n = Math.min(Math.max(body.max_results ?? 2, 1), 10);
  const results = Array.from({ length: n }, (_, i) => ({
    title: `Result ${i + 1} for ${body.query}`,
    url: `https://example.com/search/${i + 1}`,
    content: `Emulated search result ${i + 1}.`,
  }));
  sendJson(ctx, 200, { results });
}

export function webFetchHandler(ctx: Ctx): void {
  const body = bindJson<{ url?: string }>(ctx, WebFetchRequest);
  if (!body) return;
  if (!body.url) return sendError(ctx, 400, 'url is required');
  sendJson(ctx, 200, { title: 'Emulated page', content: `Emulated content of ${body.url}.`, links: [] });
}
