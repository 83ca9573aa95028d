#!/usr/bin/env node
// Builds the web console (console/, issue #22) into dist/console: index.html, assets/app.js and
// assets/app.css. Run by `npm run build` and `prepare` after tsc. The console's sources are
// type-checked here (strict, DOM types) with their own tsconfig, then bundled and minified by
// esbuild: everything the console needs is in these three files (no CDN; the server's CSP allows
// only 'self'). `--watch` rebuilds on change while developing.
import { copyFileSync, mkdirSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { spawnSync } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'dist/console');
const watch = process.argv.includes('--watch');

if (!watch) {
  const tsc = createRequire(import.meta.url).resolve('typescript/lib/tsc.js');
  const r = spawnSync(process.execPath, [tsc, '-p', join(root, 'console/tsconfig.json')], { stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}

rmSync(out, { recursive: true, force: true });
mkdirSync(join(out, 'assets'), { recursive: true });
copyFileSync(join(root, 'console/index.html'), join(out, 'index.html'));

const options = {
  absWorkingDir: root,
  entryPoints: { app: 'console/src/main.tsx' },
  outdir: join(out, 'assets'),
  bundle: true,
  minify: true,
  format: 'esm',
  target: ['es2022', 'chrome109', 'firefox115', 'safari16'],
  jsx: 'automatic',
  jsxImportSource: 'preact',
  define: { 'process.env.NODE_ENV': '"production"' },
  legalComments: 'eof',
  logLevel: watch ? 'info' : 'warning',
};

if (watch) {
  const ctx = await esbuild.context(options);
  await ctx.watch();
} else {
  await esbuild.build(options);
  const size = (f) => `${(statSync(join(out, 'assets', f)).size / 1024).toFixed(1)} KiB`;
  if (process.env.CONSOLE_BUILD_QUIET !== '1') console.error(`console: dist/console/assets/app.js ${size('app.js')}, app.css ${size('app.css')}`);
}
