import { ROUTES, type RouteDef } from '../../src/routes/table.js';
import { multipartBody } from '../emulator/test-support.js';

/**
 * A well-formed request for every route in the table, naming `model` wherever the route names
 * one, so suites generated from the table exercise each route the way a real client would.
 */

export interface SampleRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: string | Buffer;
}

export const DIGEST = `sha256:${'ab'.repeat(32)}`;

export function sampleRequest(route: RouteDef, model = 'llama3'): SampleRequest {
  const json = (o: unknown): SampleRequest => ({ method: route.method, path: route.path, headers: { 'content-type': 'application/json' }, body: JSON.stringify(o) });
  switch (route.id) {
    case 'show':
    case 'pull':
    case 'push':
    case 'delete':
      return json({ model, stream: false });
    case 'create':
      return json({ model: `${model}-copy`, from: model, stream: false });
    case 'copy':
      return json({ source: model, destination: `${model}-backup` });
    case 'generate':
      return json({ model, prompt: 'why is the sky blue?', stream: false });
    case 'chat':
    case 'openai.chat':
      return json({ model, messages: [{ role: 'user', content: 'hello' }], stream: false });
    case 'embed':
      return json({ model, input: ['hello'] });
    case 'embeddings':
      return json({ model, prompt: 'hello' });
    case 'openai.completions':
      return json({ model, prompt: 'once upon a time' });
    case 'openai.embeddings':
      return json({ model, input: 'hello' });
    case 'openai.responses':
      return json({ model, input: 'hello' });
    case 'anthropic.messages':
      return json({ model, max_tokens: 32, messages: [{ role: 'user', content: 'hello' }] });
    case 'openai.transcriptions': {
      const boundary = 'gatehouse-test-boundary';
      return {
        method: 'POST',
        path: route.path,
        headers: { 'content-type': `multipart/form-data; boundary=${boundary}` },
        body: multipartBody(boundary, [{ name: 'model', value: model }, { name: 'file', filename: 'a.wav', value: Buffer.from('RIFF0000WAVE') }]),
      };
    }
    case 'web_search':
      return json({ query: 'ollama', max_results: 1 });
    case 'web_fetch':
      return json({ url: 'https://ollama.com' });
    case 'openai.model':
      return { method: 'GET', path: `/v1/models/${model}:latest`, headers: {} };
    case 'blobs.head':
      return { method: 'HEAD', path: `/api/blobs/${DIGEST}`, headers: {} };
    case 'blobs.upload':
      return { method: 'POST', path: `/api/blobs/${DIGEST}`, headers: { 'content-type': 'application/octet-stream' }, body: Buffer.from('blob') };
    case 'user.keys.delete':
      return { method: 'DELETE', path: '/api/user/keys/AAAAC3NzaC1lZDI1NTE5', headers: {} };
    default:
      if (route.body !== 'none') throw new Error(`no sample request for route ${route.id}`);
      return { method: route.method, path: route.path, headers: {} };
  }
}

/** Routes a credential is needed for (everything except `/`, /healthz, /readyz). */
export const PROTECTED_ROUTES = ROUTES.filter((r) => r.scope !== null);

/** Routes whose request names a model (body field or path parameter). */
export function namesModel(route: RouteDef): boolean {
  return route.modelFields.length > 0 || route.param?.kind === 'model';
}
