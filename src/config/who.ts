import { readFileSync } from 'node:fs';
import { userInfo } from 'node:os';

/**
 * Who is running this process, and who owns a file, in words: permission messages name users
 * ("user alice (uid 1000) cannot write /var/lib/gatehouse, which belongs to gatehouse"), not bare
 * EACCES. Node has no getpwuid, so names come from /etc/passwd; a uid with no entry (a container,
 * setpriv) is shown as its number.
 */

export function currentUid(): number | null {
  return typeof process.getuid === 'function' ? process.getuid() : null;
}

/** "user alice (uid 1000)". */
export function whoAmI(): string {
  const uid = currentUid();
  let name: string | null = null;
  try {
    name = userInfo().username;
  } catch {
    /* no passwd entry: the number says enough */
  }
  if (uid === null) return `user ${name ?? 'unknown'}`;
  return name ? `user ${name} (uid ${uid})` : `uid ${uid}`;
}

/** The login name for this process, for commands in messages (`sudo chown -R alice: DIR`). */
export function myName(): string {
  try {
    return userInfo().username;
  } catch {
    return String(currentUid() ?? 'USER');
  }
}

/** The user name of a uid from /etc/passwd, or null. */
export function userName(uid: number): string | null {
  try {
    for (const line of readFileSync('/etc/passwd', 'utf8').split('\n')) {
      const f = line.split(':');
      if (f.length >= 3 && Number(f[2]) === uid && f[2] !== '') return f[0]!;
    }
  } catch {
    /* no /etc/passwd (not Unix-like): numbers only */
  }
  return null;
}

/** "gatehouse (uid 998)" or "uid 998". */
export function owner(uid: number): string {
  const name = userName(uid);
  return name ? `${name} (uid ${uid})` : `uid ${uid}`;
}
