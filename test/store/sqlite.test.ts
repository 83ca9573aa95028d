import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStores } from '../../src/store/index.js';
import { storeContract } from '../contract/store.contract.js';

/** The contract on a fresh data dir, opened as the CLI opens it or as the server does. */
function sqliteContract(name: string, role: 'cli' | 'server'): void {
  storeContract({
    name,
    skip: false,
    pushesKeyChanges: false,
    async target() {
      const dir = mkdtempSync(join(tmpdir(), 'gatehouse-store-'));
      return {
        open: () => openStores({ dataDir: dir, role }),
        cleanup: async () => rmSync(dir, { recursive: true, force: true }),
      };
    },
  });
}

sqliteContract('sqlite', 'cli');
// The server's role makes its background writes on a thread with its own connection: the same contract.
sqliteContract('sqlite, server role (writer thread)', 'server');
