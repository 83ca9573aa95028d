import { accessSync, chmodSync, constants, mkdirSync, statSync, type Stats } from 'node:fs';
import { dirname, join } from 'node:path';
import { currentUid, myName, owner, userName, whoAmI } from '../config/who.js';
import { StoreAccessError, StoreMissingError } from './errors.js';

/**
 * The SQLite data dir: created (0700) by the commands that create stores, required to exist by the
 * others. Every failure says what is wrong, as which user, and the command that fixes it, instead
 * of EACCES / EPERM / EROFS / ENOENT.
 */

export const STORE_FILE = 'gatehouse.db';

const oct = (mode: number) => (mode & 0o777).toString(8).padStart(4, '0');

/** `serve`, `init`: creates the data dir with owner-only permissions (0700), tightening it if it exists. */
export function ensureDataDir(dir: string): void {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (err) {
    throw explain(err as NodeJS.ErrnoException, dir, 'create');
  }
  const st = statSync(dir);
  if (!st.isDirectory()) throw isAFile(dir);
  if ((st.mode & 0o777) !== 0o700) {
    try {
      chmodSync(dir, 0o700);
    } catch (err) {
      throw explain(err as NodeJS.ErrnoException, dir, 'write', st);
    }
  }
  try {
    accessSync(dir, constants.W_OK | constants.X_OK);
  } catch (err) {
    throw explain(err as NodeJS.ErrnoException, dir, 'write', st);
  }
  storeFileWritable(join(dir, STORE_FILE), dir, st);
}

/** An existing store file this user cannot write (made by another user, e.g. root): said as such. */
function storeFileWritable(file: string, dir: string, dirStat: Stats): void {
  let f: Stats;
  try {
    f = statSync(file);
  } catch {
    return; // not there yet: it will be created
  }
  try {
    accessSync(file, constants.R_OK | constants.W_OK);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'EROFS') throw explain(e, dir, 'write', dirStat);
    const ownerName = userName(f.uid);
    const asOwner = ownerName && f.uid !== currentUid() ? `Run it as that user (sudo -u ${ownerName} ${thisCommand()}), or give` : 'Give';
    throw new StoreAccessError(`${whoAmI()} cannot write the key store ${file}, which belongs to ${owner(f.uid)} with mode ${oct(f.mode)}. ${asOwner} the data dir to this user: sudo chown -R ${myName()}: ${dir}`, e.code);
  }
}

/**
 * `keys`, `usage`, `audit`, `doctor`: the store must already be there. Returns its file; throws
 * StoreMissingError when it is not, StoreAccessError when it cannot be used by this user.
 */
export function requireStoreFile(dir: string): string {
  const file = join(dir, STORE_FILE);
  let st: Stats;
  try {
    st = statSync(dir);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'ENOENT') throw new StoreMissingError(file, `the data dir ${dir} does not exist`);
    throw explain(e, dir, 'read');
  }
  if (!st.isDirectory()) throw isAFile(dir);
  try {
    accessSync(dir, constants.R_OK | constants.X_OK);
  } catch (err) {
    throw explain(err as NodeJS.ErrnoException, dir, 'read', st);
  }
  try {
    statSync(file);
  } catch {
    throw new StoreMissingError(file, `${dir} holds no ${STORE_FILE}`);
  }
  // SQLite writes even to read (WAL index), and key commands write: both need the dir and file writable.
  try {
    accessSync(dir, constants.W_OK);
  } catch (err) {
    throw explain(err as NodeJS.ErrnoException, dir, 'write', st);
  }
  storeFileWritable(file, dir, st);
  return file;
}

/** The command line as typed, for "run it as that user" advice. */
function thisCommand(): string {
  const args = process.argv.slice(2).map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`));
  return `gatehouse ${args.join(' ')}`.trim();
}

function isAFile(dir: string): StoreAccessError {
  return new StoreAccessError(`data_dir ${dir} is a file, not a directory: set data_dir (--data-dir, GATEHOUSE_DATA_DIR or the config file) to a directory, e.g. /var/lib/gatehouse or ~/.gatehouse, or move the file out of the way`, 'ENOTDIR');
}

/** The nearest ancestor of `p` that exists (for "you cannot create it there" messages). */
function existingAncestor(p: string): { path: string; st: Stats | null } {
  let cur = dirname(p);
  for (;;) {
    try {
      return { path: cur, st: statSync(cur) };
    } catch {
      const up = dirname(cur);
      if (up === cur) return { path: cur, st: null };
      cur = up;
    }
  }
}

function explain(err: NodeJS.ErrnoException, dir: string, doing: 'create' | 'read' | 'write', st?: Stats): StoreAccessError {
  let code = err.code;
  if (doing === 'create') {
    // A recursive mkdir reports ENOENT on a read-only mount and EEXIST/ENOTDIR under a file: ask
    // the nearest existing ancestor what is really wrong with it.
    const anc = existingAncestor(dir);
    if (anc.st && !anc.st.isDirectory()) code = 'ENOTDIR';
    else {
      try {
        accessSync(anc.path, constants.W_OK);
      } catch (e) {
        code = (e as NodeJS.ErrnoException).code ?? code;
      }
    }
  }
  const me = myName();
  if (code === 'EROFS') {
    return new StoreAccessError(`the data dir ${dir} is on a read-only file system: Gatehouse keeps its key store and audit log there and must write to it. Set data_dir to a writable directory (under systemd with ProtectSystem=strict, the unit's StateDirectory /var/lib/gatehouse; in a container, a mounted volume)`, code);
  }
  if (code === 'ENOTDIR' || code === 'EEXIST') {
    const anc = existingAncestor(dir);
    if (anc.st && !anc.st.isDirectory()) return new StoreAccessError(`${anc.path} is a file, so the data dir ${dir} cannot be made under it: set data_dir (--data-dir, GATEHOUSE_DATA_DIR or the config file) to a directory`, code);
    return isAFile(dir);
  }
  if (code === 'EACCES' || code === 'EPERM') {
    if (doing === 'create') {
      const anc = existingAncestor(dir);
      const who = anc.st ? `, which belongs to ${owner(anc.st.uid)} with mode ${oct(anc.st.mode)}` : '';
      return new StoreAccessError(`${whoAmI()} cannot create the data dir ${dir}: ${anc.path} is not writable by this user${who}. Create it for this user: sudo install -d -m 0700 -o ${me} ${dir}   or set data_dir (--data-dir, GATEHOUSE_DATA_DIR or the config file) to a directory this user can write`, code);
    }
    const s = st ?? safeStat(dir);
    if (!s) {
      const anc = existingAncestor(dir);
      return new StoreAccessError(`${whoAmI()} cannot look inside ${anc.path} to reach the data dir ${dir}: run the command as the user the gateway runs as (e.g. sudo -u gatehouse ${thisCommand()})`, code);
    }
    const ownerName = userName(s.uid);
    const asOwner = ownerName && s.uid !== currentUid() ? `Run it as that user: sudo -u ${ownerName} ${thisCommand()}   or give` : 'Give';
    return new StoreAccessError(`${whoAmI()} cannot ${doing === 'read' ? 'read' : 'write'} the data dir ${dir}, which belongs to ${owner(s.uid)} with mode ${oct(s.mode)}. ${asOwner} the directory to this user: sudo chown -R ${me}: ${dir}`, code);
  }
  return new StoreAccessError(`cannot ${doing} the data dir ${dir}: ${err.message}`, code);
}

function safeStat(p: string): Stats | null {
  try {
    return statSync(p);
  } catch {
    return null;
  }
}
