import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStores } from '../../src/store/index.js';
import { storeContract } from '../contract/store.contract.js';

storeContract({
  name: 'sqlite',
  skip: false,
  pushesKeyChanges: false,
  async target() {
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-store-'));
    return {
      open: () => openStores({ dataDir: dir }),
      cleanup: async () => rmSync(dir, { recursive: true, force: true }),
    };
  },
});

// The server's role makes its background writes on a thread with its own connection: the same contract.
storeContract({
  name: 'sqlite, server role (writer thread)',
  skip: false,
  pushesKeyChanges: false,
  async target() {
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-store-'));
    return {
      open: () => openStores({ dataDir: dir, role: 'server' }),
      cleanup: async () => rmSync(dir, { recursive: true, force: true }),
    };
  },
});
