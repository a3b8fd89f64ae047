// Builds the player into dist/player: TypeScript bundled with hls.js by esbuild, pages and CSS copied.
// esbuild because it bundles node_modules/hls.js without a config and in ~100 ms.
import { build } from 'esbuild';
import { cp, mkdir } from 'node:fs/promises';

const here = new URL('.', import.meta.url);
const out = new URL('../dist/player/', import.meta.url);
await mkdir(out, { recursive: true });
await build({
  entryPoints: [new URL('src/directory.ts', here).pathname, new URL('src/watch.ts', here).pathname],
  bundle: true,
  format: 'esm',
  target: 'es2020',
  minify: true,
  sourcemap: true,
  outdir: out.pathname,
  logLevel: 'warning',
});
for (const f of ['index.html', 'watch.html', 'style.css']) await cp(new URL(f, here), new URL(f, out));
