import type { RouteDef } from '../routes/table.js';

/**
 * What Ollama says about a model it does not have, route by route, so that a model outside a
 * key's allowlist is answered exactly as a missing one (issue #18 item 4). The texts are Ollama's
 * own (server/routes.go at v0.33.0-rc2); which name they quote differs by handler:
 *
 *   generate, chat, /v1/chat/completions, /v1/completions, /v1/responses, /v1/messages,
 *   /v1/audio/transcriptions (GenerateHandler/ChatHandler), delete (DeleteHandler)
 *       model '<name as sent>' not found
 *   embed, embeddings, /v1/embeddings (EmbedHandler/EmbeddingsHandler → handleScheduleError)
 *       model "<name as sent>" not found, try pulling it first
 *   show, /v1/models/:model (ShowHandler: getExistingName, then DisplayShortest)
 *       model '<shortest form: default host and namespace dropped, tag filled in>' not found
 *   copy, `source` (CopyHandler)
 *       model "<name as sent>" not found
 *
 * `%q` and JSON quoting agree here: a name that passed parseModelRef holds only
 * [A-Za-z0-9_.:/-]. Names in fields Ollama never reports as missing (copy's destination, the
 * target of pull, push and create) keep the native text.
 */
export function missingModelMessage(route: RouteDef, raw: string, field: string | null): string {
  switch (route.id) {
    case 'embed':
    case 'embeddings':
    case 'openai.embeddings':
      return `model "${raw}" not found, try pulling it first`;
    case 'show':
    case 'openai.model':
      return `model '${displayShortest(raw)}' not found`;
    case 'copy':
      if (field === 'source') return `model "${raw}" not found`;
      return `model '${raw}' not found`;
    default:
      return `model '${raw}' not found`;
  }
}

/**
 * Routes whose middleware sets `Cache-Control: no-cache` (and `Connection: keep-alive`) for a
 * streamed request before the handler runs, so that Ollama's not-found answer carries them too
 * (ResponsesMiddleware in middleware/openai.go, AnthropicMessagesMiddleware in
 * middleware/anthropic.go).
 */
export function presetStreamHeaders(route: RouteDef, stream: boolean): boolean {
  return stream && (route.id === 'openai.responses' || route.id === 'anthropic.messages');
}

const DEFAULT_HOST = 'registry.ollama.ai';
const DEFAULT_NAMESPACE = 'library';

/**
 * Name.DisplayShortest of a name as ParseName reads it (types/model/name.go): the host and
 * namespace are left out when they are the defaults (compared ignoring case), the tag defaults to
 * `latest`, the other parts keep the client's spelling. A `:local` suffix is not part of the name.
 * Ollama also gives each part the spelling of an installed model whose part matches ignoring case
 * (getExistingName); the gateway does not know the installed models, so a mixed-case name can
 * read differently from Ollama's (SECURITY.md, what a refused model reveals).
 */
export function displayShortest(raw: string): string {
  let s = /:local$/i.test(raw) ? raw.slice(0, -':local'.length) : raw;
  let tag = 'latest';
  if (s.lastIndexOf(':') > s.lastIndexOf('/')) {
    tag = s.slice(s.lastIndexOf(':') + 1) || tag;
    s = s.slice(0, s.lastIndexOf(':'));
  }
  const parts = s.split('/');
  const model = parts.pop()!;
  const namespace = parts.pop() || DEFAULT_NAMESPACE;
  const host = parts.pop() || DEFAULT_HOST;
  if (host.toLowerCase() !== DEFAULT_HOST) return `${host}/${namespace}/${model}:${tag}`;
  if (namespace.toLowerCase() !== DEFAULT_NAMESPACE) return `${namespace}/${model}:${tag}`;
  return `${model}:${tag}`;
}
