/** What a LeaseList needs on each entry: its own links, kept on the entry itself. */
export interface Listed<T> {
  prev: T | null;
  next: T | null;
  listed: boolean;
}

/**
 * The leases a process holds, as a doubly linked list through the leases themselves, instead of a
 * `Set`. With one add and one delete per request, a `Set` rehashes into a new backing table every
 * few dozen requests, and V8 links each obsolete table to its successor (for live iterators). The
 * measurements fit that path: once promoted, those dead tables kept their successors, and the
 * leases in them, alive through the young-generation collections that followed (with the Redis
 * store, 200 KB promoted per scavenge against 72 KB with the memory store, and ~1.3 µs more GC per
 * request). Here an entry references only live neighbours, and loses its links when it leaves.
 */
export class LeaseList<T extends Listed<T>> {
  #head: T | null = null;
  #size = 0;

  get size(): number {
    return this.#size;
  }

  add(x: T): void {
    if (x.listed) return;
    x.listed = true;
    x.prev = null;
    x.next = this.#head;
    if (this.#head) this.#head.prev = x;
    this.#head = x;
    this.#size++;
  }

  delete(x: T): boolean {
    if (!x.listed) return false;
    if (x.prev) x.prev.next = x.next;
    else this.#head = x.next;
    if (x.next) x.next.prev = x.prev;
    x.prev = null;
    x.next = null;
    x.listed = false;
    this.#size--;
    return true;
  }

  /** Calls `fn` for each entry; `fn` may delete the entry it is given. */
  forEach(fn: (x: T) => void): void {
    for (let x = this.#head; x; ) {
      const next: T | null = x.next;
      fn(x);
      x = next;
    }
  }
}
