#!/usr/bin/env node
/**
 * Bundles the command line into one file, dist/src/cli/bundle.cjs, and
 * writes a V8 code cache for it, dist/src/cli/bundle.cjs.cache. Run after
 * `tsc`: `npm run build` (and `npm install`, through prepare) does both, and
 * bin/ima-sidecar always runs the bundle, so the tests run what ships.
 * dist/src is the library, for programs that import ima-sidecar.
 *
 * Why: start-up is most of a one-file run. Loading over a hundred ES modules
 * (ours, yargs, pkijs and their helpers) one by one, resolving and compiling
 * each, costs more than the rest of a `verify`; one file compiled from a code
 * cache costs a fraction (docs/performance.md). esbuild is a devDependency
 * only: the published package runs the bundle, never esbuild.
 *
 * Left out of the bundle: fs-xattr and pkcs11js (native addons, loaded from
 * node_modules; pkcs11js only when a pkcs11: key is given). pkijs and asn1js are in it: every certificate is parsed
 * with them, and loading them from node_modules at each start cost several
 * times what they cost from the bundle's code cache.
 */
import { build } from 'esbuild';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compileBundle } from '../bin/load-bundle.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/**
 * string-width (three copies in the bundle: yargs', cliui's and wrap-ansi's)
 * builds Intl.Segmenters and \p{RGI_Emoji} regular expressions when its
 * module is evaluated, and an ES module in a bundle is evaluated at start:
 * 60 of the bundle's 80 ms of top-level evaluation (--cpu-prof, position
 * ticks), though only help text measures strings.
 * Each import of it gets a stand-in that requires the real module at the
 * first call; esbuild makes a require()d ES module initialise lazily.
 */
const lazyStringWidth = {
  name: 'lazy-string-width',
  setup(b) {
    b.onResolve({ filter: /^string-width$/ }, (args) => {
      if (args.pluginData?.realStringWidth) return undefined; // the stand-in's own require: resolve as usual
      return {
        path: `string-width for ${args.importer}`,
        namespace: 'lazy-string-width',
        pluginData: { resolveDir: args.resolveDir },
      };
    });
    b.onLoad({ filter: /.*/, namespace: 'lazy-string-width' }, (args) => ({
      contents:
        'let real; export default function stringWidth(s, o) { ' +
        'real ??= require("string-width").default; return real(s, o); }',
      resolveDir: args.pluginData.resolveDir,
      pluginData: { realStringWidth: true },
      loader: 'js',
    }));
  },
};
const outfile = join(root, 'dist', 'src', 'cli', 'bundle.cjs');

rmSync(`${outfile}.cache`, { force: true });
await build({
  entryPoints: [join(root, 'dist', 'src', 'cli', 'main.js')],
  outfile,
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  external: ['fs-xattr', 'pkcs11js'],
  // Any import() becomes require(): a dynamic import() from code that V8
  // restored from a code cache fails in Node 20 (ERR_VM_DYNAMIC_IMPORT_CALLBACK_MISSING),
  // while require() of an ES module works from Node 20.19 on (package.json engines).
  supported: { 'dynamic-import': false },
  // yargs finds its locales and the package.json it reads settings from
  // through import.meta.url. Give it the URL it would have in this package's
  // node_modules, so it behaves as it does unbundled (and never reads the
  // package.json of the directory the command runs in).
  banner: {
    js:
      "const __yargsMetaUrl = require('node:url').pathToFileURL(" +
      "require('node:path').join(__dirname, '../../../node_modules/yargs/lib/platform-shims/esm.mjs')" +
      ').href;',
  },
  define: { 'import.meta.url': '__yargsMetaUrl' },
  legalComments: 'inline',
  logLevel: 'warning',
  plugins: [lazyStringWidth],
});

// The code cache: compile, run a few commands so that V8 compiles the
// functions a run needs (it compiles lazily), then serialise. The tree runs
// matter as much as the one-file ones: a function left out of the cache is
// parsed from the bundle's source at its first call, in every run.
const script = compileBundle(outfile, readFileSync(outfile, 'utf8'));
const { main } = script.run();
const write = process.stdout.write;
const err = process.stderr.write;
const exitCode = process.exitCode;
const keys = join(root, 'test', 'fixtures', 'keys');
try {
  process.stdout.write = process.stderr.write = () => true;
  // Any readable file will do as the file to verify: it has no signature, so this is quick.
  const file = join(root, 'package.json');
  if (existsSync(join(keys, 'rsa2048.crt.der'))) await main(['verify', '-c', join(keys, 'rsa2048.crt.der'), file]);
  await main(['status', file]);
  await main(['hash', file]);
  await warmTreeRuns();
} finally {
  process.stdout.write = write;
  process.stderr.write = err;
  process.exitCode = exitCode;
}
writeFileSync(`${outfile}.cache`, script.cache());

/**
 * The walk, the runner and the per-file work of import, status, sign and
 * verify, over a scratch folder of two files with sidecars (a well-formed
 * value; import does not verify it) and two without.
 */
async function warmTreeRuns() {
  const tree = mkdtempSync(join(tmpdir(), 'ima-sidecar-bundle-'));
  try {
    const value = Buffer.concat([Buffer.from([3, 2, 4, 1, 2, 3, 4, 1, 0]), Buffer.alloc(256, 1)]);
    mkdirSync(join(tree, 'signed'));
    mkdirSync(join(tree, 'unsigned'));
    for (const name of ['a', 'b']) {
      writeFileSync(join(tree, 'signed', name), name);
      writeFileSync(join(tree, 'signed', `${name}.sig`), value);
      writeFileSync(join(tree, 'unsigned', name), name);
    }
    await main(['status', '-r', tree]);
    await main(['import', '-r', '--xattr', 'user.ima', join(tree, 'signed')]);
    const key = join(keys, 'rsa2048.key.pem');
    const cert = join(keys, 'rsa2048.crt.der');
    if (existsSync(key) && existsSync(cert)) {
      await main(['sign', '-r', '-k', key, '-c', cert, join(tree, 'unsigned')]);
      await main(['verify', '-r', '-c', cert, join(tree, 'unsigned')]);
    }
  } finally {
    rmSync(tree, { recursive: true, force: true });
  }
}
// main() may leave signal handlers and the stdout watcher behind: done.
process.exit(0);
