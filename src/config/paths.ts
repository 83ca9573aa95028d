import { homedir } from 'node:os';
import { dirname, resolve } from 'node:path';

/**
 * Every setting that names a file or directory, resolved by one rule when the configuration is
 * loaded (so no module expands or resolves a configured path again):
 *
 *   - `~` and `~/…` are the home directory of the user running the command;
 *   - an absolute path is kept;
 *   - a relative path written in the config file is relative to that file's directory;
 *   - a relative path given by a flag or a GATEHOUSE_* variable (or with no config file) is
 *     relative to the current directory.
 *
 * (`tls.client_ca` must be written absolute or `~/…`: the schema refuses anything else.)
 */
export const PATH_SETTINGS = ['data_dir', 'tls.cert', 'tls.key', 'tls.client_ca', 'ssh.authorized_keys', 'admin.console.oidc.client_secret_file'] as const;
type PathSetting = (typeof PATH_SETTINGS)[number];

/** `~` and `~/…` → the home directory; anything else unchanged. */
export function expandHome(p: string): string {
  if (p === '~') return homedir();
  if (p.startsWith('~/')) return resolve(homedir(), p.slice(2));
  return p;
}

/** One path by the rule: `base` is the directory a relative path is taken from. */
export function resolvePath(p: string, base: string): string {
  return resolve(base, expandHome(p));
}

/**
 * The directory relative paths of one setting are taken from: the config file's when the value
 * came from the file, else the current directory.
 */
function pathBase(fromFile: boolean, file: string | null, cwd: string): string {
  return fromFile && file ? dirname(file) : cwd;
}

/**
 * Resolves every path setting of a parsed (not yet frozen) config in place. `fromFile(key)` says
 * whether a setting's value was written in the config file (not a flag, variable or default).
 */
export function resolveConfigPaths(config: Record<string, unknown>, fromFile: (key: PathSetting) => boolean, file: string | null, cwd: string): void {
  for (const key of PATH_SETTINGS) {
    const parts = key.split('.');
    const name = parts.pop()!;
    let holder: Record<string, unknown> | undefined = config;
    for (const part of parts) holder = holder?.[part] as Record<string, unknown> | undefined;
    const value = holder?.[name];
    if (typeof value === 'string') holder![name] = resolvePath(value, pathBase(fromFile(key), file, cwd));
  }
}
