import { parseDuration } from '../../config/units.js';
import { formatReport } from '../../doctor/format.js';
import { runDoctor } from '../../doctor/run.js';
import type { DoctorReport } from '../../doctor/types.js';
import { isAddress } from '../../doctor/upstream.js';
import { COMMON_HELP, ConfigError, configFrom, parse, UsageError } from '../args.js';

export const DOCTOR_HELP = `gatehouse doctor: check a deployment and explain what to fix

Usage:
  gatehouse doctor [--config FILE] [--json] [--strict] [--timeout DUR] [--unused-after DUR]

Reads the configuration exactly as \`serve\` would, and checks: Ollama answers at \`upstream\` (and
which version); Ollama does NOT answer on any of this host's non-loopback addresses (else it can be
used without Gatehouse); TLS where Gatehouse listens beyond loopback, and for Ed25519 auth; the TLS
certificate and key; management and cloud routes; keys without expiry, with models:manage, or
unused; permissions of the data dir, key files and config; secrets in readable config files; clock
skew against the upstream's Date header. Changes nothing. Needs no running gateway.

Exit status: 1 when any finding is critical (or any warning, with --strict), 0 otherwise, so it can
gate a deploy. Run it as the user Gatehouse runs as, or as root.

Options:
  --json               machine-readable report: {ok, findings: [{id, severity, title, detail, fix}], ...}
  --strict             warnings fail too
  --timeout DUR        per network probe (default 2s)
  --unused-after DUR   a key with no recorded use for this long is reported (default 30d)
  --max-skew DUR       clock difference to the upstream that is reported (default 30s)
  --probe-addresses LIST
                       FOR TESTING: probe exactly these comma-separated IP addresses for a second
                       way into Ollama, instead of this host's interface addresses
${COMMON_HELP}`;

export async function doctorCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, {
    json: { type: 'boolean' },
    strict: { type: 'boolean' },
    timeout: { type: 'string' },
    'unused-after': { type: 'string' },
    'max-skew': { type: 'string' },
    'probe-addresses': { type: 'string' },
  }, 0, 'gatehouse doctor');
  if (values.help) {
    console.log(DOCTOR_HELP);
    return 0;
  }
  if (positionals.length) throw new UsageError(`unexpected argument "${positionals[0]}" (see gatehouse doctor --help)`);
  const dur = (flag: string, v: string | undefined, def: string) => {
    const ms = parseDuration(v ?? def);
    if (ms === null || ms <= 0) throw new UsageError(`--${flag}: "${v}" is not a duration (e.g. 2s, 30d)`);
    return ms;
  };
  const timeoutMs = dur('timeout', values.timeout, '2s');
  const unusedAfterMs = dur('unused-after', values['unused-after'], '30d');
  const maxSkewMs = dur('max-skew', values['max-skew'], '30s');
  let probeAddresses: string[] | null = null;
  if (values['probe-addresses'] !== undefined) {
    probeAddresses = values['probe-addresses'].split(',').map((s) => s.trim()).filter(Boolean);
    const bad = probeAddresses.filter((a) => !isAddress(a));
    if (bad.length) throw new UsageError(`--probe-addresses takes IP addresses only, not ${bad.join(', ')}`);
  }

  let report: DoctorReport;
  try {
    const { config, file, lookups, dataDirFrom } = configFrom(values);
    report = await runDoctor({ config, configFile: file, probeAddresses, timeoutMs, unusedAfterMs, maxSkewMs, lookups, dataDirFrom });
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    report = {
      ok: false, config_file: err.file, probe: { source: probeAddresses ? 'flag' : 'interfaces', port: null, addresses: [] },
      findings: [{ id: 'config.invalid', severity: 'critical', title: 'The configuration is invalid: Gatehouse would not start', detail: err.problems.join('; '), fix: 'Fix the fields named (gatehouse config check shows the same list).' }],
      counts: { critical: 1, warning: 0, info: 0, ok: 0 },
    };
  }
  console.log(values.json ? JSON.stringify(report, null, 2) : formatReport(report));
  return report.counts.critical > 0 || (values.strict && report.counts.warning > 0) ? 1 : 0;
}
