import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { stringify as toYaml } from 'yaml';
import { loadConfig } from '../../src/config/load.js';
import { startEmulator, type Emulator } from '../emulator/index.js';
import { CLI } from '../helpers/stack.js';
import { freshSchema, pgUnavailable, PG_BASE } from '../store/pg.js';

/**
 * Issue #18 item 1, "one store, whoever runs the CLI": every command finds the configuration the
 * same way (--config, $GATEHOUSE_CONFIG, ./gatehouse.yaml, /etc/gatehouse/gatehouse.yaml) and takes
 * the data dir from it; only `serve` and `init` create a store; the others say there is none and
 * where they looked; `keys create` says which store it wrote to. The systemd walk-through with a
 * real service user is test/deploy/systemd-doc.test.ts.
 */

const base = mkdtempSync(join(tmpdir(), 'gatehouse-onestore-'));
after(() => rmSync(base, { recursive: true, force: true }));

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The compiled CLI as its own process, with exactly this environment (no GATEHOUSE_* from ours). */
function run(args: string[], o: { cwd?: string; env?: NodeJS.ProcessEnv; uid?: number } = {}): Run {
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME, ...o.env };
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd: o.cwd ?? base, env, encoding: 'utf8', timeout: 30_000, ...(o.uid !== undefined ? { uid: o.uid, gid: o.uid } : {}) });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function runAsync(args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [CLI, ...args], { cwd: base, env: { PATH: process.env.PATH, HOME: process.env.HOME }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    p.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

let n = 0;
function fresh(config: Record<string, unknown> = {}): { dir: string; file: string; dataDir: string } {
  const dir = join(base, `c${n++}`);
  mkdirSync(dir);
  const dataDir = join(dir, 'data');
  const file = join(dir, 'gatehouse.yaml');
  writeFileSync(file, toYaml({ data_dir: dataDir, metrics: { listen: 'off' }, ...config }));
  return { dir, file, dataDir };
}

describe('issue #18 item 1: one store, whoever runs the CLI', () => {
  let emu: Emulator;
  before(async () => {
    emu = await startEmulator();
  });
  after(() => emu.close());

  it('the config comes from --config, else $GATEHOUSE_CONFIG, else ./gatehouse.yaml, else /etc/gatehouse/gatehouse.yaml; the data dir from it', () => {
    const a = fresh();
    const b = fresh();
    const c = fresh();
    const dataDirOf = (r: Run) => {
      assert.equal(r.code, 0, r.stderr);
      return (JSON.parse(r.stdout) as { data_dir: string }).data_dir;
    };
    assert.equal(dataDirOf(run(['config', 'check', '--json', '--config', c.file], { cwd: a.dir, env: { GATEHOUSE_CONFIG: b.file } })), c.dataDir);
    assert.equal(dataDirOf(run(['config', 'check', '--json'], { cwd: a.dir, env: { GATEHOUSE_CONFIG: b.file } })), b.dataDir);
    assert.equal(dataDirOf(run(['config', 'check', '--json'], { cwd: a.dir })), a.dataDir);
    // The last place, the systemd unit's file, without writing to /etc here (the doc test does it for real).
    const empty = join(base, 'empty-cwd');
    mkdirSync(empty, { recursive: true });
    const loaded = loadConfig({ cwd: empty, env: {}, systemConfig: c.file });
    assert.equal(loaded.file, c.file);
    assert.equal(loaded.config.data_dir, c.dataDir);
    assert.deepEqual(loaded.lookups.map((l) => `${l.source}=${l.result}`), ['--config=not given', '$GATEHOUSE_CONFIG=not set', './gatehouse.yaml=absent', `${c.file}=used`]);
    assert.match(loaded.dataDirFrom, /config file/);
    // The real default is the unit's path.
    assert.match(run(['config', 'check'], { cwd: empty }).stdout + run(['keys', 'list'], { cwd: empty }).stderr, /\/etc\/gatehouse\/gatehouse\.yaml/);
  });

  it('a named config file that does not exist is an error, not a fall-back to defaults', () => {
    const r = run(['keys', 'list', '--config', join(base, 'nope.yaml')]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /the config file .*nope\.yaml \(from --config\) does not exist/);
  });

  it('keys, usage and audit refuse a store that does not exist, name where they looked, and create nothing', () => {
    const c = fresh({ upstream: emu.url });
    for (const args of [['keys', 'list'], ['keys', 'create', '--name', 'x'], ['keys', 'show', 'x'], ['usage'], ['audit'], ['audit', '--admin']]) {
      const r = run([...args, '--config', c.file]);
      assert.equal(r.code, 1, `${args.join(' ')}: ${r.stdout}${r.stderr}`);
      assert.ok(r.stderr.includes(`there is no key store at ${join(c.dataDir, 'gatehouse.db')} (the data dir ${c.dataDir} does not exist)`), r.stderr);
      assert.ok(r.stderr.includes(`\`gatehouse ${args[0]}${args[0] === 'keys' ? ` ${args[1]}` : ''}\` does not create one`), r.stderr);
      assert.match(r.stderr, /Config file looked for at:\n {2}--config \(.*gatehouse\.yaml\): used\n/);
      assert.match(r.stderr, new RegExp(`data_dir ${c.dataDir} came from the config file`));
      assert.match(r.stderr, /gatehouse init/);
      assert.equal(existsSync(c.dataDir), false, `${args.join(' ')} created the data dir`);
    }
    // A data dir without a store in it: the same, and nothing is added to it.
    mkdirSync(c.dataDir, { mode: 0o700 });
    const r = run(['keys', 'list'], { cwd: c.dir });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /holds no gatehouse\.db/);
    assert.match(r.stderr, /\.\/gatehouse\.yaml \(.*\): used/);
    assert.deepEqual(readdirSync(c.dataDir), []);
  });

  it('keys create may start a store only in an existing, empty directory named with --data-dir (a script preparing a fresh data dir)', () => {
    const dir = join(base, 'prepared');
    mkdirSync(dir, { mode: 0o700 });
    const list = run(['keys', 'list', '--data-dir', dir]);
    assert.equal(list.code, 1, 'reading commands never start one');
    const made = run(['keys', 'create', '--name', 'bench', '--json', '--data-dir', dir]);
    assert.equal(made.code, 0, made.stderr);
    assert.match(made.stderr, /started a new key store in .*prepared \(an empty directory named with --data-dir\)/);
    assert.ok(existsSync(join(dir, 'gatehouse.db')));
    const other = join(base, 'not-empty');
    mkdirSync(other, { mode: 0o700 });
    writeFileSync(join(other, 'something'), '');
    const refused = run(['keys', 'create', '--name', 'x', '--data-dir', other]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /holds no gatehouse\.db/);
    const missing = run(['keys', 'create', '--name', 'x', '--data-dir', join(base, 'never-made')]);
    assert.equal(missing.code, 1);
    assert.equal(existsSync(join(base, 'never-made')), false);
  });

  it('doctor reports the missing store with where it looked, as a warning, and creates nothing', async () => {
    const c = fresh({ upstream: emu.url });
    // Not spawnSync: the emulator doctor probes runs in this process.
    const r = await runAsync(['doctor', '--json', '--probe-addresses', '', '--config', c.file]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const report = JSON.parse(r.stdout) as { findings: Array<{ id: string; severity: string; title: string; detail?: string }> };
    const f = report.findings.find((x) => x.id === 'store.missing');
    assert.ok(f, r.stdout);
    assert.equal(f.severity, 'warning');
    assert.ok(f.title.includes(join(c.dataDir, 'gatehouse.db')), f.title);
    assert.match(f.detail ?? '', /Config file looked for at: --config \(.*\): used/);
    assert.equal(existsSync(c.dataDir), false);
  });

  it('init creates the store (0700); keys create then names the store it wrote to; init again changes nothing', () => {
    const c = fresh();
    const init = run(['init', '--config', c.file]);
    assert.equal(init.code, 0, init.stderr);
    assert.ok(init.stdout.includes(`Created the key store ${join(c.dataDir, 'gatehouse.db')}`), init.stdout);
    assert.equal(statSync(c.dataDir).mode & 0o777, 0o700);
    const human = run(['keys', 'create', '--name', 'alice', '--config', c.file]);
    assert.equal(human.code, 0, human.stderr);
    assert.ok(human.stdout.includes(`Written to the key store ${join(c.dataDir, 'gatehouse.db')} (config ${c.file}).`), human.stdout);
    const json = run(['keys', 'create', '--name', 'bob', '--json', '--config', c.file]);
    assert.equal((JSON.parse(json.stdout) as { store: string }).store, `key store ${join(c.dataDir, 'gatehouse.db')} (config ${c.file})`);
    const again = run(['init', '--config', c.file]);
    assert.equal(again.code, 0);
    assert.match(again.stdout, /already exists; nothing changed/);
    assert.equal((JSON.parse(run(['keys', 'list', '--json', '--config', c.file]).stdout) as unknown[]).length, 2);
  });

  it('serve creates the store on first start, and the CLI then finds it through the same config', async () => {
    const c = fresh({ upstream: emu.url, listen: '127.0.0.1:0', log: { format: 'json' } });
    const { spawnGateway } = await import('../helpers/stack.js');
    const gw = await spawnGateway(['serve'], { GATEHOUSE_CONFIG: c.file });
    try {
      const r = run(['keys', 'list', '--json'], { env: { GATEHOUSE_CONFIG: c.file } });
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual((JSON.parse(r.stdout) as Array<{ name: string }>).map((k) => k.name), ['initial']);
    } finally {
      await gw.stop();
    }
  });

  it('root running keys on a service user\'s store leaves no file the service cannot open', { skip: process.getuid?.() === 0 ? false : 'needs root' }, () => {
    const c = fresh();
    const nobody = 65534;
    chownSync(c.dir, nobody, nobody);
    chmodSync(base, 0o755);
    const init = run(['init', '--config', c.file], { uid: nobody });
    assert.equal(init.code, 0, init.stderr);
    const made = run(['keys', 'create', '--name', 'by-root', '--config', c.file]);
    assert.equal(made.code, 0, made.stderr);
    for (const f of readdirSync(c.dataDir)) assert.equal(statSync(join(c.dataDir, f)).uid, nobody, `${f} belongs to root`);
    const list = run(['keys', 'list', '--json', '--config', c.file], { uid: nobody });
    assert.equal(list.code, 0, list.stderr);
  });

  it('PostgreSQL: keys refuses a schema Gatehouse never created, and does not create it', async (t) => {
    const why = await pgUnavailable();
    if (why) return t.skip(why);
    const schema = freshSchema('onestore');
    try {
      const c = fresh({ store: schema.url });
      const r = run(['keys', 'list', '--config', c.file]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, new RegExp(`schema "${schema.schema}" holds no Gatehouse tables`));
      assert.match(r.stderr, /store came from the config file/);
      const client = new pg.Client({ connectionString: PG_BASE });
      await client.connect();
      try {
        const ns = await client.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [schema.schema]);
        assert.equal(ns.rowCount, 0, 'the schema was created');
      } finally {
        await client.end();
      }
      assert.equal(run(['init', '--config', c.file]).code, 0);
      assert.equal(run(['keys', 'list', '--config', c.file]).code, 0);
    } finally {
      await schema.drop();
    }
  });
});
