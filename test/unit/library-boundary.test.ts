// The command line is a thin layer over the library: src/cli/ imports only what src/index.ts exports
// (besides its own modules, Node's and yargs), so that everything it does a program can do too.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { ROOT } from '../helpers/cli.js';

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

test('src/cli imports only the library entry, its own modules, node: and yargs', () => {
  const cli = join(ROOT, 'src', 'cli');
  const offending: string[] = [];
  for (const file of sources(cli)) {
    const depth = relative(cli, file).split('/').length - 1;
    const entry = `${'../'.repeat(depth + 1)}index.js`;
    for (const m of readFileSync(file, 'utf8').matchAll(/^import [^;]*? from '([^']+)';/gms)) {
      const spec = m[1]!;
      const own = spec.startsWith('./') || (spec.startsWith('../') && !spec.startsWith('../'.repeat(depth + 1)));
      if (spec === entry || own || spec.startsWith('node:') || spec === 'yargs' || spec.startsWith('yargs/')) continue;
      offending.push(`${relative(ROOT, file)}: ${spec}`);
    }
  }
  assert.deepEqual(offending, []);
});
