import { openStores } from '../../store/index.js';
import { asOwnerOf } from '../../store/as-owner.js';
import { COMMON_HELP, configFrom, parse } from '../args.js';

export const INIT_HELP = `gatehouse init: create the key store (and the data dir) the configuration points at

Usage:
  gatehouse init [--config FILE] [--data-dir DIR]

Only \`init\` and \`serve\` create stores: every other command refuses to work on a store that does not
exist, and says where it looked. Run init as the user the gateway will run as (e.g. sudo -u gatehouse
gatehouse init), so that the files belong to that user. With SQLite the data dir is created mode
0700 and the store inside it 0600; with PostgreSQL (store: postgres://…) its schema and tables are
created. Running it again changes nothing.

Options:
${COMMON_HELP}`;

export async function initCommand(argv: string[]): Promise<number> {
  const { values } = parse(argv, {}, 0, 'gatehouse init');
  if (values.help) {
    console.log(INIT_HELP);
    return 0;
  }
  const loaded = configFrom(values);
  const { config } = loaded;
  const existed = await asOwnerOf(config.data_dir, () => openStores({ dataDir: config.data_dir, store: config.store, ifMissing: 'fail' })).then(
    async (s) => {
      await s.close();
      return s.location;
    },
    () => null,
  );
  if (existed) {
    console.log(`The key store ${existed} already exists; nothing changed.`);
    return 0;
  }
  const stores = await asOwnerOf(config.data_dir, () => openStores({ dataDir: config.data_dir, store: config.store }));
  await stores.close();
  console.log(`Created the key store ${stores.location}${stores.backend === 'sqlite' ? ` (data dir ${config.data_dir}, mode 0700)` : ''}, for ${loaded.file ? `the config file ${loaded.file}` : 'the defaults (no config file)'}.`);
  console.log('Next: gatehouse keys create --name NAME, then gatehouse serve (which uses the same store).');
  return 0;
}
