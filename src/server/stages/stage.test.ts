import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { describe, it } from 'node:test';
import { refuse } from '../../core/errors.js';
import { openai } from '../../dialects/index.js';
import { Call } from '../../request/call.js';
import type { Observer } from '../../request/observer.js';
import { RequestScope } from '../../request/scope.js';
import type { GatewayContext } from './context.js';
import { CONTINUE, resume, SUSPENDED, type Stage } from './stage.js';

/** A response that keeps what was written to it, and emits 'close' when ended (as node:http does). */
function fakeRes(): ServerResponse & { written: { status: number; headers: Record<string, unknown>; body: string } | null } {
  const res = Object.assign(new EventEmitter(), {
    written: null as { status: number; headers: Record<string, unknown>; body: string } | null,
    headersSent: false,
    destroyed: false,
    writableFinished: false,
    statusCode: 200,
    req: { method: 'POST' },
    writeHead(status: number, headers: Record<string, unknown>) {
      res.statusCode = status;
      res.written = { status, headers, body: '' };
      res.headersSent = true;
      return res;
    },
    end(body?: string) {
      if (res.written && body) res.written.body = body;
      res.writableFinished = true;
      res.emit('close');
    },
  });
  return res as unknown as ServerResponse & { written: { status: number; headers: Record<string, unknown>; body: string } | null };
}

function setup(stages: Stage[]): { call: Call; gw: GatewayContext; res: ReturnType<typeof fakeRes>; observed: RequestScope[] } {
  const observed: RequestScope[] = [];
  const observer: Observer = { requestEnded: (s) => observed.push(s) };
  const res = fakeRes();
  const scope = new RequestScope('req_test', performance.now(), '127.0.0.1', 'POST', '/v1/chat/completions');
  const call = new Call({ headers: {} } as IncomingMessage, res, scope, '/v1/chat/completions', '', openai, observer);
  const gw = { stages } as unknown as GatewayContext;
  return { call, gw, res, observed };
}

describe('stages: the runner', () => {
  it('runs the stages in order while each answers CONTINUE', () => {
    const order: string[] = [];
    const s = (name: string): Stage => () => (order.push(name), CONTINUE);
    const { call, gw, res } = setup([s('a'), s('b'), s('c')]);
    resume(call, gw);
    assert.deepEqual(order, ['a', 'b', 'c']);
    assert.equal(call.next, 3);
    assert.equal(res.written, null);
  });

  it('a refusal stops the path and is answered in the call\'s dialect shape, with its CORS headers', () => {
    const order: string[] = [];
    const { call, gw, res, observed } = setup([
      () => (order.push('a'), CONTINUE),
      () => (order.push('b'), refuse('GW_ERR_SCOPE_MISSING', 'no scope')),
      () => (order.push('c'), CONTINUE),
    ]);
    call.cors = { 'access-control-allow-origin': 'https://app.example' };
    resume(call, gw);
    assert.deepEqual(order, ['a', 'b']);
    assert.equal(res.written?.status, 403);
    assert.equal(res.written?.headers['access-control-allow-origin'], 'https://app.example');
    assert.equal(res.written?.headers['x-gatehouse-error'], 'GW_ERR_SCOPE_MISSING');
    assert.deepEqual(JSON.parse(res.written!.body), { error: { message: 'no scope', type: 'permission_error', param: null, code: 'GW_ERR_SCOPE_MISSING' } });
    assert.equal(call.scope.decision, 'refused');
    assert.equal(call.scope.reason, 'GW_ERR_SCOPE_MISSING');
    // The response closed and no exchange is open: observed once, with the status sent.
    assert.equal(observed.length, 1);
    assert.equal(observed[0]!.status, 403);
  });

  it('SUSPENDED stops the loop; resume() goes on with the stage after the one that suspended', () => {
    const order: string[] = [];
    const { call, gw } = setup([
      () => (order.push('a'), CONTINUE),
      () => (order.push('b'), SUSPENDED),
      () => (order.push('c'), CONTINUE),
      () => (order.push('d'), CONTINUE),
    ]);
    resume(call, gw);
    assert.deepEqual(order, ['a', 'b']);
    resume(call, gw);
    assert.deepEqual(order, ['a', 'b', 'c', 'd']);
  });

  it('a stage may move the call on to a later stage (a public route skips to forward)', () => {
    const order: string[] = [];
    const { call, gw } = setup([
      (c) => (order.push('route'), (c.next = 3), CONTINUE),
      () => (order.push('authenticate'), CONTINUE),
      () => (order.push('authorize'), CONTINUE),
      () => (order.push('forward'), CONTINUE),
    ]);
    resume(call, gw);
    assert.deepEqual(order, ['route', 'forward']);
  });

  it('the synchronous path returns nothing to wait for: the runner makes no promise', () => {
    const { call, gw } = setup([() => CONTINUE]);
    assert.equal(resume(call, gw), undefined);
  });
});

describe('Call: observed exactly once, when the response has closed and the exchange has finished', () => {
  it('exchange finishing after the response closed', () => {
    const { call, res, observed } = setup([]);
    call.exchangeStarted();
    res.end();
    assert.equal(observed.length, 0);
    call.exchangeFinished();
    assert.equal(observed.length, 1);
  });

  it('response closing after the exchange finished', () => {
    const { call, res, observed } = setup([]);
    call.exchangeStarted();
    call.exchangeFinished();
    assert.equal(observed.length, 0);
    res.end();
    assert.equal(observed.length, 1);
    assert.equal(observed[0]!.clientAborted, false);
  });

  it('a response closed before it finished is a client that left', () => {
    const { res, observed } = setup([]);
    res.emit('close');
    assert.equal(observed.length, 1);
    assert.equal(observed[0]!.clientAborted, true);
  });
});
