import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ERRORS } from '../../src/core/errors.js';
import { listTsFiles, REPO } from './source.js';

/**
 * The error catalogue (src/core/errors.ts) and its documentation (docs/errors.md) agree: codes are
 * unique, every code is documented with its status, what it means and what to do, and the page
 * names no code that does not exist.
 */

const ERRORS_TS = readFileSync(join(REPO, 'src/core/errors.ts'), 'utf8');
const ERRORS_MD = readFileSync(join(REPO, 'docs/errors.md'), 'utf8');

interface CatalogueEntry { code: string; status: number }
interface DocRow { code: string; status: number; meaning: string; todo: string; line: number }

/** `GW_ERR_X: { status: 404, … }` entries of the ERRORS literal, in order, duplicates kept. */
function catalogueEntries(ts: string): CatalogueEntry[] {
  const start = ts.indexOf('export const ERRORS = {');
  const end = ts.indexOf('} as const', start);
  if (start < 0 || end < 0) throw new Error('src/core/errors.ts: ERRORS literal not found');
  return [...ts.slice(start, end).matchAll(/^\s*(GW_ERR_[A-Z0-9_]+)\s*:\s*\{\s*status:\s*(\d{3})\b/gm)].map((m) => ({ code: m[1]!, status: Number(m[2]) }));
}

const HEADER = /^\|\s*code\s*\|\s*status\s*\|\s*what it means\s*\|\s*what to do\s*\|$/i;

/** The rows of the catalogue table in docs/errors.md. */
function docRows(md: string): DocRow[] {
  const lines = md.split('\n');
  const start = lines.findIndex((l) => HEADER.test(l.trim()));
  if (start < 0) throw new Error('docs/errors.md: no "| code | status | what it means | what to do |" table');
  const rows: DocRow[] = [];
  for (let i = start + 2; i < lines.length && lines[i]!.trim().startsWith('|'); i++) {
    const cells = lines[i]!.trim().replace(/^\||\|$/g, '').split(/(?<!\\)\|/).map((c) => c.trim());
    rows.push({ code: cells[0]!.replace(/`/g, ''), status: /^\d{3}$/.test(cells[1] ?? '') ? Number(cells[1]) : NaN, meaning: cells[2] ?? '', todo: cells[3] ?? '', line: i + 1 });
  }
  return rows;
}

/** Every disagreement between the catalogue and its page, as sentences. */
function problems(ts: string, md: string, codesInSource: ReadonlySet<string>): string[] {
  const out: string[] = [];
  const entries = catalogueEntries(ts);
  const seen = new Set<string>();
  for (const e of entries) {
    if (seen.has(e.code)) out.push(`${e.code} is defined twice in src/core/errors.ts`);
    seen.add(e.code);
  }
  const status = new Map(entries.map((e) => [e.code, e.status]));
  const rows = docRows(md);
  const documented = new Map<string, DocRow>();
  for (const r of rows) {
    const where = `docs/errors.md:${r.line}`;
    if (!/^GW_ERR_[A-Z0-9_]+$/.test(r.code)) out.push(`${where}: "${r.code}" is not a code`);
    if (documented.has(r.code)) out.push(`${where}: ${r.code} is documented twice`);
    documented.set(r.code, r);
    if (!status.has(r.code)) out.push(`${where}: ${r.code} is documented but not in src/core/errors.ts`);
    else if (status.get(r.code) !== r.status) out.push(`${where}: ${r.code} is documented as ${r.status}, src/core/errors.ts says ${status.get(r.code)}`);
    if (r.meaning.length < 10) out.push(`${where}: ${r.code} has no meaning written`);
    if (r.todo.length < 10) out.push(`${where}: ${r.code} does not say what to do`);
  }
  for (const e of entries) if (!documented.has(e.code)) out.push(`${e.code} (${e.status}) is not documented in docs/errors.md`);
  // Codes named in the prose around the table: either catalogue codes or codes the source sends.
  for (const m of md.matchAll(/GW_ERR_[A-Z0-9_]+/g)) {
    if (!status.has(m[0]) && !codesInSource.has(m[0])) out.push(`docs/errors.md names ${m[0]}, which nothing in src/ uses`);
  }
  return out;
}

/** Every GW_ERR_* string literal in src/ (codes sent outside the catalogue, e.g. inside a stream). */
function codesInSource(): Set<string> {
  const codes = new Set<string>();
  for (const f of listTsFiles()) for (const m of readFileSync(f, 'utf8').matchAll(/'(GW_ERR_[A-Z0-9_]+)'/g)) codes.add(m[1]!);
  return codes;
}

describe('error catalogue (src/core/errors.ts) against docs/errors.md', () => {
  const source = codesInSource();

  it('reads the whole catalogue', () => {
    const entries = catalogueEntries(ERRORS_TS);
    assert.deepEqual(entries.map((e) => e.code).sort(), Object.keys(ERRORS).sort(), 'the text and the module disagree: the reader missed an entry');
    for (const e of entries) assert.equal(e.status, ERRORS[e.code as keyof typeof ERRORS].status, e.code);
  });

  it('codes are unique, and each is documented with its status, meaning and what to do', () => {
    assert.deepEqual(problems(ERRORS_TS, ERRORS_MD, source), []);
  });

  it('every code is GW_ERR_<UPPER_SNAKE> with an HTTP error status', () => {
    for (const [code, def] of Object.entries(ERRORS)) {
      assert.match(code, /^GW_ERR_[A-Z0-9]+(_[A-Z0-9]+)*$/, code);
      assert.ok(def.status >= 400 && def.status <= 599, `${code}: ${def.status}`);
    }
  });

  it('catches a broken page (the check can fail)', () => {
    const row = (code: string, status: number, meaning = 'something went wrong here', todo = 'do the right thing now'): string => `| \`${code}\` | ${status} | ${meaning} | ${todo} |`;
    const table = (...rows: string[]): string => ['| code | status | what it means | what to do |', '|---|---|---|---|', ...rows, '', 'Prose names GW_ERR_NOT_A_CODE.'].join('\n');
    const ts = "export const ERRORS = {\n  GW_ERR_A_B: { status: 400, kind: 'x' },\n  GW_ERR_C_D: { status: 404, kind: 'x' },\n  GW_ERR_A_B: { status: 401, kind: 'x' },\n  GW_ERR_E_F: { status: 500, kind: 'x' },\n} as const";
    const found = problems(ts, table(row('GW_ERR_A_B', 400), row('GW_ERR_C_D', 403), row('GW_ERR_GONE', 500), row('GW_ERR_A_B', 400, '', '')), new Set());
    const expect = [/GW_ERR_A_B is defined twice/, /GW_ERR_C_D is documented as 403, .* says 404/, /GW_ERR_GONE is documented but not in/, /GW_ERR_A_B is documented twice/, /GW_ERR_A_B has no meaning/, /GW_ERR_A_B does not say what to do/, /GW_ERR_E_F \(500\) is not documented/, /names GW_ERR_NOT_A_CODE/];
    for (const re of expect) assert.ok(found.some((p) => re.test(p)), `not caught: ${re}\n${found.join('\n')}`);
  });
});
