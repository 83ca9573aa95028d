import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startStack, type Stack } from '../helpers/stack.js';
import { BASE_CONFIG, hit, openRaw, statuses, upstreamOf } from './support.js';

/**
 * Issue #23's findings, each with the exact request that showed it: Gatehouse must read every
 * request exactly as Ollama will, or refuse it. The differential suite (test/differential) checks
 * the same properties against Go itself over thousands of generated bodies; these pin the
 * findings down against a real gateway process.
 */

const CAP = 64;

describe('issue #23 findings: read every request as Ollama will', () => {
  let s: Stack;
  let key: string;
  const auth = () => ({ authorization: `Bearer ${key}`, 'content-type': 'application/json' });

  before(async () => {
    s = await startStack({ config: { ...BASE_CONFIG, clamps: { max_num_predict: CAP } }, emulator: { chunks: 20_000 } });
    ({ key } = await s.createKey('reader', ['--models', 'llama3', '--scopes', 'inference,models:read', '--tpm', '2000']));
  });
  after(() => s?.close());

  describe('multipart: a part whose headers end in a bare LF', () => {
    // Go's textproto accepts "\n" as a header line ending; a reader that splits on CRLFCRLF sees
    // the part's headers run into the next part, and authorized "llama3" while Go read
    // "secret-model" from the same bytes.
    const boundary = 'XyZ';
    const smuggled = Buffer.from(
      `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.wav"\r\nContent-Type: audio/wav\r\n\r\nRIFF\r\n` +
        `--${boundary}\r\nContent-Disposition: form-data; name="model"\n\nsecret-model\r\n` +
        `--${boundary}\r\nContent-Disposition: form-data; name="x"\r\n\r\n\r\nContent-Disposition: form-data; name="model"\r\n\r\nllama3\r\n` +
        `--${boundary}--\r\n`,
      'latin1',
    );

    it('finding 1: is refused with 400 and nothing reaches Ollama', async () => {
      s.emu.reset();
      const r = await hit(s.gw.url, 'POST', '/v1/audio/transcriptions', { headers: { authorization: `Bearer ${key}`, 'content-type': `multipart/form-data; boundary=${boundary}` }, body: smuggled });
      assert.equal(r.status, 400, r.body);
      assert.match(r.body, /CRLF/);
      assert.equal(upstreamOf(s.emu, r.id).length, 0);
    });

    it('finding 1: a plain form is forwarded as Gatehouse rebuilt it, with the model it checked', async () => {
      s.emu.reset();
      const audio = Buffer.from([0x52, 0x49, 0x46, 0x46, 0x0d, 0x0a, 0x2d, 0x2d, 0x58, 0x00, 0xff]);
      const form = Buffer.concat([
        Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="model"\r\n\r\nllama3\r\n--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="a b.wav"\r\nContent-Type: audio/wav\r\n\r\n`),
        audio,
        Buffer.from(`\r\n--${boundary}--\r\n`),
      ]);
      const r = await hit(s.gw.url, 'POST', '/v1/audio/transcriptions', { headers: { authorization: `Bearer ${key}`, 'content-type': `multipart/form-data; boundary="${boundary}"` }, body: form });
      const [up] = upstreamOf(s.emu, r.id);
      assert.ok(up, `forwarded (${r.status} ${r.body})`);
      const ct = String(up.headers['content-type']);
      const b = /boundary=(gatehouse-[0-9a-f]{32})$/.exec(ct)?.[1];
      assert.ok(b, ct);
      const expected = Buffer.concat([
        Buffer.from(`--${b}\r\nContent-Disposition: form-data; name="model"\r\n\r\nllama3\r\n--${b}\r\nContent-Disposition: form-data; name="file"; filename="a b.wav"\r\nContent-Type: audio/wav\r\n\r\n`),
        audio,
        Buffer.from(`\r\n--${b}--\r\n`),
      ]);
      assert.ok(up.body.equals(expected), up.body.toString('latin1'));
    });

    for (const [what, body, ct] of [
      ['a quoted-printable part', `--B\r\nContent-Disposition: form-data; name="model"\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nllama=33\r\n--B--\r\n`, 'multipart/form-data; boundary=B'],
      ['a folded header line', `--B\r\nContent-Disposition: form-data;\r\n name="model"\r\n\r\nllama3\r\n--B--\r\n`, 'multipart/form-data; boundary=B'],
      ['an RFC 2231 name', `--B\r\nContent-Disposition: form-data; name*=utf-8''model\r\n\r\nllama3\r\n--B--\r\n`, 'multipart/form-data; boundary=B'],
      ['two model parts', `--B\r\nContent-Disposition: form-data; name="model"\r\n\r\nllama3\r\n--B\r\nContent-Disposition: form-data; name="model"\r\n\r\nsecret-model\r\n--B--\r\n`, 'multipart/form-data; boundary=B'],
      ['a model sent as a file', `--B\r\nContent-Disposition: form-data; name="model"; filename="m"\r\n\r\nllama3\r\n--B--\r\n`, 'multipart/form-data; boundary=B'],
      ['a part without a name', `--B\r\nContent-Disposition: form-data\r\n\r\nx\r\n--B\r\nContent-Disposition: form-data; name="model"\r\n\r\nllama3\r\n--B--\r\n`, 'multipart/form-data; boundary=B'],
      ['a preamble', `junk\r\n--B\r\nContent-Disposition: form-data; name="model"\r\n\r\nllama3\r\n--B--\r\n`, 'multipart/form-data; boundary=B'],
      ['a boundary hidden in a quoted parameter', `--B\r\nContent-Disposition: form-data; name="model"\r\n\r\nllama3\r\n--B--\r\n`, 'multipart/form-data; charset="; boundary=B"; boundary=C'],
      ['a duplicated boundary parameter', `--B\r\nContent-Disposition: form-data; name="model"\r\n\r\nllama3\r\n--B--\r\n`, 'multipart/form-data; boundary=B; boundary=B'],
    ] as const) {
      it(`finding 1: ${what} is refused, nothing forwarded`, async () => {
        s.emu.reset();
        const r = await hit(s.gw.url, 'POST', '/v1/audio/transcriptions', { headers: { authorization: `Bearer ${key}`, 'content-type': ct }, body: Buffer.from(body, 'latin1') });
        assert.ok(r.status === 400 || r.status === 404, `${r.status} ${r.body}`);
        assert.equal(upstreamOf(s.emu, r.id).length, 0);
      });
    }
  });

  describe('finding 3: zero (and what Go truncates to zero) is "no limit" to Ollama', () => {
    const cases: Array<[string, string, Record<string, unknown>, (j: Record<string, unknown>) => unknown]> = [
      ['options.num_predict: 0', '/api/generate', { model: 'llama3', prompt: 'hi', stream: false, options: { num_predict: 0 } }, (j) => (j.options as Record<string, unknown>).num_predict],
      ['options.num_predict: 0.5', '/api/chat', { model: 'llama3', messages: [{ role: 'user', content: 'hi' }], stream: false, options: { num_predict: 0.5 } }, (j) => (j.options as Record<string, unknown>).num_predict],
      ['options.num_predict: -0', '/api/generate', { model: 'llama3', prompt: 'hi', stream: false, options: { num_predict: -0 } }, (j) => (j.options as Record<string, unknown>).num_predict],
      ['max_tokens: 0', '/v1/chat/completions', { model: 'llama3', messages: [{ role: 'user', content: 'hi' }], max_tokens: 0 }, (j) => j.max_tokens],
      ['max_completion_tokens only (Ollama ignores the field)', '/v1/chat/completions', { model: 'llama3', messages: [{ role: 'user', content: 'hi' }], max_completion_tokens: 5000 }, (j) => j.max_tokens],
      ['max_tokens: 0 (completions)', '/v1/completions', { model: 'llama3', prompt: 'hi', max_tokens: 0 }, (j) => j.max_tokens],
      ['max_output_tokens: 0', '/v1/responses', { model: 'llama3', input: 'hi', max_output_tokens: 0 }, (j) => j.max_output_tokens],
      ['Anthropic max_tokens: 0', '/v1/messages', { model: 'llama3', messages: [{ role: 'user', content: 'hi' }], max_tokens: 0 }, (j) => j.max_tokens],
    ];
    for (const [what, path, body, capOf] of cases) {
      it(`${what} is clamped to the cap, and Ollama generates no more than the cap`, async () => {
        s.emu.reset();
        const before = s.emu.tokensSent.completion;
        const r = await hit(s.gw.url, 'POST', path, { headers: auth(), body: JSON.stringify(body) });
        assert.equal(r.status, 200, r.body.slice(0, 300));
        const [up] = upstreamOf(s.emu, r.id);
        assert.ok(up);
        assert.equal(capOf(JSON.parse(up.body.toString('utf8')) as Record<string, unknown>), CAP);
        assert.ok(s.emu.tokensSent.completion - before <= CAP, `generated ${s.emu.tokensSent.completion - before} tokens`);
      });
    }
    it('max_completion_tokens below the cap is carried over to max_tokens (the field Ollama reads)', async () => {
      s.emu.reset();
      const r = await hit(s.gw.url, 'POST', '/v1/chat/completions', { headers: auth(), body: JSON.stringify({ model: 'llama3', messages: [{ role: 'user', content: 'hi' }], max_completion_tokens: 7 }) });
      const [up] = upstreamOf(s.emu, r.id);
      const j = JSON.parse(up!.body.toString('utf8')) as Record<string, unknown>;
      assert.equal(j.max_tokens, 7);
      assert.equal(j.max_completion_tokens, 7);
    });
  });

  it('a compressed body is refused (Gatehouse reads every body; Ollama would inflate zstd after the check)', async () => {
    s.emu.reset();
    const r = await hit(s.gw.url, 'POST', '/v1/responses', { headers: { ...auth(), 'content-encoding': 'zstd' }, body: JSON.stringify({ model: 'llama3', input: 'hi' }) });
    assert.equal(r.status, 415, r.body);
    assert.equal(upstreamOf(s.emu, r.id).length, 0);
  });

  it('a JSON body is forwarded with the fields Gatehouse checked rewritten and the rest byte for byte', async () => {
    s.emu.reset();
    const text = '{ "model" : "llama3",\n "prompt": "caf\\u00e9 \\"q\\"", "stream": false, "context": [1, 2 ,3], "format": {"type":"object","properties":{"A":{},"a":{}}}, "options": {"temperature": 0.5e0, "num_predict": 10} }';
    const r = await hit(s.gw.url, 'POST', '/api/generate', { headers: auth(), body: text });
    assert.equal(r.status, 200, r.body);
    const [up] = upstreamOf(s.emu, r.id);
    assert.equal(
      up!.body.toString('utf8'),
      '{"model":"llama3","prompt": "caf\\u00e9 \\"q\\"","stream":false,"context": [1, 2 ,3],"format": {"type":"object","properties":{"A":{},"a":{}}},"options":{"temperature":0.5,"num_predict":10}}',
    );
    assert.equal(up!.headers['content-type'], 'application/json');
  });

  it('a body that stops being JSON is refused before the rest of it has arrived', async () => {
    s.emu.reset();
    const c = await openRaw(s.gw.url);
    c.write(`POST /api/chat HTTP/1.1\r\nHost: ${new URL(s.gw.url).host}\r\nAuthorization: Bearer ${key}\r\nContent-Length: 10000000\r\n\r\n{"model":"llama3","messages":[} `);
    for (let i = 0; i < 100 && statuses(c.received()).length === 0; i++) await new Promise((res) => setTimeout(res, 20));
    assert.equal(statuses(c.received())[0], 400, c.received().slice(0, 300));
    c.sock.destroy();
    assert.equal(s.emu.requests.length, 0);
  });
});
