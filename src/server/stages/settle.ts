import type { Call } from '../../request/call.js';
import { upstreamFailureCause } from '../../proxy/upstream-errors.js';
import { CONTINUE, type StageResult } from './stage.js';

/**
 * The exchange has ended: what it sent, how it ended and the tokens used go on the record, the
 * limiter's reservation is settled with the real usage (or the estimate), and the call is told, so
 * the observer (audit, metrics, request log) runs once the response has closed too.
 */
export function settle(call: Call): StageResult {
  const scope = call.scope;
  const o = call.outcome!;
  // += : an upstream failure before the headers was answered by sendRefusal, which counted its body.
  scope.bytesOut += o.bytesOut;
  if (o.firstByteAt !== null) scope.ttfbMs = o.firstByteAt - scope.start;
  if (o.clientAborted) scope.clientAborted = true;
  if (o.error) {
    scope.reason = o.error.code;
    // The cause (ECONNREFUSED, a timeout) goes to the log and audit; the client got o.error.message.
    scope.upstreamError = upstreamFailureCause(o.error);
  } else if (o.upstreamError) {
    scope.upstreamError = o.upstreamError;
  }
  const target = call.target;
  if (target?.finished) target.finished(o, call);
  const admission = call.admission;
  if (o.tap) scope.usage = o.tap.usage(call.promptEstimate);
  // The client left before Ollama answered: the prompt was being evaluated all the same, so it
  // counts (otherwise leaving early would be a way around tpm). Public routes (no admission) use no tokens.
  else if (admission && call.route!.accounting !== 'none' && o.clientAborted) scope.usage = { prompt: call.promptEstimate, completion: 0, estimated: true };
  admission?.release(scope.usage);
  call.exchangeFinished();
  return CONTINUE;
}
