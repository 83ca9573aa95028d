import { readdirSync, statSync } from 'node:fs';
import { hostname, userInfo } from 'node:os';
import { describeLookups, type Loaded } from '../config/load.js';
import { asOwnerOf } from '../store/as-owner.js';
import { openStores, StoreMissingError, type Stores } from '../store/index.js';
import type { Actor } from '../store/types.js';
import { adminClientFrom } from './admin-client.js';
import { remoteStores, type RemoteStores } from './remote-stores.js';

/**
 * The stores a `keys`, `policies`, `usage` or `audit` command works on: a running gateway's admin
 * API when --url (or GATEHOUSE_URL) says so, else the local store (openCliStores).
 */
export async function openCommandStores(values: Record<string, unknown>, loaded: Loaded, command: string, o: { explicitDataDir?: boolean } = {}): Promise<Stores | RemoteStores> {
  const client = adminClientFrom(values);
  return client ? remoteStores(client) : openCliStores(loaded, command, o);
}

/** The stores are a gateway's admin API (--url): what only the API can do is asked of it. */
export function isRemote(s: Stores | RemoteStores): s is RemoteStores {
  return 'createApiKey' in s;
}

/**
 * How every command except `serve` and `init` opens the store: it must exist. A command that
 * created an empty store wherever it happened to look (the wrong user's ~/.gatehouse, a config it
 * did not find) would report success while the running gateway reads another store; instead it
 * says there is none, and where it looked. Run as root on a service user's data dir, the store is
 * opened as that user (store/as-owner.ts).
 */
export async function openCliStores(loaded: Loaded, command: string, o: { explicitDataDir?: boolean } = {}): Promise<Stores> {
  const { config } = loaded;
  if (o.explicitDataDir && startsHere(config.data_dir, config.store)) {
    console.error(`note: started a new key store in ${config.data_dir} (an empty directory named with --data-dir)`);
    return openStores({ dataDir: config.data_dir, store: config.store });
  }
  try {
    return await asOwnerOf(config.data_dir, () => openStores({ dataDir: config.data_dir, store: config.store, ifMissing: 'fail' }));
  } catch (err) {
    if (err instanceof StoreMissingError) throw new Error(missingStoreMessage(err, loaded, command));
    throw err;
  }
}

/**
 * The one case where a key-creating command starts a store: `--data-dir DIR` names a directory
 * that exists, is empty and belongs to this user. Nothing is guessed there (the operator made the
 * directory and named it), and scripts that prepare a fresh data dir and then mint a key before
 * the first start (the shared benchmark harness does) keep working. Anything else still needs
 * `init` or `serve`.
 */
function startsHere(dir: string, store: string): boolean {
  if (store !== 'sqlite') return false;
  try {
    const st = statSync(dir);
    return st.isDirectory() && st.uid === process.getuid?.() && readdirSync(dir).length === 0;
  } catch {
    return false;
  }
}

export function missingStoreMessage(err: StoreMissingError, loaded: Loaded, command: string): string {
  const sqlite = loaded.config.store === 'sqlite';
  return [
    `${err.message}, and \`gatehouse ${command}\` does not create one. Nothing was changed.`,
    'Config file looked for at:',
    ...describeLookups(loaded.lookups).map((l) => `  ${l}`),
    sqlite ? `data_dir ${loaded.config.data_dir} came from ${loaded.dataDirFrom}.` : `store came from ${loaded.file ? `the config file ${loaded.file}` : 'the environment'}.`,
    'If a gateway is running, use its configuration (--config FILE or GATEHOUSE_CONFIG) or data dir (--data-dir DIR), as the user it runs as (e.g. sudo -u gatehouse gatehouse ...).',
    'To start a new store here: gatehouse init (gatehouse serve also creates it on first start).',
  ].join('\n');
}

/** "key store /var/lib/gatehouse/gatehouse.db (config /etc/gatehouse/gatehouse.yaml)", for what a command changed. */
export function storeLine(stores: Stores, loaded: Loaded): string {
  if (isRemote(stores)) return stores.location;
  return `key store ${stores.location} (${loaded.file ? `config ${loaded.file}` : 'no config file'})`;
}

/** Who a CLI change is recorded as in the admin trail: `cli:<OS user>@<host>`. */
export function cliActor(): Actor {
  let user: string;
  try {
    user = userInfo().username;
  } catch {
    user = 'unknown';
  }
  return { actor: `cli:${user}@${hostname()}` };
}
