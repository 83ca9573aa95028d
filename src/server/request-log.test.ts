import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PassThrough } from 'node:stream';
import pino from 'pino';
import { createLogger } from './logger.js';
import { RequestLog } from './request-log.js';
import type { RequestScope } from '../request/scope.js';

/**
 * The access line is written directly (request-log.ts #line) instead of through pino's
 * serializer; it must be exactly the line pino would have written, whatever the request.
 */

function scope(over: Partial<Record<keyof RequestScope, unknown>>): RequestScope {
  return {
    id: 'req_0123', method: 'POST', route: { id: 'chat' }, path: '/api/chat', status: 200, decision: 'allowed', reason: null,
    principal: { name: 'ci "bot"\n', id: 'key_1' }, clientIp: '127.0.0.1', models: ['registry.ollama.ai/library/llama3:latest'],
    start: performance.now() - 12.34, ttfbMs: 1.234, bytesIn: 122, bytesOut: 579, usage: { prompt: 12, completion: 30, estimated: false },
    stream: false, clientAborted: false, upstream: null, upstreamError: null, ...over,
  } as unknown as RequestScope;
}

async function lines(log: (l: RequestLog) => void, direct: boolean): Promise<Record<string, unknown>[]> {
  const out = new PassThrough();
  const chunks: string[] = [];
  out.on('data', (c: Buffer) => chunks.push(c.toString()));
  const logger = createLogger({ level: 'info', format: 'json', requests: 'all' }, out);
  // A child logger takes pino's own path (its bindings differ), which is the reference.
  const rl = new RequestLog(direct ? logger : logger.child({}), 'all');
  log(rl);
  await rl.close();
  return chunks.join('').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
}

describe('the access line, written directly, is the line pino writes', () => {
  const variants: Array<Partial<Record<keyof RequestScope, unknown>>> = [
    {},
    { decision: 'refused', reason: 'GW_ERR_AUTH_MISSING', principal: null, status: 401, models: [], usage: null, ttfbMs: null, route: null },
    { usage: { prompt: 5, completion: 0, estimated: true }, stream: true, clientAborted: true },
    { upstreamError: 'connect ECONNREFUSED 127.0.0.1:11434', upstream: 'http://127.0.0.1:11434', status: 502 },
    { path: '/api/chat?x=\u0000"' },
  ];
  for (const v of variants) {
    it(`fields ${JSON.stringify(Object.keys(v))}`, async () => {
      const [direct] = await lines((l) => l.requestEnded(scope(v)), true);
      const [viaPino] = await lines((l) => l.requestEnded(scope(v)), false);
      assert.ok(direct && viaPino);
      for (const l of [direct, viaPino]) {
        delete l.time;
        delete l.duration_ms;
      }
      assert.deepEqual(direct, viaPino);
    });
  }
  it('the direct path is the one taken by the JSON logger (and its time is ISO-8601)', async () => {
    const out = new PassThrough();
    let text = '';
    out.on('data', (c: Buffer) => (text += c.toString()));
    const logger = createLogger({ level: 'info', format: 'json', requests: 'all' }, out);
    assert.ok((logger as unknown as Record<symbol, unknown>)[pino.symbols.streamSym]);
    const rl = new RequestLog(logger, 'all');
    rl.requestEnded(scope({}));
    rl.requestEnded(scope({ id: 'req_0124' }));
    assert.equal(text, '', 'lines of one turn are written together, at its end');
    await new Promise((r) => setImmediate(r));
    assert.equal(text.trim().split('\n').length, 2);
    assert.match(text, /^\{"level":"info","time":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z","service":"gatehouse","request_id":"req_0123"/);
  });
});
