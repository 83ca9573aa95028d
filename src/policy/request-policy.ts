import { refuse, type GatewayError } from '../core/errors.js';
import type { Config } from '../config/schema.js';
import type { Principal } from '../core/types.js';
import { formatDuration } from '../config/units.js';
import type { RouteDef } from '../routes/table.js';
import { parseKeepAlive } from './go-duration.js';
import type { JsonObject, RequestBody } from './json-body.js';

/**
 * Resource clamps (docs/threat-model.md D4, docs/ollama-api-notes.md §2): caps on context size, output length,
 * keep_alive, images and embedding batch size, and removal of runner options that force model
 * reloads. Applied to the parsed body in place; also yields the token reservation for the limiter
 * (prompt estimate + the output cap that was just enforced). Where the output cap sits in a body is
 * the route's dialect's to say (src/dialects/).
 */

export interface PolicyResult {
  /** Tokens to reserve before forwarding (0 for routes that produce no tokens). */
  reserveTokens: number;
  promptEstimate: number;
  /** The output cap the forwarded request carries (0 for routes that produce no output). */
  maxOutput: number;
  /** keep_alive: 0: Ollama unloads the model once this request is done (a fleet forgets it is loaded). */
  unload: boolean;
}

export type ClampConfig = Config['clamps'];

/** Options whose change makes Ollama reload the model for everyone (sched.go needsReload). */
const RUNNER_OPTIONS = ['num_gpu', 'main_gpu', 'num_batch', 'num_thread', 'use_mmap'];

export class RequestPolicy {
  readonly #c: ClampConfig;

  constructor(clamps: ClampConfig) {
    this.#c = clamps;
  }

  apply(route: RouteDef, request: RequestBody, p: Principal, bodyBytes: number): PolicyResult | GatewayError {
    const kind = route.accounting;
    if (kind === 'none' || kind === 'openai-transcription') return { reserveTokens: 0, promptEstimate: 0, maxOutput: 0, unload: false };
    const body = request.fields;
    const c = this.#effective(p);
    const native = kind.startsWith('ollama-');
    let unload = false;

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
        unload = ms === 0;
        if (ms > c.max_keep_alive) {
          body.keep_alive = formatDuration(c.max_keep_alive);
        }
      }
    }

    const images = request.scan.images;
    if (images > c.max_images) return refuse('GW_ERR_CLAMP_EXCEEDED', `${images} images in one request is above this gateway's limit of ${c.max_images}`);
    if (kind === 'ollama-embed' || kind === 'openai-embeddings') {
      const n = request.kind('input') === 'array' ? request.scan.inputItems : 1;
      if (n > c.max_embed_inputs) return refuse('GW_ERR_CLAMP_EXCEEDED', `${n} inputs in one embedding request is above this gateway's limit of ${c.max_embed_inputs}`);
    }

    // The output cap, in the field(s) the route's dialect carries it.
    const maxOutput = route.dialect.capOutput(kind, body, c.max_num_predict);
    if (typeof maxOutput !== 'number') return maxOutput;

    // A prompt cannot use more tokens than the context holds (Ollama truncates), and JSON text is
    // rarely under 4 bytes per token: both bound the estimate from above.
    const bytesEstimate = Math.ceil(bodyBytes / 4);
    const embedding = kind === 'ollama-embed' || kind === 'ollama-embeddings' || kind === 'openai-embeddings';
    const promptEstimate = embedding ? bytesEstimate : Math.min(bytesEstimate, c.max_num_ctx);
    return { reserveTokens: promptEstimate + maxOutput, promptEstimate, maxOutput, unload };
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
