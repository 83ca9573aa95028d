import type { Dispatcher } from 'undici';
import { isModelRef, parseModelRef } from '../policy/model-name.js';
import { asHandler, JSON_TYPE, playAnswer, unreachable, type HandlerLike } from './answer.js';
import type { Fleet } from './fleet.js';
import type { FleetNode } from './node.js';
import { readTags } from './poller.js';

/**
 * Answers that describe the whole fleet, made by Gatehouse: `/api/tags` and `/v1/models` are asked
 * of every node that is up and merged (one entry per model, the first node's, in `upstreams`
 * order), `/api/ps` is built from the fleet's live state. The forward stage's list filter then
 * applies the key's allowlist to them exactly as to one Ollama's answer. No node name appears.
 */

export type FleetList = 'tags' | 'openai-models' | 'ps';

const LISTS: Record<Exclude<FleetList, 'ps'>, { path: string; field: 'models' | 'data'; id: readonly string[] }> = {
  tags: { path: '/api/tags', field: 'models', id: ['model', 'name'] },
  'openai-models': { path: '/v1/models', field: 'data', id: ['id'] },
};

const TIMEOUT_MS = 5000;

export class FleetListTarget {
  readonly host: string;
  readonly url: string;
  readonly #fleet: Fleet;
  readonly #list: FleetList;

  constructor(fleet: Fleet, list: FleetList) {
    this.#fleet = fleet;
    this.#list = list;
    this.host = fleet.nodes[0]!.target.host;
    this.url = fleet.nodes.map((n) => n.target.url).join(',');
  }

  get dispatcher(): Pick<Dispatcher, 'dispatch'> {
    return this;
  }

  finished(_o: unknown, call: { scope: { node: string | null } }): void {
    call.scope.node = this.#fleet.nodes.map((n) => n.name).join(',');
  }

  dispatch(opts: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    const h = asHandler(handler);
    let aborted = false;
    h.onConnect(() => {
      aborted = true;
    });
    const list = this.#list;
    if (list === 'ps') {
      playAnswer(h, 200, JSON_TYPE, Buffer.from(JSON.stringify({ models: residentEntries(this.#fleet.nodes) })));
      return true;
    }
    void merged(this.#fleet.nodes, LISTS[list], opts.headers as string[]).then(
      (body) => {
        if (!aborted) playAnswer(h, 200, JSON_TYPE, body);
        else h.onError(new Error('client closed the connection'));
      },
      (err: Error) => h.onError(err),
    );
    return true;
  }
}

/** Every model loaded on a node that is up, once (the entry expiring last), as /api/ps lists them. */
export function residentEntries(nodes: readonly FleetNode[]): Record<string, unknown>[] {
  const best = new Map<string, { at: number; e: Record<string, unknown> }>();
  for (const n of nodes) {
    if (!n.up) continue;
    for (const [model, r] of n.resident) {
      if (!r.entry) continue;
      const seen = best.get(model);
      if (!seen || r.expiresAt > seen.at) best.set(model, { at: r.expiresAt, e: r.entry });
    }
  }
  return [...best.values()].map((b) => b.e);
}

async function merged(nodes: readonly FleetNode[], l: (typeof LISTS)['tags'], headers: string[]): Promise<Buffer> {
  const up = nodes.filter((n) => n.up);
  const asked = up.length ? up : nodes; // none known up: ask them all rather than answer an empty list
  const answers = await Promise.all(asked.map((n) => fetchList(n, l.path, headers).then((b) => ({ n, b }), () => null)));
  const ok = answers.filter((a): a is { n: FleetNode; b: Record<string, unknown> } => a !== null);
  if (ok.length === 0) throw unreachable('no Ollama node answered');
  const seen = new Set<string>();
  const items: unknown[] = [];
  for (const { n, b } of ok) {
    if (l.field === 'models') readTags(n, b, Date.now());
    const list = b[l.field];
    if (!Array.isArray(list)) continue;
    for (const e of list) {
      const id = idOf(e, l.id);
      if (id === null || seen.has(id)) continue;
      seen.add(id);
      items.push(e);
    }
  }
  const out = l.field === 'models' ? { models: items } : { object: 'list', data: items };
  return Buffer.from(JSON.stringify(out));
}

function idOf(e: unknown, fields: readonly string[]): string | null {
  if (!e || typeof e !== 'object') return null;
  for (const f of fields) {
    const v = (e as Record<string, unknown>)[f];
    if (typeof v === 'string') {
      const ref = parseModelRef(v);
      return isModelRef(ref) ? ref.canonical : v;
    }
  }
  return null;
}

async function fetchList(n: FleetNode, path: string, headers: string[]): Promise<Record<string, unknown>> {
  const h = headers.slice();
  h[1] = n.target.host;
  const r = await n.target.dispatcher.request({ path, method: 'GET', headers: h, headersTimeout: TIMEOUT_MS, bodyTimeout: TIMEOUT_MS });
  if (r.statusCode !== 200) {
    await r.body.dump();
    throw new Error(`${path} answered ${r.statusCode}`);
  }
  const b = (await r.body.json()) as unknown;
  if (!b || typeof b !== 'object' || Array.isArray(b)) throw new Error(`${path}: not an object`);
  return b as Record<string, unknown>;
}

export type { HandlerLike };
