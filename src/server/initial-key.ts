import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { generateApiKey } from '../auth/api-key.js';
import { DEFAULT_SCOPES } from '../core/types.js';
import { newKeyId } from '../core/ids.js';
import type { KeyStore } from '../store/types.js';
import { ensureDataDir } from '../store/data-dir.js';

/**
 * First start with an empty key store: create one key named `initial` so the gateway is usable
 * at once, write it to `<data dir>/initial-key` (mode 0600) and say where it is. The key itself is
 * never printed: console output ends up in collected logs.
 */
export async function ensureInitialKey(store: KeyStore, dataDir: string, log: Logger): Promise<void> {
  if ((await store.list()).length > 0) return;
  // With PostgreSQL nothing else creates the data dir; the key file needs it (0700, as doctor expects).
  ensureDataDir(dataDir);
  const k = generateApiKey();
  const file = join(dataDir, 'initial-key');
  writeFileSync(file, `${k.key}\n`, { mode: 0o600 });
  await store.create(
    {
      id: newKeyId(), name: 'initial', kind: 'api_key', hash: k.hash, hint: k.hint, fingerprint: null, publicKey: null,
      scopes: [...DEFAULT_SCOPES], models: null, limits: { rpm: null, tpm: null, tpd: null, concurrency: null }, clamps: {}, expiresAt: null,
    },
    { actor: 'server:first-start' },
  );
  log.warn(`created the first API key ("initial", scopes inference,models:read) and wrote it to ${file} (readable only by you). Use it with: curl -H "Authorization: Bearer $(cat ${file})" ...  Delete the file once you have stored the key elsewhere; manage keys with \`gatehouse keys\`.`);
}
