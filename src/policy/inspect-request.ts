import { refuse, type GatewayError } from '../core/errors.js';
import type { RouteDef } from '../routes/table.js';
import { parseRequestBody, type RequestBody } from './json-body.js';
import { isModelRef, parseModelRef, type ModelRef } from './model-name.js';

/**
 * Reads a JSON request body the way Ollama will, and extracts what policy needs: every model it
 * names (in every field that can name one), whether it streams, and its size for the token
 * reservation. Wrong types and missing models are refused here, before anything is forwarded.
 */

/** A model named by a request, with the body field that named it. */
export interface NamedModel extends ModelRef {
  field: string;
}

export interface InspectedJson {
  body: RequestBody;
  models: NamedModel[];
  /** The response will stream (native default on, OpenAI/Anthropic default off). */
  stream: boolean;
  /** Gatehouse turned on streamed usage for a client that did not ask (strip it again on the way back). */
  injectedUsage: boolean;
}

/** Routes where a model is mandatory, and which field set must name one. */
const REQUIRED: Record<string, readonly (readonly string[])[]> = {
  'copy': [['source'], ['destination']],
};

const STRING_FIELDS = ['model', 'name', 'source', 'destination', 'from', 'prompt', 'system', 'suffix', 'template', 'remote_host'];

export function inspectJson(route: RouteDef, body: RequestBody): InspectedJson | GatewayError {
  const fields = body.fields;
  for (const f of STRING_FIELDS) {
    const k = body.kind(f);
    if (k !== undefined && k !== 'null' && k !== 'string') return refuse('GW_ERR_BODY_INVALID', `field "${f}" must be a string`);
  }
  const sk = body.kind('stream');
  if (sk !== undefined && sk !== 'null' && sk !== 'boolean') return refuse('GW_ERR_BODY_INVALID', 'field "stream" must be true or false');
  for (const f of ['options', 'stream_options']) {
    const k = body.kind(f);
    if (k !== undefined && k !== 'null' && k !== 'object') return refuse('GW_ERR_BODY_INVALID', `field "${f}" must be an object`);
  }
  const ka = body.kind('keep_alive');
  if (ka !== undefined && ka !== 'null' && ka !== 'string' && ka !== 'number') {
    return refuse('GW_ERR_BODY_INVALID', 'field "keep_alive" must be a duration string ("5m") or a number of seconds');
  }

  const models: NamedModel[] = [];
  for (const field of route.modelFields) {
    const v = fields[field];
    if (typeof v !== 'string' || v === '') continue;
    const ref = parseModelRef(v);
    if (!isModelRef(ref)) return refuse('GW_ERR_MODEL_NAME_INVALID', `${field}: ${ref.error}`);
    models.push({ ...ref, field });
  }
  const required = REQUIRED[route.id] ?? (route.modelFields.length ? [route.modelFields] : []);
  for (const anyOf of required) {
    if (!anyOf.some((f) => typeof fields[f] === 'string' && fields[f] !== '')) {
      return refuse('GW_ERR_MODEL_REQUIRED', `${anyOf.map((f) => `"${f}"`).join(' or ')} is required`);
    }
  }

  const stream = route.streamsByDefault ? fields.stream !== false : fields.stream === true;
  // Streamed usage, where the dialect sends it only when asked (else a stream would count zero tokens).
  const injectedUsage = stream && route.dialect.injectStreamUsage(route.accounting, fields);
  return { body, models, stream, injectedUsage };
}

/** Scans, decodes and inspects a body given whole (tests and tools). */
export function inspectJsonText(route: RouteDef, text: string | Buffer): InspectedJson | GatewayError {
  const body = parseRequestBody(typeof text === 'string' ? Buffer.from(text) : text);
  if ('code' in body) return refuse(body.code, body.message);
  return inspectJson(route, body);
}
