import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import { Ollama } from 'ollama';
import OpenAI from 'openai';
import { send } from '../helpers/http.js';
import { settle, startStack, type Stack } from '../helpers/stack.js';

/**
 * Issue #18 item 3: a stream that breaks mid-way is an error in every client. The gateway runs as
 * its own process (the compiled CLI); the real SDKs (openai, @anthropic-ai/sdk, ollama) read its
 * answers in this process. Two ways Ollama fails after a stream has started, both from the
 * emulator's fault injection:
 *   - the socket dies (`destroyAfter`): Ollama crashed or the network broke;
 *   - the stream just stops (`midStreamErrorAfter`): what Ollama's /v1 middlewares do when the
 *     model fails mid-generation (they swallow the error and end without [DONE]/message_stop).
 * Before this change both reached the OpenAI SDK as a normal end (finish_reason undefined).
 */

const FAULTS = [
  ['the socket dies', { destroyAfter: 2 }],
  ['the stream stops without its final event', { midStreamErrorAfter: 2 }],
] as const;

const INCOMPLETE = /the answer is incomplete/;
const MSG = [{ role: 'user' as const, content: 'hi' }];

describe('issue #18 item 3: a stream that breaks mid-way raises in every client', () => {
  let s: Stack;
  let key: string;
  let keyId: string;
  let openai: OpenAI;
  let anthropic: Anthropic;
  let ollama: Ollama;

  before(async () => {
    s = await startStack({ emulator: { chunks: 6 } });
    // Concurrency 1: every broken stream must give its permit back, or the next test would wait.
    ({ key, id: keyId } = await s.createKey('broken', ['--concurrency', '1', '--tpm', '1000000']));
    openai = new OpenAI({ baseURL: `${s.gw.url}/v1`, apiKey: key, maxRetries: 0 });
    anthropic = new Anthropic({ baseURL: s.gw.url, apiKey: key, maxRetries: 0 });
    ollama = new Ollama({ host: s.gw.url, headers: { Authorization: `Bearer ${key}` } });
  });
  after(() => s.close());

  /** Runs `consume` with the fault armed; returns what the client read before it threw. */
  async function broken(fault: (typeof FAULTS)[number][1], consume: (seen: string[]) => Promise<void>): Promise<{ err: unknown; seen: string[] }> {
    s.emu.reset();
    s.emu.fault(fault);
    const seen: string[] = [];
    try {
      await consume(seen);
    } catch (err) {
      return { err, seen };
    }
    assert.fail(`the client finished normally after reading ${JSON.stringify(seen)}`);
  }

  for (const [how, fault] of FAULTS) {
    describe(`when ${how}`, () => {
      for (const includeUsage of [false, true]) {
        it(`openai SDK, chat.completions${includeUsage ? ' (the client asked for usage)' : ''}: throws APIError with the gateway's message`, async () => {
          const { err, seen } = await broken(fault, async (seen) => {
            const stream = await openai.chat.completions.create({ model: 'llama3', messages: MSG, stream: true, ...(includeUsage ? { stream_options: { include_usage: true } } : {}) });
            for await (const c of stream) seen.push(c.choices[0]?.delta.content ?? '');
          });
          assert.ok(err instanceof OpenAI.APIError, String(err));
          assert.match(err.message, INCOMPLETE);
          assert.equal(err.code, 'GW_ERR_UPSTREAM_STREAM_BROKEN');
          assert.ok(seen.length >= 1, 'the chunks before the break were delivered');
        });
      }

      it('openai SDK, completions: throws APIError', async () => {
        const { err } = await broken(fault, async (seen) => {
          for await (const c of await openai.completions.create({ model: 'llama3', prompt: 'x', stream: true })) seen.push(c.choices[0]?.text ?? '');
        });
        assert.ok(err instanceof OpenAI.APIError, String(err));
        assert.match(err.message, INCOMPLETE);
      });

      it('openai SDK, responses (create with stream: true): throws APIError', async () => {
        const { err, seen } = await broken(fault, async (seen) => {
          for await (const e of await openai.responses.create({ model: 'llama3', input: 'x', stream: true })) seen.push(e.type);
        });
        assert.ok(err instanceof OpenAI.APIError, String(err));
        assert.match(err.message, INCOMPLETE);
        assert.ok(!seen.includes('response.completed'));
      });

      it('openai SDK, responses.stream() helper: finalResponse() rejects', async () => {
        const { err } = await broken(fault, async () => {
          await openai.responses.stream({ model: 'llama3', input: 'x' }).finalResponse();
        });
        assert.ok(err instanceof OpenAI.APIError, String(err));
        assert.match(err.message, INCOMPLETE);
      });

      it('Anthropic SDK, messages.create with stream: true: throws APIError from `event: error`', async () => {
        const { err, seen } = await broken(fault, async (seen) => {
          for await (const e of await anthropic.messages.create({ model: 'llama3', max_tokens: 50, messages: MSG, stream: true })) seen.push(e.type);
        });
        assert.ok(err instanceof Anthropic.APIError, String(err));
        assert.match(err.message, INCOMPLETE);
        assert.ok(seen.includes('message_start') && !seen.includes('message_stop'), seen.join(','));
      });

      it('Anthropic SDK, messages.stream() helper: finalMessage() rejects', async () => {
        const { err } = await broken(fault, async () => {
          await anthropic.messages.stream({ model: 'llama3', max_tokens: 50, messages: MSG }).finalMessage();
        });
        assert.ok(err instanceof Anthropic.APIError, String(err));
        assert.match(err.message, INCOMPLETE);
      });

      it('ollama-js, native NDJSON chat: throws on the error line (unchanged)', async () => {
        const { err } = await broken(fault, async (seen) => {
          for await (const part of await ollama.chat({ model: 'llama3', messages: MSG, stream: true })) seen.push(part.message.content);
        });
        assert.ok(err instanceof Error, String(err));
        // The socket case carries the gateway's text; the other is Ollama's own in-band line.
        assert.match(err.message, 'destroyAfter' in fault ? /connection to Ollama broke/ : /emulated upstream failure/);
      });
    });
  }

  it('the in-stream error events have the shapes each SDK family documents', async () => {
    const post = async (path: string, body: unknown): Promise<string> => {
      s.emu.reset();
      s.emu.fault({ destroyAfter: 2 });
      const r = await send(s.gw.url, 'POST', path, { headers: { authorization: `Bearer ${key}` }, body: JSON.stringify(body) });
      assert.equal(r.status, 200);
      return r.body;
    };
    const lastEvent = (text: string): { event: string | null; data: Record<string, unknown> } => {
      const frames = text.split('\n\n').filter((f) => f.trim() !== '');
      const lines = frames.at(-1)!.split('\n');
      const event = lines.find((l) => l.startsWith('event: '))?.slice(7) ?? null;
      return { event, data: JSON.parse(lines.find((l) => l.startsWith('data: '))!.slice(6)) as Record<string, unknown> };
    };

    const chat = await post('/v1/chat/completions', { model: 'llama3', stream: true, messages: MSG });
    assert.doesNotMatch(chat, /\[DONE\]/);
    const c = lastEvent(chat);
    assert.equal(c.event, null);
    assert.deepEqual(Object.keys(c.data), ['error']);
    assert.deepEqual(Object.keys(c.data.error as object), ['message', 'type', 'param', 'code']);

    const resp = await post('/v1/responses', { model: 'llama3', stream: true, input: 'x' });
    const r = lastEvent(resp);
    assert.equal(r.event, 'error');
    assert.equal(r.data.type, 'error');
    assert.equal(typeof r.data.message, 'string');
    assert.equal(r.data.sequence_number, 2, 'the next sequence number after the two events sent');
    assert.equal((r.data.error as Record<string, unknown>).message, r.data.message);

    const msg = await post('/v1/messages', { model: 'llama3', max_tokens: 50, stream: true, messages: MSG });
    const m = lastEvent(msg);
    assert.equal(m.event, 'error');
    assert.deepEqual(m.data, { type: 'error', error: { type: 'api_error', message: (m.data.error as { message: string }).message } });
    assert.doesNotMatch(msg, /message_stop/);
  });

  it('usage is settled and the audit says what broke; the permit came back (concurrency 1)', async () => {
    s.emu.reset();
    // A full stream still works after every broken one above (a permit leak would queue it forever).
    let text = '';
    for await (const c of await openai.chat.completions.create({ model: 'llama3', messages: MSG, stream: true })) text += c.choices[0]?.delta.content ?? '';
    assert.ok(text.length > 0);
    await settle(400);
    const out = s.cli(['audit', '--json', '--key', keyId, '--limit', '1000']);
    assert.equal(out.code, 0, out.stderr);
    const records = out.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    const sse = records.filter((r) => r.route === 'openai.chat' && r.upstream_error !== null);
    assert.ok(sse.length >= 4, `broken chat streams in the audit: ${sse.length}`);
    for (const r of sse) {
      assert.equal(r.status, 200);
      assert.equal(r.tokens_estimated, true);
      assert.ok((r.completion_tokens as number) >= 1, 'charged what was produced, never zero');
    }
    assert.ok(sse.some((r) => r.reason === 'GW_ERR_UPSTREAM_RESET'), 'the socket case is recorded as a reset');
    assert.ok(sse.some((r) => r.reason === null && /final event/.test(String(r.upstream_error))), 'the stopped stream is recorded with its cause');
  });
});
