import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { citationsIn, codeFiles, commentsOf, plainText, readRepo, resolveDoc, sectionNumbers, threatIds } from './comments.js';

/**
 * Comments cite documents that are in the repository: every markdown file a comment in src/,
 * bench/, scripts/ or test/ names exists, every section number cited after it (`§4.5`) is a
 * heading of that document, and every threat ID cited after docs/threat-model.md is one of its
 * rows. Documents that are not in the repository (the design notes the code was first written
 * from) are never cited: their facts are in docs/ollama-api-notes.md and docs/threat-model.md.
 */

/** Names of documents outside the repository, assembled so that this file does not cite them. */
const FORBIDDEN = [['threats', 'md'], ['ollama-api', 'md'], ['style', 'md']].map(([n, e]) => new RegExp(`(?<![\\w-])${n}\\.${e}\\b`)).concat(/\.\.\/shared\b/);

interface Problem { where: string; what: string }

/** Everything wrong with the citations in one file's comments. */
function problemsIn(path: string, text: string, read: (rel: string) => string): Problem[] {
  const out: Problem[] = [];
  if (!text.includes('.md') && !text.includes('../shared')) return out; // nothing to check: skip the parse
  for (const c of commentsOf(path, text)) {
    const where = `${path}:${c.line}`;
    const words = plainText(c.text);
    for (const re of FORBIDDEN) if (re.test(words)) out.push({ where, what: `cites a document outside the repository (${re.source}); cite docs/ollama-api-notes.md or docs/threat-model.md instead` });
    for (const cite of citationsIn(words)) {
      const doc = resolveDoc(cite.doc, path);
      if (!doc) {
        out.push({ where, what: `cites ${cite.doc}, which is not in the repository` });
        continue;
      }
      if (cite.sections.length) {
        const have = sectionNumbers(read(doc));
        for (const s of cite.sections) if (!have.has(s)) out.push({ where, what: `cites ${doc} §${s}, which has no such section` });
      }
      if (cite.ids.length && doc === 'docs/threat-model.md') {
        const have = threatIds(read(doc));
        for (const id of cite.ids) if (!have.has(id)) out.push({ where, what: `cites ${doc} ${id}, which has no such threat` });
      }
    }
  }
  return out;
}

const format = (ps: Problem[]): string[] => ps.map((p) => `${p.where}: ${p.what}`);

describe('comments cite documents in the repository', () => {
  const files = codeFiles();

  it('finds the code and its citations', () => {
    assert.ok(files.some((f) => f.startsWith('src/')) && files.some((f) => f.startsWith('test/')), 'no code files found');
    let cited = 0;
    for (const f of files) {
      const text = readRepo(f);
      if (text.includes('.md')) for (const c of commentsOf(f, text)) cited += citationsIn(plainText(c.text)).length;
    }
    assert.ok(cited > 40, `only ${cited} citations found: the comment reader is broken`);
  });

  it('every cited document, section and threat ID exists; nothing outside the repository is cited', () => {
    const problems = files.flatMap((f) => problemsIn(f, readRepo(f), readRepo));
    assert.deepEqual(format(problems), []);
  });

  it('the section and threat tables it checks against are there', () => {
    const notes = sectionNumbers(readRepo('docs/ollama-api-notes.md'));
    for (const s of ['1.1', '1.2', '1.3', '1.4', '2', '3', '4.2', '4.3', '4.5', '5', '5.5', '5.6', '7.1', '7.3']) assert.ok(notes.has(s), `§${s}`);
    const ids = threatIds(readRepo('docs/threat-model.md'));
    for (const group of [['A', 6], ['B', 8], ['C', 3], ['D', 4], ['E', 3], ['F', 4], ['G', 8], ['H', 1]] as const) {
      for (let i = 1; i <= group[1]; i++) assert.ok(ids.has(`${group[0]}${i}`), `${group[0]}${i}`);
    }
  });

  it('catches bad citations (the check can fail)', () => {
    const bad = [
      '// Go reads keys case-insensitively (docs/ollama-api-notes.md §4.9).',
      '/** See docs/no-such-file.md for details. */',
      '/*',
      ' * Host check (docs/threat-model.md E1/E9), and the',
      ' * limits (docs/ollama-api-notes.md',
      ' * §2, §12.1).',
      ' */',
      `// ${'threats'}.md B3`,
      `// ${'ollama-api'}.md §1.1`,
      `// ${'..'}/shared/docs/x`,
      "const s = 'docs/missing.md §99'; // a string is not a comment",
    ].join('\n');
    const found = format(problemsIn('src/x/example.ts', bad, readRepo));
    const expect = [/:1: cites docs\/ollama-api-notes\.md §4\.9/, /:2: cites docs\/no-such-file\.md/, /:3: cites docs\/threat-model\.md E9/, /:3: cites docs\/ollama-api-notes\.md §12\.1/, /:8: cites a document outside/, /:8: cites threats\.md, which is not in/, /:9: cites a document outside/, /:9: cites ollama-api\.md, which is not in/, /:10: cites a document outside/];
    for (const re of expect) assert.ok(found.some((p) => re.test(p)), `not caught: ${re}\n${found.join('\n')}`);
    assert.ok(!found.some((p) => /missing\.md|§2\b|E1\b/.test(p)), `false alarm:\n${found.join('\n')}`);
    assert.equal(found.length, expect.length, found.join('\n'));
  });
});
