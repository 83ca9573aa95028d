import { refuse, type GatewayError } from '../../core/errors.js';
import type { Fleet, Slot } from '../../fleet/fleet.js';
import { FanOutTarget } from '../../fleet/fanout.js';
import { FleetListTarget } from '../../fleet/lists.js';
import type { FleetNode } from '../../fleet/node.js';
import { PlacedRequest } from '../../fleet/placed.js';
import type { Poller } from '../../fleet/poller.js';
import { missingModelMessage, presetStreamHeaders } from '../../policy/missing-model.js';
import { isModelRef, parseModelRef } from '../../policy/model-name.js';
import { ollamaNotFound } from '../../proxy/missing-model-answer.js';
import type { Call } from '../../request/call.js';
import type { RouteDef } from '../../routes/table.js';
import type { GatewayContext } from './context.js';
import { sendRefusal } from './refusal.js';
import { CONTINUE, resume, SUSPENDED, type StageResult } from './stage.js';

/**
 * With `upstreams`: which node (or nodes) a request goes to (fleet/, docs/fleet.md). A request
 * that names a model goes where the router says, at once or after waiting in the fleet's queue;
 * a model no node has is answered with the route's own not-found, and no node is asked. Lists are
 * merged across nodes, management calls fanned out. Without `upstreams` this stage does nothing
 * and forward sends everything to the one upstream.
 */

export interface FleetDeps {
  fleet: Fleet;
  poller: Poller;
  /** fleet.reveal_nodes */
  reveal: boolean;
}

export function place(call: Call, gw: GatewayContext): StageResult {
  const f = gw.fleet;
  if (!f || call.hidden) return CONTINUE;
  const route = call.route!;
  if (route.list) {
    // One node: its own answer, passed through and filtered as one upstream's would be.
    if (f.fleet.nodes.length === 1) return settled(call, f, f.fleet.any());
    call.target = new FleetListTarget(f.fleet, route.list === 'ps' ? 'ps' : route.list === 'tags' ? 'tags' : 'openai-models');
    return CONTINUE;
  }
  if (route.gate === 'manage') return fanOut(call, f, route);
  const model = modelOf(call, route);
  if (model === null) return settled(call, f, f.fleet.any());
  const occupies = route.accounting !== 'none';
  const r = f.fleet.acquire({ model: model.canonical, occupies, exclude: null }, call.principal!.id);
  if (r === 'missing') {
    call.hidden = ollamaNotFound(route.dialect, missingModelMessage(route, model.raw, model.field), presetStreamHeaders(route, call.scope.stream));
    return CONTINUE;
  }
  if (!('slot' in r)) return settled(call, f, r);
  // Every node that could serve it is full: wait in Gatehouse's queue (never in Ollama's).
  const leave = (): void => r.abandon();
  call.res.once('close', leave);
  void r.slot.then((s) => {
    call.res.off('close', leave);
    if (call.res.destroyed) {
      if (!(s instanceof Error)) f.fleet.release(s, { status: 0, failed: false, abandoned: true, retryAfterMs: null, loadNs: null, ttfbMs: null, unload: false, message: null });
      call.admission?.release(null);
      call.admission = null;
      return;
    }
    const next = settled(call, f, s);
    if (next === CONTINUE) resume(call, gw);
    else if (next !== SUSPENDED) sendRefusal(call, next);
  });
  return SUSPENDED;
}

function settled(call: Call, f: FleetDeps, r: Slot | GatewayError): StageResult {
  if (r instanceof Error) {
    // Admitted by the limiter but refused here: give the reservation back unused.
    call.admission?.release(null);
    call.admission = null;
    return r;
  }
  call.target = new PlacedRequest(f.fleet, r, f.reveal, call.unload, call.principal!.id);
  return CONTINUE;
}

/** The model the request runs or asks about: the body's, or the path's (/v1/models/:model). */
function modelOf(call: Call, route: RouteDef): { canonical: string; raw: string; field: string | null } | null {
  const refs = call.modelRefs;
  if (refs && refs.length) return { canonical: refs[0]!.canonical, raw: refs[0]!.raw, field: refs[0]!.field ?? null };
  if (call.param !== null && route.param?.kind === 'model') {
    const ref = parseModelRef(call.param);
    if (isModelRef(ref)) return { canonical: ref.canonical, raw: ref.raw, field: null };
  }
  return null;
}

/** Management: every node, or the ones X-Gatehouse-Node names; a push from one node that has the model. */
function fanOut(call: Call, f: FleetDeps, route: RouteDef): StageResult {
  const named = call.req.headers['x-gatehouse-node'];
  let nodes: FleetNode[] = [...f.fleet.nodes];
  if (named !== undefined) {
    nodes = [];
    for (const name of (Array.isArray(named) ? named.join(',') : named).split(',')) {
      const n = f.fleet.node(name.trim());
      if (!n) return settled(call, f, refuse('GW_ERR_NODE_UNKNOWN', `X-Gatehouse-Node names "${name.trim().slice(0, 64)}", which is not one of this gateway's nodes; use the names \`gatehouse nodes\` lists, comma-separated`));
      if (!nodes.includes(n)) nodes.push(n);
    }
    if (nodes.length === 0) return settled(call, f, refuse('GW_ERR_NODE_UNKNOWN', 'X-Gatehouse-Node is empty; name one or more nodes, comma-separated'));
  }
  if (route.id === 'push') {
    // One copy is enough for a registry: the first named (or any) node that has the model.
    const model = call.modelRefs?.[0]?.canonical;
    const holder = nodes.find((n) => n.up && model !== undefined && n.installed.has(model)) ?? nodes[0]!;
    nodes = [holder];
  }
  call.target = new FanOutTarget(nodes, route.id, f.poller);
  return CONTINUE;
}
