// The Go reader itself, on hand-written bodies whose Go reading is known: if these fail, the
// differential property test would be comparing Gatehouse against a wrong oracle.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { NAMED_CASES } from './generate.js';
import { GoReader, goReaderUnavailable, type GoAccepted, type GoReading, type GoRouteId } from './go-reader.js';

const skip = (await goReaderUnavailable()) ?? false;

const MAX_INT64 = '9223372036854775807';
const MIN_INT64 = '-9223372036854775808';

function accepted(r: GoReading): GoAccepted {
  assert.equal(r.ok, true, `Go refused: ${JSON.stringify(r)}`);
  return r as GoAccepted;
}

describe('Go reader: Ollama’s reading of request bodies, by Go itself', { skip }, () => {
  let go: GoReader;
  before(async () => {
    go = await GoReader.start();
  });
  after(async () => {
    await go?.close();
  });
  const read = (route: GoRouteId, body: string | Buffer, ct = 'application/json'): Promise<GoReading> => go.read(route, ct, body);

  describe('JSON binding (gin ShouldBindJSON = json.Decoder.Decode)', () => {
    it('matches keys case-insensitively and keeps the last match', async () => {
      assert.equal(accepted(await read('chat', '{"model":"llama3.2","messages":[],"MODEL":"secret-model"}')).models?.model, 'secret-model');
      assert.equal(accepted(await read('chat', '{"Model":"secret-model","model":"llama3.2"}')).models?.model, 'llama3.2');
      assert.equal(accepted(await read('generate', '{"model":"llama3.2","mod\\u0065l":"secret-model"}')).models?.model, 'secret-model');
    });

    it('folds U+017F to s and U+212A to k, as Go’s field matching does', async () => {
      const copy = accepted(await read('copy', '{"source":"llama3.2","\u017fource":"secret-model","destination":"x"}'));
      assert.deepEqual(copy.models, { source: 'secret-model', destination: 'x' });
      const ka = accepted(await read('generate', '{"model":"m","\u212aeep_alive":"1s"}'));
      assert.deepEqual(ka.keepAlive, { set: true, ns: '1000000000' });
    });

    it('leaves a string unchanged when a later duplicate is null', async () => {
      assert.equal(accepted(await read('chat', '{"model":"llama3.2","model":null}')).models?.model, 'llama3.2');
      assert.equal(accepted(await read('pull', '{"name":"llama3.2","NAME":null}')).models?.name, 'llama3.2');
    });

    it('reads only the first JSON value: trailing data is never looked at', async () => {
      assert.equal(accepted(await read('generate', '{"model":"llama3.2"}{"model":"secret-model"}')).models?.model, 'llama3.2');
      assert.equal(accepted(await read('generate', '{"model":"llama3.2"} garbage ]')).models?.model, 'llama3.2');
      assert.equal(accepted(await read('generate', ' \r\n\t{"model":"llama3.2"}')).models?.model, 'llama3.2');
    });

    it('refuses what Go cannot decode: a BOM, a type mismatch, an empty body', async () => {
      for (const body of ['\ufeff{"model":"m"}', '{"model":1}', '', '{"model":"m",}', '{"model":"m","stream":"true"}']) {
        const r = await read('generate', body);
        assert.equal(r.ok, false, body);
        assert.equal(r.ok === false && r.stage, 'decode', body);
      }
    });

    it('decodes a top-level null into an empty request without error', async () => {
      assert.deepEqual(accepted(await read('pull', 'null', '')).models, { model: '', name: '' });
    });
  });

  describe('options through (*api.Options).FromMap', () => {
    it('truncates num_predict toward zero: 0.5 → 0, -0.5 → 0, 8191.9 → 8191', async () => {
      for (const [v, want] of [['0.5', '0'], ['-0.5', '0'], ['8191.9', '8191'], ['1e2', '100'], ['-0', '0']] as const) {
        const r = accepted(await read('generate', `{"model":"m","options":{"num_predict":${v}}}`));
        assert.deepEqual(r.outputCap, { set: true, value: want }, v);
      }
    });

    it('converts 1e30 with int64(float64) as this architecture does', async () => {
      const meta = (await go.read('_meta' as GoRouteId, '', Buffer.alloc(0))) as unknown as { goarch: string };
      const r = accepted(await read('generate', '{"model":"m","options":{"num_predict":1e30,"num_ctx":-1e30}}'));
      if (meta.goarch === 'amd64') {
        assert.deepEqual(r.outputCap, { set: true, value: MIN_INT64 });
        assert.deepEqual(r.numCtx, { set: true, value: MIN_INT64 });
      } else if (meta.goarch === 'arm64') {
        assert.deepEqual(r.outputCap, { set: true, value: MAX_INT64 });
      } else {
        assert.match(r.outputCap?.value ?? '', /^-?\d+$/);
      }
    });

    it('skips nulls, ignores keys it does not know (exact spelling only), refuses wrong types', async () => {
      const r = accepted(await read('chat', '{"model":"m","options":{"num_predict":null,"NUM_PREDICT":5,"num_gpu":0,"use_mmap":false,"main_gpu":null}}'));
      assert.deepEqual(r.outputCap, { set: false, value: '0' });
      assert.deepEqual(r.runnerOptions, ['num_gpu', 'use_mmap']);
      for (const opts of ['{"num_predict":"100"}', '{"temperature":"hot"}', '{"stop":"x"}', '{"use_mmap":"true"}']) {
        const refused = await read('chat', `{"model":"m","options":${opts}}`);
        assert.equal(refused.ok === false && refused.stage, 'options', opts);
      }
    });

    it('merges two "options" objects into one map', async () => {
      const r = accepted(await read('generate', '{"model":"m","options":{"num_predict":64},"OPTIONS":{"num_ctx":2048}}'));
      assert.deepEqual([r.outputCap?.value, r.numCtx?.value], ['64', '2048']);
    });
  });

  describe('keep_alive (*api.Duration)', () => {
    it('reads numbers as seconds, negatives as forever, strings with time.ParseDuration', async () => {
      for (const [v, ns] of [['-1', MAX_INT64], ['"-1s"', MAX_INT64], ['0', '0'], ['"0"', '0'], ['"5m"', '300000000000'], ['"1h30m"', '5400000000000'], ['3600.5', '3600500000000']] as const) {
        assert.deepEqual(accepted(await read('chat', `{"model":"m","keep_alive":${v}}`)).keepAlive, { set: true, ns }, v);
      }
      assert.deepEqual(accepted(await read('chat', '{"model":"m","keep_alive":null}')).keepAlive, { set: false, ns: '0' });
      for (const v of ['"300"', 'true', '{}', '"5M"']) {
        const r = await read('embed', `{"model":"m","keep_alive":${v}}`);
        assert.equal(r.ok === false && r.stage, 'decode', v);
      }
    });
  });

  describe('OpenAI and Anthropic conversions', () => {
    it('ignores max_completion_tokens: Ollama has no such field', async () => {
      const none = accepted(await read('openai.chat', '{"model":"m","messages":[{"role":"user","content":"hi"}],"max_completion_tokens":5}'));
      assert.deepEqual(none.outputCap, { set: false, value: '0' });
      const both = accepted(await read('openai.chat', '{"model":"m","messages":[{"role":"user","content":"hi"}],"max_tokens":7,"max_completion_tokens":5}'));
      assert.deepEqual(both.outputCap, { set: true, value: '7' });
    });

    it('passes max_tokens through a JSON round trip: above 2^53 it becomes a float64 first', async () => {
      const r = accepted(await read('openai.completions', '{"model":"m","prompt":"x","max_tokens":9007199254740993}'));
      assert.deepEqual(r.outputCap, { set: true, value: '9007199254740992' });
      const frac = await read('openai.completions', '{"model":"m","prompt":"x","max_tokens":1.5}');
      assert.equal(frac.ok === false && frac.stage, 'decode');
    });

    it('reports stream and include_usage as Go holds them', async () => {
      const r = accepted(await read('openai.chat', '{"model":"m","messages":[{"role":"user","content":"hi"}],"stream":true,"stream_options":{"include_usage":true}}'));
      assert.deepEqual([r.stream, r.includeUsage], [true, true]);
      const n = accepted(await read('openai.completions', '{"model":"m","prompt":"x","stream_options":null}'));
      assert.deepEqual([n.stream, n.includeUsage], [false, null]);
    });

    it('counts images as the conversions hand them to the model', async () => {
      const png = 'data:image/png;base64,iVBORw0KGgo=';
      const oa = accepted(await read('openai.chat', JSON.stringify({ model: 'm', messages: [{ role: 'user', content: [{ type: 'text', text: 'x' }, { type: 'image_url', image_url: { url: png } }, { type: 'image_url', image_url: png }] }] })));
      assert.equal(oa.images, 2);
      const oaCase = await read('openai.chat', JSON.stringify({ model: 'm', messages: [{ role: 'user', content: [{ Type: 'image_url', image_url: { url: png } }] }] }));
      assert.equal(oaCase.ok === false && oaCase.stage, 'convert', 'content parts are maps: "Type" is not "type"');
      const resp = accepted(await read('openai.responses', JSON.stringify({ model: 'm', input: [{ role: 'user', content: [{ Type: 'input_image', image_url: png }, { type: 'input_image', file_id: 'f' }] }] })));
      assert.equal(resp.images, 1, 'Responses parts are structs: "Type" matches; a file_id image is skipped');
      const an = accepted(await read('anthropic.messages', JSON.stringify({ model: 'm', max_tokens: 9, messages: [{ role: 'user', content: [{ Type: 'image', source: { type: 'base64', data: 'iVBORw0KGgo=' } }, { type: 'Image' }] }] })));
      assert.equal(an.images, 1, 'block keys are struct fields; the type value is compared exactly');
      const native = accepted(await read('chat', '{"model":"m","messages":[{"role":"user","IMAGES":["iVBORw0KGgo=",null]},{"role":"user","images":[[1,2,3]]}]}'));
      assert.equal(native.images, 3);
    });

    it('reads the cloud passthrough’s exact "model" key apart from the struct’s', async () => {
      const r = accepted(await read('openai.chat', '{"model":"secret-model:cloud","messages":[{"role":"user","content":"hi"}],"Model":"llama3.2"}'));
      assert.equal(r.cloudPassthrough, 'secret-model:cloud');
      assert.equal(r.models?.model, 'secret-model:cloud');
      const local = accepted(await read('openai.chat', '{"Model":"secret-model:cloud","messages":[{"role":"user","content":"hi"}],"model":"llama3.2"}'));
      assert.equal(local.cloudPassthrough, null);
      assert.equal(local.models?.model, 'llama3.2');
    });

    it('refuses an Anthropic request without a positive max_tokens (a plain int)', async () => {
      for (const body of ['{"model":"m","messages":[{"role":"user","content":"x"}]}', '{"model":"m","max_tokens":0,"messages":[{"role":"user","content":"x"}]}']) {
        const r = await read('anthropic.messages', body);
        assert.equal(r.ok === false && r.stage, 'validate', body);
      }
      assert.deepEqual(accepted(await read('anthropic.messages', '{"model":"m","max_tokens":5,"messages":[{"role":"user","content":"x"}]}')).outputCap, { set: true, value: '5' });
    });

    it('counts embed inputs as the handlers interpret `input`', async () => {
      for (const [route, input, n] of [['embed', '""', 0], ['embed', '["a",""]', 2], ['embed', 'null', 0], ['openai.embeddings', '""', 1], ['openai.embeddings', '["a","b","c"]', 3]] as const) {
        assert.equal(accepted(await read(route, `{"model":"m","input":${input}}`)).embedInputs, n, `${route} ${input}`);
      }
      const tokens = await read('openai.embeddings', '{"model":"m","input":[1,2,3]}');
      assert.equal(tokens.ok === false && tokens.stage, 'validate');
    });
  });

  describe('multipart (ParseMultipartForm(25<<20) + FormValue)', () => {
    it('the known finding: a bare-LF header block makes Go read "secret-model"', async () => {
      const c = NAMED_CASES[0]!;
      assert.equal(c.routeId, 'openai.transcriptions');
      assert.ok(c.body.includes('name="model"\n\nsecret-model\r\n'), 'the part ends its headers with LF LF');
      const r = accepted(await read('openai.transcriptions', c.body, c.contentType));
      assert.equal(r.model, 'secret-model');
      assert.deepEqual(r.modelValues, ['secret-model', 'llama3.2']);
      assert.equal(r.hasFile, true);
    });

    it('decodes a quoted-printable part', async () => {
      const c = NAMED_CASES[1]!;
      const r = accepted(await read('openai.transcriptions', c.body, c.contentType));
      assert.equal(r.model, 'secret-model');
    });

    it('takes the boundary as mime.ParseMediaType reads it', async () => {
      const body = '--B\r\nContent-Disposition: form-data; name="model"\r\n\r\nllama3.2\r\n--B\r\nContent-Disposition: form-data; name="file"; filename="a.wav"\r\n\r\nRIFF\r\n--B--\r\n';
      for (const ct of ['multipart/form-data; boundary=B', 'multipart/form-data; boundary="B"', 'Multipart/Form-Data; BOUNDARY=B', 'multipart/form-data; charset="x; boundary=EVIL"; boundary=B', "multipart/form-data; boundary*=utf-8''B"]) {
        assert.equal(accepted(await read('openai.transcriptions', body, ct)).model, 'llama3.2', ct);
      }
      for (const ct of ['multipart/form-data; boundary=B; boundary=C', 'multipart/mixed; boundary=B', 'multipart/form-data', 'application/json']) {
        const r = await read('openai.transcriptions', body, ct);
        assert.equal(r.ok === false && r.stage, 'multipart', ct);
      }
    });

    it('applies the header rules of the Go that Ollama is built with (a lone CR, a control byte in a name)', async () => {
      const part = (h: string): string => `--B\r\n${h}\r\n\r\nllama3.2\r\n--B\r\nContent-Disposition: form-data; name="file"; filename="a.wav"\r\n\r\nRIFF\r\n--B--\r\n`;
      for (const h of ['Content-Disposition: form-data; name="model"\r', 'Content-Disposition: form-data; name="model"\r\nX-Bad\u0001: v']) {
        const r = await read('openai.transcriptions', part(h), 'multipart/form-data; boundary=B');
        assert.equal(r.ok === false && r.stage, 'multipart', JSON.stringify(h));
      }
      assert.equal(accepted(await read('openai.transcriptions', part('Content-Disposition: form-data; name="model"\r\nX-Spaced Name: v'), 'multipart/form-data; boundary=B')).model, 'llama3.2');
    });

    it('refuses a form without model, without a file part, or with an empty file', async () => {
      const withParts = (...p: string[]): string => `${p.map((x) => `--B\r\n${x}\r\n`).join('')}--B--\r\n`;
      const file = 'Content-Disposition: form-data; name="file"; filename="a.wav"\r\n\r\nRIFF';
      for (const body of [withParts(file), withParts('Content-Disposition: form-data; name="model"\r\n\r\nm'), withParts('Content-Disposition: form-data; name="model"\r\n\r\nm', 'Content-Disposition: form-data; name="file"; filename="a.wav"\r\n\r\n')]) {
        const r = await read('openai.transcriptions', body, 'multipart/form-data; boundary=B');
        assert.equal(r.ok === false && r.stage, 'validate', body);
      }
    });
  });

  describe('the bridge', () => {
    it('pipelines: many reads in flight, each answer matched to its own request', async () => {
      const names = Array.from({ length: 3000 }, (_, i) => `model-${i}`);
      const answers = await Promise.all(names.map((m, i) => read(i % 2 ? 'generate' : 'copy', i % 2 ? `{"model":"${m}"}` : `{"source":"${m}"}`)));
      answers.forEach((r, i) => assert.equal(i % 2 ? accepted(r).models?.model : accepted(r).models?.source, names[i]));
    });

    it('answers an unknown route id with a frame error, not a desynchronised stream', async () => {
      const [bad, good] = await Promise.all([go.read('nope' as GoRouteId, '', Buffer.from('{}')), read('delete', '{"name":"x"}')]);
      assert.equal(bad.ok === false && bad.stage, 'frame');
      assert.equal(accepted(good).models?.name, 'x');
    });
  });
});
