import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import pino from 'pino';
import { loadConfig } from '../../src/config/load.js';
import { startGateway } from '../../src/server/app.js';
import { openStores } from '../../src/store/index.js';
import { startEmulator } from '../emulator/index.js';
import { startStack, type Stack } from '../helpers/stack.js';
import { hit } from './http.js';

/** Opens a streamed chat; resolves once the first chunk is in, with a promise of the rest. */
function openStream(base: string, key: string): Promise<{ first: string; rest: Promise<{ text: string; complete: boolean }> }> {
  const u = new URL(base);
  const body = JSON.stringify({ model: 'llama3', messages: [{ role: 'user', content: 'go' }] });
  return new Promise((resolve, reject) => {
    const req = request({ host: u.hostname, port: u.port, method: 'POST', path: '/api/chat', headers: { authorization: `Bearer ${key}`, 'content-length': Buffer.byteLength(body) } }, (res) => {
      let text = '';
      let resolveRest!: (v: { text: string; complete: boolean }) => void;
      const rest = new Promise<{ text: string; complete: boolean }>((r) => (resolveRest = r));
      res.setEncoding('utf8');
      res.once('data', (c: string) => {
        text += c;
        resolve({ first: c, rest });
        res.on('data', (d: string) => (text += d));
      });
      res.on('end', () => resolveRest({ text, complete: true }));
      res.on('error', () => resolveRest({ text, complete: false }));
      res.on('aborted', () => resolveRest({ text, complete: false }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('graceful shutdown', () => {
  let s: Stack | null = null;
  after(() => s?.close());

  it('SIGTERM: stops accepting, lets the running stream finish, writes its audit record, exits 0', async () => {
    s = await startStack({ config: { metrics: { listen: 'off' } } });
    const { key } = await s.createKey('drain');
    s.emu.fault({ chunks: 12, chunkDelayMs: 100 });
    const stream = await openStream(s.gw.url, key);
    const exited = new Promise<number | null>((r) => s!.gw.proc.once('exit', (code) => r(code)));
    s.gw.proc.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 300));
    await assert.rejects(hit(s.gw.url, { path: '/api/tags', key }), /ECONNREFUSED|socket hang up|ECONNRESET/, 'no new connections');
    const rest = await stream.rest;
    assert.ok(rest.complete && /"done":true/.test(rest.text), 'the stream ran to its end');
    assert.equal(await exited, 0);
    assert.match(s.gw.logs(), /"msg":"stopped"/);
    const stores = await openStores({ dataDir: s.dataDir });
    const [rec] = await stores.audit.query({});
    await stores.close();
    assert.equal(rec?.route, 'chat');
    assert.equal(rec?.tokensEstimated, false);
    assert.equal(rec?.completionTokens, s.emu.tokensSent.completion);
    assert.equal(rec?.clientAborted, false);
  });

  it('a stream longer than the deadline is cut at the deadline, and still audited', async () => {
    const emu = await startEmulator({ chunks: 1000, chunkDelayMs: 20 });
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-shutdown-'));
    try {
      const { config } = loadConfig({ env: {}, flags: { data_dir: dir, upstream: emu.url, listen: '127.0.0.1:0', 'metrics.listen': 'off' } });
      const gw = await startGateway({ config, log: pino({ level: 'silent' }) });
      const { readFileSync } = await import('node:fs');
      const key = readFileSync(join(dir, 'initial-key'), 'utf8').trim();
      const stream = await openStream(gw.url, key);
      const t0 = Date.now();
      await gw.close(400);
      const took = Date.now() - t0;
      assert.ok(took >= 350 && took < 3000, `closed after ${took} ms`);
      assert.equal((await stream.rest).complete, false);
      const stores = await openStores({ dataDir: dir });
      const [rec] = await stores.audit.query({});
      await stores.close();
      assert.equal(rec?.clientAborted, true);
      assert.equal(rec?.tokensEstimated, true);
    } finally {
      await emu.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
