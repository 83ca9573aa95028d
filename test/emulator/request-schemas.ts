// The request structs Ollama binds bodies into, reduced to the fields the emulator looks at
// (api/types.go, openai/openai.go, openai/responses.go, anthropic/anthropic.go). Field names are
// the JSON tags; Go matches them case-insensitively (go-decode.ts).
import { S, type Spec } from './go-decode.js';

const options = S.map(S.any);
const keepAlive = S.ptr(S.any); // api.Duration: number (seconds) or Go duration string

const nativeMessage = S.struct('Message', {
  role: S.string,
  content: S.string,
  thinking: S.string,
  images: S.slice(S.string),
  tool_calls: S.raw,
  tool_name: S.string,
});

export interface NativeMessage {
  role?: string;
  content?: string;
}

export const GenerateRequest = S.struct('GenerateRequest', {
  model: S.string,
  prompt: S.string,
  suffix: S.string,
  system: S.string,
  template: S.string,
  context: S.slice(S.int),
  stream: S.ptr(S.bool),
  raw: S.bool,
  format: S.raw,
  keep_alive: keepAlive,
  images: S.slice(S.string),
  options,
  think: S.raw,
  truncate: S.ptr(S.bool),
  shift: S.ptr(S.bool),
  logprobs: S.bool,
  top_logprobs: S.int,
});

export interface GenerateBody {
  model?: string;
  prompt?: string;
  system?: string;
  template?: string;
  context?: number[];
  stream?: boolean;
  raw?: boolean;
  keep_alive?: unknown;
  options?: Record<string, unknown>;
  top_logprobs?: number;
}

export const ChatRequest = S.struct('ChatRequest', {
  model: S.string,
  messages: S.slice(nativeMessage),
  stream: S.ptr(S.bool),
  format: S.raw,
  keep_alive: keepAlive,
  tools: S.raw,
  options,
  think: S.raw,
  truncate: S.ptr(S.bool),
  shift: S.ptr(S.bool),
  logprobs: S.bool,
  top_logprobs: S.int,
});

export interface ChatBody {
  model?: string;
  messages?: NativeMessage[];
  stream?: boolean;
  keep_alive?: unknown;
  options?: Record<string, unknown>;
  top_logprobs?: number;
}

export const EmbedRequest = S.struct('EmbedRequest', {
  model: S.string,
  input: S.any,
  truncate: S.ptr(S.bool),
  dimensions: S.int,
  keep_alive: keepAlive,
  options,
});

export const EmbeddingRequest = S.struct('EmbeddingRequest', {
  model: S.string,
  prompt: S.string,
  keep_alive: keepAlive,
  options,
});

export const ShowRequest = S.struct('ShowRequest', {
  model: S.string,
  name: S.string,
  system: S.string,
  template: S.string,
  verbose: S.bool,
  options,
});

export const PullRequest = S.struct('PullRequest', {
  model: S.string,
  name: S.string,
  insecure: S.bool,
  username: S.string,
  password: S.string,
  stream: S.ptr(S.bool),
});

export const PushRequest = PullRequest;

export const CreateRequest = S.struct('CreateRequest', {
  model: S.string,
  name: S.string,
  from: S.string,
  files: S.map(S.string),
  adapters: S.map(S.string),
  draft_files: S.map(S.string),
  template: S.string,
  license: S.raw,
  system: S.string,
  parameters: S.map(S.any),
  messages: S.slice(nativeMessage),
  stream: S.ptr(S.bool),
  quantize: S.string,
  remote_host: S.string,
});

export const CopyRequest = S.struct('CopyRequest', { source: S.string, destination: S.string });
export const DeleteRequest = S.struct('DeleteRequest', { model: S.string, name: S.string });

export const WebSearchRequest = S.struct('WebSearchRequest', { query: S.string, max_results: S.int });
export const WebFetchRequest = S.struct('WebFetchRequest', { url: S.string });

// ---- OpenAI compatibility (middleware/openai.go): note `stream` is a plain bool there.

const streamOptions = S.ptr(S.struct('StreamOptions', { include_usage: S.bool }));

export const OpenAIChatRequest = S.struct('ChatCompletionRequest', {
  model: S.string,
  messages: S.slice(S.struct('Message', { role: S.string, content: S.any, name: S.string, tool_calls: S.raw })),
  stream: S.bool,
  stream_options: streamOptions,
  max_tokens: S.ptr(S.int),
  // No max_completion_tokens: Ollama's ChatCompletionRequest has no such field and ignores it.
  temperature: S.ptr(S.float),
  tools: S.raw,
  response_format: S.raw,
});

export interface OpenAIChatBody {
  model?: string;
  messages?: Array<{ role?: string; content?: unknown }>;
  stream?: boolean;
  stream_options?: { include_usage?: boolean };
  max_tokens?: number;
}

export const OpenAICompletionRequest = S.struct('CompletionRequest', {
  model: S.string,
  prompt: S.string,
  stream: S.bool,
  stream_options: streamOptions,
  max_tokens: S.ptr(S.int),
  suffix: S.string,
  temperature: S.ptr(S.float),
});

export const OpenAIEmbedRequest = S.struct('EmbedRequest', {
  model: S.string,
  input: S.any,
  encoding_format: S.string,
  dimensions: S.int,
});

export const ResponsesRequest = S.struct('ResponsesRequest', {
  model: S.string,
  input: S.any,
  instructions: S.string,
  stream: S.ptr(S.bool),
  max_output_tokens: S.ptr(S.int),
  tools: S.raw,
});

export const AnthropicMessagesRequest = S.struct('MessagesRequest', {
  model: S.string,
  max_tokens: S.int,
  messages: S.slice(S.struct('MessageParam', { role: S.string, content: S.any })),
  system: S.any,
  stream: S.bool,
  tools: S.raw,
});

export type { Spec };
