import { refuse, type GatewayError } from '../core/errors.js';
import type { Config } from '../config/schema.js';
import type { Principal } from '../core/types.js';
import { formatDuration } from '../config/units.js';
import type { RouteDef } from '../routes/table.js';
import { parseKeepAlive } from './go-duration.js';
import type { Json, JsonObject } from './json-body.js';

/**
 * Resource clamps (threats.md D4, ollama-api.md §2): caps on context size, output length,
 * keep_alive, images and embedding batch size, and removal of runner options that force model
 * reloads. Applied to the parsed body in place; also yields the token reservation for the limiter
 * (prompt estimate + the output cap that was just enforced).
 */

export interface PolicyResult {
  /** Tokens to reserve before forwarding (0 for routes that produce no tokens). */
  reserveTokens: number;
  promptEstimate: number;
}

export type ClampConfig = Config['clamps'];

/** Options whose change makes Ollama reload the model for everyone (sched.go needsReload). */
const RUNNER_OPTIONS = ['num_gpu', 'main_gpu', 'num_batch', 'num_thread', 'use_mmap'];

/** Where each route carries its output cap. */
const OUTPUT_FIELD: Partial<Record<RouteDef['accounting'], readonly string[]>> = {
  'openai-chat': ['max_tokens', 'max_completion_tokens'],
  'openai-completions': ['max_tokens'],
  'openai-responses': ['max_output_tokens'],
  'anthropic-messages': ['max_tokens'],
};

export class RequestPolicy {
  readonly #c: ClampConfig;

  constructor(clamps: ClampConfig) {
    this.#c = clamps;
  }

  apply(route: RouteDef, body: JsonObject, p: Principal, bodyBytes: number): PolicyResult | GatewayError {
    const kind = route.accounting;
    if (kind === 'none' || kind === 'openai-transcription') return { reserveTokens: 0, promptEstimate: 0 };
    const c = this.#effective(p);
    const native = kind.startsWith('ollama-');

    if (native) {
      const options = body.options as JsonObject | undefined | null;
      if (options) {
        const ctx = options.num_ctx;
        if (ctx !== undefined && ctx !== null) {
          if (typeof ctx !== 'number' || !Number.isInteger(ctx)) return refuse('GW_ERR_BODY_INVALID', 'options.num_ctx must be an integer');
          if (ctx > c.max_num_ctx) return refuse('GW_ERR_CLAMP_EXCEEDED', `options.num_ctx ${ctx} is above this gateway's limit of ${c.max_num_ctx}`);
        }
        if (!p.clamps.allow_runner_options) {
          for (const o of RUNNER_OPTIONS) {
            if (o in options) {
              delete options[o];
            }
          }
        }
      }
      if ('keep_alive' in body && body.keep_alive !== null) {
        const ms = parseKeepAlive(body.keep_alive);
        if (ms === null) return refuse('GW_ERR_BODY_INVALID', 'keep_alive must be a duration like "5m" or a number of seconds');
        if (ms < 0) return refuse('GW_ERR_CLAMP_EXCEEDED', `keep_alive below zero keeps the model loaded forever; the longest allowed here is ${formatDuration(c.max_keep_alive)}`);
        if (ms === 0 && !p.scopes.has('models:manage')) {
          return refuse('GW_ERR_OPTION_FORBIDDEN', 'keep_alive: 0 unloads the model for every user of this server; it needs the models:manage scope');
        }
        if (ms > c.max_keep_alive) {
          body.keep_alive = formatDuration(c.max_keep_alive);
        }
      }
    }

    const images = countImages(body);
    if (images > c.max_images) return refuse('GW_ERR_CLAMP_EXCEEDED', `${images} images in one request is above this gateway's limit of ${c.max_images}`);
    if (kind === 'ollama-embed' || kind === 'openai-embeddings') {
      const input = body.input;
      const n = Array.isArray(input) ? input.length : 1;
      if (n > c.max_embed_inputs) return refuse('GW_ERR_CLAMP_EXCEEDED', `${n} inputs in one embedding request is above this gateway's limit of ${c.max_embed_inputs}`);
    }

    let maxOutput = 0;
    if (kind === 'ollama-generate' || kind === 'ollama-chat') {
      let options = body.options as JsonObject | undefined | null;
      const np = options?.num_predict;
      // Ollama treats -1 (and -2) as "until done": absent, negative and over the cap all become the cap.
      if (typeof np !== 'number' || np < 0 || np > c.max_num_predict) {
        if (np !== undefined && np !== null && typeof np !== 'number') return refuse('GW_ERR_BODY_INVALID', 'options.num_predict must be a number');
        if (!options) body.options = options = {};
        options.num_predict = c.max_num_predict;
        maxOutput = c.max_num_predict;
      } else maxOutput = np;
    } else {
      const fields = OUTPUT_FIELD[kind];
      if (fields) {
        let seen = false;
        for (const f of fields) {
          const v = body[f];
          if (v === undefined || v === null) continue;
          if (typeof v !== 'number' || !Number.isFinite(v)) return refuse('GW_ERR_BODY_INVALID', `${f} must be a number`);
          seen = true;
          if (v > c.max_num_predict || v < 0) {
            body[f] = c.max_num_predict;
            maxOutput = Math.max(maxOutput, c.max_num_predict);
          } else maxOutput = Math.max(maxOutput, v);
        }
        if (!seen) {
          body[fields[0]!] = c.max_num_predict;
          maxOutput = c.max_num_predict;
        }
      }
    }

    // A prompt cannot use more tokens than the context holds (Ollama truncates), and JSON text is
    // rarely under 4 bytes per token: both bound the estimate from above.
    const bytesEstimate = Math.ceil(bodyBytes / 4);
    const embedding = kind === 'ollama-embed' || kind === 'ollama-embeddings' || kind === 'openai-embeddings';
    const promptEstimate = embedding ? bytesEstimate : Math.min(bytesEstimate, c.max_num_ctx);
    return { reserveTokens: promptEstimate + maxOutput, promptEstimate };
  }

  #effective(p: Principal): ClampConfig {
    const o = p.clamps;
    if (o.max_num_ctx == null && o.max_num_predict == null && o.max_keep_alive == null && o.max_images == null && o.max_embed_inputs == null) return this.#c;
    return {
      max_num_ctx: o.max_num_ctx ?? this.#c.max_num_ctx,
      max_num_predict: o.max_num_predict ?? this.#c.max_num_predict,
      max_keep_alive: o.max_keep_alive ?? this.#c.max_keep_alive,
      max_images: o.max_images ?? this.#c.max_images,
      max_embed_inputs: o.max_embed_inputs ?? this.#c.max_embed_inputs,
    };
  }
}

/** Images in native (`images`, `messages[].images`), OpenAI (`image_url` parts) and Anthropic (`image` blocks) shapes. */
export function countImages(body: JsonObject): number {
  let n = Array.isArray(body.images) ? body.images.length : 0;
  const lists: Json[] = [];
  if (Array.isArray(body.messages)) lists.push(...body.messages);
  if (Array.isArray(body.input)) {
    // Responses input items are either messages (with content parts) or bare parts.
    for (const item of body.input) {
      lists.push(item);
      if (item && typeof item === 'object' && !Array.isArray(item) && (item.type === 'input_image' || item.type === 'image')) n++;
    }
  }
  for (const m of lists) {
    if (!m || typeof m !== 'object' || Array.isArray(m)) continue;
    if (Array.isArray(m.images)) n += m.images.length;
    const content = m.content;
    if (Array.isArray(content)) {
      for (const part of content) {
        if (part && typeof part === 'object' && !Array.isArray(part)) {
          const t = part.type;
          if (t === 'image_url' || t === 'image' || t === 'input_image') n++;
        }
      }
    }
  }
  return n;
}
