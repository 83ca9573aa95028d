import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { stringify as toYaml } from 'yaml';
import type { DoctorReport } from '../../src/doctor/types.js';
import { CLI, REPO } from '../helpers/stack.js';

/**
 * doctor's production path, with no --probe-addresses: it enumerates the host's interfaces itself.
 * To keep every packet off this machine's real interfaces, emulator and doctor both run inside a
 * network namespace this test creates (`ip netns add`), whose only interfaces are its own loopback
 * and a veth pair (both ends inside) carrying 192.0.2.1/24, a documentation address (RFC 5737) that
 * stands for the host's LAN address. Nothing leaves the namespace. Needs root (CAP_NET_ADMIN);
 * skipped with a message elsewhere.
 */

const NS = `gh-doctor-${process.pid}`;
const LAN = '192.0.2.1';

function ip(...args: string[]): { ok: boolean; err: string } {
  const r = spawnSync('ip', args, { encoding: 'utf8' });
  return { ok: r.status === 0, err: `${r.stderr ?? ''}${r.error?.message ?? ''}` };
}

function makeNamespace(): string | null {
  if (process.getuid?.() !== 0) return 'needs root to create a network namespace';
  const add = ip('netns', 'add', NS);
  if (!add.ok) return `cannot create a network namespace (${add.err.trim()})`;
  const steps = [
    ['netns', 'exec', NS, 'ip', 'link', 'set', 'lo', 'up'],
    ['netns', 'exec', NS, 'ip', 'link', 'add', 'gh0', 'type', 'veth', 'peer', 'name', 'gh1'],
    ['netns', 'exec', NS, 'ip', 'addr', 'add', `${LAN}/24`, 'dev', 'gh0'],
    ['netns', 'exec', NS, 'ip', 'link', 'set', 'gh0', 'up'],
    ['netns', 'exec', NS, 'ip', 'link', 'set', 'gh1', 'up'],
  ];
  // IPv6 off inside the namespace: no link-local addresses appearing mid-test.
  spawnSync('ip', ['netns', 'exec', NS, 'sysctl', '-qw', 'net.ipv6.conf.all.disable_ipv6=1'], { stdio: 'ignore' });
  for (const s of steps) {
    const r = ip(...s);
    if (!r.ok) {
      ip('netns', 'del', NS);
      return `cannot set up the namespace: ip ${s.join(' ')}: ${r.err.trim()}`;
    }
  }
  return null;
}

/** Starts the emulator inside the namespace on `host`; resolves with its port. */
function emulatorInNamespace(host: string): Promise<{ proc: ChildProcess; port: number }> {
  return new Promise((resolve, reject) => {
    const proc = spawn('ip', ['netns', 'exec', NS, process.execPath, join(REPO, 'dist/test/doctor/emulator-at.js'), host], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const timer = setTimeout(() => reject(new Error(`emulator did not start: ${out}`)), 10_000);
    proc.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /http:\/\/[^\s]+:(\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ proc, port: Number(m[1]) });
      }
    });
    proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    proc.once('exit', (code) => reject(new Error(`emulator exited (${code}): ${out}`)));
  });
}

function stop(proc: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (proc.exitCode !== null || proc.signalCode !== null) return resolve();
    proc.once('exit', () => resolve());
    proc.kill('SIGTERM');
  });
}

function doctorInNamespace(configFile: string): Promise<{ code: number; report: DoctorReport; raw: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn('ip', ['netns', 'exec', NS, process.execPath, CLI, 'doctor', '--config', configFile, '--json', '--timeout', '1s'], { env: { ...process.env, GATEHOUSE_CONFIG: '' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    p.once('close', (code) => {
      try {
        resolve({ code: code ?? -1, report: JSON.parse(out) as DoctorReport, raw: out });
      } catch {
        reject(new Error(`doctor printed no JSON (${code}): ${out}\n${err}`));
      }
    });
  });
}

const reason = makeNamespace();

describe('doctor enumerates interfaces itself (inside a test network namespace)', { skip: reason ?? false }, () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-netns-'));
  });
  after(() => {
    rmSync(dir, { recursive: true, force: true });
    ip('netns', 'del', NS);
  });

  const configFor = (port: number, name: string) => {
    const file = join(dir, `${name}.yaml`);
    writeFileSync(file, toYaml({ upstream: `http://127.0.0.1:${port}`, data_dir: join(dir, name) }), { mode: 0o600 });
    return file;
  };

  it('Ollama listening on 0.0.0.0 is found on the namespace\'s LAN address: critical, exit 1', async () => {
    const emu = await emulatorInNamespace('0.0.0.0');
    try {
      const { code, report } = await doctorInNamespace(configFor(emu.port, 'exposed'));
      assert.equal(report.probe.source, 'interfaces');
      assert.ok(report.probe.addresses.includes(LAN), `enumerated ${report.probe.addresses.join(', ')}`);
      assert.ok(report.probe.addresses.every((a) => a === LAN), 'the namespace has no other non-loopback address');
      const f = report.findings.find((x) => x.id === 'upstream.exposed');
      assert.equal(f?.severity, 'critical', JSON.stringify(report.findings, null, 1));
      assert.match(f!.title, new RegExp(`answers on 192\\.0\\.2\\.1:${emu.port}`));
      assert.equal(code, 1);
    } finally {
      await stop(emu.proc);
    }
  });

  it('Ollama on 127.0.0.1 only: the LAN address is probed, nothing answers, exit 0', async () => {
    const emu = await emulatorInNamespace('127.0.0.1');
    try {
      const { code, report } = await doctorInNamespace(configFor(emu.port, 'safe'));
      assert.deepEqual(report.probe, { source: 'interfaces', port: emu.port, addresses: [LAN] });
      assert.equal(report.findings.find((x) => x.id === 'upstream.exposure')?.severity, 'ok');
      assert.equal(report.counts.critical, 0, JSON.stringify(report.findings, null, 1));
      assert.equal(code, 0);
    } finally {
      await stop(emu.proc);
    }
  });
});

