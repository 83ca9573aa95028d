import type { Config } from '../config/schema.js';
import { configChecks } from './config-checks.js';
import { fileChecks } from './files.js';
import { keyChecks, loadKeys } from './keys.js';
import { SEVERITIES, type DoctorReport, type Finding, type Severity } from './types.js';
import { upstreamChecks } from './upstream.js';

export interface DoctorOptions {
  config: Config;
  configFile: string | null;
  /** null: probe this host's interface addresses (production); a list: probe exactly these (tests). */
  probeAddresses: string[] | null;
  timeoutMs: number;
  unusedAfterMs: number;
  maxSkewMs?: number;
  now?: number;
}

/**
 * Runs every check. Local ones first (files, then keys: the key store may be opened as its owner),
 * then the network ones, each bounded by `timeoutMs`. Findings come out most severe first.
 */
export async function runDoctor(o: DoctorOptions): Promise<DoctorReport> {
  const now = o.now ?? Date.now();
  const findings: Finding[] = [];
  findings.push(...configChecks(o.config, now));
  findings.push(...fileChecks(o.config, o.configFile));
  findings.push(...keyChecks(await loadKeys(o.config), o.config, { now, unusedAfterMs: o.unusedAfterMs }));
  const net = await upstreamChecks({ config: o.config, probeAddresses: o.probeAddresses, timeoutMs: o.timeoutMs, ...(o.maxSkewMs !== undefined ? { maxSkewMs: o.maxSkewMs } : {}) });
  findings.push(...net.findings);

  const rank = (s: Severity) => SEVERITIES.indexOf(s);
  findings.sort((a, b) => rank(a.severity) - rank(b.severity));
  const counts = Object.fromEntries(SEVERITIES.map((s) => [s, findings.filter((f) => f.severity === s).length])) as Record<Severity, number>;
  return { ok: counts.critical === 0, config_file: o.configFile, probe: net.probe, findings, counts };
}
