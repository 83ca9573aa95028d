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
