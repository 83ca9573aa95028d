import type { DoctorReport, Severity } from './types.js';

const LABEL: Record<Severity, string> = { critical: 'CRITICAL', warning: 'WARNING', info: 'info', ok: 'ok' };

/** The human report: one block per finding, most severe first, then a one-line verdict. */
export function formatReport(r: DoctorReport): string {
  const lines: string[] = [];
  lines.push(`gatehouse doctor: ${r.config_file ? `config ${r.config_file}` : 'no config file (defaults and environment)'}`);
  if (r.probe.source === 'flag') lines.push(`probing only the addresses given with --probe-addresses: ${r.probe.addresses.join(', ') || '(none)'}`);
  lines.push('');
  for (const f of r.findings) {
    lines.push(`${LABEL[f.severity].padEnd(8)}  ${f.title}`);
    if (f.detail) lines.push(...wrap(f.detail).map((l) => `          ${l}`));
    if (f.fix && f.severity !== 'ok') lines.push(...wrap(`fix: ${f.fix}`).map((l) => `          ${l}`));
  }
  lines.push('');
  const c = r.counts;
  const verdict = c.critical ? 'NOT SAFE TO DEPLOY' : c.warning ? 'no critical findings; read the warnings' : 'all good';
  lines.push(`${c.critical} critical, ${c.warning} warning${c.warning === 1 ? '' : 's'}, ${c.info} info, ${c.ok} ok: ${verdict}`);
  return lines.join('\n');
}

function wrap(text: string, width = 96): string[] {
  const out: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/)) {
    if (line && line.length + 1 + word.length > width) {
      out.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) out.push(line);
  return out;
}
