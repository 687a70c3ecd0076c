// Bundle every reunite/static/js/pages/*.mjs entry into reunite/static/dist/ with esbuild and
// write dist/manifest.json: {"<name>.js": {"file": "<name>.js", "integrity": "sha384-..."}}
// so templates can emit <script type="module" src=... integrity=...>. Run: npm run build.

import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const pagesDir = path.join(root, 'reunite', 'static', 'js', 'pages');
const distDir = path.join(root, 'reunite', 'static', 'dist');

const entries = (await readdir(pagesDir))
  .filter((name) => name.endsWith('.mjs'))
  .sort()
  .map((name) => path.join(pagesDir, name));

await rm(distDir, { recursive: true, force: true });
await mkdir(distDir, { recursive: true });

const manifest = {};
if (entries.length > 0) {
  const result = await build({
    entryPoints: entries,
    outdir: distDir,
    entryNames: '[name]',
    bundle: true,
    format: 'esm',
    minify: true,
    target: 'es2020',
    platform: 'browser',
    // libsodium falls back to require("crypto") only where globalThis.crypto is missing
    // (never in a browser); leaving it external keeps Node's module out of the bundle.
    external: ['crypto', 'fs', 'path'],
    metafile: true,
    logLevel: 'warning',
  });
  for (const [outPath, info] of Object.entries(result.metafile.outputs)) {
    if (!info.entryPoint) continue;
    const file = path.basename(outPath);
    const digest = createHash('sha384')
      .update(await readFile(path.resolve(root, outPath)))
      .digest('base64');
    manifest[file] = { file, integrity: `sha384-${digest}` };
  }
}

const sorted = Object.fromEntries(Object.entries(manifest).sort(([a], [b]) => a.localeCompare(b)));
await writeFile(path.join(distDir, 'manifest.json'), `${JSON.stringify(sorted, null, 2)}\n`);
console.log(`built ${Object.keys(sorted).length} page bundle(s) into ${path.relative(root, distDir)}`);
