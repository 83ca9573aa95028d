import type { ServerResponse } from 'node:http';
import type { GatewayError } from '../core/errors.js';
import { dialectOfAccounting, type Accounting } from '../dialects/index.js';
import type { UsageTap } from './accounting/usage-tap.js';

/**
 * How a server-sent-event stream that broke mid-way ends, so that every client raises instead of
 * taking a truncated answer for a complete one. The OpenAI and Anthropic streams have no final
 * status: a stream that just stops reaches the OpenAI SDK as a normal end (`finish_reason`
 * undefined). So the gateway ends it with the error event each dialect's SDKs raise on
 * (`sseErrorEvent` in src/dialects/: OpenAI's `data:` error or Responses `error` event,
 * Anthropic's `event: error`), and no `[DONE]`, `response.completed` or `message_stop` after it.
 * Native NDJSON streams keep Ollama's own `{"error":…}` line (exchange.ts). Messages say what
 * happened and what to do; they never carry upstream internals (socket errors, addresses).
 */

/** Why the stream is incomplete, in words for the person at the client. */
export function brokenStreamMessage(err: GatewayError | null): string {
  if (err === null) return 'Ollama reported an error mid-stream; the answer is incomplete (retry the request)';
  if (err.code === 'GW_ERR_UPSTREAM_TIMEOUT') {
    return 'Ollama stopped sending data mid-stream (timeouts.upstream_body); the answer is incomplete (retry the request)';
  }
  return 'the connection to Ollama broke mid-stream; the answer is incomplete (retry the request)';
}

/**
 * The bytes that end a broken SSE stream. They start with a blank line: the client's parser may
 * hold an event whose blank line never came (Ollama writes each event whole, so this is rare);
 * the blank line delivers it, and where nothing is held an empty line dispatches nothing.
 * `events` is how many named events the stream carried (the next Responses sequence number).
 */
export function brokenStreamEvent(accounting: Accounting, message: string, events: number): string {
  return dialectOfAccounting(accounting).sseErrorEvent(accounting, message, events);
}

/**
 * Ends an SSE response whose upstream failed (`err`) or ended without its final event (`err` =
 * null). Bytes the tap still holds belong to an event that never completed and are dropped.
 * Without a tap (an encoded body) nothing can be appended, so the connection is cut: clients
 * raise on that as well. Returns the bytes written.
 */
export function endBrokenSse(res: ServerResponse, tap: UsageTap | null, accounting: Accounting, err: GatewayError | null): number {
  if (!tap) {
    res.destroy();
    return 0;
  }
  tap.end();
  const message = brokenStreamMessage(err);
  if (err === null) tap.upstreamError = 'Ollama ended the stream without its final event (an error inside Ollama)';
  const tail = brokenStreamEvent(accounting, message, tap.sseEvents);
  res.end(tail);
  return Buffer.byteLength(tail);
}
