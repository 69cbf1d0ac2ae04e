// Property test for pattern operands (fast-check): a name that exists is always taken literally, whatever
// glob characters, dots, spaces or raw bytes it holds, even beside files its pattern reading would match.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { encodeFsName } from '../../src/carriers/fs-path.js';
import { expandOperands, isPattern } from '../../src/select/operands.js';
import { selectFiles } from '../../src/select/walk.js';
import { tempDir } from '../helpers/cli.js';

const RUNS = 300;

// Every character glob gives a meaning to, and plain ones they can match; raw bytes as lone surrogates.
// No 's' anywhere, so that no name ends in the sidecar suffix '.sig' (which stands for another file).
const UNITS = [...'*?[]{}!()+@|,^-\\. ab1é', '\udce9', '\udcff'];

const nameArb = fc
  .string({ unit: fc.constantFrom(...UNITS), minLength: 1, maxLength: 16 })
  .filter((n) => n !== '.' && n !== '..' && encodeFsName(n).length <= 255);

test('an existing file or directory is taken by its name, never as a pattern', async (t) => {
  const root = await tempDir(t);
  let run = 0;
  fc.assert(
    fc.property(nameArb, fc.boolean(), fc.uniqueArray(nameArb, { maxLength: 6 }), (name, isDir, siblings) => {
      const dir = join(root, String(run++));
      mkdirSync(dir);
      for (const s of siblings) if (s !== name) writeFileSync(encodeFsName(join(dir, s)), s);
      const path = join(dir, name);
      if (isDir) mkdirSync(encodeFsName(path));
      else writeFileSync(encodeFsName(path), name);

      assert.equal(isPattern(path), false);
      assert.deepEqual(expandOperands([path]), [{ kind: 'path', path }]);
      const selected = [...selectFiles([path], { suffix: '.sig' })];
      assert.equal(selected.length, 1);
      assert.equal(selected[0]!.path, path);
      assert.equal(selected[0]!.kind, isDir ? 'skipped' : 'target');
    }),
    { numRuns: RUNS },
  );
});
