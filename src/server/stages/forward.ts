import type { Dispatcher } from 'undici';
import { Exchange, type ExchangeOutcome } from '../../proxy/exchange.js';
import { upstreamRequestHeaders } from '../../proxy/headers.js';
import { replayAnswer } from '../../proxy/missing-model-answer.js';
import { filterModelList } from '../../policy/list-filter.js';
import type { Call } from '../../request/call.js';
import { UploadProof } from '../upload-proof.js';
import type { GatewayContext } from './context.js';
import { sendRefusal } from './refusal.js';
import { resume, SUSPENDED, type StageResult } from './stage.js';

/**
 * Forwards to the target the fleet chose (stages/place.ts), else to the one `upstreams.pick()` gives: the matched path only, no query, cleaned
 * headers, with an Exchange that streams the answer back. When the exchange ends, the path
 * resumes with the settle stage.
 */
export function forward(call: Call, gw: GatewayContext): StageResult {
  const scope = call.scope;
  const route = call.route!;
  const p = call.principal;
  const body = call.outgoing;
  const hidden = call.hidden;
  const admission = call.admission;
  const upstream = call.target ?? gw.upstreams.pick(scope);
  const headers = upstreamRequestHeaders(call.req.headers, upstream.host, scope.id, body ? body.length : null, body ? body.contentType : null);
  if (!hidden) scope.upstream = upstream.url;
  const overhead = performance.now() - scope.start;
  scope.overheadMs = overhead;
  const extra = ['x-request-id', scope.id, 'x-gatehouse-overhead-ms', overhead.toFixed(3)];
  if (admission) for (let i = 0, h = admission.headers; i < h.length; i++) extra.push(h[i]!);
  const cors = call.cors;
  if (cors) for (const k in cors) extra.push(k, cors[k]!);
  const list = route.list && p ? route.list : null;
  const cloudAllowed = p ? gw.config.routes.cloud && p.scopes.has('cloud') : false;
  call.exchangeStarted();
  const exchange = new Exchange({
    res: call.res,
    dialect: route.dialect,
    accounting: route.accounting,
    stripInjectedUsage: call.injectedUsage,
    extraHeaders: extra,
    rewriteBody: list ? (b, status) => (status === 200 ? filterModelList(list, b, p!.allowlist, cloudAllowed) : b) : null,
    holdResponse: route.id === 'blobs.upload' && p ? gw.blobs.holdUpload(UploadProof.of(call.req), p) : null,
    onError: (err) => sendRefusal(call, err, true),
    onFinish: (o: ExchangeOutcome) => {
      call.outcome = o;
      resume(call, gw);
    },
  });
  // A model off the key's allowlist never reaches Ollama: Ollama's answer for a missing one is played instead.
  if (hidden) {
    replayAnswer(exchange, hidden);
    return SUSPENDED;
  }
  // undici writes any iterable of chunks (client-h1 writeIterable); its typings list only streams.
  const payload = (body ? body.body : null) as Dispatcher.DispatchOptions['body'];
  upstream.dispatcher.dispatch({ path: call.upstreamPath, method: (route.upstreamMethod ?? scope.method) as Dispatcher.HttpMethod, headers, body: payload }, exchange);
  return SUSPENDED;
}
