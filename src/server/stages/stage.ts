import type { GatewayError } from '../../core/errors.js';
import type { Call } from '../../request/call.js';
import type { GatewayContext } from './context.js';
import { sendRefusal } from './refusal.js';

/**
 * The stage contract. A stage looks at the call, writes what it learned onto it, and answers:
 *   CONTINUE      go on with the next stage;
 *   a GatewayError the refusal, answered at once in the call's dialect's shape (stages/refusal.ts);
 *                 no later stage runs;
 *   SUSPENDED     the stage took over: it answered the request itself (preflight, /healthz), or
 *                 has work to wait for (reading the body, a blob lookup, a queued admission, the
 *                 upstream exchange) and will `resume` the path, or refuse, when it is done.
 * The runner is a plain loop: a request that waits for nothing runs through without a promise.
 */

export const CONTINUE = 0;
export const SUSPENDED = 1;
export type StageResult = typeof CONTINUE | typeof SUSPENDED | GatewayError;
export type Stage = (call: Call, gw: GatewayContext) => StageResult;

/** Runs the path from the call's next stage until one refuses or suspends, or the path ends. */
export function resume(call: Call, gw: GatewayContext): void {
  const stages = gw.stages;
  while (call.next < stages.length) {
    const r = stages[call.next++]!(call, gw);
    if (r === CONTINUE) continue;
    if (r !== SUSPENDED) sendRefusal(call, r);
    return;
  }
}
