import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openStores, type Stores } from '../../src/store/index.js';
import { CLI, cli } from '../helpers/stack.js';
import { auditRec, newKey, waitFor } from '../contract/store.contract.js';

/** `gatehouse usage` and `gatehouse audit` on a seeded store. */

const HOUR = 3_600_000;
const now = Date.now();
const LLAMA = 'registry.ollama.ai/library/llama3:latest';

/** Within the roll-up histograms' stated error (5%, docs/observability.md "Roll-ups"). */
function near(got: number, want: number): void {
  assert.ok(Math.abs(got - want) <= want * 0.05, `${got} is not within 5% of ${want}`);
}

describe('gatehouse usage / gatehouse audit', () => {
  let dir: string;
  let env: NodeJS.ProcessEnv;
  let stores: Stores;
  let alice: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-cli-'));
    const cfg = join(dir, 'g.yaml');
    writeFileSync(cfg, `data_dir: ${dir}\n`);
    env = { GATEHOUSE_CONFIG: cfg };
    stores = await openStores({ dataDir: dir });
    alice = (await stores.keys.create(newKey({ name: 'alice' }), { actor: 'cli:t@h' })).id;
    const recs = [];
    for (let i = 1; i <= 10; i++) recs.push(auditRec({ at: now - 2 * HOUR + i, principalId: alice, principalName: 'alice', durationMs: i * 10, promptTokens: 100, completionTokens: 1000, requestId: `req_a${i}` }));
    recs.push(auditRec({ at: now - HOUR, principalId: alice, principalName: 'alice', decision: 'refused', reason: 'GW_ERR_RATE_LIMITED', status: 429, promptTokens: null, completionTokens: null, requestId: 'req_limited' }));
    recs.push(auditRec({ at: now - HOUR, principalId: null, principalName: null, model: null, models: [], decision: 'refused', reason: 'GW_ERR_AUTH_MISSING', status: 401, promptTokens: null, completionTokens: null, requestId: 'req_nokey', route: 'tags', scope: 'models:read', method: 'GET' }));
    recs.push(auditRec({ at: now - 3 * 24 * HOUR, principalId: 'key_old', principalName: 'old,"quoted"', requestId: 'req_old' }));
    await stores.audit.append(recs);
  });
  after(async () => {
    await stores.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('usage: a readable table per key, with totals and percentiles', () => {
    const r = cli(['usage'], env);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trimEnd().split('\n');
    assert.match(lines[0]!, /^Usage by key, \d{4}-\d{2}-\d{2} \d{2}:\d{2} → \d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC$/);
    assert.match(lines[2]!, /^KEY\s+NAME\s+REQUESTS\s+REFUSED\s+PROMPT TOK\s+COMPL TOK\s+P50 MS\s+P95 MS$/);
    // Percentiles come from the roll-ups' histograms: within 5% of the exact 50 and 100 ms.
    const row = new RegExp(`^${alice}\\s+alice\\s+11\\s+1\\s+1,000\\s+10,000\\s+([\\d.]+)\\s+([\\d.]+)$`).exec(lines[3]!);
    assert.ok(row, lines[3]);
    near(Number(row[1]), 50);
    near(Number(row[2]), 100);
    assert.match(lines[4]!, /^\(no key\)\s+-\s+1\s+1\s+0\s+0\s+-\s+-$/);
    const total = /^TOTAL\s+12\s+2\s+1,000\s+10,000\s+([\d.]+)\s+([\d.]+)$/.exec(lines[5]!);
    assert.ok(total, lines[5]);
    near(Number(total[1]), 50);
    near(Number(total[2]), 100);
    assert.ok(!r.stdout.includes('key_old'), 'outside the default 24 h');
  });

  it('usage: --by model|hour|day, --since, --key by name, --json, --csv', () => {
    const j = JSON.parse(cli(['usage', '--json', '--by', 'model', '--key', 'alice'], env).stdout);
    assert.equal(j.by, 'model');
    assert.equal(j.key, alice);
    assert.equal(j.rows.length, 1);
    const { p50_ms, p95_ms, ...counts } = j.rows[0];
    assert.deepEqual(counts, { model: LLAMA, requests: 11, refused: 1, prompt_tokens: 1000, completion_tokens: 10000 });
    near(p50_ms, 50);
    near(p95_ms, 100);
    assert.equal(j.total.requests, 11);
    const hours = JSON.parse(cli(['usage', '--json', '--by', 'hour'], env).stdout);
    assert.ok(hours.rows.length >= 1 && hours.rows.every((x: { hour: string }) => /T\d{2}:00:00\.000Z$/.test(x.hour)));
    const days = JSON.parse(cli(['usage', '--json', '--by', 'day', '--since', '7d'], env).stdout);
    assert.equal(days.total.requests, 13);
    const csv = cli(['usage', '--csv', '--since', '7d'], env).stdout.trim().split('\n');
    assert.equal(csv[0], 'group,name,requests,refused,prompt_tokens,completion_tokens,p50_ms,p95_ms');
    // The name's comma and quotes escaped as RFC 4180 says; its one duration (10.25 ms) within 5%.
    const old = /^key_old,"old,""quoted""",1,0,3,5,([\d.]+),([\d.]+)$/.exec(csv.find((l) => l.startsWith('key_old,')) ?? '');
    assert.ok(old, csv.join('\n'));
    near(Number(old[1]), 10.25);
    near(Number(old[2]), 10.25);
    const window = JSON.parse(cli(['usage', '--since', new Date(now - 2 * HOUR).toISOString(), '--until', new Date(now - 90 * 60_000).toISOString().slice(0, 19), '--json'], env).stdout);
    assert.equal(window.total.requests, 10, 'ISO times, with or without a zone (UTC)');
  });

  it('usage: mistakes are usage errors (exit 2) that say what is expected', () => {
    const bad = [['--by', 'week'], ['--since', 'yesterday'], ['--since', '1h', '--until', '2h'], ['--json', '--csv'], ['--key', 'nobody']];
    for (const args of bad) {
      const r = cli(['usage', ...args], env);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, /^gatehouse usage: /);
    }
  });

  it('audit: the newest records as a table; --denied, --key, --since; --json one object per line', () => {
    const t = cli(['audit'], env);
    assert.equal(t.code, 0, t.stderr);
    const lines = t.stdout.trimEnd().split('\n');
    assert.match(lines[0]!, /^TIME\s+REQUEST\s+KEY\s+CLIENT\s+METHOD\s+ROUTE\s+MODEL\s+STATUS\s+DECISION\s+TOKENS P\/C\s+TTFB MS\s+MS\s+DETAIL$/);
    assert.equal(lines.length, 1 + 13);
    assert.match(t.stdout, /req_nokey\s+-\s+127\.0\.0\.1\s+GET\s+tags\s+-\s+401\s+refused\s+-\s+1\.5\s+10\.3\s+GW_ERR_AUTH_MISSING/);
    assert.match(t.stdout, /req_a1\s+alice\s+127\.0\.0\.1\s+POST\s+chat\s+llama3\s+200\s+allowed\s+100\/1000/);
    const denied = cli(['audit', '--denied', '--json'], env).stdout.trim().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(denied.map((d) => d.request_id), ['req_limited', 'req_nokey']);
    assert.equal(denied[0].reason, 'GW_ERR_RATE_LIMITED');
    const mine = cli(['audit', '--key', 'alice', '--since', '90m', '--json'], env).stdout.trim().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(mine.map((d) => d.request_id), ['req_limited']);
    assert.equal(cli(['audit', '--limit', '2', '--json'], env).stdout.trim().split('\n').length, 2);
    assert.equal(cli(['audit', '--limit', '0'], env).code, 2);
  });

  it('audit --admin: key and configuration changes, who and when', () => {
    const r = cli(['audit', '--admin'], env);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /cli:t@h\s+key\.create\s+key_\S+\s+\{"name":"alice"/);
  });

  it('audit --follow prints records as they are written', async () => {
    const child = spawn(process.execPath, [CLI, 'audit', '--follow', '--json', '--limit', '1'], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    try {
      await waitFor(() => out.split('\n').filter(Boolean).length === 1, 5000);
      await stores.audit.append([auditRec({ at: Date.now(), requestId: 'req_live1' }), auditRec({ at: Date.now(), requestId: 'req_live2' })]);
      await waitFor(() => out.includes('req_live2'), 3000);
      await stores.audit.append([auditRec({ at: Date.now(), requestId: 'req_live3' })]);
      await waitFor(() => out.includes('req_live3'), 3000);
      const ids = out.trim().split('\n').map((l) => JSON.parse(l).request_id);
      assert.deepEqual(ids.slice(1), ['req_live1', 'req_live2', 'req_live3'], 'each new record once, in order');
    } finally {
      child.kill('SIGINT');
    }
  });
});
