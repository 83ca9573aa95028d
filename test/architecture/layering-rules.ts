/**
 * The folder table of docs/architecture.md ("Folders: what each owns and may import"), read as
 * rules. A row's first cell names a part of src/: a folder (`auth/`), a sub-folder (`auth/ssh/`)
 * or a file (`main.ts`). Its last cell lists what that part may import:
 *
 * - `core`, `store/types`, `proxy/accounting/lines`: a folder or file under src/, and all below it;
 * - `config` (types): the same, with `import type` only (the qualifier `(types)`); any other word
 *   in parentheses (`(redaction)`) is a comment for the reader and does not narrow the rule;
 * - `everything above`: every part named by a row above this one;
 * - `nothing internal`: no other part of src/.
 *
 * A file belongs to the most specific row that contains it (`auth/ssh/token.ts` to an `auth/ssh/`
 * row if there is one, else to `auth/`). It may always import inside its own part, including the
 * sub-parts below it; anything else must be allowed by its row.
 */

export interface Allowance {
  /** A part of src/ relative to src/, without trailing slash or extension: `store/types`. */
  target: string;
  typesOnly: boolean;
}

export interface LayerRule {
  /** The part of src/ the row is about, as `target` above: `auth`, `auth/ssh`, `main`. */
  part: string;
  /** The row's first cell as written, for messages. */
  label: string;
  allows: Allowance[];
  /** The row's last cell as written, for messages. */
  mayImport: string;
}

const HEADER = /^\|\s*folder\s*\|\s*owns\s*\|\s*may import\s*\|\s*$/i;

/** The rows of the folder table, in order. Throws when the table or a cell cannot be read. */
export function parseLayering(markdown: string): LayerRule[] {
  const lines = markdown.split('\n');
  const start = lines.findIndex((l) => HEADER.test(l.trim()));
  if (start < 0) throw new Error('docs/architecture.md: no "| folder | owns | may import |" table');
  const rows: string[][] = [];
  for (let i = start + 2; i < lines.length && lines[i]!.trim().startsWith('|'); i++) {
    rows.push(splitRow(lines[i]!.trim()));
  }
  const rules: LayerRule[] = [];
  for (const cells of rows) {
    if (cells.length !== 3) throw new Error(`folder table row with ${cells.length} cells: | ${cells.join(' | ')} |`);
    const [label, , mayImport] = cells as [string, string, string];
    const part = partName(label);
    if (!part) throw new Error(`folder table: cannot read the part in "${label}"`);
    rules.push({ part, label, mayImport, allows: parseAllowances(mayImport, rules) });
  }
  return rules;
}

/** `| a | b \| c | d |` → ['a', 'b | c', 'd']. */
function splitRow(line: string): string[] {
  const inner = line.replace(/^\|/, '').replace(/\|$/, '');
  return inner.split(/(?<!\\)\|/).map((c) => c.replace(/\\\|/g, '|').trim());
}

/** `` `auth/ssh/` `` → `auth/ssh`; `` `main.ts` `` → `main`. */
function partName(cell: string): string | null {
  const m = /^`([^`]+)`$/.exec(cell.trim()) ?? /^([A-Za-z0-9_./-]+)$/.exec(cell.trim());
  if (!m) return null;
  const name = m[1]!.replace(/\/+$/, '').replace(/\.(ts|js)$/, '');
  return /^[A-Za-z0-9_-]+(\/[A-Za-z0-9_.-]+)*$/.test(name) ? name : null;
}

function parseAllowances(cell: string, above: LayerRule[]): Allowance[] {
  const allows: Allowance[] = [];
  for (const entry of splitTopLevel(cell)) {
    const text = entry.trim();
    if (/^nothing internal$/i.test(text)) continue;
    if (/^everything above$/i.test(text)) {
      for (const r of above) allows.push({ target: r.part, typesOnly: false });
      continue;
    }
    const m = /^(`[^`]+`|[A-Za-z0-9_./-]+)\s*(?:\(([^)]*)\))?$/.exec(text);
    const target = m ? partName(m[1]!) : null;
    if (!m || !target) throw new Error(`folder table: cannot read "${text}" in "${cell}"`);
    allows.push({ target, typesOnly: (m[2] ?? '').trim().toLowerCase() === 'types' });
  }
  return allows;
}

/** Split on commas that are not inside parentheses. */
function splitTopLevel(cell: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of cell) {
    if (ch === '(') depth++;
    else if (ch === ')') depth = Math.max(0, depth - 1);
    if (ch === ',' && depth === 0) {
      out.push(cur);
      cur = '';
    } else cur += ch;
  }
  if (cur.trim()) out.push(cur);
  return out.filter((e) => e.trim() !== '');
}

/** `auth/ssh/token` is inside `auth` and `auth/ssh/token`, not inside `au`. */
export const isInside = (path: string, part: string): boolean => path === part || path.startsWith(part + '/');

/** The most specific rule whose part contains `path` (src-relative, no extension), or undefined. */
export function ruleFor(rules: LayerRule[], path: string): LayerRule | undefined {
  let best: LayerRule | undefined;
  for (const r of rules) if (isInside(path, r.part) && (!best || r.part.length > best.part.length)) best = r;
  return best;
}

export interface Verdict {
  ok: boolean;
  /** Why it is refused, naming the rule. */
  reason?: string;
}

/**
 * May the file at `from` (src-relative, no extension) import `target` (the same, or null when the
 * import leaves src/), given whether the import is type-only?
 */
export function checkImport(rules: LayerRule[], from: string, target: string | null, typeOnly: boolean): Verdict {
  const rule = ruleFor(rules, from);
  if (!rule) return { ok: false, reason: `no row of the folder table covers src/${from}.ts` };
  if (target === null) return { ok: false, reason: `it leaves src/ (row ${rule.label})` };
  if (isInside(target, rule.part)) return { ok: true };
  const allowance = rule.allows.find((a) => isInside(target, a.target) && (typeOnly || !a.typesOnly));
  if (allowance) return { ok: true };
  const typesOnlyMatch = rule.allows.find((a) => isInside(target, a.target));
  if (typesOnlyMatch) return { ok: false, reason: `row ${rule.label} allows ${typesOnlyMatch.target} for types only ("may import: ${rule.mayImport}"); use \`import type\`` };
  return { ok: false, reason: `row ${rule.label} may import only: ${rule.mayImport}` };
}
