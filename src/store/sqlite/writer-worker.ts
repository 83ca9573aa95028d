/**
 * The server's SQLite writer thread (started by writer-thread.ts): its own connection to the data
 * dir's database, running the background writes one message at a time, so that neither they, nor
 * the WAL checkpoints they trigger, nor a wait for another process's write lock, run on the
 * request path.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { WriterReply, WriterRequest, WriterThreadData } from './writer-thread.js';
import { SqliteWrites } from './writes.js';
import { openSqlite } from './open.js';

const data = workerData as WriterThreadData;
const port = parentPort!;
// The server's own connection has already created and migrated the file.
const db = openSqlite(data.file, { migrate: false });
db.pragma(`wal_autocheckpoint = ${Math.trunc(data.autocheckpointPages)}`);
const writes = new SqliteWrites(db);

const ok = (id: number, n: number) => port.postMessage({ id, ok: true, n } satisfies WriterReply);
const failed = (id: number, err: unknown) => port.postMessage({ id, ok: false, message: (err as Error).message } satisfies WriterReply);

port.on('message', (m: WriterRequest) => {
  try {
    switch (m.op) {
      case 'close':
        db.close();
        port.close();
        return;
      case 'append':
        return ok(m.id, writes.appendRows(m.rows));
      case 'admin':
        writes.recordAdmin(m.event);
        return ok(m.id, 1);
      case 'touch':
        writes.touch(m.lastUsed);
        return ok(m.id, m.lastUsed.size);
      case 'blob':
        writes.recordBlob(m.upload);
        return ok(m.id, 1);
      case 'prune':
        // Sliced: appends sent meanwhile run between slices.
        writes.prune(m.before).then((n) => ok(m.id, n), (err: unknown) => failed(m.id, err));
        return;
    }
  } catch (err) {
    failed(m.id, err);
  }
});
