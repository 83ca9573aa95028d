import { readFileSync, unwatchFile, watchFile } from 'node:fs';
import type { Logger } from 'pino';
import type { Scope } from '../core/types.js';
import { ModelAllowlist } from '../policy/model-allowlist.js';
import type { ResolvedPrincipal } from './principal.js';
import { parseAuthorizedKeys } from './ssh/authorized-keys.js';

/**
 * Principals from an sshd-style authorized_keys file (the upstream Ollama design: one
 * `ssh-ed25519 <b64> <name> <endpoints>` line per key). The file is re-read when it changes
 * (polled each second, which also survives editors that replace the file). A file that cannot be
 * read keeps the last good set and logs why; bad lines are skipped and logged with their number.
 */
export class AuthorizedKeysFile {
  readonly #path: string;
  readonly #scopes: ReadonlySet<Scope>;
  readonly #log: Logger;
  #byFingerprint: ReadonlyMap<string, ResolvedPrincipal> = new Map();

  constructor(path: string, scopes: readonly Scope[], log: Logger) {
    this.#path = path;
    this.#scopes = new Set(scopes);
    this.#log = log;
    this.reload();
  }

  get keys(): ReadonlyMap<string, ResolvedPrincipal> {
    return this.#byFingerprint;
  }

  reload(): void {
    let text: string;
    try {
      text = readFileSync(this.#path, 'utf8');
    } catch (err) {
      this.#log.error({ file: this.#path, err: (err as Error).message }, 'cannot read ssh.authorized_keys; keeping the keys loaded before');
      return;
    }
    const parsed = parseAuthorizedKeys(text);
    for (const e of parsed.errors) this.#log.warn({ file: this.#path, line: e.line }, `authorized_keys line skipped: ${e.reason}`);
    const next = new Map<string, ResolvedPrincipal>();
    for (const e of parsed.entries) {
      next.set(
        e.fingerprint,
        Object.freeze({
          id: `file:${e.fingerprint}`,
          name: e.name,
          kind: 'ssh_key' as const,
          scopes: this.#scopes,
          models: null,
          expiresAt: null,
          limits: { rpm: null, tpm: null, tpd: null, concurrency: null },
          clamps: {},
          fingerprint: e.fingerprint,
          endpoints: e.endpoints,
          allowlist: new ModelAllowlist(null),
          revokedAt: null,
          policyId: null,
        }),
      );
    }
    this.#byFingerprint = next;
    this.#log.info({ file: this.#path, keys: next.size, skipped: parsed.errors.length }, 'loaded ssh.authorized_keys');
  }

  watch(): void {
    watchFile(this.#path, { interval: 1000, persistent: false }, () => this.reload());
  }

  close(): void {
    unwatchFile(this.#path);
  }
}
