import { Worker } from 'node:worker_threads';
import type { AdminEvent, BlobUpload, NewAuditRecord } from '../types.js';
import type { SqliteWriter } from './writer.js';
import { auditRows, type SqliteValue } from './writes.js';

/** What the writer thread is started with (writer-worker.ts reads it as workerData). */
export interface WriterThreadData {
  file: string;
  /** The thread's connection checkpoints the WAL past this many pages (PRAGMA wal_autocheckpoint). */
  autocheckpointPages: number;
}

export type WriterRequest =
  | { id: number; op: 'append'; rows: readonly SqliteValue[] }
  | { id: number; op: 'prune'; before: number }
  | { id: number; op: 'admin'; event: Omit<AdminEvent, 'id'> }
  | { id: number; op: 'touch'; lastUsed: ReadonlyMap<string, number> }
  | { id: number; op: 'blob'; upload: BlobUpload }
  | { id: 0; op: 'close' };

export type WriterReply = { id: number; ok: true; n: number } | { id: number; ok: false; message: string };

type Call = Exclude<WriterRequest, { op: 'close' }>;
/** A call without its id (added by #call). */
type CallBody = { [K in Call['op']]: Omit<Extract<Call, { op: K }>, 'id'> }[Call['op']];

interface Running {
  worker: Worker;
  pending: Map<number, { resolve(n: number): void; reject(e: Error): void }>;
}

/**
 * The server's SQLite writes, on a thread of their own with its own connection to the same file.
 * On the event loop, each of them could stop every request:
 * - the audit insert cost ~8 µs of every request, the largest single item in a CPU profile of the
 *   request path; the event loop now only flattens each batch and copies it to the thread;
 * - SQLite runs a WAL checkpoint (copy and fsync) inside the commit that crosses its threshold;
 * - while another process holds the write lock (`gatehouse keys create`, a backup), a write waits
 *   in SQLite's busy handler for up to busy_timeout (5 s): on the event loop, so did every request.
 * Reads (the key cache's polling, `gatehouse audit`) stay on the caller's connection: WAL lets
 * them run beside this writer, never waiting for it.
 *
 * The thread starts on first use. If it dies (out of memory, a crash in the driver), every call in
 * flight fails — the audit writer puts its records back in its queue and retries, last-used times
 * are kept for the next flush — and the next call starts a new thread.
 */
export class WriterThread implements SqliteWriter {
  readonly #data: WriterThreadData;
  #running: Running | null = null;
  #nextId = 1;
  #closed = false;

  constructor(data: WriterThreadData) {
    this.#data = data;
  }

  async append(records: readonly NewAuditRecord[]): Promise<void> {
    // Flattened here: copying primitives to the thread costs less than copying objects.
    if (records.length > 0) await this.#call({ op: 'append', rows: auditRows(records) });
  }

  prune(before: number): Promise<number> {
    return this.#call({ op: 'prune', before });
  }

  async recordAdmin(event: Omit<AdminEvent, 'id'>): Promise<void> {
    await this.#call({ op: 'admin', event });
  }

  async touch(lastUsed: ReadonlyMap<string, number>): Promise<void> {
    if (lastUsed.size > 0) await this.#call({ op: 'touch', lastUsed });
  }

  async recordBlob(upload: BlobUpload): Promise<void> {
    await this.#call({ op: 'blob', upload });
  }

  /** Lets the thread finish what it was sent, closes its connection and waits for it to exit. */
  async close(deadlineMs = 5000): Promise<void> {
    this.#closed = true;
    const r = this.#running;
    if (!r) return;
    r.worker.ref(); // awaiting the exit must keep this process alive until the thread is done
    const exited = new Promise<void>((resolve) => r.worker.once('exit', () => resolve()));
    r.worker.postMessage({ id: 0, op: 'close' } satisfies WriterRequest);
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), deadlineMs)));
    if ((await Promise.race([exited, late])) === 'late') await r.worker.terminate();
    clearTimeout(timer);
  }

  #call(op: CallBody): Promise<number> {
    if (this.#closed) return Promise.reject(new Error('the SQLite writer thread is closed'));
    const r = this.#running ?? this.#start();
    const id = this.#nextId++;
    return new Promise<number>((resolve, reject) => {
      r.pending.set(id, { resolve, reject });
      r.worker.postMessage({ ...op, id });
    });
  }

  #start(): Running {
    const worker = new Worker(new URL('./writer-worker.js', import.meta.url), {
      workerData: this.#data,
      // A batch is at most audit.batch_size records and only one is in flight: a small heap does.
      resourceLimits: { maxOldGenerationSizeMb: 64, maxYoungGenerationSizeMb: 4 },
    });
    // Idle, the thread must not keep the process alive; close() takes it back when shutting down.
    worker.unref();
    const r: Running = { worker, pending: new Map() };
    worker.on('message', (m: WriterReply) => {
      const p = r.pending.get(m.id);
      if (!p) return;
      r.pending.delete(m.id);
      if (m.ok) p.resolve(m.n);
      else p.reject(new Error(m.message));
    });
    const fail = (err: Error) => {
      if (this.#running === r) this.#running = null;
      for (const p of r.pending.values()) p.reject(err);
      r.pending.clear();
    };
    worker.on('error', (err) => fail(new Error(`the SQLite writer thread failed: ${err.message}`, { cause: err })));
    worker.on('exit', (code) => fail(new Error(`the SQLite writer thread exited (code ${code})`)));
    this.#running = r;
    return r;
  }
}
