import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { accessSync, constants, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Finding Go and building the reader program (test/differential/go) once per source hash. The
 * binary lives in os.tmpdir(), so repeated test runs (and parallel test files) reuse it; tsc does
 * not copy .go files to dist/, so the sources are read from the repository itself.
 */

/** The repository root: the nearest ancestor of this file holding test/differential/go/go.mod. */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'test/differential/go/go.mod'))) return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error(`cannot find test/differential/go/go.mod above ${fileURLToPath(import.meta.url)}`);
    dir = up;
  }
}

export const GO_SOURCE_DIR = (): string => join(repoRoot(), 'test/differential/go');

/** The `go` executable on PATH, or null. */
export function findGo(): string | null {
  const names = process.platform === 'win32' ? ['go.exe'] : ['go'];
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    for (const name of names) {
      const p = join(dir, name);
      try {
        if (statSync(p).isFile()) {
          accessSync(p, constants.X_OK);
          return p;
        }
      } catch {
        // not here
      }
    }
  }
  return null;
}

function writableDir(dir: string): boolean {
  try {
    mkdirSync(dir, { recursive: true });
    accessSync(dir, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * The environment `go build` runs in: no module downloads are needed (standard library only),
 * toolchain switching is off, and the build cache falls back to a temporary directory when the
 * user's cache directory cannot be written (a read-only or missing HOME in CI).
 */
export function goEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, GOFLAGS: '-mod=mod', GOTOOLCHAIN: 'local', GO111MODULE: 'on', GOWORK: 'off', CGO_ENABLED: '0' };
  if (!env.GOCACHE) {
    const home = env.HOME || homedir();
    const userCache = env.XDG_CACHE_HOME || (home ? join(home, '.cache') : '');
    if (!userCache || !writableDir(userCache)) env.GOCACHE = join(tmpdir(), 'gatehouse-goreader-gocache');
  }
  if (!env.GOPATH && !(env.HOME || homedir())) env.GOPATH = join(tmpdir(), 'gatehouse-goreader-gopath');
  return env;
}

/** A hash of the Go sources and of the toolchain's version: a new binary for either change. */
function sourceHash(go: string, dir: string): string {
  const h = createHash('sha256');
  const version = spawnSync(go, ['version'], { encoding: 'utf8', env: goEnv() });
  h.update(version.stdout ?? '');
  for (const name of readdirSync(dir).filter((n) => n.endsWith('.go') || n === 'go.mod').sort()) {
    h.update(name).update('\0').update(readFileSync(join(dir, name))).update('\0');
  }
  return h.digest('hex').slice(0, 16);
}

const sleep = (ms: number): void => void Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

/**
 * Builds the reader if this exact source has not been built yet and returns the binary's path.
 * A cold build compiles net/http and takes most of a minute on two cores, so test files running
 * side by side take turns (a lock directory) instead of compiling the same packages twice; the
 * build goes to a private name and is renamed, so nobody ever runs half a file.
 */
export function buildGoReader(go: string): string {
  const dir = GO_SOURCE_DIR();
  const outDir = join(tmpdir(), `gatehouse-goreader-${sourceHash(go, dir)}`);
  const bin = join(outDir, process.platform === 'win32' ? 'goreader.exe' : 'goreader');
  if (existsSync(bin)) return bin;
  mkdirSync(outDir, { recursive: true });
  const lock = join(outDir, 'building');
  for (const deadline = Date.now() + 600_000; ; sleep(250)) {
    if (existsSync(bin)) return bin;
    try {
      mkdirSync(lock);
      break;
    } catch {
      // Another process is building; a lock older than ten minutes belongs to a dead one.
      try {
        if (Date.now() - statSync(lock).mtimeMs > 600_000) rmSync(lock, { recursive: true, force: true });
      } catch {
        // released meanwhile
      }
      if (Date.now() > deadline) throw new Error(`timed out waiting for another process to build ${bin}`);
    }
  }
  try {
    if (existsSync(bin)) return bin;
    const partial = `${bin}.${process.pid}.partial`;
    const r = spawnSync(go, ['build', '-trimpath', '-o', partial, '.'], { cwd: dir, env: goEnv(), encoding: 'utf8', timeout: 600_000 });
    if (r.status !== 0) {
      rmSync(partial, { force: true });
      throw new Error(`go build of ${dir} failed (${r.error?.message ?? `exit ${r.status}`}):\n${r.stderr}`);
    }
    renameSync(partial, bin);
    return bin;
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}
