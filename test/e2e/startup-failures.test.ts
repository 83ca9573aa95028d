import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { stringify as toYaml } from 'yaml';
import pino from 'pino';
import { ConfigSchema } from '../../src/config/schema.js';
import { startGateway } from '../../src/server/app.js';
import { StartupError } from '../../src/server/startup-errors.js';
import { startEmulator, type Emulator } from '../emulator/index.js';
import { CLI, spawnGateway } from '../helpers/stack.js';
import { freshSchema, pgUnavailable } from '../store/pg.js';

/**
 * Issue #18 item 5: every start-up and CLI failure says what happened and what to do, instead of a
 * bare EACCES / EPERM / EADDRINUSE / ENOENT. One case per test: the message and the exit status
 * of the compiled CLI, run as its own process.
 */

const base = mkdtempSync(join(tmpdir(), 'gatehouse-startfail-'));
chmodSync(base, 0o755);
after(() => rmSync(base, { recursive: true, force: true }));

const isRoot = process.getuid?.() === 0;
/** The other user of the permission cases. */
const NOBODY = 65534;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the CLI with a clean environment: metrics off (tests run side by side) unless `metrics` says otherwise. */
function run(args: string[], o: { env?: NodeJS.ProcessEnv; uid?: number; timeout?: number; metrics?: boolean } = {}): Run {
  const r = spawnSync(process.execPath, [CLI, ...args], {
    cwd: base, encoding: 'utf8', timeout: o.timeout ?? 30_000,
    env: { PATH: process.env.PATH, HOME: base, GATEHOUSE_LOG__FORMAT: 'json', ...(o.metrics ? {} : { GATEHOUSE_METRICS__LISTEN: 'off' }), ...o.env },
    ...(o.uid !== undefined ? { uid: o.uid, gid: o.uid } : {}),
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

let n = 0;
const dirFor = (name: string) => {
  const d = join(base, `${name}-${n++}`);
  mkdirSync(d, { mode: 0o755 });
  return d;
};

/** A TCP port held by this test process (so its owner is known: this process). */
function holdPort(): Promise<{ server: Server; port: number }> {
  return new Promise((resolve) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => resolve({ server, port: (server.address() as { port: number }).port }));
  });
}

function freePort(): Promise<number> {
  return holdPort().then(({ server, port }) => new Promise((r) => server.close(() => r(port))));
}

describe('issue #18 item 5: start-up and CLI failures say what happened and what to do', () => {
  let emu: Emulator;
  before(async () => {
    emu = await startEmulator();
  });
  after(() => emu.close());

  // Root may write anywhere, and a non-root owner may chmod its own directory back: the case is a
  // user that does not own the data dir, so it runs as `nobody` on a root-owned one.
  it('data dir not writable: names the user, the owner, and the command that fixes it', { skip: isRoot ? false : 'needs root to run as another user' }, () => {
    const parent = dirFor('notwritable');
    const dataDir = join(parent, 'data');
    mkdirSync(dataDir, { mode: 0o755 });
    const uid = NOBODY;
    const r = run(['serve', '--listen', '127.0.0.1:0', '--upstream', emu.url, '--data-dir', dataDir], { uid });
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stderr, /^gatehouse serve: (user \S+ \(uid \d+\)|uid \d+) cannot write the data dir \S+data, which belongs to \S+ \(uid \d+\) with mode 0[57]55\./m);
    assert.ok(r.stderr.includes(`sudo chown -R `) && r.stderr.includes(`: ${dataDir}`), r.stderr);
    assert.doesNotMatch(r.stderr, /\bE(ACCES|PERM)\b/);
    // Not there yet, and its parent is not writable: the command that creates it for this user.
    const missing = join(parent, 'data', 'inner');
    const r2 = run(['serve', '--listen', '127.0.0.1:0', '--upstream', emu.url, '--data-dir', missing], { uid });
    assert.equal(r2.code, 1);
    assert.match(r2.stderr, /cannot create the data dir \S+inner: \S+data is not writable by this user, which belongs to .*\. Create it for this user: sudo install -d -m 0700 -o \S+ \S+inner/);
    // The user's own data dir, but a store file root made in it (`sudo gatehouse init` without -u).
    const mine = join(parent, 'mine');
    mkdirSync(mine, { mode: 0o700 });
    assert.equal(run(['init', '--data-dir', mine]).code, 0);
    chownSync(mine, uid, uid);
    const r3 = run(['serve', '--listen', '127.0.0.1:0', '--upstream', emu.url, '--data-dir', mine], { uid });
    assert.equal(r3.code, 1);
    assert.match(r3.stderr, /cannot write the key store \S+mine\/gatehouse\.db, which belongs to root \(uid 0\) with mode 0600\. Run it as that user \(sudo -u root gatehouse serve .*\), or give the data dir to this user: sudo chown -R \S+: \S+mine/);
  });

  it('a CLI command on a store another user owns: run it as that user (the exact command)', { skip: isRoot ? false : 'needs root to make a store owned by someone else' }, () => {
    const dataDir = join(dirFor('owned'), 'data');
    assert.equal(run(['init', '--data-dir', dataDir]).code, 0);
    const r = run(['keys', 'list', '--data-dir', dataDir], { uid: NOBODY });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /cannot read the data dir \S+data, which belongs to root \(uid 0\) with mode 0700\. Run it as that user: sudo -u root gatehouse keys list --data-dir \S+data/);
  });

  it('data_dir is a file: says so and what to set', () => {
    const file = join(dirFor('isfile'), 'data');
    writeFileSync(file, 'not a directory\n');
    const r = run(['serve', '--listen', '127.0.0.1:0', '--upstream', emu.url, '--data-dir', file]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^gatehouse serve: data_dir \S+ is a file, not a directory: set data_dir \(--data-dir, GATEHOUSE_DATA_DIR or the config file\) to a directory/m);
    const under = run(['init', '--data-dir', join(file, 'sub')]);
    assert.equal(under.code, 1);
    assert.match(under.stderr, /data is a file, so the data dir \S+sub cannot be made under it/);
  });

  it('read-only mount: says the file system is read-only and where a writable data dir goes', { skip: isRoot ? false : 'needs root for a read-only mount in a private namespace' }, () => {
    const dir = dirFor('rofs');
    const probe = spawnSync('unshare', ['--mount', '--propagation', 'private', 'true']);
    if (probe.status !== 0) return;
    const r = spawnSync('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', `mount -t tmpfs -o ro tmpfs "$1" && exec "$2" "$3" serve --listen 127.0.0.1:0 --upstream "$4" --data-dir "$1/data"`, 'sh', dir, process.execPath, CLI, emu.url], {
      encoding: 'utf8', timeout: 30_000, env: { PATH: process.env.PATH, HOME: base, GATEHOUSE_METRICS__LISTEN: 'off', GATEHOUSE_LOG__FORMAT: 'json' },
    });
    assert.equal(r.status, 1, r.stdout + r.stderr);
    assert.match(r.stderr, /^gatehouse serve: the data dir \S+data is on a read-only file system: .*Set data_dir to a writable directory \(under systemd with ProtectSystem=strict, the unit's StateDirectory/m);
    assert.doesNotMatch(r.stderr, /EROFS/);
  });

  it('port in use: names the process listening there and the setting to change', async () => {
    const { server, port } = await holdPort();
    try {
      const r = run(['serve', '--listen', `127.0.0.1:${port}`, '--upstream', emu.url, '--data-dir', join(dirFor('port'), 'data')]);
      assert.equal(r.code, 1);
      assert.ok(r.stderr.includes(`gatehouse serve: cannot open the main listener on 127.0.0.1:${port}: the address is already in use; process ${process.pid} (`), r.stderr);
      assert.match(r.stderr, /Stop that process, or set listen \(--listen, GATEHOUSE_LISTEN or listen: in the config file\) to a free HOST:PORT/);
      assert.doesNotMatch(r.stderr, /EADDRINUSE/);
    } finally {
      server.close();
    }
  });

  it('upstream down at start: a warning at start, /readyz 503 until it answers, then 200', async () => {
    const port = await freePort();
    const dataDir = join(dirFor('updown'), 'data');
    const gw = await spawnGateway(['serve', '--listen', '127.0.0.1:0', '--upstream', `http://127.0.0.1:${port}`, '--data-dir', dataDir], { GATEHOUSE_CONFIG: '', GATEHOUSE_METRICS__LISTEN: 'off', GATEHOUSE_LOG__FORMAT: 'json' });
    let late: Emulator | null = null;
    try {
      const deadline = Date.now() + 10_000;
      while (!/is not answering/.test(gw.logs()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      const warning = gw.logs().split('\n').find((l) => l.includes('is not answering'));
      assert.ok(warning, gw.logs());
      const w = JSON.parse(warning) as { level: number; msg: string };
      assert.equal(w.level, 'warn', 'a warning');
      assert.ok(w.msg.includes(`the upstream http://127.0.0.1:${port} is not answering (connect ECONNREFUSED`), w.msg);
      assert.match(w.msg, /\/readyz answers 503 until it does\. Start Ollama, or point upstream \(--upstream, GATEHOUSE_UPSTREAM\) at it/);
      assert.equal(gw.proc.exitCode, null, 'the gateway keeps running');
      assert.equal((await fetch(`${gw.url}/readyz`)).status, 503);
      late = await startEmulator({ host: '127.0.0.1', port });
      let status = 0;
      const until = Date.now() + 10_000;
      while (status !== 200 && Date.now() < until) {
        await new Promise((r) => setTimeout(r, 250));
        status = (await fetch(`${gw.url}/readyz`)).status;
      }
      assert.equal(status, 200, 'ready once the upstream answers');
    } finally {
      assert.equal(await gw.stop(), 0);
      await late?.close();
    }
  });

  it('metrics listener cannot open: a start-up error (exit 1) unless metrics.listen: off', async () => {
    const { server, port } = await holdPort();
    try {
      const dataDir = join(dirFor('metrics'), 'data');
      const r = run(['serve', '--listen', '127.0.0.1:0', '--upstream', emu.url, '--data-dir', dataDir], { env: { GATEHOUSE_METRICS__LISTEN: `127.0.0.1:${port}` } });
      assert.equal(r.code, 1, r.stdout);
      assert.ok(r.stderr.includes(`gatehouse serve: cannot open the metrics listener on 127.0.0.1:${port}: the address is already in use; process ${process.pid} (`), r.stderr);
      assert.match(r.stderr, /set metrics\.listen \(GATEHOUSE_METRICS__LISTEN or the config file\) to a free HOST:PORT, "main" .* or "off" \(no metrics\)/);
      const off = await spawnGateway(['serve', '--listen', '127.0.0.1:0', '--upstream', emu.url, '--data-dir', dataDir], { GATEHOUSE_CONFIG: '', GATEHOUSE_METRICS__LISTEN: 'off' });
      assert.equal(await off.stop(), 0);
    } finally {
      server.close();
    }
  });

  it('a start that fails part-way closes what it had opened (in-process: nothing left to hang on)', async () => {
    const { server, port } = await holdPort();
    const dataDir = join(dirFor('inproc'), 'data');
    const settle = () => new Promise((r) => setTimeout(r, 300));
    await settle();
    const before = process.getActiveResourcesInfo().sort();
    try {
      const config = ConfigSchema.parse({ listen: '127.0.0.1:0', upstream: emu.url, data_dir: dataDir, metrics: { listen: `127.0.0.1:${port}` } });
      await assert.rejects(startGateway({ config, log: pino({ level: 'silent' }) }), (err: Error) => err instanceof StartupError && /cannot open the metrics listener/.test(err.message));
      await settle();
      assert.deepEqual(process.getActiveResourcesInfo().sort(), before, 'timers, sockets or threads left open');
    } finally {
      server.close();
    }
  });

  it('PostgreSQL first start with a missing data dir: the dir is created 0700 and the initial key written', async (t) => {
    const why = await pgUnavailable();
    if (why) return t.skip(why);
    const schema = freshSchema('firststart');
    const dataDir = join(dirFor('pgfirst'), 'not', 'yet');
    try {
      const gw = await spawnGateway(['serve', '--listen', '127.0.0.1:0', '--upstream', emu.url, '--data-dir', dataDir], { GATEHOUSE_CONFIG: '', GATEHOUSE_STORE: schema.url, GATEHOUSE_METRICS__LISTEN: 'off' });
      try {
        assert.equal(statSync(dataDir).mode & 0o777, 0o700);
        assert.match(readFileSync(join(dataDir, 'initial-key'), 'utf8'), /^gatehouse_[0-9A-Za-z]{49}\n$/);
        assert.equal(statSync(join(dataDir, 'initial-key')).mode & 0o777, 0o600);
        assert.ok(!existsSync(join(dataDir, 'gatehouse.db')), 'no SQLite store beside PostgreSQL');
      } finally {
        const code = await gw.stop();
        assert.equal(code, 0, `exit ${code}, signal ${gw.proc.signalCode}:\n${gw.logs()}`);
      }
    } finally {
      await schema.drop();
    }
  });

  it('listen: 11435 says "use HOST:PORT" (file, environment and metrics.listen alike)', () => {
    const file = join(dirFor('listen'), 'gatehouse.yaml');
    writeFileSync(file, toYaml({ listen: 11435, metrics: { listen: 9464 }, data_dir: join(base, 'unused') }));
    const r = run(['serve', '--config', file], { metrics: true });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /listen: 11435 is a port alone: use HOST:PORT, e\.g\. 127\.0\.0\.1:11435 \(this machine only\) or 0\.0\.0\.0:11435 \(every interface\)/);
    assert.match(r.stderr, /metrics\.listen: 9464 is a port alone: use HOST:PORT/);
    const env = run(['config', 'check'], { env: { GATEHOUSE_LISTEN: '11435' } });
    assert.equal(env.code, 1);
    assert.match(env.stderr, /listen: 11435 is a port alone: use HOST:PORT.*\(from environment variable GATEHOUSE_LISTEN\)/);
    const flag = run(['serve', '--listen', '11435', '--data-dir', join(base, 'unused')]);
    assert.equal(flag.code, 1);
    assert.match(flag.stderr, /listen: 11435 is a port alone: use HOST:PORT/);
    assert.equal(existsSync(join(base, 'unused')), false, 'nothing created before the configuration is valid');
  });

  it('a config file this user cannot read: says whose it is and how to run instead', { skip: isRoot ? false : 'needs root to make a file another user cannot read' }, () => {
    const file = join(dirFor('cfgperm'), 'gatehouse.yaml');
    writeFileSync(file, 'listen: 127.0.0.1:0\n', { mode: 0o600 });
    const r = run(['keys', 'list', '--config', file], { uid: NOBODY });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /(user \S+ \(uid 65534\)|uid 65534) cannot read the config file \S+gatehouse\.yaml \(owner uid 0, gid 0, mode 0600\): run the command as the user the gateway runs as \(e\.g\. sudo -u gatehouse gatehouse \.\.\.\)/);
  });
});

