/**
 * How many output tokens a request of one key to one model is likely to produce, learned from the
 * real counts of its recent requests. The token limits reserve this (capped by the request's own
 * output limit) instead of the output cap: a chat that answers in 200 tokens no longer holds 8192
 * of its key's tokens per minute while it runs, so a key can run several at once. A request that
 * produces more than was reserved is charged the difference at its end, as debt
 * (docs/limits.md, "Tokens per minute"), so a low estimate never lets a key use more than its
 * limit allows; it only decides how many requests may start together.
 *
 * The estimate is the 95th percentile of the last OUTPUT_SAMPLES completions (a fixed ring, kept
 * sorted beside it: a new sample replaces the oldest one there and slides to its place, nothing
 * moves when answers are steady, and reading the estimate costs nothing). Until MIN_SAMPLES real
 * counts have been seen it is the larger of DEFAULT_OUTPUT_ESTIMATE and the longest answer seen.
 *
 * Estimates live in the process (with Redis too: see docs/limits.md); they are not limits, and a
 * replica without history starts from the default.
 */

/** Completions remembered per key and model (the p95 of 32 is its second largest). */
export const OUTPUT_SAMPLES = 32;

/** Real counts needed before the percentile replaces the default. */
export const MIN_SAMPLES = 8;

/**
 * Output tokens reserved per request until a key has history with a model. Conservative against
 * typical chat answers (a few hundred tokens) and an eighth of the default output cap
 * (clamps.max_num_predict 8192): a `--tpm 20000` key can start ~18 requests at once instead of 2,
 * and a first answer longer than this is charged as debt, not let through.
 */
export const DEFAULT_OUTPUT_ESTIMATE = 1024;

/** Distinct models remembered per key (model names come from requests: bounded). */
const MAX_MODELS_PER_KEY = 64;

/** Keys remembered; past this the table starts over (estimates fall back to the default). */
const MAX_KEYS = 65_536;

export class OutputEstimate {
  /** Samples in arrival order (a ring) and the same samples in ascending order. */
  readonly #ring = new Uint32Array(OUTPUT_SAMPLES);
  readonly #sorted = new Uint32Array(OUTPUT_SAMPLES);
  #n = 0;
  #next = 0;
  #max = 0;
  #value = DEFAULT_OUTPUT_ESTIMATE;

  /** Output tokens to reserve for the next request (before the request's own cap). */
  get value(): number {
    return this.#value;
  }

  /** Samples held (at most OUTPUT_SAMPLES). */
  get samples(): number {
    return this.#n;
  }

  /** Records the real completion count of a request that has ended. */
  add(completionTokens: number): void {
    const v = completionTokens > 0 ? Math.min(0xffffffff, Math.ceil(completionTokens)) : 0;
    const ring = this.#ring;
    const sorted = this.#sorted;
    const at = this.#next;
    this.#next = at + 1 === OUTPUT_SAMPLES ? 0 : at + 1;
    let n = this.#n;
    // The slot of the sorted copy that the new sample takes: the oldest sample's once the ring is
    // full (a steady answer length replaces an equal one and moves nothing), else a new one.
    let i: number;
    if (n === OUTPUT_SAMPLES) {
      const old = ring[at]!;
      ring[at] = v;
      if (old === v) return;
      i = 0;
      while (sorted[i] !== old) i++;
    } else {
      ring[at] = v;
      i = n;
      this.#n = ++n;
    }
    // Slide it to its place (plain loops: cheaper than copyWithin's builtin call for 32 numbers).
    while (i > 0 && sorted[i - 1]! > v) {
      sorted[i] = sorted[i - 1]!;
      i--;
    }
    while (i < n - 1 && sorted[i + 1]! < v) {
      sorted[i] = sorted[i + 1]!;
      i++;
    }
    sorted[i] = v;
    if (v > this.#max) this.#max = v;
    this.#value = n < MIN_SAMPLES ? Math.max(DEFAULT_OUTPUT_ESTIMATE, this.#max) : sorted[Math.ceil(0.95 * n) - 1]!;
  }
}

/** One OutputEstimate per (key, model), created on a key's first token-limited request to a model. */
export class OutputEstimates {
  readonly #byKey = new Map<string, Map<string, OutputEstimate>>();

  of(pid: string, model: string): OutputEstimate {
    let models = this.#byKey.get(pid);
    if (!models) {
      if (this.#byKey.size >= MAX_KEYS) this.#byKey.clear();
      models = new Map();
      this.#byKey.set(pid, models);
    }
    let e = models.get(model);
    if (!e) {
      if (models.size >= MAX_MODELS_PER_KEY) models.clear();
      e = new OutputEstimate();
      models.set(model, e);
    }
    return e;
  }
}
