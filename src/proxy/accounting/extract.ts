import type { Accounting } from '../../routes/table.js';

/** Token counts read from one parsed object of a response, per accounting kind. */
export interface Counts {
  prompt?: number;
  completion?: number;
}

const n = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) && v >= 0 ? Math.floor(v) : undefined);
const obj = (v: unknown): Record<string, unknown> | undefined => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined);

/**
 * Counts from a native NDJSON line or non-streamed JSON object. `null` = this object carries no
 * final counts. Counts live only in the final `done: true` object (docs/ollama-api-notes.md §1.2).
 */
export function nativeCounts(kind: Accounting, o: Record<string, unknown>): Counts | null {
  switch (kind) {
    case 'ollama-generate':
    case 'ollama-chat':
      if (o.done !== true) return null;
      return { prompt: n(o.prompt_eval_count) ?? 0, completion: n(o.eval_count) ?? 0 };
    case 'ollama-embed':
      return { prompt: n(o.prompt_eval_count) ?? 0, completion: 0 };
    default:
      return null;
  }
}

/** Counts from an OpenAI/Anthropic JSON body or SSE `data:` payload (`event` = SSE event name). */
export function compatCounts(kind: Accounting, o: Record<string, unknown>, event: string | null): Counts | null {
  switch (kind) {
    case 'openai-chat':
    case 'openai-completions':
    case 'openai-embeddings': {
      const u = obj(o.usage);
      if (!u) return null;
      const prompt = n(u.prompt_tokens) ?? 0;
      const completion = n(u.completion_tokens) ?? 0;
      // /v1/completions with include_usage puts zeros in every chunk; only the real record counts.
      if (prompt === 0 && completion === 0 && kind === 'openai-completions') return null;
      return { prompt, completion };
    }
    case 'openai-responses': {
      if (event !== null) {
        if (event !== 'response.completed' && event !== 'response.failed' && event !== 'response.incomplete') return null;
        const u = obj(obj(o.response)?.usage);
        return u ? { prompt: n(u.input_tokens) ?? 0, completion: n(u.output_tokens) ?? 0 } : null;
      }
      const u = obj(o.usage);
      return u ? { prompt: n(u.input_tokens) ?? 0, completion: n(u.output_tokens) ?? 0 } : null;
    }
    case 'anthropic-messages': {
      if (event === 'message_start') {
        // An estimate by Ollama (anthropic.EstimateInputTokens); message_delta has the real one.
        const u = obj(obj(o.message)?.usage);
        return u ? { prompt: n(u.input_tokens) ?? 0 } : null;
      }
      if (event !== null && event !== 'message_delta') return null;
      const u = obj(o.usage);
      if (!u) return null;
      const c: Counts = { completion: n(u.output_tokens) ?? 0 };
      const p = n(u.input_tokens);
      if (p !== undefined) c.prompt = p;
      return c;
    }
    default:
      return null;
  }
}
