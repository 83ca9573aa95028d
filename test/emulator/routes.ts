// The route table of doc §1.1, with exactly the registered methods: HEAD only where Ollama
// registers it (not on /api/ps, not on /v1/*).
import type { Route } from './router.js';
import { createHandler, copyHandler, deleteHandler, pullHandler, pushHandler } from './handlers/admin-models.js';
import { signoutHandler, webFetchHandler, webSearchHandler, whoamiHandler } from './handlers/account.js';
import { messagesHandler } from './handlers/anthropic-messages.js';
import { createBlobHandler, headBlobHandler } from './handlers/blobs.js';
import {
  modelRecommendationsHandler,
  psHandler,
  rootHandler,
  showHandler,
  statusHandler,
  tagsHandler,
  versionHandler,
} from './handlers/meta.js';
import { embedHandler, embeddingsHandler } from './handlers/native-embed.js';
import { chatHandler, generateHandler } from './handlers/native-generate.js';
import { chatCompletionsHandler, completionsHandler } from './handlers/openai-chat.js';
import { listModelsHandler, openaiEmbeddingsHandler, retrieveModelHandler, transcriptionsHandler } from './handlers/openai-misc.js';
import { responsesHandler } from './handlers/openai-responses.js';

export const ROUTES: Route[] = [
  // meta
  { pattern: '/', family: 'native', methods: { GET: rootHandler, HEAD: rootHandler } },
  { pattern: '/api/version', family: 'native', methods: { GET: versionHandler, HEAD: versionHandler } },
  { pattern: '/api/status', family: 'native', methods: { GET: statusHandler } },
  { pattern: '/api/tags', family: 'native', methods: { GET: tagsHandler, HEAD: tagsHandler } },
  { pattern: '/api/show', family: 'native', methods: { POST: showHandler } },
  { pattern: '/api/ps', family: 'native', methods: { GET: psHandler } },
  { pattern: '/api/experimental/model-recommendations', family: 'native', methods: { GET: modelRecommendationsHandler } },
  // inference
  { pattern: '/api/generate', family: 'native', methods: { POST: generateHandler } },
  { pattern: '/api/chat', family: 'native', methods: { POST: chatHandler } },
  { pattern: '/api/embed', family: 'native', methods: { POST: embedHandler } },
  { pattern: '/api/embeddings', family: 'native', methods: { POST: embeddingsHandler } },
  // OpenAI / Anthropic compatibility
  { pattern: '/v1/chat/completions', family: 'openai', methods: { POST: chatCompletionsHandler } },
  { pattern: '/v1/completions', family: 'openai', methods: { POST: completionsHandler } },
  { pattern: '/v1/embeddings', family: 'openai', methods: { POST: openaiEmbeddingsHandler } },
  { pattern: '/v1/models', family: 'openai', methods: { GET: listModelsHandler } },
  { pattern: '/v1/models/:model', family: 'openai', methods: { GET: retrieveModelHandler } },
  { pattern: '/v1/responses', family: 'openai', methods: { POST: responsesHandler } },
  { pattern: '/v1/audio/transcriptions', family: 'openai', methods: { POST: transcriptionsHandler } },
  { pattern: '/v1/messages', family: 'anthropic', methods: { POST: messagesHandler } },
  // admin
  { pattern: '/api/pull', family: 'native', methods: { POST: pullHandler } },
  { pattern: '/api/push', family: 'native', methods: { POST: pushHandler } },
  { pattern: '/api/create', family: 'native', methods: { POST: createHandler } },
  { pattern: '/api/copy', family: 'native', methods: { POST: copyHandler } },
  { pattern: '/api/delete', family: 'native', methods: { DELETE: deleteHandler } },
  { pattern: '/api/blobs/:digest', family: 'native', methods: { HEAD: headBlobHandler, POST: createBlobHandler }, bodyStreamedBy: 'POST' },
  // account / cloud
  { pattern: '/api/me', family: 'native', methods: { POST: whoamiHandler } },
  { pattern: '/api/signout', family: 'native', methods: { POST: signoutHandler } },
  { pattern: '/api/user/keys/:encodedKey', family: 'native', methods: { DELETE: signoutHandler } },
  { pattern: '/api/experimental/web_search', family: 'native', methods: { POST: webSearchHandler } },
  { pattern: '/api/experimental/web_fetch', family: 'native', methods: { POST: webFetchHandler } },
];
