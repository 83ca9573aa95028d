import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify as toYaml } from 'yaml';
import { startEmulator, type Emulator, type EmulatorOptions } from '../emulator/index.js';

/**
 * End-to-end test stacks: an Ollama emulator plus a real `gatehouse serve` process (the compiled
 * CLI, exactly as users run it) on ephemeral loopback ports, each with its own data dir.
 */

export const REPO = resolve(fileURLToPath(import.meta.url), '../../../..');
export const CLI = join(REPO, 'dist/src/main.js');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the gatehouse CLI synchronously (keys, config check …). */
export function cli(args: string[], env: NodeJS.ProcessEnv = {}): CliResult {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: { ...process.env, ...env, GATEHOUSE_CONFIG: env.GATEHOUSE_CONFIG ?? '' }, timeout: 30_000 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

export interface GatewayProcess {
  url: string;
  port: number;
  proc: ChildProcess;
  /** Everything the process printed (JSON log lines). */
  logs: () => string;
  /** SIGTERM and wait for exit; returns the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export interface Stack {
  emu: Emulator;
  gw: GatewayProcess;
  dataDir: string;
  configFile: string;
  /**
   * `gatehouse keys create --name NAME [args]` → the new key and its id. Waits until running
   * gateways have picked the key up (they poll the store every 250 ms), unless `wait` is false
   * (a test creating many keys waits once, with `settle()`).
   */
  createKey(name: string, args?: string[], opts?: { wait?: boolean }): Promise<{ id: string; key: string }>;
  cli(args: string[]): CliResult;
  /** Starts another gateway process on the same config and data dir (replica tests). */
  startReplica(): Promise<GatewayProcess>;
  close(): Promise<void>;
}

export interface StackOptions {
  /** Config merged over the test defaults (listen/upstream/data_dir are filled in). */
  config?: Record<string, unknown>;
  emulator?: EmulatorOptions;
  env?: NodeJS.ProcessEnv;
  /** Extra `gatehouse serve` arguments (e.g. --workers 2). */
  serveArgs?: string[];
}

export async function startStack(o: StackOptions = {}): Promise<Stack> {
  const dataDir = mkdtempSync(join(tmpdir(), 'gatehouse-test-'));
  const emu = await startEmulator(o.emulator);
  const config: Record<string, unknown> = {
    listen: '127.0.0.1:0',
    // A test that lists its own upstreams (simulated nodes) does not get the emulator as `upstream`.
    ...(o.config && 'upstreams' in o.config ? {} : { upstream: emu.url }),
    data_dir: dataDir,
    log: { level: 'info', format: 'json' },
    // Test gateways run side by side: no shared fixed metrics port unless a test asks for one.
    metrics: { listen: 'off' },
    ...o.config,
  };
  const configFile = join(dataDir, 'gatehouse.yaml');
  writeFileSync(configFile, toYaml(config));
  const env = { ...o.env, GATEHOUSE_CONFIG: configFile };
  const replicas: GatewayProcess[] = [];
  const start = async () => {
    const g = await spawnGateway(['serve', ...(o.serveArgs ?? [])], env);
    replicas.push(g);
    return g;
  };
  let gw: GatewayProcess;
  try {
    gw = await start();
  } catch (err) {
    await emu.close();
    rmSync(dataDir, { recursive: true, force: true });
    throw err;
  }
  return {
    emu,
    gw,
    dataDir,
    configFile,
    async createKey(name, args = [], opts = {}) {
      const r = cli(['keys', 'create', '--name', name, '--json', ...args], env);
      if (r.code !== 0) throw new Error(`keys create failed (${r.code}): ${r.stderr}`);
      const j = JSON.parse(r.stdout) as { id: string; key: string };
      if (opts.wait !== false) await settle();
      return { id: j.id, key: j.key };
    },
    cli: (args) => cli(args, env),
    startReplica: start,
    async close() {
      await Promise.all(replicas.map((r) => r.stop()));
      await emu.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Spawns `gatehouse <args>` and resolves once it logs the URL it listens on. */
export function spawnGateway(args: string[], env: NodeJS.ProcessEnv): Promise<GatewayProcess> {
  return new Promise((resolvePromise, reject) => {
    const proc = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let settled = false;
    const timer = setTimeout(() => fail(new Error(`gateway did not start within 15 s:\n${out}`)), 15_000);
    const fail = (err: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      proc.kill('SIGKILL');
      reject(err);
    };
    const onData = (d: Buffer) => {
      out += d.toString();
      if (settled) return;
      const m = /"url":"(https?:\/\/[^"]+)","upstream"/.exec(out);
      if (m) {
        settled = true;
        clearTimeout(timer);
        const url = m[1]!;
        resolvePromise({
          url,
          port: Number(new URL(url).port),
          proc,
          logs: () => out,
          stop: (signal = 'SIGTERM') =>
            new Promise((res) => {
              if (proc.exitCode !== null || proc.signalCode !== null) return res(proc.exitCode);
              const kill = setTimeout(() => proc.kill('SIGKILL'), 10_000);
              proc.once('exit', (code) => {
                clearTimeout(kill);
                res(code);
              });
              proc.kill(signal);
            }),
        });
      }
    };
    proc.stdout!.on('data', onData);
    proc.stderr!.on('data', onData);
    proc.once('exit', (code) => fail(new Error(`gateway exited with ${code} before listening:\n${out}`)));
  });
}

/** Long enough for every running gateway to have polled the key store (every 250 ms). */
export function settle(ms = 600): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** fetch with a Bearer key (or none). */
export function call(url: string, init: RequestInit & { key?: string } = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  if (init.key) headers.set('authorization', `Bearer ${init.key}`);
  return fetch(url, { ...init, headers });
}
