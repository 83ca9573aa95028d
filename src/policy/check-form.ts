import { refuse, type GatewayError } from '../core/errors.js';
import { isModelRef, parseModelRef, type ModelRef } from './model-name.js';
import { boundaryOf, readForm, writeForm } from './multipart.js';

/**
 * Everything Gatehouse decides about a multipart form (/v1/audio/transcriptions): the form read
 * strictly, exactly one plain `model` field checked against the allowlist, and the form Ollama will
 * receive, rebuilt. One pure function, shared by the request path and the differential tests.
 */

export type FormCheck =
  | { ok: false; error: GatewayError; models: readonly ModelRef[] }
  | { ok: true; models: readonly ModelRef[]; notAllowed: GatewayError | null; forward: Buffer[]; forwardLength: number; contentType: string };

const NONE: readonly ModelRef[] = [];

export function checkFormBody(contentType: string | undefined, body: Buffer, modelDenied: (models: readonly ModelRef[]) => GatewayError | null): FormCheck {
  const boundary = boundaryOf(contentType);
  if (!boundary) return { ok: false, error: refuse('GW_ERR_BODY_INVALID', 'expected a Content-Type of multipart/form-data with one boundary parameter'), models: NONE };
  const form = readForm(body, boundary);
  if (!form.ok) return { ok: false, error: refuse('GW_ERR_BODY_INVALID', form.reason), models: NONE };
  for (const once of ['model', 'file']) {
    if (form.parts.filter((x) => x.name === once).length > 1) return { ok: false, error: refuse('GW_ERR_BODY_AMBIGUOUS_FIELD', `send the "${once}" form field once`), models: NONE };
  }
  const model = form.parts.find((x) => x.name === 'model');
  if (!model) return { ok: false, error: refuse('GW_ERR_MODEL_REQUIRED', '"model" is required'), models: NONE };
  // Go files a part with a filename under File, not Value: FormValue("model") would not see it.
  if (model.filename !== null) return { ok: false, error: refuse('GW_ERR_BODY_INVALID', '"model" must be a plain form field, not a file'), models: NONE };
  const ref = parseModelRef(model.data.toString('utf8'));
  if (!isModelRef(ref)) return { ok: false, error: refuse('GW_ERR_MODEL_NAME_INVALID', `model: ${ref.error}`), models: NONE };
  const models = [ref];
  // A model off the allowlist is answered as missing by the request path (see check-json.ts).
  const access = modelDenied(models);
  const notAllowed = access?.code === 'GW_ERR_MODEL_NOT_ALLOWED' ? access : null;
  if (access && !notAllowed) return { ok: false, error: access, models };
  const out = writeForm(form.parts);
  return { ok: true, models, notAllowed, forward: out.body, forwardLength: out.length, contentType: out.contentType };
}
