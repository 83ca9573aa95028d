import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import pino from 'pino';
import { AuditWriter } from '../../src/audit/writer.js';
import { PermanentStoreError, type AuditStore, type NewAuditRecord } from '../../src/store/types.js';
import { waitFor } from '../contract/store.contract.js';
import { scope } from './scopes.js';

const log = pino({ level: 'silent' });

/** An AuditStore that records batches and can be told to fail, hang or reject. */
class FakeStore implements AuditStore {
  batches: NewAuditRecord[][] = [];
  prunes: number[] = [];
  mode: 'ok' | 'down' | 'reject' | 'hang' = 'ok';
  get records(): NewAuditRecord[] {
    return this.batches.flat();
  }
  async append(records: readonly NewAuditRecord[]): Promise<void> {
    if (this.mode === 'hang') return new Promise(() => {});
    if (this.mode === 'down') throw Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    if (this.mode === 'reject') throw new PermanentStoreError('invalid byte sequence');
    this.batches.push([...records]);
  }
  async query() { return []; }
  async usage() { return []; }
  async rollups() { return []; }
  async recordAdmin() {}
  async adminEvents() { return []; }
  async prune(before: number) {
    this.prunes.push(before);
    return 0;
  }
}

const writer = (store: AuditStore, o: Partial<ConstructorParameters<typeof AuditWriter>[0]> = {}) =>
  new AuditWriter({ store, batchSize: 3, queueSize: 10, flushIntervalMs: 60_000, retentionMs: 0, log, ...o });

describe('audit writer', () => {
  it('writes in batches: a full batch at once, the rest on the timer', async () => {
    const store = new FakeStore();
    const w = writer(store, { flushIntervalMs: 50 });
    for (let i = 0; i < 7; i++) w.requestEnded(scope({ id: `r${i}` }));
    assert.equal(store.batches.length, 0, 'nothing is written on the request path itself');
    await waitFor(() => store.records.length === 7, 1000);
    assert.deepEqual(store.batches.map((b) => b.length), [3, 3, 1]);
    assert.deepEqual(store.records.map((r) => r.requestId), ['r0', 'r1', 'r2', 'r3', 'r4', 'r5', 'r6']);
    await w.close();
  });

  it('a store that answers later gets whole batches: what arrives during a write waits for a full batch or the timer', async () => {
    const store = new FakeStore();
    const release: Array<() => void> = [];
    const append = store.append.bind(store);
    // Each write completes only when the test says so, like the SQLite thread or PostgreSQL.
    store.append = async (records) => {
      await new Promise<void>((r) => release.push(r));
      return append(records);
    };
    const w = writer(store, { flushIntervalMs: 60_000 });
    for (let i = 0; i < 3; i++) w.requestEnded(scope({ id: `a${i}` }));
    await waitFor(() => release.length === 1, 1000);
    w.requestEnded(scope({ id: 'late' }));
    release.shift()!();
    await waitFor(() => store.batches.length === 1, 1000);
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(release.length, 0, 'the single late record is not written on its own right after the batch');
    assert.equal(w.stats.queued, 1);
    for (let i = 0; i < 2; i++) w.requestEnded(scope({ id: `b${i}` }));
    await waitFor(() => release.length === 1, 1000);
    release.shift()!();
    await waitFor(() => store.batches.length === 2, 1000);
    assert.deepEqual(store.batches.map((b) => b.length), [3, 3]);
    // close() still writes every remaining record, however few.
    w.requestEnded(scope({ id: 'last' }));
    const closed = w.close();
    await waitFor(() => release.length === 1, 1000);
    release.shift()!();
    await closed;
    assert.deepEqual(store.records.map((r) => r.requestId), ['a0', 'a1', 'a2', 'late', 'b0', 'b1', 'last']);
  });

  it('a full queue drops and counts new records instead of blocking or growing', async () => {
    const store = new FakeStore();
    store.mode = 'hang';
    const w = writer(store, { queueSize: 10 });
    for (let i = 0; i < 25; i++) w.requestEnded(scope());
    await new Promise((r) => setImmediate(r));
    const st = w.stats;
    assert.equal(st.dropped + st.queued + 3, 25, 'one batch is stuck in the store, the rest queued or dropped');
    assert.ok(st.queued <= 10);
    assert.ok(st.dropped >= 12);
  });

  it('keeps records through a store outage and writes each exactly once, in order, when it is back', async () => {
    const store = new FakeStore();
    store.mode = 'down';
    const w = writer(store, { flushIntervalMs: 20, queueSize: 100 });
    for (let i = 0; i < 5; i++) w.requestEnded(scope({ id: `o${i}` }));
    await waitFor(() => w.stats.writeErrors >= 2, 2000);
    assert.equal(w.stats.queued, 5);
    store.mode = 'ok';
    await waitFor(() => store.records.length === 5, 3000);
    assert.deepEqual(store.records.map((r) => r.requestId), ['o0', 'o1', 'o2', 'o3', 'o4']);
    assert.equal(w.stats.dropped, 0);
    assert.equal(w.stats.written, 5);
    await w.close();
  });

  it('drops (and counts) a batch the store rejects as invalid, then carries on', async () => {
    const store = new FakeStore();
    const w = writer(store);
    store.mode = 'reject';
    w.requestEnded(scope());
    await w.flush();
    assert.equal(w.stats.dropped, 1);
    store.mode = 'ok';
    w.requestEnded(scope({ id: 'after' }));
    await w.flush();
    assert.deepEqual(store.records.map((r) => r.requestId), ['after']);
    await w.close();
  });

  it('close() flushes what is queued; records arriving later are counted as dropped', async () => {
    const store = new FakeStore();
    const w = writer(store, { batchSize: 500 });
    w.requestEnded(scope({ id: 'last' }));
    await w.close();
    assert.deepEqual(store.records.map((r) => r.requestId), ['last']);
    w.requestEnded(scope());
    assert.equal(w.stats.dropped, 1);
  });

  it('close() gives up at its deadline when the store stays down, and reports the loss', async () => {
    const store = new FakeStore();
    store.mode = 'down';
    const lines: string[] = [];
    const w = writer(store, { log: pino({ level: 'error' }, { write: (l: string) => lines.push(l) }) });
    w.requestEnded(scope());
    const t0 = Date.now();
    await w.close(300);
    assert.ok(Date.now() - t0 < 1500);
    assert.equal(w.stats.dropped, 1);
    assert.ok(lines.some((l) => l.includes('could not be written before shutdown')));
  });

  it('prunes records older than the retention period', async () => {
    const store = new FakeStore();
    const w = writer(store, { retentionMs: 60_000 });
    await waitFor(() => store.prunes.length > 0, 3000);
    assert.ok(Math.abs(store.prunes[0]! - (Date.now() - 60_000)) < 3000);
    await w.close();
  });

  it('costs little on the request path (measured)', async (t) => {
    const store = new FakeStore();
    const w = writer(store, { batchSize: 500, queueSize: 1_000_000, flushIntervalMs: 60_000 });
    const scopes = Array.from({ length: 1000 }, () => scope());
    for (let i = 0; i < 20_000; i++) w.requestEnded(scopes[i % 1000]!); // warm up
    const N = 200_000;
    const t0 = performance.now();
    for (let i = 0; i < N; i++) w.requestEnded(scopes[i % 1000]!);
    const perCall = ((performance.now() - t0) * 1000) / N;
    t.diagnostic(`AuditWriter.requestEnded: ${perCall.toFixed(2)} µs per request`);
    assert.ok(perCall < 25, `${perCall} µs per request`);
    await w.close();
  });
});
