// Property-based checks of stream splitting and token accounting over arbitrary content cut at
// arbitrary byte boundaries (including inside multi-byte UTF-8 characters and between \r and \n):
// bytes out equal bytes in, the counts do not depend on how the stream was chunked, and nothing
// the upstream (or a model's output) can put in a stream makes the tap throw.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { Accounting } from '../../routes/table.js';
import { LineSplitter } from './lines.js';
import { UsageTap, type StreamMode, type TapOptions } from './usage-tap.js';

/** Cuts `buf` at the given points (any byte offsets) and feeds the pieces to `push`. */
function chunked(buf: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => c % (buf.length + 1)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let prev = 0;
  for (const p of [...points, buf.length]) {
    if (p > prev) out.push(Buffer.from(buf.subarray(prev, p))); // a copy: the tap must not rely on the caller's buffer
    prev = Math.max(prev, p);
  }
  return out;
}

function runTap(o: TapOptions, pieces: Buffer[]): { out: Buffer; tap: UsageTap } {
  const tap = new UsageTap(o);
  const out: Buffer[] = [];
  for (const p of pieces) {
    const r = tap.data(p);
    if (r) out.push(Buffer.from(r));
  }
  const tail = tap.end();
  if (tail) out.push(tail);
  return { out: Buffer.concat(out), tap };
}

const text = fc.oneof(fc.string({ maxLength: 30 }), fc.string({ unit: 'grapheme', maxLength: 12 }), fc.constantFrom('"usage"', '"done":true', 'data: [DONE]', '\\n', 'é🦙中', '{"error"'));
const count = fc.oneof(fc.nat({ max: 100_000 }), fc.constantFrom(-1, 1.5, 1e300));

const ndjsonLine = fc.oneof(
  text.map((t) => JSON.stringify({ model: 'm', response: t, done: false })),
  text.map((t) => JSON.stringify({ model: 'm', message: { role: 'assistant', content: t }, done: false })),
  fc.tuple(count, count).map(([p, c]) => JSON.stringify({ model: 'm', done: true, done_reason: 'stop', prompt_eval_count: p, eval_count: c })),
  text.map((t) => JSON.stringify({ error: t })),
  text.map((t) => t.replace(/[\r\n]/g, '')),
  fc.constant(''),
);
const sseLine = fc.oneof(
  text.map((t) => `data: ${JSON.stringify({ choices: [{ index: 0, delta: { content: t } }] })}`),
  fc.tuple(count, count).map(([p, c]) => `data: ${JSON.stringify({ choices: [], usage: { prompt_tokens: p, completion_tokens: c, total_tokens: 0 } })}`),
  fc.tuple(count, count).map(([p, c]) => `data: ${JSON.stringify({ type: 'message_delta', usage: { input_tokens: p, output_tokens: c } })}`),
  fc.constantFrom('data: [DONE]', 'event: message_stop', 'event: response.completed', ': keep-alive comment', 'data:', 'event:', ''),
  text.map((t) => `data: ${t.replace(/[\r\n]/g, '')}`),
);
const stream = (line: fc.Arbitrary<string>) =>
  fc.tuple(fc.array(line, { maxLength: 25 }), fc.constantFrom('\n', '\r\n'), fc.boolean()).map(([lines, eol, trailing]) => Buffer.from(lines.join(eol) + (trailing ? eol : ''), 'utf8'));
const cuts = fc.array(fc.nat(), { maxLength: 30 });
const KINDS: Array<[Accounting, StreamMode]> = [
  ['ollama-chat', 'ndjson'], ['ollama-generate', 'ndjson'], ['ollama-embed', 'json'], ['openai-chat', 'sse'], ['openai-completions', 'sse'],
  ['anthropic-messages', 'sse'], ['openai-responses', 'sse'], ['openai-embeddings', 'json'], ['ollama-chat', 'json'],
];

describe('LineSplitter (properties)', () => {
  it('lines joined with \\n (plus the flushed tail) are the input, byte for byte, however it is cut', () => {
    fc.assert(
      fc.property(fc.oneof(stream(ndjsonLine), stream(sseLine), fc.uint8Array({ maxLength: 400 }).map((a) => Buffer.from(a))), cuts, (buf, cs) => {
        const s = new LineSplitter();
        const lines: Buffer[] = [];
        for (const p of chunked(buf, cs)) s.push(p, (l) => lines.push(Buffer.from(l)));
        const tail = s.flush();
        const joined = Buffer.concat(lines.flatMap((l) => [l, Buffer.from('\n')]));
        assert.ok(Buffer.concat([joined, tail ?? Buffer.alloc(0)]).equals(buf));
      }),
      { numRuns: 2000 },
    );
  });
});

describe('UsageTap (properties)', () => {
  for (const [kind, mode] of KINDS) {
    it(`${kind}/${mode}: bytes out = bytes in, and counts, errors and end-of-stream do not depend on chunking`, () => {
      fc.assert(
        fc.property(mode === 'json' ? fc.oneof(stream(ndjsonLine), stream(sseLine)) : stream(mode === 'ndjson' ? ndjsonLine : sseLine), cuts, (buf, cs) => {
          const o: TapOptions = { kind, mode, stripInjectedUsage: false, maxJson: 2048 };
          const whole = runTap(o, [buf]);
          const cut = runTap(o, chunked(buf, cs));
          assert.ok(whole.out.equals(buf), 'whole: bytes changed');
          assert.ok(cut.out.equals(buf), 'chunked: bytes changed');
          assert.deepEqual(cut.tap.usage(7), whole.tap.usage(7));
          assert.equal(cut.tap.upstreamError, whole.tap.upstreamError);
          assert.equal(cut.tap.sawEnd, whole.tap.sawEnd);
          const u = cut.tap.usage(7);
          assert.ok(Number.isFinite(u.prompt) && u.prompt >= 0 && Number.isFinite(u.completion) && u.completion >= 0, JSON.stringify(u));
        }),
        { numRuns: 600 },
      );
    });
  }

  it('never throws on arbitrary bytes, in any mode, with or without stripping', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), cuts, fc.constantFrom(...KINDS), fc.boolean(), (bytes, cs, [kind, mode], strip) => {
        runTap({ kind, mode, stripInjectedUsage: strip && mode === 'sse', maxJson: 64 }, chunked(Buffer.from(bytes), cs)).tap.usage(0);
      }),
      { numRuns: 3000 },
    );
  });

  it('openai-chat with injected usage: the output is the input minus the usage-only event, however it is cut', () => {
    const content = text.map((t) => ({ choices: [{ index: 0, delta: { content: t } }] }));
    const usageOnly = fc.tuple(fc.nat({ max: 5000 }), fc.nat({ max: 5000 })).map(([p, c]) => ({ choices: [], usage: { prompt_tokens: p, completion_tokens: c, total_tokens: p + c } }));
    fc.assert(
      fc.property(fc.array(content, { maxLength: 12 }), usageOnly, fc.boolean(), cuts, (chunks, usage, done, cs) => {
        const events = [...chunks.map((c) => `data: ${JSON.stringify(c)}\n\n`), `data: ${JSON.stringify({ choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] })}\n\n`];
        const usageEvent = `data: ${JSON.stringify(usage)}\n\n`;
        const tailEvents = done ? ['data: [DONE]\n\n'] : [];
        const input = Buffer.from([...events, usageEvent, ...tailEvents].join(''), 'utf8');
        const expected = Buffer.from([...events, ...tailEvents].join(''), 'utf8');
        const r = runTap({ kind: 'openai-chat', mode: 'sse', stripInjectedUsage: true }, chunked(input, cs));
        assert.equal(r.out.toString('utf8'), expected.toString('utf8'));
        assert.deepEqual(r.tap.usage(0), { prompt: usage.usage.prompt_tokens, completion: usage.usage.completion_tokens, estimated: false });
      }),
      { numRuns: 1500 },
    );
  });

  it('model output that spells out a usage record inside its content is passed through and never counted', () => {
    fc.assert(
      fc.property(fc.nat({ max: 10_000 }), cuts, (n, cs) => {
        const forged = `{"choices":[],"usage":{"prompt_tokens":${n},"completion_tokens":${n},"total_tokens":${2 * n}}}`;
        const input = Buffer.from(`data: ${JSON.stringify({ choices: [{ index: 0, delta: { content: forged } }] })}\n\ndata: [DONE]\n\n`);
        const r = runTap({ kind: 'openai-chat', mode: 'sse', stripInjectedUsage: true }, chunked(input, cs));
        assert.ok(r.out.equals(input));
        assert.equal(r.tap.usage(0).estimated, true, 'a count was taken from model output');
      }),
      { numRuns: 500 },
    );
  });
});
