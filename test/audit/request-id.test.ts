import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openStores } from '../../src/store/index.js';
import { CLI, startStack, type Stack } from '../helpers/stack.js';
import { hit } from './http.js';

/**
 * Issue item 5 (already built; verified here): X-Request-Id is accepted only from trusted proxies
 * and generated otherwise, returned on every response, sent upstream, and the same id is in the
 * JSON log line and the audit record. Logs are human-readable on a terminal.
 */

function logLines(s: Stack): Array<Record<string, unknown>> {
  return s.gw.logs().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
}

describe('request ids', () => {
  let direct: Stack;
  let proxied: Stack;
  let key: string;
  let pkey: string;
  before(async () => {
    [direct, proxied] = await Promise.all([
      startStack({ config: { log: { level: 'debug', format: 'json' }, metrics: { listen: 'off' } } }),
      startStack({ config: { log: { level: 'debug', format: 'json' }, metrics: { listen: 'off' }, trusted_proxies: ['127.0.0.1'] } }),
    ]);
    key = (await direct.createKey('ids')).key;
    pkey = (await proxied.createKey('ids')).key;
  });
  after(async () => {
    await direct.close();
    await proxied.close();
  });

  it('every response carries one: proxied, refused, unmatched, public and local', async () => {
    const chat = { model: 'llama3', messages: [{ role: 'user', content: 'x' }], stream: false };
    const all = [
      await hit(direct.gw.url, { path: '/api/chat', key, body: chat }),
      await hit(direct.gw.url, { path: '/api/chat', body: chat }),
      await hit(direct.gw.url, { path: '/nope' }),
      await hit(direct.gw.url, { path: '/' }),
      await hit(direct.gw.url, { path: '/healthz' }),
      await hit(direct.gw.url, { method: 'OPTIONS', path: '/api/chat' }),
    ];
    for (const r of all) assert.match(r.id, /^req_[0-9A-Za-z]+$/, `status ${r.status}`);
    assert.equal(new Set(all.map((r) => r.id)).size, all.length);
  });

  it('a client-sent X-Request-Id is ignored unless the peer is a trusted proxy', async () => {
    const chat = { model: 'llama3', messages: [{ role: 'user', content: 'x' }], stream: false };
    direct.emu.reset();
    const r = await hit(direct.gw.url, { path: '/api/chat', key, body: chat, headers: { 'x-request-id': 'client-chosen-1' } });
    assert.notEqual(r.id, 'client-chosen-1');
    assert.equal(direct.emu.requests[0]!.headers['x-request-id'], r.id, 'sent upstream');

    proxied.emu.reset();
    const p = await hit(proxied.gw.url, { path: '/api/chat', key: pkey, body: chat, headers: { 'x-request-id': 'lb-7f3a:01' } });
    assert.equal(p.id, 'lb-7f3a:01');
    assert.equal(proxied.emu.requests[0]!.headers['x-request-id'], 'lb-7f3a:01');
    const bad = await hit(proxied.gw.url, { path: '/api/tags', key: pkey, headers: { 'x-request-id': 'has spaces and "quotes"' } });
    assert.match(bad.id, /^req_/, 'an unsafe id is replaced even from a trusted proxy');
  });

  it('the same id is in the JSON log line and the audit record', async () => {
    const r = await hit(direct.gw.url, { path: '/api/tags', key });
    const refused = await hit(direct.gw.url, { path: '/api/tags' });
    await new Promise((res) => setTimeout(res, 400));
    const lines = logLines(direct);
    for (const id of [r.id, refused.id]) assert.ok(lines.some((l) => l.request_id === id && l.level === 'info'), `log line for ${id}`);
    assert.equal(direct.gw.logs().split('\n').filter((l) => l.trim()).every((l) => l.startsWith('{')), true, 'every log line is JSON when stdout is not a terminal');
    const stores = await openStores({ dataDir: direct.dataDir });
    const recs = await stores.audit.query({ limit: 1000 });
    await stores.close();
    assert.ok(recs.some((x) => x.requestId === r.id && x.decision === 'allowed'));
    assert.ok(recs.some((x) => x.requestId === refused.id && x.reason === 'GW_ERR_AUTH_MISSING'));
  });

  const hasScript = spawnSync('script', ['--version']).status === 0;
  it('logs are human-readable when stdout is a terminal', { skip: hasScript ? false : 'util-linux `script` (for a pseudo-terminal) is not installed' }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-tty-'));
    const cfg = join(dir, 'g.yaml');
    writeFileSync(cfg, `listen: 127.0.0.1:0\ndata_dir: ${dir}\nmetrics: { listen: 'off' }\n`);
    const child = spawn('script', ['-q', '-e', '-c', `${process.execPath} ${CLI} serve`, '/dev/null'], { env: { ...process.env, GATEHOUSE_CONFIG: cfg }, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no listening line:\n${out}`)), 15_000);
        const onData = (d: Buffer) => {
          out += d.toString();
          if (out.includes('gatehouse listening')) {
            clearTimeout(timer);
            resolve();
          }
        };
        child.stdout!.on('data', onData);
        child.stderr!.on('data', onData);
      });
      const line = out.split(/\r?\n/).find((l) => l.includes('gatehouse listening'))!;
      assert.ok(!line.trimStart().startsWith('{'), `pretty, not JSON: ${line}`);
      assert.match(line, /INFO/);
    } finally {
      try {
        process.kill(-child.pid!, 'SIGTERM');
      } catch {
        /* already gone */
      }
      await new Promise((r) => setTimeout(r, 300));
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
