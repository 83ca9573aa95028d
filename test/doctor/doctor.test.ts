import assert from 'node:assert/strict';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { stringify as toYaml } from 'yaml';
import { loadConfig } from '../../src/config/load.js';
import { configChecks } from '../../src/doctor/config-checks.js';
import { fileChecks, findSecrets } from '../../src/doctor/files.js';
import { keyChecks } from '../../src/doctor/keys.js';
import type { DoctorReport, Finding } from '../../src/doctor/types.js';
import type { KeyRecord } from '../../src/store/types.js';
import { startEmulator, type Emulator } from '../emulator/index.js';
import { spawn, spawnSync } from 'node:child_process';
import { CLI, cli } from '../helpers/stack.js';
import { haveOpenssl, serverCert } from '../tls/certs.js';

/**
 * `gatehouse doctor`, run as the compiled CLI. NETWORK RULE: every probe goes to loopback. The
 * "LAN interface" of the host is played by 127.0.0.2 (all of 127.0.0.0/8 is loopback on Linux), an
 * emulator listening there on the upstream's port stands for Ollama started with
 * OLLAMA_HOST=0.0.0.0, and doctor is told to probe exactly that address with --probe-addresses, never
 * this machine's real interfaces. (netns.test.ts runs doctor's real interface enumeration, inside a
 * network namespace the test makes.)
 */

const STAND_IN_LAN = '127.0.0.2';

let tmp: string;
before(() => {
  tmp = mkdtempSync(join(tmpdir(), 'gatehouse-doctor-'));
});
after(() => rmSync(tmp, { recursive: true, force: true }));

let n = 0;
/** A config file and a data dir of its own. */
function setup(config: Record<string, unknown>, mode = 0o600): { file: string; dataDir: string } {
  const dir = join(tmp, `case-${++n}`);
  mkdirSync(dir);
  const dataDir = join(dir, 'data');
  const file = join(dir, 'gatehouse.yaml');
  writeFileSync(file, toYaml({ data_dir: dataDir, ...config }), { mode });
  chmodSync(file, mode);
  return { file, dataDir };
}

/**
 * Runs the CLI without blocking this process: the emulators that doctor probes live in it, and
 * spawnSync would stop them from answering.
 */
export function run(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, GATEHOUSE_CONFIG: '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => p.kill('SIGKILL'), 30_000);
    p.once('error', reject);
    p.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr });
    });
  });
}

async function doctor(file: string, args: string[] = []): Promise<{ code: number; report: DoctorReport; stderr: string }> {
  const r = await run(['doctor', '--config', file, '--json', '--timeout', '1s', ...args]);
  let report: DoctorReport;
  try {
    report = JSON.parse(r.stdout) as DoctorReport;
  } catch {
    throw new Error(`doctor printed no JSON (exit ${r.code}):\n${r.stdout}\n${r.stderr}`);
  }
  return { code: r.code, report, stderr: r.stderr };
}

const find = (r: DoctorReport, id: string): Finding[] => r.findings.filter((f) => f.id === id);
const one = (r: DoctorReport, id: string): Finding => {
  const f = find(r, id);
  assert.equal(f.length, 1, `one "${id}" finding expected in ${JSON.stringify(r.findings, null, 1)}`);
  return f[0]!;
};

/** An emulator on 127.0.0.1 and, on the same port, one on the stand-in LAN address. */
async function exposedPair(): Promise<{ loop: Emulator; lan: Emulator }> {
  for (let i = 0; ; i++) {
    const loop = await startEmulator({ host: '127.0.0.1', port: 0 });
    try {
      return { loop, lan: await startEmulator({ host: STAND_IN_LAN, port: loop.port }) };
    } catch (err) {
      await loop.close();
      if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE' || i > 20) throw err;
    }
  }
}

describe('doctor: Ollama reachable without Gatehouse', () => {
  it('finds an emulator answering on the stand-in LAN address and exits non-zero', async () => {
    const { loop, lan } = await exposedPair();
    try {
      const { file } = setup({ upstream: loop.url });
      const { code, report } = await doctor(file, ['--probe-addresses', STAND_IN_LAN]);
      assert.equal(code, 1);
      assert.equal(report.ok, false);
      assert.deepEqual(report.probe, { source: 'flag', port: loop.port, addresses: [STAND_IN_LAN] });
      const f = one(report, 'upstream.exposed');
      assert.equal(f.severity, 'critical');
      assert.match(f.title, new RegExp(`answers on 127\\.0\\.0\\.2:${loop.port}`));
      assert.match(f.fix ?? '', /OLLAMA_HOST=127\.0\.0\.1:11434/);
      assert.equal(report.findings[0]!.severity, 'critical', 'most severe first');
      assert.ok(lan.requests.some((r) => r.path === '/api/version'), 'the probe reached the stand-in address');
      assert.ok(lan.requests.some((r) => r.path === '/api/tags'), 'and checked that it answers without credentials');
      assert.equal(one(report, 'upstream.ok').severity, 'ok');

      const text = await run(['doctor', '--config', file, '--timeout', '1s', '--probe-addresses', STAND_IN_LAN]);
      assert.equal(text.code, 1);
      assert.match(text.stdout, /probing only the addresses given with --probe-addresses: 127\.0\.0\.2/);
      assert.match(text.stdout, /^CRITICAL\s+Ollama .* answers on 127\.0\.0\.2:/m);
      assert.match(text.stdout, /fix: Make Ollama listen on loopback only/);
      assert.match(text.stdout, /1 critical, .*: NOT SAFE TO DEPLOY$/m);
    } finally {
      await lan.close();
      await loop.close();
    }
  });

  it('passes a safe setup (Ollama on 127.0.0.1 only) with exit status 0', async () => {
    const loop = await startEmulator({ host: '127.0.0.1', port: 0 });
    try {
      const { file } = setup({ upstream: loop.url });
      const { code, report } = await doctor(file, ['--probe-addresses', STAND_IN_LAN]);
      assert.equal(code, 0, JSON.stringify(report.findings, null, 1));
      assert.equal(report.ok, true);
      assert.equal(report.counts.critical, 0);
      assert.equal(find(report, 'upstream.exposed').length, 0);
      assert.equal(one(report, 'upstream.exposure').severity, 'ok');
      assert.match(one(report, 'upstream.exposure').detail ?? '', new RegExp(`127\\.0\\.0\\.2:${loop.port}`));
      assert.match(one(report, 'upstream.ok').title, /^Ollama 0\.\d+\.\d+\S* answers at/);
    } finally {
      await loop.close();
    }
  });

  it('reports an HTTP service on the upstream port that is not Ollama as a warning, not critical', async () => {
    const loop = await startEmulator({ host: '127.0.0.1', port: 0 });
    const other = createServer((_q, s) => s.writeHead(404).end('nope'));
    try {
      await new Promise<void>((res, rej) => other.once('error', rej).listen(loop.port, STAND_IN_LAN, res));
      const { file } = setup({ upstream: loop.url });
      const { code, report } = await doctor(file, ['--probe-addresses', STAND_IN_LAN]);
      assert.equal(code, 0);
      assert.equal(one(report, 'upstream.port_in_use').severity, 'warning');
    } finally {
      other.close();
      await loop.close();
    }
  });
});

describe('doctor: the upstream itself', () => {
  let skewed: Server;
  let skewedUrl: string;
  before(async () => {
    // Ollama-like, with a clock one hour slow.
    skewed = createServer((_q, s) => {
      s.setHeader('date', new Date(Date.now() - 3_600_000).toUTCString());
      s.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ version: '0.9.0' }));
    });
    await new Promise<void>((r) => skewed.listen(0, '127.0.0.1', r));
    skewedUrl = `http://127.0.0.1:${(skewed.address() as AddressInfo).port}`;
  });
  after(() => skewed.close());

  it('an upstream that does not answer is critical', async () => {
    const gone = createServer();
    await new Promise<void>((r) => gone.listen(0, '127.0.0.1', r));
    const port = (gone.address() as AddressInfo).port;
    await new Promise((r) => gone.close(r));
    const { file } = setup({ upstream: `http://127.0.0.1:${port}` });
    const { code, report } = await doctor(file, ['--probe-addresses', '']);
    assert.equal(code, 1);
    assert.equal(one(report, 'upstream.unreachable').severity, 'critical');
    assert.match(one(report, 'upstream.unreachable').title, /ECONNREFUSED/);
    assert.equal(one(report, 'upstream.exposure').severity, 'info', 'an empty probe list is said, not hidden');
  });

  it('an upstream that is not Ollama is critical', async () => {
    const web = createServer((_q, s) => s.writeHead(200, { 'content-type': 'text/html' }).end('<html>hello</html>'));
    await new Promise<void>((r) => web.listen(0, '127.0.0.1', r));
    try {
      const { file } = setup({ upstream: `http://127.0.0.1:${(web.address() as AddressInfo).port}` });
      const { code, report } = await doctor(file, ['--probe-addresses', '']);
      assert.equal(code, 1);
      assert.equal(one(report, 'upstream.not_ollama').severity, 'critical');
    } finally {
      web.close();
    }
  });

  it('warns about clock skew against the upstream Date header', async () => {
    const { file } = setup({ upstream: skewedUrl });
    const { code, report } = await doctor(file, ['--probe-addresses', '']);
    assert.equal(code, 0);
    const f = one(report, 'clock.skew');
    assert.equal(f.severity, 'warning');
    assert.match(f.title, /clock is 3[56]\d\d s ahead of the upstream's/);
    assert.equal(one(report, 'upstream.ok').title.startsWith('Ollama 0.9.0 answers'), true);
    const lenient = (await doctor(file, ['--probe-addresses', '', '--max-skew', '2h'])).report;
    assert.equal(one(lenient, 'clock.skew').severity, 'ok');
  });
});

describe('doctor: configuration', () => {
  let emu: Emulator;
  before(async () => {
    emu = await startEmulator({ host: '127.0.0.1', port: 0 });
  });
  after(() => emu.close());

  it('listening beyond loopback without TLS, Ed25519 without TLS, manage and cloud routes: warnings; --strict fails on them', async () => {
    // doctor never connects to the listen address; 0.0.0.0 here is configuration only.
    const { file } = setup({ upstream: emu.url, listen: '0.0.0.0:11435', routes: { manage: true, cloud: true } });
    const { code, report } = await doctor(file, ['--probe-addresses', '']);
    assert.equal(code, 0);
    assert.equal(one(report, 'listen.no_tls').severity, 'warning');
    assert.equal(one(report, 'ssh.no_tls').severity, 'warning');
    assert.equal(one(report, 'routes.manage').severity, 'warning');
    assert.equal(one(report, 'routes.cloud').severity, 'warning');
    assert.equal((await doctor(file, ['--probe-addresses', '', '--strict'])).code, 1);
  });

  it('keys: without expiry, with models:manage, and the key store is read without being changed', async () => {
    const { file, dataDir } = setup({ upstream: emu.url });
    assert.equal(cli(['init', '--config', file]).code, 0);
    assert.equal(cli(['keys', 'create', '--name', 'forever', '--config', file]).code, 0);
    assert.equal(cli(['keys', 'create', '--name', 'admin', '--scopes', 'inference,models:manage', '--expires', '30d', '--config', file]).code, 0);
    const { report } = await doctor(file, ['--probe-addresses', '']);
    assert.match(one(report, 'keys.no_expiry').title, /^1 active key never expires: forever \(key_/);
    const manage = one(report, 'keys.manage');
    assert.equal(manage.severity, 'info', 'inert while routes.manage is off');
    assert.match(manage.title, /admin/);
    assert.match(one(report, 'keys').title, /^2 active keys \(2 API, 0 SSH, 0 client certificate\)/);
    assert.equal(one(report, 'perm.data_dir').severity, 'ok');
    void dataDir;
  });

  it('an invalid configuration is itself a critical finding', async () => {
    const { file } = setup({ upstream: emu.url, listen: 'nowhere' });
    const { code, report } = await doctor(file);
    assert.equal(code, 1);
    assert.match(one(report, 'config.invalid').detail ?? '', /listen: must be HOST:PORT/);
  });

  it('--probe-addresses takes IP addresses only (no name is ever looked up)', async () => {
    const { file } = setup({ upstream: emu.url });
    const r = await run(['doctor', '--config', file, '--probe-addresses', 'example.com']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /IP addresses only/);
  });

  it('run as root on a service user\'s data dir, reads the key store as that user and leaves nothing owned by root', { skip: process.getuid?.() === 0 ? false : 'needs root' }, async () => {
    const base = mkdtempSync(join(tmpdir(), 'gatehouse-owned-'));
    try {
      chmodSync(base, 0o755);
      const dir = join(base, 'owned');
      mkdirSync(dir);
      const nobody = 65534;
      chownSync(dir, nobody, nobody);
      const file = join(dir, 'gatehouse.yaml');
      writeFileSync(file, toYaml({ upstream: emu.url, data_dir: join(dir, 'data') }), { mode: 0o644 });
      const asNobody = (args: string[]) => spawnSync(process.execPath, [CLI, ...args, '--config', file], { uid: nobody, gid: nobody, encoding: 'utf8', env: { ...process.env, GATEHOUSE_CONFIG: '' } });
      assert.equal(asNobody(['init']).status, 0);
      const made = asNobody(['keys', 'create', '--name', 'svc', '--expires', '30d']);
      assert.equal(made.status, 0, made.stderr);
      const { code, report } = await doctor(file, ['--probe-addresses', '']);
      assert.equal(code, 0, JSON.stringify(report.findings, null, 1));
      assert.match(one(report, 'keys').title, /^1 active key/);
      assert.equal(one(report, 'upstream.ok').severity, 'ok', 'checks after the store ran with root privileges back');
      for (const f of readdirSync(join(dir, 'data'))) assert.equal(statSync(join(dir, 'data', f)).uid, nobody, `${f} is owned by root`);
    } finally {
      rmSync(base, { recursive: true, force: true });
    }
  });

  it('a world-writable data dir is critical', async () => {
    const { file, dataDir } = setup({ upstream: emu.url });
    mkdirSync(dataDir);
    chmodSync(dataDir, 0o777);
    const { code, report } = await doctor(file, ['--probe-addresses', '']);
    assert.equal(code, 1);
    assert.equal(one(report, 'perm.data_dir').severity, 'critical');
  });
});

describe('doctor checks, one by one', () => {
  const cfg = (over: Record<string, unknown>, configFile?: string) => loadConfig({ env: {}, cwd: tmp, flags: over, ...(configFile ? { configPath: configFile } : {}) }).config;

  it('files: readable secrets, the TLS key, the initial key', () => {
    const dir = join(tmp, 'files');
    const data = join(dir, 'data');
    mkdirSync(data, { recursive: true, mode: 0o755 });
    chmodSync(data, 0o755);
    writeFileSync(join(data, 'initial-key'), 'gh_secret\n', { mode: 0o644 });
    chmodSync(join(data, 'initial-key'), 0o644);
    const key = join(dir, 'tls.key');
    writeFileSync(key, 'not really a key', { mode: 0o644 });
    chmodSync(key, 0o644);
    const conf = join(dir, 'other.yaml');
    // A config another component might read; the secret scan is by shape, not by schema.
    writeFileSync(conf, toYaml({ redis: { url: 'redis://:hunter2@127.0.0.1:6379' }, store: { password: 's3cret' }, tls: { key: '/etc/gatehouse/key.pem' } }), { mode: 0o644 });
    chmodSync(conf, 0o644);
    const config = { ...cfg({ data_dir: data }), tls: { cert: undefined, key, client_auth: 'none' } } as unknown as Parameters<typeof fileChecks>[0];
    const f = fileChecks(config, conf);
    const by = (id: string) => f.filter((x) => x.id === id);
    assert.equal(by('perm.initial_key')[0]?.severity, 'critical');
    assert.equal(by('perm.data_dir')[0]?.severity, 'warning');
    assert.equal(by('perm.tls_key')[0]?.severity, 'critical');
    assert.equal(by('config.secrets')[0]?.severity, 'critical');
    assert.match(by('config.secrets')[0]!.title, /redis\.url, store\.password/);
    chmodSync(conf, 0o600);
    assert.equal(fileChecks(config, conf).find((x) => x.id === 'config.secrets')?.severity, 'ok');
  });

  it('secrets are found by shape; paths to files are not secrets', () => {
    assert.deepEqual(findSecrets({ a: { password: 'x', token: '/run/secrets/t', url: 'postgres://u:p@h/db', plain: 'postgres://h/db' }, k: '-----BEGIN PRIVATE KEY-----\n', tls: { client_auth: 'optional' } }), ['a.password', 'a.url', 'k']);
  });

  it('keys: unused and cert principals the configuration cannot reach', () => {
    const now = Date.parse('2026-06-01T00:00:00Z');
    const day = 86_400_000;
    const rec = (id: string, o: Partial<KeyRecord>): KeyRecord => ({
      id, name: id, kind: 'api_key', hash: null, hint: null, fingerprint: null, publicKey: null, scopes: ['inference'], models: null,
      limits: { rpm: null, tpm: null, tpd: null, concurrency: null }, clamps: {}, policyId: null, createdAt: now - 100 * day, expiresAt: now + 10 * day,
      revokedAt: null, lastUsedAt: now - day, updatedAt: now, version: 1, ...o,
    });
    const records = [
      rec('used', {}),
      rec('stale', { lastUsedAt: now - 40 * day }),
      rec('never', { lastUsedAt: null }),
      rec('new', { lastUsedAt: null, createdAt: now - day }),
      rec('gone', { revokedAt: now - day, lastUsedAt: null }),
      rec('cert', { kind: 'client_cert', fingerprint: 'cert:subject:CN=x' }),
    ];
    const f = keyChecks({ records }, cfg({}), { now, unusedAfterMs: 30 * day });
    const unused = f.find((x) => x.id === 'keys.unused')!;
    assert.equal(unused.severity, 'warning');
    assert.match(unused.title, /^2 active keys with no recorded use in 30d: stale \(stale\), never \(never\)$/);
    assert.equal(f.find((x) => x.id === 'keys.cert_unreachable')?.severity, 'warning');
    assert.equal(f.find((x) => x.id === 'keys.cert_subject_without_ca')?.severity, 'warning');
    assert.equal(f.find((x) => x.id === 'keys.no_expiry'), undefined);
    assert.equal(keyChecks({ skipped: 'no store' }, cfg({}), { now, unusedAfterMs: day })[0]?.severity, 'info');
    const noneRecorded = keyChecks({ records: records.map((r) => ({ ...r, lastUsedAt: null })) }, cfg({}), { now, unusedAfterMs: 30 * day });
    assert.equal(noneRecorded.find((x) => x.id === 'keys.unused')?.severity, 'info', 'no key has any recorded use: cannot tell');
  });

  it('TLS certificate: valid, expiring soon, expired, and a key that does not match', { skip: haveOpenssl() ? false : 'openssl is not installed' }, () => {
    const dir = join(tmp, 'tlscheck');
    mkdirSync(dir);
    const a = serverCert(dir, 'a');
    const b = serverCert(dir, 'b');
    const conf = cfg({ listen: '0.0.0.0:11435', tls: { cert: a.cert, key: a.key } });
    const at = (ms: number) => configChecks(conf, Date.now() + ms).find((x) => x.id === 'tls.cert_expiry')?.severity;
    assert.equal(at(0), 'warning', 'a 2-day certificate expires within 14 days');
    assert.equal(at(3 * 86_400_000), 'critical');
    const okList = configChecks(conf);
    assert.equal(okList.find((x) => x.id === 'listen')?.title, 'Gatehouse listens on 0.0.0.0:11435 with TLS');
    assert.equal(okList.find((x) => x.id === 'ssh.no_tls'), undefined);
    const mismatched = cfg({ tls: { cert: a.cert, key: b.key } });
    assert.equal(configChecks(mismatched).find((x) => x.id === 'tls.pair')?.severity, 'critical');
  });
});
