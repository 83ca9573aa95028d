// The fake model: deterministic tokens, deterministic prompt counts and plausible metrics, so a
// test can predict exactly what the gateway should have counted.
import { createHash } from 'node:crypto';
import { tokenBudget, type Ctx } from './context.js';

const WORDS = ['Hello', ' from', ' the', ' Ollama', ' emulator', ',', ' token', ' by', ' token', '.'];

/** prompt_eval_count for a text: whitespace-separated words + 1 (never below 1). */
export function countPromptTokens(text: string): number {
  const words = text.split(/\s+/).filter((w) => w.length > 0).length;
  return words + 1;
}

export interface GenerationPlan {
  tokens: string[];
  doneReason: 'stop' | 'length';
  promptTokens: number;
}

/** What a request will produce: the emulator default (or fault) count, capped by num_predict. */
export function planGeneration(ctx: Ctx, promptText: string, limit: number | undefined): GenerationPlan {
  let n = tokenBudget(ctx);
  let doneReason: 'stop' | 'length' = 'stop';
  if (limit !== undefined && limit > 0 && limit < n) {
    n = limit;
    doneReason = 'length';
  }
  const tokens = Array.from({ length: n }, (_, i) => WORDS[i % WORDS.length]!);
  return { tokens, doneReason, promptTokens: countPromptTokens(promptText) };
}

/**
 * api.Metrics for the final chunk, in nanoseconds; `loadNs` is the load this request waited for
 * (fleet mode), else 1 ms as for a resident model. Every field is `omitempty` in Go, so zero values
 * (for instance eval_count when nothing was generated) are left out.
 */
export function metrics(promptTokens: number, evalTokens: number, loadNs = 1_000_000): Record<string, number> {
  const load = loadNs;
  const promptDur = 100_000 * promptTokens;
  const evalDur = 200_000 * evalTokens;
  const all: Record<string, number> = {
    total_duration: load + promptDur + evalDur + 500_000,
    load_duration: load,
    prompt_eval_count: promptTokens,
    prompt_eval_duration: promptDur,
    eval_count: evalTokens,
    eval_duration: evalDur,
  };
  return Object.fromEntries(Object.entries(all).filter(([, v]) => v !== 0));
}

/** Token ids for /api/generate's `context`: one per prompt token plus one per generated token. */
export function contextIds(promptTokens: number, evalTokens: number): number[] {
  return Array.from({ length: promptTokens + evalTokens }, (_, i) => 1000 + i);
}

/** A deterministic unit vector derived from the text. */
export function embeddingFor(text: string, dims: number): number[] {
  const blocks: Buffer[] = [];
  for (let k = 0; blocks.length * 32 < dims * 2; k++) blocks.push(createHash('sha256').update(`${k}:${text}`).digest());
  const bytes = Buffer.concat(blocks);
  const raw = Array.from({ length: dims }, (_, i) => bytes.readInt16BE(i * 2) / 32768);
  const norm = Math.sqrt(raw.reduce((s, x) => s + x * x, 0)) || 1;
  return raw.map((x) => Number((x / norm).toFixed(6)));
}

export const EMBEDDING_DIMS = 16;

export function nowIso(): string {
  return new Date().toISOString();
}

export function unixSeconds(): number {
  return Math.floor(Date.now() / 1000);
}
