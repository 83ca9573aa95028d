import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The console's built files (dist/console, written by `npm run build`), read once at start: the
 * console serves exactly these, by exact name, and nothing from a path a client chose. No CDN: the
 * page loads nothing from anywhere else (the Content-Security-Policy says so too).
 */

export interface StaticFile {
  body: Buffer;
  type: string;
  etag: string;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.woff2': 'font/woff2',
  '.json': 'application/json; charset=utf-8',
};

/** dist/src/server/console/static-files.js → dist/console. */
export const CONSOLE_DIR = fileURLToPath(new URL('../../../console/', import.meta.url));

export interface ConsoleFiles {
  /** index.html, or null when the console was not built. */
  index: StaticFile | null;
  /** assets/<name> → file. */
  assets: ReadonlyMap<string, StaticFile>;
}

export function loadConsoleFiles(dir = CONSOLE_DIR): ConsoleFiles {
  const read = (path: string): StaticFile | null => {
    const type = TYPES[extname(path)];
    if (!type || !existsSync(path) || !statSync(path).isFile()) return null;
    const body = readFileSync(path);
    return { body, type, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"` };
  };
  const assets = new Map<string, StaticFile>();
  const assetDir = join(dir, 'assets');
  if (existsSync(assetDir)) {
    for (const name of readdirSync(assetDir)) {
      const f = read(join(assetDir, name));
      if (f && /^[A-Za-z0-9._-]+$/.test(name)) assets.set(name, f);
    }
  }
  return { index: read(join(dir, 'index.html')), assets };
}
