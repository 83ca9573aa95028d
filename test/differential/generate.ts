import { ALLOWED_MODEL, baseDoc, mutationsFor, renderDoc, SECRET_MODEL, type JsonRouteId } from './generate-json.js';
import { bareLfSmuggle, baseForm, field, FORM_MUTATIONS, renderForm, type FormDoc } from './generate-multipart.js';
import { Rng } from './prng.js';

/**
 * Seeded, reproducible adversarial request bodies for every route that carries one. Most are
 * requests a real client could send, changed by one or two mutations, so that a comparison with
 * Go exercises acceptance as much as refusal. The allowed model is "llama3.2" (targets of
 * create/copy/delete: "llama3.2-custom"); the model mutations try to smuggle "secret-model"
 * (and "secret-model:cloud" on the compatibility routes).
 *
 *   generateCases(seed, 10_000)  // the first NAMED_CASES.length are fixed, then one per route,
 *                                // then random routes; same seed → same bytes
 *   caseAt(seed, i)              // case i alone, for a failure message
 */

export { ALLOWED_DERIVED, ALLOWED_MODEL, SECRET_MODEL } from './generate-json.js';

export type BodyRouteId = JsonRouteId | 'openai.transcriptions';

export const BODY_ROUTE_IDS: readonly BodyRouteId[] = [
  'show', 'generate', 'chat', 'embed', 'embeddings', 'openai.chat', 'openai.completions', 'openai.embeddings', 'openai.responses',
  'anthropic.messages', 'openai.transcriptions', 'pull', 'push', 'create', 'copy', 'delete', 'web_search', 'web_fetch',
];

export interface GeneratedCase {
  /** `#index route: what was done`, enough to see what the body tries. */
  label: string;
  routeId: BodyRouteId;
  contentType: string;
  body: Buffer;
}

/** How often each route is drawn (out of 100). */
const ROUTE_WEIGHTS: readonly (readonly [BodyRouteId, number])[] = [
  ['generate', 10], ['chat', 10], ['embed', 5], ['embeddings', 4], ['openai.chat', 10], ['openai.completions', 6], ['openai.embeddings', 5],
  ['openai.responses', 8], ['anthropic.messages', 8], ['openai.transcriptions', 12], ['show', 3], ['pull', 3], ['push', 3], ['create', 5],
  ['copy', 3], ['delete', 3], ['web_search', 1], ['web_fetch', 1],
];

const JSON_CT = 'application/json';
const BOUNDARY = 'gc0p4Jq0M2Yt08jU534c0p';

function form(parts: FormDoc['parts']): FormDoc {
  return { boundary: BOUNDARY, contentType: `multipart/form-data; boundary=${BOUNDARY}`, nl: '\r\n', preamble: '', parts, pad: '', closing: true, epilogue: '' };
}

const audio = (): FormDoc['parts'][number] => ({
  headers: ['Content-Disposition: form-data; name="file"; filename="speech.wav"', 'Content-Type: audio/wav'],
  body: Buffer.from('RIFF$\u0000\u0000\u0000WAVEfmt ', 'latin1'),
});

/** Fixed cases for the findings and facts this work is about; always the first cases of a run. */
export const NAMED_CASES: readonly GeneratedCase[] = [
  (() => {
    const f = form([field('model', ALLOWED_MODEL), audio()]);
    const label = bareLfSmuggle(f);
    return { label: `known finding: ${label}; Go reads "${SECRET_MODEL}", a CRLFCRLF splitter "${ALLOWED_MODEL}"`, routeId: 'openai.transcriptions', contentType: f.contentType, body: renderForm(f) };
  })(),
  (() => {
    const f = form([field('model', 'secret=2Dmodel', ['Content-Transfer-Encoding: quoted-printable']), audio()]);
    return { label: `a quoted-printable "model" part: Go decodes it to "${SECRET_MODEL}"`, routeId: 'openai.transcriptions', contentType: f.contentType, body: renderForm(f) };
  })(),
  {
    label: 'case-insensitive keys, last one wins: Go reads MODEL',
    routeId: 'chat', contentType: JSON_CT,
    body: Buffer.from(`{"model":"${ALLOWED_MODEL}","messages":[{"role":"user","content":"hi"}],"MODEL":"${SECRET_MODEL}"}`),
  },
  {
    label: 'null after a string leaves the string',
    routeId: 'chat', contentType: JSON_CT,
    body: Buffer.from(`{"model":"${ALLOWED_MODEL}","messages":[],"model":null}`),
  },
  {
    label: 'the cloud passthrough reads the exact "model" key; the struct reads "Model"',
    routeId: 'openai.chat', contentType: JSON_CT,
    body: Buffer.from(`{"model":"${SECRET_MODEL}:cloud","messages":[{"role":"user","content":"hi"}],"Model":"${ALLOWED_MODEL}"}`),
  },
  {
    label: 'a second JSON value after the first is never read',
    routeId: 'generate', contentType: JSON_CT,
    body: Buffer.from(`{"model":"${ALLOWED_MODEL}","prompt":"hi"}{"model":"${SECRET_MODEL}"}`),
  },
  {
    label: 'max_completion_tokens is not read by Ollama',
    routeId: 'openai.chat', contentType: JSON_CT,
    body: Buffer.from(`{"model":"${ALLOWED_MODEL}","messages":[{"role":"user","content":"hi"}],"max_completion_tokens":5}`),
  },
  {
    label: 'options.num_predict 1e30 through int64(float64)',
    routeId: 'generate', contentType: JSON_CT,
    body: Buffer.from(`{"model":"${ALLOWED_MODEL}","prompt":"hi","options":{"num_predict":1e30}}`),
  },
  {
    label: 'keep_alive -1 is forever',
    routeId: 'generate', contentType: JSON_CT,
    body: Buffer.from(`{"model":"${ALLOWED_MODEL}","prompt":"hi","keep_alive":-1}`),
  },
  {
    label: 'U+017F (long s) in a key folds to s: Go reads "\u017fource" as source',
    routeId: 'copy', contentType: JSON_CT,
    body: Buffer.from(`{"source":"${ALLOWED_MODEL}","destination":"${ALLOWED_MODEL}-custom","\u017fource":"${SECRET_MODEL}"}`),
  },
];

function randomCase(seed: number, index: number, route: BodyRouteId): GeneratedCase {
  const rng = Rng.forCase(seed, index);
  const mutations = rng.weighted([[0, 10], [1, 55], [2, 35]] as const);
  const labels: string[] = [];
  if (route === 'openai.transcriptions') {
    const f = baseForm(rng);
    for (let i = 0; i < mutations; i++) labels.push(rng.weighted(FORM_MUTATIONS)(f, rng));
    return { label: `#${index} ${route}: ${labels.join('; ') || 'unchanged'}`, routeId: route, contentType: f.contentType, body: renderForm(f) };
  }
  const doc = baseDoc(route, rng);
  const table = mutationsFor(route);
  for (let i = 0; i < mutations; i++) labels.push(rng.weighted(table).apply(doc, rng));
  return { label: `#${index} ${route}: ${labels.join('; ') || 'unchanged'}`, routeId: route, contentType: doc.contentType, body: renderDoc(doc, rng) };
}

/** Case `index` of the run seeded with `seed`, built alone (the same bytes generateCases gives). */
export function caseAt(seed: number, index: number): GeneratedCase {
  const named = NAMED_CASES[index];
  if (named) return { ...named, label: `#${index} ${named.routeId}: ${named.label}`, body: Buffer.from(named.body) };
  const i = index - NAMED_CASES.length;
  const route = i < BODY_ROUTE_IDS.length ? BODY_ROUTE_IDS[i]! : Rng.forCase(seed ^ 0x5bd1e995, index).weighted(ROUTE_WEIGHTS);
  return randomCase(seed, index, route);
}

/** `count` cases for `seed`: the named cases, one case per route, then routes drawn by weight. */
export function generateCases(seed: number, count: number): GeneratedCase[] {
  return Array.from({ length: count }, (_, i) => caseAt(seed, i));
}
