import { readdirSync, readFileSync } from 'node:fs';
import { join, posix, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

/**
 * The source files under src/ and the relative imports each one makes, read with TypeScript's own
 * parser so that an import inside a string or a comment is never mistaken for a real one. Used by
 * the layering test (layering.test.ts) and the citation test (citations.test.ts).
 */

/** The repository root: this file runs as dist/test/architecture/source.js. */
export const REPO = resolve(fileURLToPath(import.meta.url), '../../../..');
export const SRC = join(REPO, 'src');

export interface SourceImport {
  /** The specifier as written, e.g. `../core/errors.js`. */
  specifier: string;
  /** What it names, relative to src/ with `/` separators and no extension (`core/errors`), or
   * null when it leaves src/ (`../../package.json` from src/cli/x.ts). */
  target: string | null;
  /** `import type`, `export type … from`, every named binding marked `type`, or `typeof import()`:
   * erased at compile time, so it creates no load-time dependency. */
  typeOnly: boolean;
  /** 1-based line of the specifier. */
  line: number;
}

export interface SourceFile {
  /** Relative to src/, with `/` separators: `auth/ssh/token.ts`. */
  path: string;
  imports: SourceImport[];
}

/** Every .ts file under `dir` (default src/), test files (*.test.ts) included, sorted. */
export function listTsFiles(dir: string = SRC): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, entry.name);
      if (entry.isDirectory()) walk(p);
      else if (entry.isFile() && entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) out.push(p);
    }
  };
  walk(dir);
  return out.sort();
}

export const isTestFile = (path: string): boolean => path.endsWith('.test.ts');

/** The non-test source files of src/ with their relative imports. */
export function readSources(): SourceFile[] {
  return listTsFiles()
    .map((abs) => toPosix(relative(SRC, abs)))
    .filter((path) => !isTestFile(path))
    .map((path) => ({ path, imports: importsOf(path, readFileSync(join(SRC, path), 'utf8')) }));
}

/**
 * The relative imports of one file, given its path relative to src/ and its text. Packages and
 * `node:` built-ins are not part of the layering and are left out.
 */
export function importsOf(path: string, text: string): SourceImport[] {
  const file = ts.createSourceFile(path, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const found: SourceImport[] = [];
  const add = (spec: ts.Expression | undefined, typeOnly: boolean): void => {
    if (!spec || !ts.isStringLiteralLike(spec)) return;
    const specifier = spec.text;
    if (!specifier.startsWith('./') && !specifier.startsWith('../')) return;
    const line = file.getLineAndCharacterOfPosition(spec.getStart(file)).line + 1;
    found.push({ specifier, target: resolveTarget(path, specifier), typeOnly, line });
  };
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node)) {
      add(node.moduleSpecifier, isTypeOnlyImport(node));
    } else if (ts.isExportDeclaration(node)) {
      add(node.moduleSpecifier, node.isTypeOnly || allTypeOnly(node.exportClause));
    } else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference)) {
      add(node.moduleReference.expression, node.isTypeOnly);
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      add(node.arguments[0], false);
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument)) {
      add(node.argument.literal as ts.Expression, true);
    }
    ts.forEachChild(node, visit);
  };
  visit(file);
  return found;
}

function isTypeOnlyImport(node: ts.ImportDeclaration): boolean {
  const clause = node.importClause;
  if (!clause) return false; // `import './x.js'` runs the module for its effects
  if (clause.isTypeOnly) return true;
  if (clause.name) return false; // a default import is a value
  return allTypeOnly(clause.namedBindings);
}

/** `{ type A, type B }`: every binding marked `type` (an empty list or `* as ns` is not). */
function allTypeOnly(bindings: ts.NamedImportBindings | ts.NamedExportBindings | undefined): boolean {
  if (!bindings || !(ts.isNamedImports(bindings) || ts.isNamedExports(bindings))) return false;
  return bindings.elements.length > 0 && bindings.elements.every((e) => e.isTypeOnly);
}

/** `../core/errors.js` from `auth/key-cache.ts` → `core/errors`; null when outside src/. */
export function resolveTarget(fromPath: string, specifier: string): string | null {
  const joined = posix.normalize(posix.join(posix.dirname(fromPath), specifier));
  if (joined === '..' || joined.startsWith('../')) return null;
  return joined.replace(/\.(js|ts|mjs|cjs|json)$/, '');
}

const toPosix = (p: string): string => p.split(sep).join('/');
