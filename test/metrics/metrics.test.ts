import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createMetrics } from '../../src/metrics/definitions.js';
import type { Limiter } from '../../src/limits/types.js';
import { principal, scope } from '../audit/scopes.js';

/** Value of one sample line, e.g. sample(text, 'gatehouse_requests_total{route="chat",…}'). */
function sample(text: string, prefix: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(prefix + ' '));
  return line === undefined ? undefined : Number(line.slice(prefix.length + 1));
}

describe('metrics', () => {
  it('count requests by route, scope, status and decision; refusals by code; limiter refusals apart', async () => {
    const m = createMetrics({ processMetrics: false });
    m.observer.requestEnded(scope());
    m.observer.requestEnded(scope());
    m.observer.requestEnded(scope({ route: 'tags', principal: null, decision: 'refused', reason: 'GW_ERR_AUTH_INVALID', status: 401, usage: null }));
    m.observer.requestEnded(scope({ decision: 'refused', reason: 'GW_ERR_RATE_LIMITED', status: 429, usage: null }));
    m.observer.requestEnded(scope({ route: null, path: '/wp-admin', principal: null, decision: 'refused', reason: 'GW_ERR_ROUTE_NOT_FOUND', status: 404, usage: null }));
    const t = await m.render();
    assert.equal(sample(t, 'gatehouse_requests_total{route="chat",scope="inference",status="200",decision="allowed"}'), 2);
    assert.equal(sample(t, 'gatehouse_requests_total{route="tags",scope="models:read",status="401",decision="refused"}'), 1);
    assert.equal(sample(t, 'gatehouse_requests_total{route="unmatched",scope="public",status="404",decision="refused"}'), 1);
    assert.equal(sample(t, 'gatehouse_refusals_total{reason="GW_ERR_AUTH_INVALID"}'), 1);
    assert.equal(sample(t, 'gatehouse_limiter_refusals_total{reason="GW_ERR_RATE_LIMITED"}'), 1);
    assert.equal(sample(t, 'gatehouse_limiter_refusals_total{reason="GW_ERR_AUTH_INVALID"}'), undefined);
    assert.ok(!t.includes('/wp-admin'), 'paths are not labels');
  });

  it('count tokens by model and principal name, and latency, TTFB and overhead histograms', async () => {
    const m = createMetrics({ processMetrics: false });
    m.observer.requestEnded(scope({ ageMs: 1500, ttfbMs: 40, usage: { prompt: 10, completion: 32, estimated: false } }));
    m.observer.requestEnded(scope({ principal: principal('bob', 'key_bob'), usage: { prompt: 1, completion: 2, estimated: true } }));
    const t = await m.render();
    const llama = 'registry.ollama.ai/library/llama3:latest';
    assert.equal(sample(t, `gatehouse_tokens_total{model="${llama}",principal="alice",kind="prompt"}`), 10);
    assert.equal(sample(t, `gatehouse_tokens_total{model="${llama}",principal="alice",kind="completion"}`), 32);
    assert.equal(sample(t, `gatehouse_tokens_total{model="${llama}",principal="bob",kind="completion"}`), 2);
    assert.equal(sample(t, 'gatehouse_tokens_estimated_requests_total'), 1);
    assert.equal(sample(t, 'gatehouse_request_duration_seconds_bucket{le="1",route="chat"}'), 1);
    assert.equal(sample(t, 'gatehouse_request_duration_seconds_bucket{le="2.5",route="chat"}'), 2);
    assert.equal(sample(t, 'gatehouse_time_to_first_byte_seconds_bucket{le="0.05",route="chat"}'), 2);
    assert.equal(sample(t, 'gatehouse_overhead_seconds_count'), 2);
    assert.ok(!t.includes('key_alice'), 'principal ids are not labels: names are');
  });

  it('count upstream failures, streams broken by Ollama, client aborts and bytes', async () => {
    const m = createMetrics({ processMetrics: false });
    m.observer.requestEnded(scope({ status: 502, reason: 'GW_ERR_UPSTREAM_UNAVAILABLE', usage: null, bytesIn: 10, bytesOut: 5 }));
    m.observer.requestEnded(scope({ upstreamError: 'model crashed', bytesIn: 1, bytesOut: 1 }));
    m.observer.requestEnded(scope({ clientAborted: true, bytesIn: 0, bytesOut: 0 }));
    const t = await m.render();
    assert.equal(sample(t, 'gatehouse_upstream_errors_total{reason="GW_ERR_UPSTREAM_UNAVAILABLE"}'), 1);
    assert.equal(sample(t, 'gatehouse_upstream_errors_total{reason="stream_error"}'), 1);
    assert.equal(sample(t, 'gatehouse_client_aborts_total{route="chat"}'), 1);
    assert.equal(sample(t, 'gatehouse_bytes_total{direction="in"}'), 11);
    assert.equal(sample(t, 'gatehouse_bytes_total{direction="out"}'), 6);
  });

  it('read in-flight, queue depth, limiter, audit, key-store and upstream health at scrape time', async () => {
    let inFlight = 3;
    const limiter: Limiter = {
      admit: () => ({ headers: [], release: () => {} }),
      authFailure: () => 0,
      close: async () => {},
      snapshot: () => ({ inFlight, queued: 2, storeErrors: 4, degraded: true }),
    };
    const m = createMetrics({
      processMetrics: false,
      limiter,
      keys: { size: 5, health: { lastOkAt: Date.now() - 2000, lastError: null } },
      audit: { stats: { queued: 7, written: 100, dropped: 3, writeErrors: 1 } },
      upstreamUp: async () => true,
    });
    let t = await m.render();
    assert.equal(sample(t, 'gatehouse_requests_in_flight'), 3);
    assert.equal(sample(t, 'gatehouse_requests_queued'), 2);
    assert.equal(sample(t, 'gatehouse_limiter_store_errors_total'), 4);
    assert.equal(sample(t, 'gatehouse_limiter_degraded'), 1);
    assert.equal(sample(t, 'gatehouse_audit_queue_depth'), 7);
    assert.equal(sample(t, 'gatehouse_audit_records_written_total'), 100);
    assert.equal(sample(t, 'gatehouse_audit_records_dropped_total'), 3);
    assert.equal(sample(t, 'gatehouse_audit_write_errors_total'), 1);
    assert.equal(sample(t, 'gatehouse_keys_loaded'), 5);
    assert.ok(sample(t, 'gatehouse_key_store_staleness_seconds')! >= 2);
    assert.equal(sample(t, 'gatehouse_upstream_up'), 1);
    inFlight = 0;
    t = await m.render();
    assert.equal(sample(t, 'gatehouse_requests_in_flight'), 0);
    assert.equal(sample(t, 'gatehouse_limiter_store_errors_total'), 4, 'a counter read from a snapshot does not double on each scrape');
  });

  it('limits token-series cardinality: past 2000 model × principal pairs the model is "other"', async () => {
    const m = createMetrics({ processMetrics: false });
    for (let i = 0; i < 2100; i++) m.observer.requestEnded(scope({ models: [`m${i}`] }));
    const t = await m.render();
    const series = t.split('\n').filter((l) => l.startsWith('gatehouse_tokens_total{') && l.includes('kind="prompt"'));
    assert.equal(series.length, 2001);
    assert.equal(sample(t, 'gatehouse_tokens_total{model="other",principal="alice",kind="prompt"}'), 100 * 7);
  });

  it('includes process metrics by default, on its own registry', async () => {
    const t = await createMetrics().render();
    assert.match(t, /^process_cpu_user_seconds_total /m);
    assert.match(t, /^nodejs_eventloop_lag_seconds /m);
  });

  it('costs little on the request path (measured)', (t) => {
    const m = createMetrics({ processMetrics: false });
    const scopes = Array.from({ length: 100 }, (_, i) => scope({ route: i % 2 ? 'chat' : 'generate', status: i % 7 ? 200 : 404 }));
    for (let i = 0; i < 20_000; i++) m.observer.requestEnded(scopes[i % 100]!);
    const N = 100_000;
    const t0 = performance.now();
    for (let i = 0; i < N; i++) m.observer.requestEnded(scopes[i % 100]!);
    const perCall = ((performance.now() - t0) * 1000) / N;
    t.diagnostic(`metrics observer: ${perCall.toFixed(2)} µs per request`);
    assert.ok(perCall < 50, `${perCall} µs`);
  });
});
