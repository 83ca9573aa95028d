import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { openStores } from '../../src/store/index.js';
import { WriterThread } from '../../src/store/sqlite/writer-thread.js';
import type { NewAuditRecord } from '../../src/store/types.js';

const dirs: string[] = [];
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'gatehouse-writer-thread-'));
  dirs.push(d);
  return d;
}

const record = (i: number): NewAuditRecord => ({
  at: 1_700_000_000_000 + i, requestId: `req-${i}`, principalId: 'key_1', principalName: 'alice', clientIp: '127.0.0.1',
  method: 'POST', route: 'chat', path: '/api/chat', scope: 'inference', model: 'llama3.2:1b', models: ['llama3.2:1b'],
  decision: 'allowed', reason: null, status: 200, promptTokens: 3, completionTokens: 5, tokensEstimated: false,
  ttfbMs: 1, durationMs: 2, bytesIn: 10, bytesOut: 20, clientAborted: false, stream: false, upstream: 'http://127.0.0.1:1', upstreamError: null, node: null,
});

describe('SQLite writer thread (server role)', () => {
  it('a thread that cannot open the database fails the call in flight; the next call starts a new thread', async () => {
    const dir = join(tempDir(), 'not-yet');
    const thread = new WriterThread({ file: join(dir, 'gatehouse.db'), autocheckpointPages: 100 });
    await assert.rejects(thread.append([record(1)]), /SQLite writer thread (failed|exited)/);
    // Now the database exists (created and migrated as the server does it): a new thread writes.
    mkdirSync(dir);
    const stores = await openStores({ dataDir: dir });
    await thread.append([record(2), record(3)]);
    const rows = await stores.audit.query({});
    assert.deepEqual(rows.map((r) => r.requestId), ['req-2', 'req-3']);
    await thread.close();
    await stores.close();
  });

  it('records reach the thread as flat rows and come back field for field (a 25-row group and a single row)', async () => {
    const dir = tempDir();
    const server = await openStores({ dataDir: dir, role: 'server' });
    const sent = Array.from({ length: 26 }, (_, i): NewAuditRecord => ({
      ...record(i),
      principalId: i % 2 ? null : `key_${i}`, principalName: i % 2 ? null : `name ${i} ✓`, reason: i % 3 ? null : 'GW_ERR_X',
      models: i % 4 ? ['a:1', `b:${i}`] : [], promptTokens: i % 5 ? i : null, tokensEstimated: i % 2 === 0, ttfbMs: i % 7 ? i + 0.25 : null,
      clientAborted: i % 3 === 1, stream: i % 2 === 1, upstreamError: i === 25 ? 'mid-stream "error"' : null,
    }));
    await server.audit.append(sent);
    await server.close();
    const cli = await openStores({ dataDir: dir });
    const got = (await cli.audit.query({ limit: 100 })).map(({ id: _id, ...r }) => r).sort((a, b) => a.at - b.at);
    assert.deepEqual(got, sent);
    await cli.close();
  });

  it('close() lets the batch already sent commit, and refuses calls after it', async () => {
    const dir = tempDir();
    const server = await openStores({ dataDir: dir, role: 'server' });
    const sent = server.audit.append(Array.from({ length: 600 }, (_, i) => record(i)));
    await server.close();
    await sent;
    await assert.rejects(server.audit.append([record(9999)]), /closed/);
    const cli = await openStores({ dataDir: dir });
    assert.equal((await cli.audit.query({ limit: 10_000 })).length, 600);
    await cli.close();
  });

  it('prune runs on the thread, slice by slice, and deletes only what is older than the cut-off', async () => {
    const dir = tempDir();
    const server = await openStores({ dataDir: dir, role: 'server' });
    await server.audit.append(Array.from({ length: 2500 }, (_, i) => record(i)));
    assert.equal(await server.audit.prune(1_700_000_000_000 + 2100), 2100);
    const left = await server.audit.query({ limit: 10_000 });
    assert.equal(left.length, 400);
    assert.equal(left[0]!.requestId, 'req-2100');
    await server.close();
  });
});
