import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ModelAllowlist } from './model-allowlist.js';
import { isModelRef, parseModelRef } from './model-name.js';

const canon = (s: string) => {
  const r = parseModelRef(s);
  assert.ok(isModelRef(r), `${s}: ${JSON.stringify(r)}`);
  return r;
};

describe('model names are normalized like Ollama does', () => {
  it('fills in host, namespace and tag, case-insensitively', () => {
    for (const s of ['llama3', 'llama3:latest', 'LLaMA3', 'library/llama3', 'registry.ollama.ai/library/llama3:latest', 'REGISTRY.OLLAMA.AI/Library/Llama3:LATEST']) {
      assert.equal(canon(s).canonical, 'registry.ollama.ai/library/llama3:latest', s);
    }
    assert.equal(canon('hf.co/org/repo:q4').canonical, 'hf.co/org/repo:q4');
    assert.equal(canon('localhost:5000/ns/m:t').canonical, 'localhost:5000/ns/m:t');
  });

  it('recognises cloud models in every spelling and strips :local', () => {
    assert.equal(canon('gpt-oss:120b-cloud').cloud, true);
    assert.equal(canon('gpt-oss:cloud').cloud, true);
    assert.equal(canon('gpt-oss:120b:cloud').cloud, true);
    assert.equal(canon('llama3:local').cloud, false);
    assert.equal(canon('llama3:local').canonical, 'registry.ollama.ai/library/llama3:latest');
    assert.equal(isModelRef(parseModelRef('x-cloud:local')), true);
  });

  it('refuses names used only in attacks', () => {
    for (const s of ['http://evil/x', 'a@sha256:abc', '../../etc/passwd', 'a\\b', 'a b', 'a\nb', 'a%2fb', 'a/b/c/d', '', 'x'.repeat(400), 'ns//m', 'a:b:c:cloud:local']) {
      assert.equal(isModelRef(parseModelRef(s)), false, s);
    }
  });
});

describe('model allowlists', () => {
  const allows = (patterns: string[], name: string) => new ModelAllowlist(patterns).allows(canon(name).canonical);
  it('a bare name allows that model\'s latest tag only', () => {
    assert.equal(allows(['llama3'], 'llama3'), true);
    assert.equal(allows(['llama3'], 'registry.ollama.ai/library/llama3:latest'), true);
    assert.equal(allows(['llama3'], 'llama3:8b'), false);
    assert.equal(allows(['llama3'], 'llama3.1'), false);
  });
  it('tag and name globs', () => {
    assert.equal(allows(['llama3:*'], 'llama3:8b'), true);
    assert.equal(allows(['llama3:*'], 'llama3.1:8b'), false);
    assert.equal(allows(['llama3*'], 'llama3.1:8b'), true);
    assert.equal(allows(['hf.co/org/*'], 'hf.co/org/repo:q4'), true);
    assert.equal(allows(['hf.co/org/*'], 'hf.co/other/repo:q4'), false);
    assert.equal(allows(['QWEN2.5:*'], 'qwen2.5:7b'), true);
  });
  it('regex metacharacters in patterns are literal', () => {
    assert.equal(allows(['llama3.1'], 'llama3x1'), false);
  });
  it('null and * allow everything', () => {
    assert.equal(new ModelAllowlist(null).allowsAll, true);
    assert.equal(new ModelAllowlist(['mistral', '*']).allowsAll, true);
  });
});
