import { describeLookups, type ConfigLookup } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { configChecks } from './config-checks.js';
import { oidcChecks } from './oidc.js';
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
  /** Where the config file was looked for, and where data_dir came from: named when there is no store. */
  lookups?: readonly ConfigLookup[];
  dataDirFrom?: string;
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
  const keys = await loadKeys(o.config);
  if ('missing' in keys) findings.push(missingStore(keys.missing.message, o));
  findings.push(...keyChecks(keys, o.config, { now, unusedAfterMs: o.unusedAfterMs }));
  findings.push(...oidcChecks(keys, o.config));
  const net = await upstreamChecks({ config: o.config, probeAddresses: o.probeAddresses, timeoutMs: o.timeoutMs, ...(o.maxSkewMs !== undefined ? { maxSkewMs: o.maxSkewMs } : {}) });
  findings.push(...net.findings);
  return { ...summarize(findings), config_file: o.configFile, probe: net.probe };
}

/** Findings most severe first, counted by severity; ok when none is critical (also the admin API's /doctor). */
export function summarize(findings: Finding[]): Pick<DoctorReport, 'ok' | 'findings' | 'counts'> {
  const rank = (s: Severity) => SEVERITIES.indexOf(s);
  findings.sort((a, b) => rank(a.severity) - rank(b.severity));
  const counts = Object.fromEntries(SEVERITIES.map((s) => [s, findings.filter((f) => f.severity === s).length])) as Record<Severity, number>;
  return { ok: counts.critical === 0, findings, counts };
}

/**
 * No store where this configuration points. Before the first start that is expected (serve
 * creates it), so a warning, not critical: `ExecStartPre=gatehouse doctor` must not stop the first
 * start. Once a gateway runs, it means doctor looks at another setup than the gateway: the paths
 * looked at tell which.
 */
function missingStore(what: string, o: DoctorOptions): Finding {
  const looked = o.lookups?.length ? ` Config file looked for at: ${describeLookups(o.lookups).join('; ')}.` : '';
  const from = o.dataDirFrom ? ` data_dir ${o.config.data_dir} came from ${o.dataDirFrom}.` : '';
  return {
    id: 'store.missing', severity: 'warning',
    title: `There is no key store yet: ${what.replace(/^there is no key store at /, '')}`,
    detail: `Nothing was created.${looked}${from} If a gateway already runs, doctor is looking at another setup than the gateway's.`,
    fix: 'Run doctor with the gateway\'s configuration and as its user (e.g. sudo -u gatehouse gatehouse doctor, --config FILE); before the first start, `gatehouse serve` (or `gatehouse init`) creates the store.',
  };
}
