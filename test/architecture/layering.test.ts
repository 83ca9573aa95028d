import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { checkImport, parseLayering, ruleFor, type LayerRule } from './layering-rules.js';
import { importsOf, readSources, REPO } from './source.js';

/**
 * Nothing in src/ imports upward: every import of every source file goes to its own part of src/
 * or to a part its row of the folder table in docs/architecture.md allows. Test files are exempt
 * (they may reach into anything, test helpers included).
 */

const ARCHITECTURE = readFileSync(join(REPO, 'docs/architecture.md'), 'utf8');
const noExt = (path: string): string => path.replace(/\.ts$/, '');

function violations(rules: LayerRule[], files: ReturnType<typeof readSources>): string[] {
  const out: string[] = [];
  for (const f of files) {
    for (const imp of f.imports) {
      const v = checkImport(rules, noExt(f.path), imp.target, imp.typeOnly);
      if (!v.ok) out.push(`src/${f.path}:${imp.line} imports '${imp.specifier}'${imp.typeOnly ? ' (type only)' : ''}: ${v.reason}`);
    }
  }
  return out;
}

describe('layering (docs/architecture.md, folder table)', () => {
  const rules = parseLayering(ARCHITECTURE);
  const files = readSources();

  it('the parser read every row of the table', () => {
    const tableRows = ARCHITECTURE.split('\n').filter((l) => /^\|\s*`[^`]+`\s*\|/.test(l.trim()));
    assert.equal(rules.length, tableRows.length, 'a row of the folder table was skipped');
    assert.ok(rules.length >= 10, `only ${rules.length} rows read`);
    const byPart = new Map(rules.map((r) => [r.part, r]));
    assert.deepEqual(byPart.get('core')?.allows, [], 'core may import nothing internal');
    assert.deepEqual(byPart.get('policy')?.allows.find((a) => a.target === 'config'), { target: 'config', typesOnly: true });
    assert.deepEqual(byPart.get('audit')?.allows.find((a) => a.target === 'config'), { target: 'config', typesOnly: false }, '"(redaction)" is a comment, not a qualifier');
    assert.ok(byPart.get('auth')?.allows.some((a) => a.target === 'store/types'), 'a file entry (store/types) is read');
    const server = byPart.get('server')!;
    for (const r of rules.slice(0, rules.indexOf(server))) {
      assert.ok(server.allows.some((a) => a.target === r.part && !a.typesOnly), `"everything above" includes ${r.part}`);
    }
  });

  it('every source file in src/ is covered by a row', () => {
    const uncovered = files.filter((f) => !ruleFor(rules, noExt(f.path))).map((f) => `src/${f.path}`);
    assert.deepEqual(uncovered, [], 'add a row to the folder table for these');
  });

  it('found the imports it checks', () => {
    const total = files.reduce((n, f) => n + f.imports.length, 0);
    assert.ok(files.length > 100 && total > 300, `read ${files.length} files and ${total} imports: the reader is broken`);
  });

  it('no import in src/ breaks the folder table', () => {
    assert.deepEqual(violations(rules, files), []);
  });

  it('catches a deliberately bad import (the check can fail)', () => {
    const bad = [
      { path: 'core/bad.ts', text: "import { x } from '../server/gateway.js';" },
      { path: 'auth/bad.ts', text: "export { y } from '../limits/limiter.js';" },
      { path: 'policy/bad.ts', text: "import { loadConfig } from '../config/load.js';" }, // (types) only
      { path: 'proxy/bad.ts', text: "const m = await import('../store/index.js');" },
      { path: 'auth/ssh/bad.ts', text: "import type { Limiter } from '../../limits/types.js';" },
      { path: 'config/bad.ts', text: "import pkg from '../../package.json';" },
    ].map((f) => ({ path: f.path, imports: importsOf(f.path, f.text) }));
    const found = violations(rules, bad);
    assert.equal(found.length, bad.length, found.join('\n'));
    assert.match(found[0]!, /^src\/core\/bad\.ts:1 imports '\.\.\/server\/gateway\.js': row `core\/` may import only: nothing internal$/);
    assert.match(found[2]!, /types only/);
  });

  it('lets the allowed imports through', () => {
    const good = [
      { path: 'policy/ok.ts', text: "import type { Config } from '../config/schema.js';\nimport { refuse } from '../core/errors.js';" },
      { path: 'auth/ok.ts', text: "import { parseToken } from './ssh/token.js';\nimport type { KeyStore } from '../store/types.js';" },
      { path: 'server/ok.ts', text: "import { openStores } from '../store/index.js';\nimport { GatewayError } from '../core/errors.js';" },
      { path: 'core/ok.ts', text: "import { readFileSync } from 'node:fs';\nimport { z } from 'zod';\n// import { x } from '../server/gateway.js';\nconst s = \"import('../server/gateway.js')\";" },
    ].map((f) => ({ path: f.path, imports: importsOf(f.path, f.text) }));
    assert.deepEqual(violations(rules, good), []);
  });

  it('reads import type, export … from and import()', () => {
    const imports = importsOf('x/y.ts', [
      "import type { A } from '../a.js';",
      "import { type B, type C } from '../b.js';",
      "import { type D, E } from '../d.js';",
      "export * from './e.js';",
      "export type { F } from './f.js';",
      "async function g() { return import('../g/h.js'); }",
      "import './side-effect.js';",
    ].join('\n'));
    assert.deepEqual(imports.map((i) => [i.target, i.typeOnly, i.line]), [
      ['a', true, 1], ['b', true, 2], ['d', false, 3], ['x/e', false, 4], ['x/f', true, 5], ['g/h', false, 6], ['x/side-effect', false, 7],
    ]);
  });
});
