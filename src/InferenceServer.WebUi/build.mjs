// Builds dist/ (committed, embedded in the server) from src/: one JS bundle, one stylesheet, the page and its icon.
// `npm run build` after changing src/; CI rebuilds and fails when dist/ differs from what is committed.
import { build } from 'esbuild';
import { copyFile, mkdir, rm } from 'node:fs/promises';

const dist = new URL('./dist/', import.meta.url);
await rm(dist, { recursive: true, force: true });
await mkdir(new URL('assets/', dist), { recursive: true });
await build({
  entryPoints: { app: 'src/main.js' },
  bundle: true,
  minify: true,
  format: 'esm',
  target: ['chrome110', 'firefox115', 'safari16'],
  legalComments: 'external',
  outdir: 'dist/assets',
  logLevel: 'warning',
});
await build({ entryPoints: { app: 'src/styles.css' }, bundle: true, minify: true, outdir: 'dist/assets', logLevel: 'warning' });
await copyFile(new URL('./src/index.html', import.meta.url), new URL('index.html', dist));
await copyFile(new URL('./src/favicon.svg', import.meta.url), new URL('assets/favicon.svg', dist));
