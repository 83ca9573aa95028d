// What the poller reads from a node (fleet/poller.ts): /api/tags into `installed`, /api/ps into
// `resident` (kept for models Gatehouse has requests running for), and one poll against a fake
// dispatcher (no network).

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Dispatcher } from 'undici';
import type { UpstreamAddress } from '../config/resolved.js';
import { UpstreamSet, type UpstreamSpec } from '../proxy/upstream-set.js';
import { Breaker } from './breaker.js';
import { Fleet } from './fleet.js';
import { FleetNode } from './node.js';
import { Poller, readPs, readTags } from './poller.js';

const NOW = 1_700_000_000_000;
const C = (s: string) => `registry.ollama.ai/library/${s}`;
const LLAMA = C('llama3:latest');

function bareNode(): FleetNode {
  const target = { name: 'n', url: 'http://n:11434', origin: 'http://n:11434', host: 'n:11434', dispatcher: {} as unknown as Dispatcher, health: { up: false, checkedAt: 0 } };
  return new FleetNode(target, 2, 2, new Breaker(3, 1000));
}

describe('readTags', () => {
  it('keys installed models by canonical name: llama3 and llama3:latest are one model; the first entry is kept', () => {
    const n = bareNode();
    const first = { name: 'llama3', digest: 'aaa' };
    readTags(n, { models: [first, { name: 'llama3:latest', model: 'llama3:latest', digest: 'bbb' }, { model: 'qwen2.5:7b' }, { name: 'hf.co/org/repo:Q4_K_M' }, { name: 'library/phi3' }] }, NOW);
    assert.deepEqual([...n.installed.keys()].sort(), [C('llama3:latest'), C('phi3:latest'), C('qwen2.5:7b'), 'hf.co/org/repo:q4_k_m'].sort(), 'the tag folded to lower case');
    assert.equal(n.installed.get(LLAMA), first);
    assert.equal(n.tagsAt, NOW);
  });

  it('`model` wins over `name` when an entry has both', () => {
    const n = bareNode();
    readTags(n, { models: [{ model: 'a:1', name: 'b:2' }] }, NOW);
    assert.deepEqual([...n.installed.keys()], [C('a:1')]);
  });

  it('entries without a usable name are ignored, the rest are read', () => {
    const n = bareNode();
    readTags(n, { models: [null, 'llama3', 7, {}, { name: 5 }, { model: null, name: null }, { name: '' }, { name: 'not a name!' }, { name: 'ok' }] }, NOW);
    assert.deepEqual([...n.installed.keys()], [C('ok:latest')]);
  });

  it('a body without a models list throws, and changes nothing', () => {
    const n = bareNode();
    readTags(n, { models: [{ name: 'llama3' }] }, NOW);
    for (const bad of [null, undefined, 'models', 42, [], {}, { models: null }, { models: {} }, { models: 'llama3' }, { Models: [] }]) {
      assert.throws(() => readTags(n, bad, NOW + 5), /no "models" list/, JSON.stringify(bad));
    }
    assert.deepEqual([...n.installed.keys()], [LLAMA]);
    assert.equal(n.tagsAt, NOW);
  });

  it('an empty list means nothing is installed (and the tags are known)', () => {
    const n = bareNode();
    readTags(n, { models: [{ name: 'llama3' }] }, NOW);
    readTags(n, { models: [] }, NOW + 1);
    assert.equal(n.installed.size, 0);
    assert.equal(n.tagsAt, NOW + 1);
  });
});

describe('readPs', () => {
  it('reads expires_at (Ollama prints nanoseconds and a zone offset); missing or unparsable means never', () => {
    const n = bareNode();
    const e1 = { name: 'llama3:latest', model: 'llama3:latest', expires_at: '2024-06-04T14:38:31.837530927-07:00' };
    readPs(n, { models: [e1, { name: 'b', expires_at: 'soon' }, { name: 'c' }, { name: 'd', expires_at: 12345 }] }, NOW);
    assert.equal(n.resident.get(LLAMA)?.expiresAt, Date.UTC(2024, 5, 4, 21, 38, 31, 837));
    assert.equal(n.resident.get(LLAMA)?.entry, e1);
    assert.equal(n.resident.get(LLAMA)?.loading, false);
    assert.equal(n.resident.get(C('b:latest'))?.expiresAt, Infinity);
    assert.equal(n.resident.get(C('c:latest'))?.expiresAt, Infinity);
    assert.equal(n.resident.get(C('d:latest'))?.expiresAt, Infinity);
    assert.equal(n.psAt, NOW);
  });

  it('canonical names: a model listed as llama3 is the resident llama3:latest', () => {
    const n = bareNode();
    readPs(n, { models: [{ name: 'llama3' }, { name: 'llama3:latest' }] }, NOW);
    assert.deepEqual([...n.resident.keys()], [LLAMA]);
  });

  it('replaces what is resident: an idle model no longer listed is gone', () => {
    const n = bareNode();
    readPs(n, { models: [{ name: 'a' }, { name: 'b' }] }, NOW);
    readPs(n, { models: [{ name: 'b' }] }, NOW + 1000);
    assert.deepEqual([...n.resident.keys()], [C('b:latest')]);
  });

  it('keeps a model with requests running although /api/ps does not list it yet', () => {
    const n = bareNode();
    n.resident.set(LLAMA, { expiresAt: Infinity, loading: true, entry: null });
    n.model(LLAMA).starts.push(NOW);
    n.model(LLAMA).lastUsed = NOW - 60_000; // started long ago: still loading a large model
    readPs(n, { models: [] }, NOW);
    assert.equal(n.resident.get(LLAMA)?.loading, true, 'kept, still loading');
    n.model(LLAMA).starts.length = 0;
    readPs(n, { models: [] }, NOW + 1);
    assert.equal(n.resident.has(LLAMA), false, 'gone once nothing runs and ps still does not list it');
  });

  it('keeps a load Gatehouse sent less than a second ago, drops it after', () => {
    const n = bareNode();
    n.resident.set(LLAMA, { expiresAt: Infinity, loading: true, entry: null });
    n.model(LLAMA).lastUsed = NOW;
    readPs(n, { models: [] }, NOW + 999);
    assert.ok(n.resident.has(LLAMA));
    readPs(n, { models: [] }, NOW + 1000);
    assert.equal(n.resident.has(LLAMA), false);
  });

  it('a listed model that Gatehouse was loading is loaded now', () => {
    const n = bareNode();
    n.resident.set(LLAMA, { expiresAt: Infinity, loading: true, entry: null });
    n.model(LLAMA).starts.push(NOW);
    readPs(n, { models: [{ name: 'llama3', expires_at: '2030-01-01T00:00:00Z' }] }, NOW);
    assert.equal(n.resident.get(LLAMA)?.loading, false);
    assert.equal(n.resident.get(LLAMA)?.expiresAt, Date.UTC(2030, 0, 1));
  });

  it('entries without names are ignored; a body without a models list throws and keeps the picture', () => {
    const n = bareNode();
    readPs(n, { models: [{ name: 'a' }, { size_vram: 1 }, null, { model: 3 }] }, NOW);
    assert.deepEqual([...n.resident.keys()], [C('a:latest')]);
    assert.throws(() => readPs(n, { error: 'boom' }, NOW + 1), /no "models" list/);
    assert.throws(() => readPs(n, null, NOW + 1), /no "models" list/);
    assert.deepEqual([...n.resident.keys()], [C('a:latest')]);
    assert.equal(n.psAt, NOW);
  });
});

// ---- one poll, against a fake dispatcher ----

type Answer = { status: number; body: unknown } | Error;

function fakeNode(answers: Record<string, Answer>, calls: string[]): Dispatcher {
  return {
    close: async () => {},
    request: async (o: { path: string; method: string; headers: Record<string, string> }) => {
      calls.push(`${o.method} ${o.path} host=${o.headers.host}`);
      const a = answers[o.path];
      if (!a) throw new Error(`unexpected ${o.path}`);
      if (a instanceof Error) throw a;
      return { statusCode: a.status, headers: {}, body: { json: async () => a.body, dump: async () => {} } };
    },
  } as unknown as Dispatcher;
}

function polled(answers: Record<string, Answer>, now: () => number) {
  const calls: string[] = [];
  const specs: UpstreamSpec[] = [{ name: 'n', url: 'http://n:11434', origin: 'http://n:11434', host: 'n:11434' }];
  const set = new UpstreamSet(specs, { timeouts: { connectMs: 1, headersMs: 1, bodyMs: 1 }, dispatcher: () => fakeNode(answers, calls) });
  const addresses: UpstreamAddress[] = [{ ...specs[0]!, hostname: 'n', port: 11434, tls: false, parallel: 2, maxLoaded: 2 }];
  const fleet = new Fleet(set, addresses, { queueMax: 10, queueWaitMs: 60_000, breakerFailures: 1, breakerOpenMs: 5000, now });
  const poller = new Poller(fleet, { psIntervalMs: 1000, tagsIntervalMs: 60_000, now });
  return { fleet, poller, calls, node: fleet.nodes[0]! };
}

describe('Poller.poll', () => {
  it('first poll: tags then ps, with the node\'s Host; the node is up; tags are not read again before their interval', async () => {
    let t = NOW;
    const { poller, calls, node } = polled({ '/api/tags': { status: 200, body: { models: [{ name: 'llama3' }] } }, '/api/ps': { status: 200, body: { models: [{ name: 'llama3' }] } } }, () => t);
    assert.equal(node.up, false);
    await poller.poll(node);
    assert.deepEqual(calls, ['GET /api/tags host=n:11434', 'GET /api/ps host=n:11434']);
    assert.equal(node.up, true);
    assert.ok(node.installed.has(LLAMA));
    assert.ok(node.resident.has(LLAMA));
    t += 30_000;
    await poller.poll(node);
    assert.deepEqual(calls.slice(2), ['GET /api/ps host=n:11434'], 'tags not due yet');
    await poller.refreshTags([node]);
    assert.deepEqual(calls.slice(3), ['GET /api/tags host=n:11434', 'GET /api/ps host=n:11434'], 'refreshTags forces them');
    t += 60_000;
    await poller.poll(node);
    assert.equal(calls[5], 'GET /api/tags host=n:11434', 'due again after tagsIntervalMs');
  });

  it('two failed polls in a row (a non-200, a body without models) mark the node down with the reason; the picture is kept', async () => {
    let t = NOW;
    const answers: Record<string, Answer> = { '/api/tags': { status: 200, body: { models: [{ name: 'llama3' }] } }, '/api/ps': { status: 200, body: { models: [] } } };
    const { poller, node } = polled(answers, () => t);
    await poller.poll(node);
    assert.equal(node.up, true);
    answers['/api/ps'] = { status: 500, body: null };
    t += 1000;
    await poller.poll(node);
    assert.equal(node.up, true, 'one slow or failed poll may be a busy moment');
    assert.match(node.lastError?.message ?? '', /\/api\/ps answered 500/);
    assert.ok(node.installed.has(LLAMA));
    answers['/api/ps'] = { status: 200, body: { oops: true } };
    await poller.poll(node);
    assert.equal(node.up, false);
    assert.match(node.lastError?.message ?? '', /models/);
    answers['/api/ps'] = new Error('connect ECONNREFUSED');
    await poller.poll(node);
    assert.equal(node.up, false);
    assert.match(node.lastError?.message ?? '', /ECONNREFUSED/);
  });

  it('a poll that reaches a node whose breaker opened on connect failures lets a trial go at once; not after a 503', async () => {
    let t = NOW;
    const { poller, node } = polled({ '/api/tags': { status: 200, body: { models: [] } }, '/api/ps': { status: 200, body: { models: [] } } }, () => t);
    node.breaker.failure(t, false, null); // threshold 1: open for 5 s
    t += 100;
    await poller.poll(node);
    assert.equal(node.breaker.allows(t), true);
    node.breaker.dispatched();
    node.breaker.failure(t, true, null); // the trial: 503, open 10 s
    t += 100;
    await poller.poll(node);
    assert.equal(node.breaker.allows(t), false);
  });
});
