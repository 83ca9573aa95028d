import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ManualClock } from '../../src/core/clock.js';
import { eventually, headerValue, principal, request } from './helpers.js';
import { post, postAndAbort, startInProc, type InProc } from './inproc.js';

/**
 * docs/threat-model.md G2/G4 end to end: the tokens a request is charged are the tokens Ollama reported in
 * the stream (NDJSON `eval_count`, SSE usage chunks, asked for by the client or injected by the
 * gateway), counted without buffering; aborted and failed streams are charged what was produced,
 * never zero; and a key with tpm=1000 is refused once 1000 streamed tokens are used. The gateway
 * runs in this process on a manual clock, so nothing refills while the test runs and the counts
 * are exact.
 */

const MSG = [{ role: 'user', content: 'please count every token of this answer' }];
const BIG = 1_000_000;

describe('token accounting from real streams (in-process gateway, manual clock)', () => {
  const clock = new ManualClock();
  let s: InProc;
  before(async () => {
    s = await startInProc(clock, {}, { chunks: 12 });
  });
  after(() => s.close());

  /** Tokens the limiter charged the key so far (no refill: the clock stands still). */
  const charged = async (id: string): Promise<number> => {
    const probe = await s.limiter.admit(request(principal(id, { tpm: BIG }), { tokens: 0 }));
    probe.release(null);
    return BIG - Number(headerValue(probe.headers, 'x-ratelimit-remaining-tokens'));
  };

  const complete: Array<{ name: string; path: string; body: Record<string, unknown>; check: RegExp }> = [
    { name: 'NDJSON /api/chat', path: '/api/chat', body: { model: 'llama3', messages: MSG }, check: /"done":true/ },
    { name: 'NDJSON /api/generate', path: '/api/generate', body: { model: 'llama3', prompt: 'count these words now' }, check: /"done":true/ },
    { name: 'SSE /v1/chat/completions with the client\'s include_usage', path: '/v1/chat/completions', body: { model: 'llama3', stream: true, stream_options: { include_usage: true }, messages: MSG }, check: /"usage":\{"prompt_tokens"/ },
    { name: 'SSE /v1/chat/completions without include_usage (injected, then stripped)', path: '/v1/chat/completions', body: { model: 'llama3', stream: true, messages: MSG }, check: /\[DONE\]/ },
    { name: 'SSE /v1/completions', path: '/v1/completions', body: { model: 'llama3', stream: true, prompt: 'once upon a time' }, check: /\[DONE\]/ },
    { name: 'SSE /v1/messages (Anthropic)', path: '/v1/messages', body: { model: 'llama3', stream: true, max_tokens: 100, messages: MSG }, check: /message_stop/ },
    { name: 'SSE /v1/responses', path: '/v1/responses', body: { model: 'llama3', stream: true, input: 'hello there' }, check: /response\.completed/ },
    { name: 'JSON /api/chat (not streamed)', path: '/api/chat', body: { model: 'llama3', stream: false, messages: MSG }, check: /"eval_count":12/ },
    { name: 'JSON /v1/embeddings', path: '/v1/embeddings', body: { model: 'nomic-embed-text', input: ['one two', 'three four five'] }, check: /"embedding"/ },
  ];

  for (const c of complete) {
    it(`${c.name}: charged exactly what Ollama reported`, async () => {
      const { id, key } = await s.createKey(c.name, { tpm: BIG });
      s.emu.reset();
      const r = await post(s.gw.url, c.path, key, c.body);
      assert.equal(r.status, 200, r.text.slice(0, 300));
      assert.match(r.text, c.check);
      assert.ok(r.headers.get('x-ratelimit-remaining-tokens'), 'a response under a token limit carries the token headers');
      if (c.name.includes('without include_usage')) assert.doesNotMatch(r.text, /"usage"/, 'the injected usage chunk is stripped again');
      const sent = s.emu.tokensSent.prompt + s.emu.tokensSent.completion;
      assert.ok(sent > 0);
      assert.equal(await charged(id), sent);
    });
  }

  it('a stream the client aborts is charged what was produced (estimated), never zero', async () => {
    const { id, key } = await s.createKey('aborted', { tpm: BIG });
    s.emu.reset();
    s.emu.fault({ chunks: 200, chunkDelayMs: 10 });
    const got = await postAndAbort(s.gw.url, '/api/chat', key, { model: 'llama3', messages: MSG }, 4);
    assert.ok(got.length >= 1);
    await eventually(() => s.emu.inFlight() === 0, 3000, 'the generation to stop upstream');
    await eventually(() => s.limiter.snapshot().inFlight === 0, 3000, 'the permit to be released');
    const n = await charged(id);
    assert.ok(n >= 4, `charged ${n}`);
    assert.ok(n < 200 + 100, 'and not the whole generation that never happened');
  });

  it('a stream that fails upstream mid-way is charged what was produced, never zero', async () => {
    const { id, key } = await s.createKey('failed', { tpm: BIG });
    for (const [path, body] of [
      ['/api/chat', { model: 'llama3', messages: MSG }],
      ['/v1/chat/completions', { model: 'llama3', stream: true, messages: MSG }],
    ] as const) {
      const before = await charged(id);
      s.emu.reset();
      s.emu.fault({ chunks: 50, midStreamErrorAfter: 5 });
      const r = await post(s.gw.url, path, key, body);
      assert.equal(r.status, 200);
      const n = (await charged(id)) - before;
      assert.ok(n >= 5, `${path}: charged ${n} for 5 chunks`);
    }
  });

  for (const [family, path, body, shape] of [
    ['NDJSON', '/api/chat', { model: 'llama3', messages: MSG, options: { num_predict: 12 } }, (t: string) => assert.equal(typeof JSON.parse(t).error, 'string')],
    ['SSE', '/v1/chat/completions', { model: 'llama3', stream: true, max_tokens: 12, messages: MSG }, (t: string) => assert.equal(JSON.parse(t).error.type, 'rate_limit_error')],
  ] as const) {
    it(`${family}: a key with tpm=1000 is refused once 1000 streamed tokens are used`, async () => {
      const { key } = await s.createKey(`tpm-${family}`, { tpm: 1000 });
      s.emu.reset();
      let ok = 0;
      let refusal: Awaited<ReturnType<typeof post>> | null = null;
      for (let i = 0; i < 200 && !refusal; i++) {
        const r = await post(s.gw.url, path, key, body);
        if (r.status === 200) ok++;
        else refusal = r;
      }
      assert.ok(refusal, 'the key must be refused eventually');
      assert.equal(refusal.status, 429);
      assert.equal(refusal.headers.get('x-gatehouse-error'), 'GW_ERR_TOKENS_EXHAUSTED');
      assert.ok(Number(refusal.headers.get('retry-after')) >= 1);
      assert.equal(refusal.headers.get('ratelimit-limit'), '1000');
      shape(refusal.text);
      const used = s.emu.tokensSent.prompt + s.emu.tokensSent.completion;
      const reservation = Math.ceil(Buffer.byteLength(JSON.stringify(body)) / 4) + 12;
      assert.ok(used <= 1000, `used ${used} of 1000 (${ok} requests): the limit holds`);
      assert.ok(used > 1000 - reservation, `used ${used}: refused only when the next reservation (${reservation}) no longer fits`);
      // A minute later the key works again.
      clock.advance(60_000);
      assert.equal((await post(s.gw.url, path, key, body)).status, 200);
    });
  }
});
