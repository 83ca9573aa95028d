import type { HttpMethod, Scope } from '../core/types.js';
import { anthropic, ollama, openai, type Accounting, type Dialect } from '../dialects/index.js';

/**
 * Every route Ollama serves (docs/ollama-api-notes.md §1.1) plus Gatehouse's own public
 * routes, in one table. Anything not listed here is answered 404/405 by Gatehouse and never
 * reaches Ollama: deny by default. Tests are generated from this table, so a route added here is
 * covered by the credential, scope and model-policy matrices automatically.
 */

/** How the request body is read: not at all, parsed as JSON, streamed raw, or multipart form. */
export type BodyKind = 'none' | 'json' | 'raw' | 'multipart';

/** How the response reports token usage (see proxy/accounting); defined with the dialects that read it. */
export type { Accounting };

/** Responses that list models and are filtered down to what the principal may use. */
export type ListFilter = 'tags' | 'ps' | 'openai-models';

/** Route families an operator must switch on in config before any key can use them. */
export type Gate = 'manage' | 'cloud';

/** Which kind of value a path parameter holds. */
export type ParamKind = 'model' | 'digest' | 'opaque';

export interface RouteDef {
  /** Stable id used in metrics, audit records and tests. */
  readonly id: string;
  readonly method: HttpMethod;
  /** Exact path; a trailing `:name` segment is a parameter (one segment, validated by kind). */
  readonly path: string;
  /** Scope required; `null` = public (credentials are ignored). */
  readonly scope: Scope | null;
  readonly body: BodyKind;
  /** The client API the route speaks: its error shape, output cap, usage and stream forms. */
  readonly dialect: Dialect;
  /** JSON body fields that name a model (Ollama reads them case-insensitively). */
  readonly modelFields: readonly string[];
  readonly param?: { readonly name: string; readonly kind: ParamKind };
  readonly gate?: Gate;
  readonly accounting: Accounting;
  readonly list?: ListFilter;
  /**
   * The method sent to Ollama when it is not the client's. `HEAD /api/tags` is answered from a
   * filtered `GET`: Ollama's own HEAD carries the Content-Length of the whole, unfiltered list.
   */
  readonly upstreamMethod?: HttpMethod;
  /**
   * Gatehouse answers this route itself (health probes; /metrics when metrics.listen is `main`;
   * `verify`: a reverse proxy's forward-auth check, server/stages/verify.ts; `admin`: the admin
   * API, whose rows are in admin/routes.ts, not here: server/stages/admin.ts; `console`: the web
   * console's files and sessions, server/console/handler.ts).
   */
  readonly local?: 'healthz' | 'readyz' | 'metrics' | 'verify' | 'admin' | 'console';
  /** Native routes stream unless `"stream": false`; OpenAI/Anthropic only with `"stream": true`. */
  readonly streamsByDefault?: boolean;
}

const r = (def: RouteDef): RouteDef => Object.freeze(def);
const none = { body: 'none', modelFields: [], accounting: 'none' } as const;

export const ROUTES: readonly RouteDef[] = Object.freeze([
  // Public: Ollama's heartbeat (the CLI signs HEAD / but the credential is ignored) and our probes.
  r({ id: 'root', method: 'GET', path: '/', scope: null, dialect: ollama, ...none }),
  r({ id: 'root.head', method: 'HEAD', path: '/', scope: null, dialect: ollama, ...none }),
  r({ id: 'healthz', method: 'GET', path: '/healthz', scope: null, dialect: ollama, local: 'healthz', ...none }),
  r({ id: 'healthz.head', method: 'HEAD', path: '/healthz', scope: null, dialect: ollama, local: 'healthz', ...none }),
  r({ id: 'readyz', method: 'GET', path: '/readyz', scope: null, dialect: ollama, local: 'readyz', ...none }),
  r({ id: 'readyz.head', method: 'HEAD', path: '/readyz', scope: null, dialect: ollama, local: 'readyz', ...none }),
  // Prometheus metrics, answered by Gatehouse and never forwarded. Exists only with
  // `metrics.listen: main`; otherwise the gateway answers 404 as for any unknown path.
  // Forward-auth: a reverse proxy asks whether the request its X-Forwarded-Method/-Uri headers
  // describe may pass, with that request's credentials. Answered by Gatehouse, never forwarded.
  r({ id: 'auth.verify', method: 'GET', path: '/auth/verify', scope: null, dialect: ollama, local: 'verify', ...none }),
  r({ id: 'metrics', method: 'GET', path: '/metrics', scope: 'metrics', dialect: ollama, local: 'metrics', ...none }),

  // models:read
  r({ id: 'version', method: 'GET', path: '/api/version', scope: 'models:read', dialect: ollama, ...none }),
  r({ id: 'version.head', method: 'HEAD', path: '/api/version', scope: 'models:read', dialect: ollama, ...none }),
  r({ id: 'status', method: 'GET', path: '/api/status', scope: 'models:read', dialect: ollama, ...none }),
  r({ id: 'tags', method: 'GET', path: '/api/tags', scope: 'models:read', dialect: ollama, ...none, list: 'tags' }),
  r({ id: 'tags.head', method: 'HEAD', path: '/api/tags', scope: 'models:read', dialect: ollama, ...none, list: 'tags', upstreamMethod: 'GET' }),
  r({ id: 'show', method: 'POST', path: '/api/show', scope: 'models:read', dialect: ollama, body: 'json', modelFields: ['model', 'name'], accounting: 'none' }),
  r({ id: 'ps', method: 'GET', path: '/api/ps', scope: 'models:read', dialect: ollama, ...none, list: 'ps' }),
  r({ id: 'model-recommendations', method: 'GET', path: '/api/experimental/model-recommendations', scope: 'models:read', dialect: ollama, ...none }),
  r({ id: 'openai.models', method: 'GET', path: '/v1/models', scope: 'models:read', dialect: openai, ...none, list: 'openai-models' }),
  r({ id: 'openai.model', method: 'GET', path: '/v1/models/:model', scope: 'models:read', dialect: openai, ...none, param: { name: 'model', kind: 'model' } }),

  // inference
  r({ id: 'generate', method: 'POST', path: '/api/generate', scope: 'inference', dialect: ollama, body: 'json', modelFields: ['model'], accounting: 'ollama-generate', streamsByDefault: true }),
  r({ id: 'chat', method: 'POST', path: '/api/chat', scope: 'inference', dialect: ollama, body: 'json', modelFields: ['model'], accounting: 'ollama-chat', streamsByDefault: true }),
  r({ id: 'embed', method: 'POST', path: '/api/embed', scope: 'inference', dialect: ollama, body: 'json', modelFields: ['model'], accounting: 'ollama-embed' }),
  r({ id: 'embeddings', method: 'POST', path: '/api/embeddings', scope: 'inference', dialect: ollama, body: 'json', modelFields: ['model'], accounting: 'ollama-embeddings' }),
  r({ id: 'openai.chat', method: 'POST', path: '/v1/chat/completions', scope: 'inference', dialect: openai, body: 'json', modelFields: ['model'], accounting: 'openai-chat' }),
  r({ id: 'openai.completions', method: 'POST', path: '/v1/completions', scope: 'inference', dialect: openai, body: 'json', modelFields: ['model'], accounting: 'openai-completions' }),
  r({ id: 'openai.embeddings', method: 'POST', path: '/v1/embeddings', scope: 'inference', dialect: openai, body: 'json', modelFields: ['model'], accounting: 'openai-embeddings' }),
  r({ id: 'openai.responses', method: 'POST', path: '/v1/responses', scope: 'inference', dialect: openai, body: 'json', modelFields: ['model'], accounting: 'openai-responses' }),
  r({ id: 'anthropic.messages', method: 'POST', path: '/v1/messages', scope: 'inference', dialect: anthropic, body: 'json', modelFields: ['model'], accounting: 'anthropic-messages' }),
  r({ id: 'openai.transcriptions', method: 'POST', path: '/v1/audio/transcriptions', scope: 'inference', dialect: openai, body: 'multipart', modelFields: ['model'], accounting: 'openai-transcription' }),

  // models:manage: off unless `routes.manage: true`, then still needs the scope.
  r({ id: 'pull', method: 'POST', path: '/api/pull', scope: 'models:manage', gate: 'manage', dialect: ollama, body: 'json', modelFields: ['model', 'name'], accounting: 'none', streamsByDefault: true }),
  r({ id: 'push', method: 'POST', path: '/api/push', scope: 'models:manage', gate: 'manage', dialect: ollama, body: 'json', modelFields: ['model', 'name'], accounting: 'none', streamsByDefault: true }),
  r({ id: 'create', method: 'POST', path: '/api/create', scope: 'models:manage', gate: 'manage', dialect: ollama, body: 'json', modelFields: ['model', 'name', 'from'], accounting: 'none', streamsByDefault: true }),
  r({ id: 'copy', method: 'POST', path: '/api/copy', scope: 'models:manage', gate: 'manage', dialect: ollama, body: 'json', modelFields: ['source', 'destination'], accounting: 'none' }),
  r({ id: 'delete', method: 'DELETE', path: '/api/delete', scope: 'models:manage', gate: 'manage', dialect: ollama, body: 'json', modelFields: ['model', 'name'], accounting: 'none' }),
  r({ id: 'blobs.head', method: 'HEAD', path: '/api/blobs/:digest', scope: 'models:manage', gate: 'manage', dialect: ollama, ...none, param: { name: 'digest', kind: 'digest' } }),
  r({ id: 'blobs.upload', method: 'POST', path: '/api/blobs/:digest', scope: 'models:manage', gate: 'manage', dialect: ollama, body: 'raw', modelFields: [], accounting: 'none', param: { name: 'digest', kind: 'digest' } }),

  // cloud: spends or exposes the server owner's ollama.com account. Off unless `routes.cloud: true`.
  r({ id: 'me', method: 'POST', path: '/api/me', scope: 'cloud', gate: 'cloud', dialect: ollama, ...none }),
  r({ id: 'signout', method: 'POST', path: '/api/signout', scope: 'cloud', gate: 'cloud', dialect: ollama, ...none }),
  r({ id: 'user.keys.delete', method: 'DELETE', path: '/api/user/keys/:key', scope: 'cloud', gate: 'cloud', dialect: ollama, ...none, param: { name: 'key', kind: 'opaque' } }),
  r({ id: 'web_search', method: 'POST', path: '/api/experimental/web_search', scope: 'cloud', gate: 'cloud', dialect: ollama, body: 'json', modelFields: [], accounting: 'none' }),
  r({ id: 'web_fetch', method: 'POST', path: '/api/experimental/web_fetch', scope: 'cloud', gate: 'cloud', dialect: ollama, body: 'json', modelFields: [], accounting: 'none' }),
]);
