import { redactConfig } from '../config/redact.js';
import { configChecks } from '../doctor/config-checks.js';
import { keyChecks } from '../doctor/keys.js';
import { oidcChecks } from '../doctor/oidc.js';
import { summarize } from '../doctor/run.js';
import type { Finding } from '../doctor/types.js';
import { upstreamChecks } from '../doctor/upstream.js';
import type { AdminHandler } from './context.js';

/**
 * The console's Settings page, as admin API routes: the configuration the gateway runs with (store
 * and Redis passwords hidden, as `gatehouse config check --json` shows it), and the doctor's
 * findings as this process sees them. The probe for an Ollama answering around the gateway sends
 * requests to this host's interface addresses: it stays with `gatehouse doctor` on the host.
 */

const DAY = 86_400_000;
const PROBE_TIMEOUT_MS = 2000;

export const showConfig: AdminHandler = async (d) => ({ status: 200, body: { config: redactConfig(d.config) } });

export const doctor: AdminHandler = async (d) => {
  const now = (d.now ?? Date.now)();
  const [records, policies] = await Promise.all([d.keys.list(), d.policies.list()]);
  const loaded = { records, policyNames: policies.map((p) => p.name) };
  const findings: Finding[] = [...configChecks(d.config, now), ...keyChecks(loaded, d.config, { now, unusedAfterMs: 30 * DAY }), ...oidcChecks(loaded, d.config)];
  const net = await upstreamChecks({ config: d.config, probeAddresses: [], timeoutMs: PROBE_TIMEOUT_MS });
  for (const f of net.findings) {
    findings.push(f.id === 'upstream.exposure'
      ? { id: 'upstream.exposure', severity: 'info', title: 'Whether Ollama also answers around the gateway is probed by `gatehouse doctor` on the gateway\'s host', fix: 'Run `gatehouse doctor` there (as the gateway\'s user, with its config).' }
      : f);
  }
  return { status: 200, body: summarize(findings) };
};
