/**
 * Child processes of the benchmark: long-lived servers (upstream, proxies) whose output goes to a
 * log file and which are stopped by PID, and short load steps whose one JSON line we read.
 * Every child started here is remembered and killed on exit, whatever happens.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, openSync, closeSync } from 'node:fs';
import { createServer } from 'node:net';
import { delimiter, join } from 'node:path';
import { request } from 'undici';

const live = new Set<ChildProcess>();

process.on('exit', () => {
  for (const c of live) if (c.exitCode === null && c.signalCode === null && c.pid) {
    try {
      process.kill(c.pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
});

export interface Server {
  name: string;
  proc: ChildProcess;
  pid: number;
  log: string;
  stop(): Promise<void>;
}

/** Starts a long-running server in the foreground of its own process; output to `log`. */
export function startServer(name: string, cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string; log: string }): Server {
  const fd = openSync(opts.log, 'a');
  const proc = spawn(cmd, args, { env: opts.env ?? process.env, cwd: opts.cwd, stdio: ['ignore', fd, fd] });
  closeSync(fd);
  if (!proc.pid) throw new Error(`${name}: could not start ${cmd}`);
  live.add(proc);
  proc.once('exit', () => live.delete(proc));
  const pid = proc.pid;
  return {
    name, proc, pid, log: opts.log,
    stop: () => stopProcess(proc),
  };
}

export function stopProcess(proc: ChildProcess, graceMs = 5000): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const t = setTimeout(() => {
      try {
        proc.kill('SIGKILL');
      } catch {
        /* gone */
      }
    }, graceMs);
    proc.once('exit', () => {
      clearTimeout(t);
      resolve();
    });
    proc.kill('SIGTERM');
  });
}

/** Runs a load step to completion; resolves with its stdout's last JSON line. Bounded by timeoutMs. */
export function runJson(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; timeoutMs: number }): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const proc = spawn(cmd, args, { env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    live.add(proc);
    let out = '';
    let err = '';
    proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
    proc.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const t = setTimeout(() => proc.kill('SIGKILL'), opts.timeoutMs);
    proc.once('close', (code, signal) => {
      clearTimeout(t);
      live.delete(proc);
      const line = out.trim().split('\n').filter((l) => l.startsWith('{')).pop();
      if (!line) return reject(new Error(`${cmd} ${args.slice(0, 3).join(' ')}… exited ${code ?? signal} without a result: ${err.slice(-500)}`));
      try {
        resolve(JSON.parse(line) as Record<string, unknown>);
      } catch (e) {
        reject(new Error(`${cmd}: unreadable result ${line.slice(0, 200)} (${(e as Error).message})`));
      }
    });
  });
}

/** A TCP port that was free a moment ago on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

/** Polls until GET url answers with any HTTP status (or the process dies / time runs out). */
export async function waitHttp(url: string, proc: ChildProcess, timeoutMs = 20_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (proc.exitCode !== null || proc.signalCode !== null) throw new Error(`exited (${proc.exitCode ?? proc.signalCode}) before answering ${url}`);
    try {
      const r = await request(url, { headersTimeout: 2000, bodyTimeout: 2000 });
      await r.body.dump();
      return;
    } catch {
      if (Date.now() > end) throw new Error(`no answer from ${url} within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/** The executable's path if it is on PATH (or is an executable path itself), else null. */
export function which(bin: string): string | null {
  const candidates = bin.includes('/') ? [bin] : [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/usr/local/sbin'].map((d) => join(d, bin));
  for (const p of candidates) {
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      /* next */
    }
  }
  return null;
}
