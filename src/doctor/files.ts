import { readFileSync, statSync, type Stats } from 'node:fs';
import { dirname, join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { Config } from '../config/schema.js';
import type { Finding } from './types.js';

/**
 * File permissions: the data dir and what is in it, the TLS key, the authorized_keys file, and the
 * config file (secrets in it, and who may change it). Only stat() and reads: doctor changes nothing.
 */

const oct = (mode: number) => (mode & 0o777).toString(8).padStart(4, '0');

function statOrNull(p: string): Stats | null {
  try {
    return statSync(p);
  } catch {
    return null;
  }
}

export function fileChecks(config: Config, configFile: string | null): Finding[] {
  const out: Finding[] = [];
  out.push(...dataDirChecks(config.data_dir));

  if (config.tls.key) {
    const st = statOrNull(config.tls.key);
    if (st) {
      const m = st.mode;
      if (m & 0o004) {
        out.push({ id: 'perm.tls_key', severity: 'critical', title: `The TLS private key ${config.tls.key} is readable by every user (${oct(m)})`, detail: 'Anyone on this host can copy it and impersonate the gateway, or read recorded traffic.', fix: `chmod 600 ${config.tls.key} (or 640 with a group only the service user is in)` });
      } else if (m & 0o022) {
        out.push({ id: 'perm.tls_key', severity: 'critical', title: `The TLS private key ${config.tls.key} is writable by others (${oct(m)})`, fix: `chmod 600 ${config.tls.key}` });
      } else if (m & 0o040) {
        out.push({ id: 'perm.tls_key', severity: 'warning', title: `The TLS private key ${config.tls.key} is readable by its group (gid ${st.gid}, ${oct(m)})`, detail: 'Fine if that group is only the service (e.g. ssl-cert, gatehouse); otherwise its members can copy the key.', fix: `chmod 600 ${config.tls.key}, or make sure the group holds only the service user` });
      } else {
        out.push({ id: 'perm.tls_key', severity: 'ok', title: `The TLS private key is readable only by its owner (${oct(m)})` });
      }
    }
    out.push(...replaceableBy(config.tls.key, 'the TLS private key'));
  }
  if (config.tls.cert) out.push(...writableBy(config.tls.cert, 'the TLS certificate', 'replace the certificate served (a man in the middle needs only that and the key)'));
  if (config.tls.client_ca) out.push(...writableBy(config.tls.client_ca, 'tls.client_ca', 'add their own CA and then log in with any certificate they mint'));
  if (config.ssh.authorized_keys) {
    out.push(...writableBy(config.ssh.authorized_keys, 'ssh.authorized_keys', 'add their own key and use the gateway'));
    out.push(...replaceableBy(config.ssh.authorized_keys, 'ssh.authorized_keys'));
  }
  if (configFile) out.push(...configFileChecks(configFile));
  return out;
}

function dataDirChecks(dir: string): Finding[] {
  const st = statOrNull(dir);
  if (!st) return [{ id: 'perm.data_dir', severity: 'info', title: `The data dir ${dir} does not exist yet`, detail: '`gatehouse serve` (or `gatehouse init`) creates it with mode 0700 on first start, with SQLite or PostgreSQL.' }];
  const out: Finding[] = [];
  const m = st.mode;
  if (m & 0o002) {
    out.push({ id: 'perm.data_dir', severity: 'critical', title: `The data dir ${dir} is writable by every user (${oct(m)})`, detail: 'Anyone on this host can replace the key store with one holding their own key.', fix: `chmod 700 ${dir}` });
  } else if (m & 0o077) {
    out.push({ id: 'perm.data_dir', severity: 'warning', title: `The data dir ${dir} is open to other users (${oct(m)})`, detail: '`gatehouse serve` sets it to 0700 when it starts; something changed it since.', fix: `chmod 700 ${dir}` });
  } else {
    out.push({ id: 'perm.data_dir', severity: 'ok', title: `The data dir ${dir} is private (${oct(m)}, uid ${st.uid})` });
  }
  for (const name of ['gatehouse.db', 'gatehouse.db-wal', 'gatehouse.db-shm']) {
    const p = join(dir, name);
    const f = statOrNull(p);
    if (!f) continue;
    if (f.mode & 0o022) out.push({ id: 'perm.key_store', severity: 'critical', title: `${p} is writable by others (${oct(f.mode)})`, detail: 'Whoever can write the key store can add a key with every scope.', fix: `chmod 600 ${p}` });
    else if (f.mode & 0o004 && m & 0o001) out.push({ id: 'perm.key_store', severity: 'warning', title: `${p} is readable by every user (${oct(f.mode)})`, detail: 'It holds key hashes (not reversible), names, scopes and the admin log.', fix: `chmod 600 ${p}` });
  }
  const initial = join(dir, 'initial-key');
  const ik = statOrNull(initial);
  if (ik) {
    if (ik.mode & 0o044 && m & 0o011) {
      out.push({ id: 'perm.initial_key', severity: 'critical', title: `${initial} holds a plaintext API key and is readable by others (${oct(ik.mode)})`, fix: `Store the key where its user keeps secrets, then delete the file: rm ${initial}` });
    } else {
      out.push({ id: 'perm.initial_key', severity: 'warning', title: `${initial} still holds a plaintext API key`, detail: 'It was written on first start so the gateway was usable at once.', fix: `Store the key where its user keeps secrets, then delete the file: rm ${initial}` });
    }
  }
  return out;
}

function writableBy(path: string, what: string, consequence: string): Finding[] {
  const st = statOrNull(path);
  if (!st) return [];
  if (st.mode & 0o002) return [{ id: 'perm.writable', severity: 'critical', title: `${what} ${path} is writable by every user (${oct(st.mode)})`, detail: `Anyone on this host can ${consequence}.`, fix: `chmod go-w ${path}` }];
  if (st.mode & 0o020) return [{ id: 'perm.writable', severity: 'warning', title: `${what} ${path} is writable by its group (gid ${st.gid}, ${oct(st.mode)})`, detail: `Members of that group can ${consequence}.`, fix: `chmod g-w ${path}` }];
  return [];
}

/** A file in a world-writable directory (without the sticky bit) can be swapped by anyone. */
function replaceableBy(path: string, what: string): Finding[] {
  const dir = dirname(path);
  const st = statOrNull(dir);
  if (!st || !(st.mode & 0o002) || st.mode & 0o1000) return [];
  return [{ id: 'perm.dir_writable', severity: 'critical', title: `${what} is in ${dir}, which every user can write to (${oct(st.mode)})`, detail: 'Anyone on this host can replace the file.', fix: `Move it to a directory only root and the service can write (e.g. /etc/gatehouse), or chmod o-w ${dir}` }];
}

function configFileChecks(file: string): Finding[] {
  const st = statOrNull(file);
  if (!st) return [];
  const out: Finding[] = [...writableBy(file, 'The config file', 'point Gatehouse at another upstream, switch routes on or take its TLS key'), ...replaceableBy(file, 'The config file')];
  let secrets: string[] = [];
  try {
    secrets = findSecrets(parseYaml(readFileSync(file, 'utf8')) as unknown);
  } catch {
    /* unreadable or not YAML: config loading already said so */
  }
  if (secrets.length) {
    const where = secrets.slice(0, 5).join(', ');
    if (st.mode & 0o004) {
      out.push({ id: 'config.secrets', severity: 'critical', title: `The config file ${file} holds secrets (${where}) and every user can read it (${oct(st.mode)})`, fix: `chmod 600 ${file} (or 640 with the service's group), or move the secrets into environment variables set by the service manager` });
    } else if (st.mode & 0o040) {
      out.push({ id: 'config.secrets', severity: 'warning', title: `The config file ${file} holds secrets (${where}) and its group (gid ${st.gid}) can read it`, detail: 'Fine if that group is only the service user.', fix: `chmod 600 ${file}` });
    } else {
      out.push({ id: 'config.secrets', severity: 'ok', title: `The config file holds secrets (${where}) and only its owner can read it` });
    }
  } else {
    out.push({ id: 'config.secrets', severity: 'ok', title: `The config file ${file} holds no secrets` });
  }
  return out;
}

const SECRET_NAME = /(pass(word|wd|phrase)?|secret|token|api[_-]?key|private[_-]?key|credentials?)$/i;
const URL_WITH_PASSWORD = /^[a-z][a-z0-9+.-]*:\/\/[^/\s@]*:[^/\s@]+@/i;
const PEM_PRIVATE = /-----BEGIN [A-Z ]*PRIVATE KEY-----/;
const LOOKS_LIKE_PATH = /^(\/|~\/|\.\.?\/)/;

/** Dotted paths of values in a parsed config that look like secrets. Paths to files are not secrets. */
export function findSecrets(node: unknown, path = ''): string[] {
  if (Array.isArray(node)) return node.flatMap((v, i) => findSecrets(v, `${path}[${i}]`));
  if (node && typeof node === 'object') return Object.entries(node as Record<string, unknown>).flatMap(([k, v]) => findSecrets(v, path ? `${path}.${k}` : k));
  if (typeof node !== 'string' || node === '') return [];
  const name = path.split('.').pop() ?? '';
  if (URL_WITH_PASSWORD.test(node) || PEM_PRIVATE.test(node)) return [path];
  if (SECRET_NAME.test(name.replace(/\[\d+\]$/, '')) && !LOOKS_LIKE_PATH.test(node)) return [path];
  return [];
}
