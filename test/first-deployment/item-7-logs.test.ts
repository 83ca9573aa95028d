import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { call, startStack, type Stack } from '../helpers/stack.js';
import { byRequest, jsonLines, waitForLog, type LogLine } from './log-lines.js';

/**
 * Issue #18, item 7: logs an operator can read. The compiled CLI runs as `gatehouse serve` with
 * JSON logs on stdout (not a terminal), and the tests read what it printed.
 */

const LLAMA = 'registry.ollama.ai/library/llama3:latest';
const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const LEVELS = new Set(['trace', 'debug', 'info', 'warn', 'error', 'fatal']);

/** A loopback port nothing listens on (taken, then released). */
async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

async function chat(s: Stack, key: string | undefined, path = '/api/chat'): Promise<{ id: string; status: number; body: string; sent: number }> {
  const body = path === '/api/chat' ? JSON.stringify({ model: 'llama3', messages: [{ role: 'user', content: 'hi' }], stream: false }) : JSON.stringify({ model: 'llama3', messages: [{ role: 'user', content: 'hi' }] });
  const r = await call(`${s.gw.url}${path}`, { method: 'POST', key, body, headers: { 'content-type': 'application/json' } });
  return { id: r.headers.get('x-request-id')!, status: r.status, body: await r.text(), sent: Buffer.byteLength(body) };
}

describe('issue #18 item 7: logs an operator can read', () => {
  describe('log.requests: all (the default)', () => {
    let s: Stack;
    let alice: { id: string; key: string };
    before(async () => {
      s = await startStack();
      alice = await s.createKey('alice');
    });
    after(() => s?.close());

    it('7: one access-log line per request at info: method, route, status, principal, models, duration, bytes, request id, decision', async () => {
      const ok = await chat(s, alice.key);
      assert.equal(ok.status, 200);
      const [line, ...more] = await waitForLog(s.gw, (l) => (byRequest(ok.id)(l).length ? byRequest(ok.id)(l) : undefined), `the line of ${ok.id}`);
      assert.equal(more.length, 0, 'exactly one line per request');
      assert.equal(line!.level, 'info');
      assert.equal(line!.msg, 'request');
      assert.equal(line!.method, 'POST');
      assert.equal(line!.route, 'chat');
      assert.equal(line!.status, 200);
      assert.equal(line!.decision, 'allowed');
      assert.equal(line!.reason, null);
      assert.equal(line!.principal, 'alice');
      assert.equal(line!.principal_id, alice.id);
      assert.deepEqual(line!.models, [LLAMA]);
      assert.equal(typeof line!.duration_ms, 'number');
      assert.ok((line!.duration_ms as number) >= 0);
      assert.equal(line!.bytes_in, ok.sent);
      assert.equal(line!.bytes_out, Buffer.byteLength(ok.body));
      assert.ok((line!.prompt_tokens as number) > 0 && (line!.completion_tokens as number) > 0, 'token counts');
    });

    it('7: refusals and public routes get their line too, with the GW_ERR_* code; no key or secret is ever logged', async () => {
      const refused = await chat(s, undefined);
      assert.equal(refused.status, 401);
      const wrong = await chat(s, `${alice.key.slice(0, -4)}AAAA`);
      const health = await call(`${s.gw.url}/healthz`);
      const healthId = health.headers.get('x-request-id')!;
      const lines = await waitForLog(s.gw, (l) => (byRequest(healthId)(l).length && byRequest(wrong.id)(l).length ? l : undefined), 'the lines');
      const r = byRequest(refused.id)(lines);
      assert.equal(r.length, 1);
      assert.equal(r[0]!.level, 'info');
      assert.equal(r[0]!.msg, 'request refused');
      assert.equal(r[0]!.decision, 'refused');
      assert.equal(r[0]!.reason, 'GW_ERR_AUTH_MISSING');
      assert.equal(r[0]!.status, 401);
      assert.equal(r[0]!.principal, null);
      assert.equal(r[0]!.bytes_out, Buffer.byteLength(refused.body));
      assert.equal(byRequest(wrong.id)(lines)[0]!.reason, 'GW_ERR_AUTH_INVALID');
      const h = byRequest(healthId)(lines);
      assert.equal(h.length, 1);
      assert.equal(h[0]!.route, 'healthz');
      assert.equal(h[0]!.bytes_out, Buffer.byteLength(await health.text()));
      const text = s.gw.logs();
      assert.ok(!text.includes(alice.key) && !text.includes(alice.key.slice(10, 30)), 'the key is not in the log');
    });

    it('7: JSON lines carry ISO-8601 UTC times and level names, not epoch milliseconds and numbers', () => {
      const lines = jsonLines(s.gw);
      assert.ok(lines.length >= 5);
      for (const l of lines) {
        assert.equal(l.raw, undefined, `not JSON: ${String(l.raw)}`);
        assert.ok(LEVELS.has(l.level as string), `level ${String(l.level)}`);
        assert.match(l.time as string, ISO_UTC);
        assert.ok(Math.abs(Date.parse(l.time as string) - Date.now()) < 5 * 60_000, 'a real time');
      }
      assert.ok(lines.some((l) => l.level === 'warn'), 'the first-start key warning is there, by name');
    });
  });

  describe('log.requests: refused', () => {
    let s: Stack;
    before(async () => {
      s = await startStack({ config: { log: { level: 'info', format: 'json', requests: 'refused' } } });
    });
    after(() => s?.close());

    it('7: logs refusals only', async () => {
      const { key } = await s.createKey('bob');
      const ok = await chat(s, key);
      const refused = await chat(s, undefined);
      assert.equal(ok.status, 200);
      await waitForLog(s.gw, (l) => (byRequest(refused.id)(l).length ? true : undefined), 'the refusal');
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(byRequest(ok.id)(jsonLines(s.gw)).length, 0, 'an allowed request is not logged');
      assert.equal(byRequest(refused.id)(jsonLines(s.gw))[0]!.reason, 'GW_ERR_AUTH_MISSING');
    });
  });

  describe('log.requests: off, with Ollama down', () => {
    let s: Stack;
    let port: number;
    let key: string;
    before(async () => {
      port = await closedPort();
      s = await startStack({ config: { upstream: `http://127.0.0.1:${port}`, log: { level: 'info', format: 'json', requests: 'off' } } });
      key = (await s.createKey('carol')).key;
    });
    after(() => s?.close());

    it('7: off logs no request lines', async () => {
      const refused = await chat(s, undefined);
      const health = await call(`${s.gw.url}/healthz`);
      assert.equal(health.status, 200);
      assert.equal(refused.status, 401);
      await new Promise((r) => setTimeout(r, 500));
      assert.deepEqual(jsonLines(s.gw).filter((l) => typeof l.request_id === 'string'), []);
    });

    it('7: the cause of an upstream failure (ECONNREFUSED, the upstream URL) is in the log at warn, never in the client\'s body', async () => {
      const upstream = `http://127.0.0.1:${port}`;
      const results = [await chat(s, key), await chat(s, key, '/v1/chat/completions')];
      for (const r of results) {
        assert.equal(r.status, 502);
        assert.match(r.body, /Ollama is not reachable/);
        for (const internal of ['ECONNREFUSED', String(port), '127.0.0.1', 'connect ']) assert.ok(!r.body.includes(internal), `the client's body carries "${internal}": ${r.body}`);
        const [line] = await waitForLog(s.gw, (l) => (byRequest(r.id)(l).length ? byRequest(r.id)(l) : undefined), `the failure of ${r.id}`);
        const l = line as LogLine;
        assert.equal(l.level, 'warn');
        assert.equal(l.msg, 'upstream failure');
        assert.equal(l.reason, 'GW_ERR_UPSTREAM_UNAVAILABLE');
        assert.equal(l.status, 502);
        assert.equal(l.upstream, upstream);
        assert.match(l.upstream_error as string, new RegExp(`ECONNREFUSED 127\\.0\\.0\\.1:${port}`));
      }
    });
  });

  describe('log.format: pretty', () => {
    let s: Stack;
    before(async () => {
      s = await startStack({ config: { log: { level: 'info', format: 'pretty' } } });
    });
    after(() => s?.close());

    it('7: stays readable: one line per request with its level name and time of day, not JSON', async () => {
      const r = await call(`${s.gw.url}/api/tags`);
      const id = r.headers.get('x-request-id')!;
      // eslint-disable-next-line no-control-regex
      const plain = () => s.gw.logs().replace(/\u001b\[[0-9;]*m/g, '').split('\n');
      const end = Date.now() + 5000;
      while (!plain().some((l) => l.includes(id)) && Date.now() < end) await new Promise((res) => setTimeout(res, 50));
      const mine = plain().filter((l) => l.includes(id));
      assert.equal(mine.length, 1, plain().join('\n'));
      assert.match(mine[0]!, /^\[\d{2}:\d{2}:\d{2}\.\d{3}\] INFO: request refused \{/);
      assert.match(mine[0]!, /"reason":"GW_ERR_AUTH_MISSING"/);
    });
  });
});
