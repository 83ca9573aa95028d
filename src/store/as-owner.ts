import { statSync } from 'node:fs';

/**
 * Runs `fn` with the effective uid/gid of `dir`'s owner when this process is root and the
 * directory belongs to someone else (the service user). Files SQLite creates on open (the -wal and
 * -shm beside the store) then belong to the service, which could not open a store with root-owned
 * companions (`sudo gatehouse keys …` without -u would otherwise break the next start). Anything
 * else: `fn` runs as is.
 */
export async function asOwnerOf<T>(dir: string, fn: () => Promise<T>): Promise<T> {
  let uid: number;
  let gid: number;
  try {
    ({ uid, gid } = statSync(dir));
  } catch {
    return fn();
  }
  if (typeof process.getuid !== 'function' || process.getuid() !== 0 || uid === 0 || !process.seteuid || !process.setegid) return fn();
  process.setegid(gid);
  process.seteuid(uid);
  try {
    return await fn();
  } finally {
    process.seteuid(0);
    process.setegid(0);
  }
}
