import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
import { derived } from '../config/resolved.js';
import type { Config } from '../config/schema.js';
import type { Finding } from './types.js';

/** Checks that need only the configuration (and the TLS files it names). */
export function configChecks(config: Config, now = Date.now()): Finding[] {
  const out: Finding[] = [];
  const d = derived(config);
  const loopback = d.listen.loopback;
  const tls = d.tls;

  if (!loopback && !tls) {
    out.push({
      id: 'listen.no_tls', severity: 'warning',
      title: `Gatehouse listens on ${config.listen} without TLS`,
      detail:
        'API keys, prompts and answers cross the network in clear text: anyone on the path can copy a key.' +
        (config.trusted_proxies.length ? ' trusted_proxies is set, so a TLS terminator probably sits in front: then make sure only it can reach this port.' : ''),
      fix: 'Set tls.cert and tls.key, or listen on 127.0.0.1 and put a TLS terminator (Caddy, nginx, a load balancer) in front. Inside a container behind a terminator on a private network this can be acceptable.',
    });
  } else {
    out.push({ id: 'listen', severity: 'ok', title: `Gatehouse listens on ${config.listen}${tls ? ' with TLS' : ' (loopback only)'}` });
  }

  if (config.ssh.enabled && !loopback && !tls) {
    out.push({
      id: 'ssh.no_tls', severity: 'warning',
      title: 'Ed25519 (ollama CLI) authentication is on without TLS',
      detail: `A signed request seen on the network can be replayed for ±${d.sshWindowSec} s, with a different body: the signature covers method, path and time, not the body.${config.ssh.replay === 'once' ? ' ssh.replay: once stops replays, not body changes in flight.' : ''}`,
      fix: 'Serve with TLS (tls.cert/tls.key or a terminator), or set ssh.enabled: false if nobody uses OLLAMA_AUTH=1.',
    });
  }

  if (config.routes.manage) {
    out.push({
      id: 'routes.manage', severity: 'warning',
      title: 'Model management routes are enabled (routes.manage: true)',
      detail: 'Keys with the models:manage scope can pull, push, create, copy and delete models: fill the disk, or replace a model others use.',
      fix: 'Set routes.manage: false unless you manage models through Gatehouse; give models:manage to few keys, with an expiry.',
    });
  }
  if (config.routes.cloud) {
    out.push({
      id: 'routes.cloud', severity: 'warning',
      title: 'Cloud routes are enabled (routes.cloud: true)',
      detail: "Keys with the cloud scope use :cloud models, web search/fetch and /api/me on the server owner's ollama.com account.",
      fix: 'Set routes.cloud: false unless you mean to share that account.',
    });
  }
  if (!config.routes.manage && !config.routes.cloud) {
    out.push({ id: 'routes', severity: 'ok', title: 'Model management and cloud routes are off' });
  }

  if (tls) out.push(...tlsChecks(config, now));
  return out;
}

function tlsChecks(config: Config, now: number): Finding[] {
  const out: Finding[] = [];
  const t = config.tls;
  let certPem: Buffer;
  let keyPem: Buffer;
  try {
    certPem = readFileSync(t.cert!);
  } catch (err) {
    return [{ id: 'tls.cert', severity: 'critical', title: `Cannot read tls.cert ${t.cert}`, detail: (err as Error).message, fix: 'Fix the path or the permissions; Gatehouse will not start without it.' }];
  }
  try {
    keyPem = readFileSync(t.key!);
  } catch (err) {
    return [{
      id: 'tls.key', severity: (err as NodeJS.ErrnoException).code === 'EACCES' ? 'warning' : 'critical',
      title: `Cannot read tls.key ${t.key}`, detail: (err as Error).message,
      fix: (err as NodeJS.ErrnoException).code === 'EACCES' ? 'Run doctor as the user Gatehouse runs as (e.g. `sudo -u gatehouse gatehouse doctor`) to check the key.' : 'Fix the path; Gatehouse will not start without it.',
    }];
  }
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(certPem);
    createSecureContext({ cert: certPem, key: keyPem });
  } catch (err) {
    return [{ id: 'tls.pair', severity: 'critical', title: 'tls.cert and tls.key do not load together', detail: (err as Error).message, fix: 'Use the key that belongs to the certificate (the first certificate in tls.cert must be the server\'s own).' }];
  }
  const notAfter = Date.parse(cert.validTo);
  const days = Math.floor((notAfter - now) / 86_400_000);
  const names = cert.subjectAltName ?? cert.subject.replace(/\n/g, ', ');
  if (notAfter <= now) {
    out.push({ id: 'tls.cert_expiry', severity: 'critical', title: `The TLS certificate expired at ${cert.validTo}`, detail: `For ${names}. Clients refuse the connection.`, fix: 'Renew it, write the files, then `systemctl reload gatehouse` (SIGHUP: no connection is dropped).' });
  } else if (days < 14) {
    out.push({ id: 'tls.cert_expiry', severity: 'warning', title: `The TLS certificate expires in ${days} days (${cert.validTo})`, detail: `For ${names}.`, fix: 'Renew it, write the files, then `systemctl reload gatehouse` (SIGHUP).' });
  } else {
    out.push({ id: 'tls.cert_expiry', severity: 'ok', title: `TLS certificate for ${names} is valid for ${days} more days` });
  }

  if (t.client_auth !== 'none') {
    let cas = 0;
    if (t.client_ca) {
      try {
        cas = (readFileSync(t.client_ca, 'utf8').match(/-----BEGIN CERTIFICATE-----/g) ?? []).length;
      } catch (err) {
        out.push({ id: 'tls.client_ca', severity: 'critical', title: `Cannot read tls.client_ca ${t.client_ca}`, detail: (err as Error).message, fix: 'Fix the path or permissions; Gatehouse will not start without it.' });
        return out;
      }
      if (cas === 0) out.push({ id: 'tls.client_ca', severity: 'critical', title: `tls.client_ca ${t.client_ca} holds no PEM certificate`, fix: 'Put the CA certificate(s) that issue client certificates there, in PEM.' });
    }
    out.push({
      id: 'tls.client_auth', severity: 'info',
      title: `Client certificates: ${t.client_auth}${t.client_ca ? ` (verified against ${cas} CA certificate${cas === 1 ? '' : 's'} in ${t.client_ca})` : ' (no client CA: only certificates pinned by fingerprint are accepted)'}`,
      detail: t.client_auth === 'require' ? 'Connections without a certificate from that CA are refused in the handshake, /healthz included.' : 'A certificate is used only when a request carries no API key or Ed25519 token.',
    });
  }
  return out;
}
