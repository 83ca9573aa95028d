import type { Logger } from 'pino';
import type { Observer } from '../request/observer.js';
import type { RequestScope } from '../request/scope.js';
import { PermanentStoreError, type AuditStore, type NewAuditRecord } from '../store/types.js';
import { auditRecordOf } from './record.js';

export interface AuditWriterOptions {
  store: AuditStore;
  /** Records per write (config audit.batch_size). */
  batchSize: number;
  /** Bounded queue (config audit.queue_size): when full, records are dropped and counted. */
  queueSize: number;
  /** Queued records are written at least this often (config audit.flush_interval). */
  flushIntervalMs: number;
  /** Delete records older than this (config audit.retention); 0 = keep forever. */
  retentionMs: number;
  log: Logger;
}

export interface AuditStats {
  queued: number;
  written: number;
  dropped: number;
  writeErrors: number;
}

/**
 * The audit log's writer, an Observer. `requestEnded` builds the record and pushes it onto a
 * bounded in-memory queue: no I/O, no await, no throw (docs/threat-model.md G8: the audit must never slow or
 * break a request). A timer writes the queue in batches every `flushIntervalMs`, or sooner once a
 * batch is full. When the store fails, the batch goes back to the head of the queue and is retried
 * with backoff; if the store stays away long enough for the queue to fill, new records are
 * dropped and counted (gatehouse_audit_dropped_total) rather than held without bound.
 * A record is in the database at most `flushIntervalMs` (+ one write) after its response closed,
 * which is what a crash can lose.
 */
export class AuditWriter implements Observer {
  readonly #o: AuditWriterOptions;
  #queue: NewAuditRecord[] = [];
  #written = 0;
  #dropped = 0;
  #writeErrors = 0;
  #writing: Promise<void> | null = null;
  #soon = false;
  #backoffUntil = 0;
  #backoffMs = 0;
  #closed = false;
  #closing = false;
  #lastComplaint = 0;
  readonly #timer: NodeJS.Timeout;
  #pruneTimer: NodeJS.Timeout | null = null;

  constructor(o: AuditWriterOptions) {
    this.#o = o;
    this.#timer = setInterval(() => void this.flush(), o.flushIntervalMs);
    this.#timer.unref();
    if (o.retentionMs > 0) this.#schedulePrune(1000);
  }

  requestEnded(scope: RequestScope): void {
    if (this.#closed || this.#queue.length >= this.#o.queueSize) {
      this.#dropped++;
      return;
    }
    this.#queue.push(auditRecordOf(scope));
    if (this.#queue.length >= this.#o.batchSize && !this.#soon && !this.#writing) {
      this.#soon = true;
      setImmediate(() => {
        this.#soon = false;
        void this.flush();
      });
    }
  }

  get stats(): AuditStats {
    return { queued: this.#queue.length, written: this.#written, dropped: this.#dropped, writeErrors: this.#writeErrors };
  }

  /** Writes everything queued (one batch at a time). Concurrent callers share the run. */
  flush(): Promise<void> {
    this.#writing ??= this.#drain().finally(() => {
      this.#writing = null;
    });
    return this.#writing;
  }

  async #drain(): Promise<void> {
    // One batch per call, then more only while whole batches are waiting (or when closing). A store
    // that answers asynchronously (the SQLite writer thread, PostgreSQL) would otherwise be handed
    // whatever trickled in during each write: many small commits, each rewriting the same index
    // pages, which cost the SQLite thread 2.5× the CPU per record of full batches (measured).
    let first = true;
    while (this.#queue.length > 0 && (first || this.#closing || this.#queue.length >= this.#o.batchSize)) {
      first = false;
      if (Date.now() < this.#backoffUntil) return;
      const q = this.#queue;
      const batch = q.length <= this.#o.batchSize ? q : q.slice(0, this.#o.batchSize);
      this.#queue = q.length <= this.#o.batchSize ? [] : q.slice(this.#o.batchSize);
      try {
        await this.#o.store.append(batch);
        this.#written += batch.length;
        this.#backoffMs = 0;
      } catch (err) {
        this.#writeErrors++;
        if (err instanceof PermanentStoreError) {
          this.#dropped += batch.length;
          this.#o.log.error({ err: (err as Error).message, records: batch.length }, 'audit store rejected a batch; records dropped');
          continue;
        }
        // Back to the head of the queue; what no longer fits is dropped (and counted).
        const room = Math.max(0, this.#o.queueSize - this.#queue.length);
        const keep = batch.length <= room ? batch : batch.slice(batch.length - room);
        this.#dropped += batch.length - keep.length;
        this.#queue = keep.concat(this.#queue);
        this.#backoffMs = Math.min(Math.max(this.#backoffMs * 2, 100), 5000);
        this.#backoffUntil = Date.now() + this.#backoffMs;
        this.#complain(err as Error);
        return;
      }
    }
  }

  #complain(err: Error): void {
    const now = Date.now();
    if (now - this.#lastComplaint < 30_000) return;
    this.#lastComplaint = now;
    this.#o.log.error({ err: err.message, queued: this.#queue.length, dropped: this.#dropped }, 'cannot write audit records; retrying (records are dropped once the queue is full)');
  }

  #schedulePrune(delayMs: number): void {
    const every = Math.min(Math.max(this.#o.retentionMs / 4, 1000), 3_600_000);
    this.#pruneTimer = setTimeout(() => {
      void this.#o.store
        .prune(Date.now() - this.#o.retentionMs)
        .then((n) => {
          if (n > 0) this.#o.log.info({ deleted: n, retention_ms: this.#o.retentionMs }, 'pruned old audit records');
        })
        .catch((err: Error) => this.#o.log.warn({ err: err.message }, 'audit pruning failed; will retry'))
        .finally(() => {
          if (!this.#closed) this.#schedulePrune(every);
        });
    }, delayMs);
    this.#pruneTimer.unref();
  }

  /**
   * Graceful shutdown: writes what is queued, retrying through store hiccups until `deadlineMs`,
   * then stops taking records. Whatever is still queued then is reported and counted as dropped.
   */
  async close(deadlineMs = 5000): Promise<void> {
    clearInterval(this.#timer);
    if (this.#pruneTimer) clearTimeout(this.#pruneTimer);
    this.#closing = true;
    const end = Date.now() + deadlineMs;
    for (;;) {
      await this.flush();
      if (this.#queue.length === 0 || Date.now() >= end) break;
      await new Promise((r) => setTimeout(r, Math.min(Math.max(this.#backoffUntil - Date.now(), 10), end - Date.now())));
    }
    this.#closed = true;
    if (this.#queue.length > 0) {
      this.#o.log.error({ lost: this.#queue.length }, 'audit records could not be written before shutdown');
      this.#dropped += this.#queue.length;
      this.#queue = [];
    }
  }
}
