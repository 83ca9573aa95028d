import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, posix, relative, sep } from 'node:path';
import ts from 'typescript';
import { REPO } from './source.js';

/**
 * The comments of the repository's code, and the documents they cite. A citation is a file name
 * ending in `.md` (`docs/limits.md`, `SECURITY.md`), optionally followed by section numbers
 * (`docs/ollama-api-notes.md §4.5`, `§3, §7.1`) or, for the threat model, threat IDs
 * (`docs/threat-model.md B3, B7`, `F1–F3`, `E1/E2`).
 */

/** Folders whose code comments are checked. */
export const CODE_ROOTS = ['src', 'bench', 'scripts', 'test'];
const CODE_FILE = /\.(ts|mts|mjs|js)$/;

/** Every code file under the roots, relative to the repository, `/`-separated. */
export function codeFiles(): string[] {
  const out: string[] = [];
  const walk = (rel: string): void => {
    for (const e of readdirSync(join(REPO, rel), { withFileTypes: true })) {
      const p = posix.join(rel, e.name);
      if (e.isDirectory() && e.name !== 'node_modules') walk(p);
      else if (e.isFile() && CODE_FILE.test(e.name) && !e.name.endsWith('.d.ts')) out.push(p);
    }
  };
  for (const root of CODE_ROOTS) if (existsSync(join(REPO, root))) walk(root);
  return out.sort();
}

export interface Comment {
  text: string;
  /** 1-based line where the comment starts. */
  line: number;
}

/** The comments of one file, found with TypeScript's parser (so strings and regexes are not comments). */
export function commentsOf(path: string, text: string): Comment[] {
  const cached = parsed.get(path);
  if (cached?.text === text) return cached.comments;
  const comments = parseComments(path, text);
  parsed.set(path, { text, comments });
  return comments;
}

/** Each file is parsed once per run, however many checks read its comments. */
const parsed = new Map<string, { text: string; comments: Comment[] }>();

function parseComments(path: string, text: string): Comment[] {
  const file = ts.createSourceFile(path, text, ts.ScriptTarget.Latest, true, /\.m?js$/.test(path) ? ts.ScriptKind.JS : ts.ScriptKind.TS);
  const seen = new Set<number>();
  const out: Comment[] = [];
  const take = (ranges: ts.CommentRange[] | undefined): void => {
    for (const r of ranges ?? []) {
      if (seen.has(r.pos)) continue;
      seen.add(r.pos);
      out.push({ text: text.slice(r.pos, r.end), line: file.getLineAndCharacterOfPosition(r.pos).line + 1 });
    }
  };
  const visit = (node: ts.Node): void => {
    take(ts.getLeadingCommentRanges(text, node.getFullStart()));
    take(ts.getTrailingCommentRanges(text, node.getEnd()));
    for (const child of node.getChildren(file)) visit(child);
  };
  take(ts.getLeadingCommentRanges(text, 0));
  visit(file);
  return out.sort((a, b) => a.line - b.line);
}

/** A comment's words with the comment markers and line breaks removed. */
export function plainText(comment: string): string {
  return comment
    .replace(/^\/\*\*?|\*\/$/g, '')
    .replace(/^\s*\/\/+/gm, '')
    .replace(/^\s*\*(?!\/)/gm, '')
    .replace(/\s+/g, ' ');
}

export interface Citation {
  /** The document as written: `docs/limits.md`. */
  doc: string;
  /** Section numbers cited after it (`4.5`), and threat IDs (`B3`). */
  sections: string[];
  ids: string[];
}

const SECTION_LIST = /^\s*,?\s*(§\s?\d+(?:\.\d+)*(?:\s*(?:,|;|and)\s*§\s?\d+(?:\.\d+)*)*)/;
const ID = /[A-H]\d{1,2}/.source;
const ID_LIST = new RegExp(`^\\s*,?\\s*(${ID}(?:\\s*(?:,|/|–|-|and)\\s*${ID}\\b)*)\\b`);

/** The citations in a piece of plain text. */
export function citationsIn(text: string): Citation[] {
  const out: Citation[] = [];
  for (const m of text.matchAll(/(?<![\w/.-])((?:\.\.?\/)*(?:[\w.-]+\/)*[\w.-]+\.md)\b/g)) {
    const after = text.slice(m.index! + m[0].length);
    const sections = [...(SECTION_LIST.exec(after)?.[1] ?? '').matchAll(/§\s?(\d+(?:\.\d+)*)/g)].map((s) => s[1]!);
    const ids = sections.length ? [] : [...(ID_LIST.exec(after)?.[1] ?? '').matchAll(new RegExp(ID, 'g'))].map((s) => s[0]);
    out.push({ doc: m[1]!, sections, ids });
  }
  return out;
}

/** Where a cited document is: from the repository root, from docs/, or beside the citing file. */
export function resolveDoc(doc: string, fromFile: string): string | null {
  const candidates = [doc, posix.join('docs', doc), posix.join(posix.dirname(fromFile), doc)];
  for (const c of candidates) {
    const norm = posix.normalize(c);
    if (!norm.startsWith('../') && existsSync(join(REPO, norm))) return norm;
  }
  return null;
}

/** Section numbers of a markdown document's headings: `## 4. Title` → 4, `### 4.5 Title` → 4.5. */
export function sectionNumbers(markdown: string): Set<string> {
  const out = new Set<string>();
  for (const m of markdown.matchAll(/^#{1,6}\s+(\d+(?:\.\d+)*)\.?\s/gm)) out.add(m[1]!);
  return out;
}

/** Threat IDs defined by the threat model's tables: rows starting `| B5 |`. */
export function threatIds(markdown: string): Set<string> {
  return new Set([...markdown.matchAll(/^\|\s*([A-H]\d{1,2})\s*\|/gm)].map((m) => m[1]!));
}

export const toPosix = (p: string): string => p.split(sep).join('/');
export const repoRelative = (abs: string): string => toPosix(relative(REPO, abs));
export const readRepo = (rel: string): string => readFileSync(join(REPO, rel), 'utf8');
