import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * `Expect: 100-continue` (RFC 9110 §10.1.1): the client sends its headers, then waits for
 * `100 Continue` before sending the body. Node answers 100 on its own as soon as the headers are
 * parsed, before anything has been checked, so every client was invited to upload, a blob of
 * gigabytes included, before Gatehouse had looked at its key. Instead, the listener registers
 * `checkContinue` and holds such requests here (`holdContinue`); the gateway invites the body
 * (`inviteBody`) only where it is about to read it: authenticated, authorized, every pre-body
 * check passed. Bodiless routes never invite.
 *
 * A request refused before its invitation will not send its body, so its connection cannot carry
 * another request (the server would read the next request as this one's body, or wait for bytes
 * that never come): the refusal is sent with `Connection: close` and the connection ends, as Go's
 * net/http does when a handler does not read a body it was asked to continue.
 */

/** Requests waiting for their invitation → whether their connection may stay open once invited. */
const waiting = new WeakMap<IncomingMessage, boolean>();

/** Called by the listener for a request that asked for `100 Continue` (its `checkContinue` event). */
export function holdContinue(req: IncomingMessage, res: ServerResponse): void {
  const h = req.headers;
  // No framed body (GET with Expect, or Content-Length: 0): nothing to invite, nothing to wait for.
  if (h['transfer-encoding'] === undefined && (h['content-length'] === undefined || h['content-length'] === '0')) return;
  waiting.set(req, res.shouldKeepAlive);
  res.shouldKeepAlive = false;
}

/**
 * Sends `100 Continue` if this request is waiting for it; a no-op otherwise (the common case
 * costs one header lookup). `maxBytes`: a declared Content-Length above it is refused without
 * inviting the body.
 */
export function inviteBody(req: IncomingMessage, res: ServerResponse, maxBytes = Infinity): void {
  if (req.headers.expect === undefined) return;
  const keepAlive = waiting.get(req);
  if (keepAlive === undefined) return;
  if (Number(req.headers['content-length']) > maxBytes) return;
  waiting.delete(req);
  res.shouldKeepAlive = keepAlive;
  res.writeContinue();
}
