import { isIP } from 'node:net';
import { derived, type UpstreamAddress } from '../config/resolved.js';
import type { Config } from '../config/schema.js';
import { isLoopback } from '../core/ip.js';
import { hostPort, httpGet, localAddresses, ollamaVersion, type ProbeResult } from './probe.js';
import type { DoctorReport, Finding } from './types.js';

/**
 * Network checks: the upstream answers and is Ollama; Ollama does not also answer on this host's
 * other addresses (the one way around Gatehouse that configuration cannot show); the clocks agree.
 */

export interface UpstreamCheckOptions {
  config: Config;
  /**
   * The addresses to probe for a bypass. null: this host's interface addresses (production).
   * Tests pass their own (a 127.0.0.x alias, or an address inside a network namespace they made),
   * so a test never sends anything to this machine's real interfaces.
   */
  probeAddresses: string[] | null;
  timeoutMs: number;
  /** Clock difference to the upstream above which doctor warns. */
  maxSkewMs?: number;
}

const OLLAMA_LOOPBACK_FIX =
  'Make Ollama listen on loopback only: OLLAMA_HOST=127.0.0.1:11434 (systemd: `systemctl edit ollama`, add [Service] Environment="OLLAMA_HOST=127.0.0.1:11434", then `systemctl restart ollama`). ' +
  'In Docker, publish no port for Ollama and keep it on an internal network (see compose.yaml). If Ollama must listen there, firewall the port so that only the Gatehouse host can connect.';

/**
 * Every upstream target in turn; the report's probe describes the first. With `upstreams` each
 * node is checked the same way (answers, is Ollama, clock, and whether Ollama also answers on this
 * host's other addresses: a way around the gateway), and every finding names its node.
 */
export async function upstreamChecks(o: UpstreamCheckOptions): Promise<{ findings: Finding[]; probe: DoctorReport['probe'] }> {
  const findings: Finding[] = [];
  let probe: DoctorReport['probe'] | null = null;
  const d = derived(o.config);
  for (const target of d.upstreams) {
    const one = await targetChecks(o, target);
    findings.push(...(d.fleet ? one.findings.map((f) => ({ ...f, title: `node ${target.name}: ${f.title}`, fix: f.fix?.replace(/`upstream`/g, `\`upstreams\` (${target.name})`) })) : one.findings));
    probe ??= one.probe;
  }
  return { findings, probe: probe! };
}

async function targetChecks(o: UpstreamCheckOptions, target: UpstreamAddress): Promise<{ findings: Finding[]; probe: DoctorReport['probe'] }> {
  const findings: Finding[] = [];
  const { hostname: host, port, tls, url } = target;

  const version = await httpGet({ host, port, path: '/api/version', tls, timeoutMs: o.timeoutMs });
  findings.push(...reachability(url, version));
  if (version.state === 'http') findings.push(clockSkew(version, o.maxSkewMs ?? 30_000, url));

  const addresses = o.probeAddresses ?? localAddresses();
  if (!isLoopback(host)) {
    // Only reads the interface list (no traffic), to tell "this host" from "another host".
    const here = localAddresses().some((a) => a.split('%')[0] === host);
    if (!here) {
      findings.push({
        id: 'upstream.remote',
        severity: 'info',
        title: `Ollama runs at ${host}, not on this host's loopback`,
        detail: 'Doctor can only probe this host\'s own addresses; it cannot see who else reaches Ollama there.' + (tls ? '' : ' Prompts and answers travel to it unencrypted.'),
        fix: 'Make sure only Gatehouse can reach it: an internal container network with no published port (compose.yaml), or a firewall rule allowing only this host.',
      });
    }
  }

  const probe: DoctorReport['probe'] = { source: o.probeAddresses === null ? 'interfaces' : 'flag', port, addresses };
  findings.push(...(await exposure(o.config, addresses, port, tls, o.timeoutMs, probe.source)));
  return { findings, probe };
}

function reachability(url: string, r: ProbeResult): Finding[] {
  const v = ollamaVersion(r);
  if (v !== null) {
    const ms = r.state === 'http' ? r.receivedAt - r.sentAt : 0;
    return [{ id: 'upstream.ok', severity: 'ok', title: `Ollama ${v} answers at ${url} (${ms} ms)` }];
  }
  if (r.state === 'closed') {
    return [{
      id: 'upstream.unreachable', severity: 'critical',
      title: `Ollama does not answer at ${url} (${r.code})`,
      detail: 'Every request through Gatehouse would fail with 502.',
      fix: 'Start Ollama (`systemctl start ollama`, or `docker compose up -d ollama`), or set `upstream` to where it listens.',
    }];
  }
  if (r.state === 'not-http') {
    return [{
      id: 'upstream.not_ollama', severity: 'critical',
      title: `${url} accepts connections but does not answer HTTP (${r.code})`,
      detail: 'Something other than Ollama listens there, or it speaks TLS while upstream says http:// (or the reverse).',
      fix: 'Point `upstream` at Ollama\'s address, usually http://127.0.0.1:11434.',
    }];
  }
  return [{
    id: 'upstream.not_ollama', severity: 'critical',
    title: `${url} answers HTTP ${r.status} but not as Ollama (no version at /api/version)`,
    detail: r.status === 401 || r.status === 403 ? 'It asks for credentials: this may be another gateway or proxy, not Ollama itself.' : 'Another service listens on that port.',
    fix: 'Point `upstream` at Ollama itself, usually http://127.0.0.1:11434.',
  }];
}

/**
 * Compares this host's clock to the upstream's Date header. The header has one-second resolution
 * and arrives some time after it was written, so the estimate carries that uncertainty.
 */
function clockSkew(r: Extract<ProbeResult, { state: 'http' }>, maxSkewMs: number, url: string): Finding {
  const dateHeader = r.headers.date;
  const date = dateHeader ? Date.parse(dateHeader) : NaN;
  if (!Number.isFinite(date)) {
    return { id: 'clock.skew', severity: 'info', title: `Cannot compare clocks: ${url} sent no Date header` };
  }
  const mid = (r.sentAt + r.receivedAt) / 2;
  const skew = date + 500 - mid;
  const slack = 500 + (r.receivedAt - r.sentAt) / 2;
  const seconds = Math.round(skew / 1000);
  if (Math.abs(skew) - slack > maxSkewMs) {
    return {
      id: 'clock.skew', severity: 'warning',
      title: `This host's clock is ${Math.abs(seconds)} s ${seconds > 0 ? 'behind' : 'ahead of'} the upstream's`,
      detail: 'One of the two clocks is wrong. Key expiry, the Ed25519 timestamp window (ssh.window) and log times depend on this host\'s clock.',
      fix: 'Enable time synchronisation on both hosts (e.g. `timedatectl set-ntp true`, chrony or systemd-timesyncd).',
    };
  }
  return { id: 'clock.skew', severity: 'ok', title: `Clocks agree with the upstream (difference ${Math.abs(seconds)} s, ±${Math.ceil(slack / 1000)} s)` };
}

async function exposure(config: Config, addresses: string[], port: number, tls: boolean, timeoutMs: number, source: 'interfaces' | 'flag'): Promise<Finding[]> {
  const from = source === 'flag' ? 'the addresses given with --probe-addresses' : "this host's non-loopback interface addresses";
  if (addresses.length === 0) {
    return [{ id: 'upstream.exposure', severity: 'info', title: `No non-loopback addresses to probe (${from})` }];
  }
  const listen = derived(config).listen;
  const targets = addresses.filter((a) => !(a.split('%')[0] === listen.host && port === listen.port));
  const results = await Promise.all(
    targets.map(async (addr) => {
      const r = await httpGet({ host: addr, port, path: '/api/version', tls, timeoutMs });
      const version = ollamaVersion(r);
      if (version === null) return { addr, r, version, tags: null as ProbeResult | null };
      // Ollama itself never asks for credentials; a 401/403 here means something guards it.
      const tags = await httpGet({ host: addr, port, path: '/api/tags', tls, timeoutMs });
      return { addr, r, version, tags };
    }),
  );
  const findings: Finding[] = [];
  const exposed = results.filter((x) => x.version !== null && !(x.tags?.state === 'http' && (x.tags.status === 401 || x.tags.status === 403)));
  const guarded = results.filter((x) => x.version !== null && !exposed.includes(x));
  const otherHttp = results.filter((x) => x.version === null && x.r.state === 'http');
  const silent = results.filter((x) => x.r.state === 'not-http');
  if (exposed.length) {
    const where = exposed.map((x) => hostPort(x.addr, port)).join(', ');
    findings.push({
      id: 'upstream.exposed', severity: 'critical',
      title: `Ollama ${exposed[0]!.version} answers on ${where}: it can be used without Gatehouse`,
      detail: `Probed ${from}. Anyone who can reach ${exposed.length === 1 ? 'that address' : 'those addresses'} runs any model, pulls and deletes models, with no key, no limits and no log. Usually Ollama was started with OLLAMA_HOST=0.0.0.0.`,
      fix: OLLAMA_LOOPBACK_FIX,
    });
  }
  if (guarded.length) {
    findings.push({
      id: 'upstream.guarded', severity: 'info',
      title: `Something Ollama-like answers on ${guarded.map((x) => hostPort(x.addr, port)).join(', ')} but asks for credentials`,
      detail: 'Probably another Gatehouse or an authenticating proxy on the upstream port.',
    });
  }
  for (const x of otherHttp) {
    findings.push({
      id: 'upstream.port_in_use', severity: 'warning',
      title: `Another HTTP service answers on ${hostPort(x.addr, port)} (the upstream's port)`,
      detail: `It answered /api/version with HTTP ${(x.r as { status: number }).status}, not as Ollama.`,
      fix: 'Check what listens there (`ss -ltnp`); if it proxies to Ollama without authentication, it is a way around Gatehouse.',
    });
  }
  for (const x of silent) {
    findings.push({
      id: 'upstream.port_open', severity: 'info',
      title: `${hostPort(x.addr, port)} accepts connections but gave no HTTP answer (${(x.r as { code: string }).code})`,
      fix: 'Check what listens there (`ss -ltnp`).',
    });
  }
  if (!exposed.length && !guarded.length && !otherHttp.length && !silent.length) {
    const list = targets.map((a) => hostPort(a, port));
    findings.push({
      id: 'upstream.exposure', severity: 'ok',
      title: `Ollama does not answer on ${from} (port ${port}; ${list.length} address${list.length === 1 ? '' : 'es'})`,
      detail: `Probed: ${list.slice(0, 12).join(', ')}${list.length > 12 ? ` and ${list.length - 12} more` : ''}.`,
    });
  }
  return findings;
}

/** For tests and messages: is this an IP literal (with optional IPv6 zone)? */
export function isAddress(s: string): boolean {
  return isIP(s.split('%')[0]!) !== 0;
}
