import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { createLogger } from '../../src/server/logger.js';
import { RequestLog, type RequestLogMode } from '../../src/server/request-log.js';
import { upstreamFailureCause, mapUpstreamError } from '../../src/proxy/upstream-errors.js';
import { scope } from '../audit/scopes.js';

/** Issue #18, item 7, in-process: the access log's modes, the JSON format, the upstream cause. */

function capture(): { stream: Writable; lines: () => Record<string, unknown>[] } {
  const out: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      out.push(chunk.toString());
      cb();
    },
  });
  return { stream, lines: () => out.join('').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>) };
}

async function run(mode: RequestLogMode, level: 'info' | 'warn' = 'info') {
  const c = capture();
  const log = new RequestLog(createLogger({ level, format: 'json', requests: mode }, c.stream), mode);
  log.requestEnded(scope({ id: 'req_allowed' }));
  log.requestEnded(scope({ id: 'req_refused', decision: 'refused', reason: 'GW_ERR_RATE_LIMITED', status: 429, usage: null }));
  log.requestEnded(scope({ id: 'req_failed', status: 502, reason: 'GW_ERR_UPSTREAM_UNAVAILABLE', upstreamError: 'connect ECONNREFUSED 127.0.0.1:11434', usage: null }));
  // Lines of one event-loop turn are written together, at its end.
  await new Promise((r) => setImmediate(r));
  return c.lines();
}

describe('issue #18 item 7: the request log and logger, in-process', () => {
  it('7: all logs every request at info (failures at warn); refused only refusals; off only upstream failures', async () => {
    const all = await run('all');
    assert.deepEqual(all.map((l) => [l.request_id, l.level, l.msg]), [['req_allowed', 'info', 'request'], ['req_refused', 'info', 'request refused'], ['req_failed', 'warn', 'upstream failure']]);
    assert.deepEqual((await run('refused')).map((l) => l.request_id), ['req_refused', 'req_failed']);
    assert.deepEqual((await run('off')).map((l) => l.request_id), ['req_failed']);
    assert.deepEqual((await run('all', 'warn')).map((l) => l.request_id), ['req_failed'], 'log.level still applies');
  });

  it('7: a line has every field the operator needs, and nothing secret', async () => {
    const [a, , f] = await run('all');
    for (const k of ['request_id', 'method', 'route', 'path', 'status', 'decision', 'reason', 'principal', 'principal_id', 'client', 'models', 'duration_ms', 'bytes_in', 'bytes_out']) assert.ok(k in a!, `missing ${k}`);
    assert.equal(a!.principal, 'alice');
    assert.equal(a!.principal_id, 'key_alice000001');
    assert.equal(a!.upstream, undefined, 'the upstream URL only on failures');
    assert.equal(f!.upstream, 'http://127.0.0.1:11434');
    assert.equal(f!.upstream_error, 'connect ECONNREFUSED 127.0.0.1:11434');
    assert.ok(!JSON.stringify(a).includes('ffffffff'), 'no key hash');
    // The access log skips the logger's redaction (it matches field names): it must never have one.
    for (const l of [a!, f!]) for (const k of Object.keys(l)) assert.ok(!['key', 'authorization', 'token', 'headers', 'req'].includes(k), `field ${k}`);
  });

  it('7: JSON logs use ISO-8601 times and level names', () => {
    const c = capture();
    createLogger({ level: 'info', format: 'json', requests: 'all' }, c.stream).error({ x: 1 }, 'boom');
    const [l] = c.lines();
    assert.equal(l!.level, 'error');
    assert.match(l!.time as string, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
    assert.equal(l!.service, 'gatehouse');
  });

  it('7: upstreamFailureCause keeps what the socket said; the mapped error\'s message does not', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 10.1.2.3:11434'), { code: 'ECONNREFUSED', address: '10.1.2.3', port: 11434 });
    const mapped = mapUpstreamError(refused);
    assert.equal(mapped.code, 'GW_ERR_UPSTREAM_UNAVAILABLE');
    assert.ok(!mapped.message.includes('10.1.2.3') && !mapped.message.includes('ECONNREFUSED'), 'the client-facing message has no internals');
    assert.equal(upstreamFailureCause(mapped), 'connect ECONNREFUSED 10.1.2.3:11434');
    const timeout = Object.assign(new Error('Headers Timeout Error'), { code: 'UND_ERR_HEADERS_TIMEOUT' });
    assert.equal(upstreamFailureCause(mapUpstreamError(timeout)), 'UND_ERR_HEADERS_TIMEOUT: Headers Timeout Error');
    const both = Object.assign(new AggregateError([Object.assign(new Error('connect ECONNREFUSED ::1:11434'), { code: 'ECONNREFUSED' }), Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:11434'), { code: 'ECONNREFUSED' })]), { code: 'ECONNREFUSED' });
    assert.equal(upstreamFailureCause(mapUpstreamError(both)), 'connect ECONNREFUSED ::1:11434; connect ECONNREFUSED 127.0.0.1:11434');
    const wrapped = Object.assign(new Error('fetch failed', { cause: Object.assign(new Error('getaddrinfo ENOTFOUND ollama'), { code: 'ENOTFOUND' }) }), { code: 'ENOTFOUND' });
    assert.equal(upstreamFailureCause(mapUpstreamError(wrapped)), 'ENOTFOUND: fetch failed (getaddrinfo ENOTFOUND ollama)');
  });
});
