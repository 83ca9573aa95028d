import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ROUTES } from '../routes/table.js';
import { displayShortest, missingModelMessage, presetStreamHeaders } from './missing-model.js';

const route = (id: string) => ROUTES.find((r) => r.id === id)!;

describe('missingModelMessage: Ollama\'s text for a model it does not have, per handler', () => {
  it('GenerateHandler/ChatHandler and the /v1 routes on them, and DeleteHandler: the name as sent, single quotes', () => {
    for (const id of ['generate', 'chat', 'openai.chat', 'openai.completions', 'openai.responses', 'anthropic.messages', 'openai.transcriptions', 'delete']) {
      assert.equal(missingModelMessage(route(id), 'Llama3:8B', 'model'), "model 'Llama3:8B' not found", id);
    }
  });

  it('EmbedHandler/EmbeddingsHandler (handleScheduleError): %q and "try pulling it first"', () => {
    for (const id of ['embed', 'embeddings', 'openai.embeddings']) {
      assert.equal(missingModelMessage(route(id), 'nomic', 'model'), 'model "nomic" not found, try pulling it first', id);
    }
  });

  it('ShowHandler (and /v1/models/:model): the shortest display form', () => {
    assert.equal(missingModelMessage(route('show'), 'llama3', 'model'), "model 'llama3:latest' not found");
    assert.equal(missingModelMessage(route('openai.model'), 'qwen2.5:7b', null), "model 'qwen2.5:7b' not found");
  });

  it('CopyHandler: the source, %q; the destination is never reported missing by Ollama', () => {
    assert.equal(missingModelMessage(route('copy'), 'a', 'source'), 'model "a" not found');
    assert.equal(missingModelMessage(route('copy'), 'b', 'destination'), "model 'b' not found");
  });
});

describe('displayShortest (Name.DisplayShortest of ParseName)', () => {
  const cases: Array<[string, string]> = [
    ['llama3', 'llama3:latest'],
    ['llama3:8b', 'llama3:8b'],
    ['library/llama3', 'llama3:latest'],
    ['LIBRARY/Llama3:Q4', 'Llama3:Q4'],
    ['registry.ollama.ai/library/llama3:latest', 'llama3:latest'],
    ['Registry.Ollama.AI/me/model', 'me/model:latest'],
    ['me/model:v1', 'me/model:v1'],
    ['hf.co/org/repo:q4', 'hf.co/org/repo:q4'],
    ['localhost:5000/ns/m', 'localhost:5000/ns/m:latest'],
    ['llama3:local', 'llama3:latest'],
    ['llama3:8b:local', 'llama3:8b'],
  ];
  for (const [raw, want] of cases) it(`${raw} → ${want}`, () => assert.equal(displayShortest(raw), want));
});

describe('presetStreamHeaders', () => {
  it('only streamed Responses and Messages requests (their middlewares set headers before the handler)', () => {
    assert.equal(presetStreamHeaders(route('openai.responses'), true), true);
    assert.equal(presetStreamHeaders(route('anthropic.messages'), true), true);
    assert.equal(presetStreamHeaders(route('anthropic.messages'), false), false);
    assert.equal(presetStreamHeaders(route('openai.chat'), true), false);
  });
});
