import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { REPO } from '../helpers/stack.js';

/**
 * docs/threat-model.md F4 (malicious releases of a dependency): the lockfile pins every package by content
 * hash, nothing is fetched from outside the npm registry, runtime dependencies stay few, and only
 * the one package that must compile native code runs an install script.
 */

interface LockEntry {
  version?: string;
  resolved?: string;
  integrity?: string;
  link?: boolean;
  dev?: boolean;
  hasInstallScript?: boolean;
}

const pkg = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { dependencies: Record<string, string>; devDependencies: Record<string, string> };
const lock = JSON.parse(readFileSync(join(REPO, 'package-lock.json'), 'utf8')) as { lockfileVersion: number; packages: Record<string, LockEntry> };
const installed = Object.entries(lock.packages).filter(([path, e]) => path !== '' && !e.link);

describe('threats F4: supply chain', () => {
  it('F4: every installed package is pinned by a sha512 integrity hash (lockfile v2+)', () => {
    assert.ok(lock.lockfileVersion >= 2);
    assert.ok(installed.length > 10);
    const unpinned = installed.filter(([, e]) => !e.integrity?.startsWith('sha512-')).map(([p]) => p);
    assert.deepEqual(unpinned, []);
  });

  it('F4: nothing comes from git, a URL or a local path; only the npm registry', () => {
    for (const [name, spec] of Object.entries({ ...pkg.dependencies, ...pkg.devDependencies })) {
      assert.match(spec, /^[~^]?\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$/, `${name}: "${spec}" is not a registry version range`);
    }
    const foreign = installed.filter(([, e]) => e.resolved !== undefined && !e.resolved.startsWith('https://registry.npmjs.org/')).map(([p, e]) => `${p} ← ${e.resolved}`);
    assert.deepEqual(foreign, []);
  });

  it('F4: runtime dependencies stay few; of them only better-sqlite3 runs an install script, and of the build tools only esbuild', () => {
    assert.ok(Object.keys(pkg.dependencies).length <= 12, `${Object.keys(pkg.dependencies).length} runtime dependencies`);
    const scripts = (dev: boolean) => installed.filter(([, e]) => e.hasInstallScript && Boolean(e.dev) === dev).map(([p]) => p.replace(/^.*node_modules\//, ''));
    assert.deepEqual(scripts(false), ['better-sqlite3'], 'installed with the package: only the native SQLite binding');
    // esbuild (bundles the console in `npm run build`, never installed with the package): its
    // install script checks the platform binary, itself an optional dependency pinned by integrity.
    assert.deepEqual(scripts(true), ['esbuild'], 'development only');
  });
});
