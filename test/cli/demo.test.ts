import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { ROOT, run, show } from '../helpers/cli.js';

test('npm start: the demo signs, migrates, imports, verifies, catches tampering, exports and converts an appended signature', async () => {
  const r = await run(process.execPath, [join(ROOT, 'dist', 'src', 'demo', 'demo.js')], { timeoutMs: 120_000 });
  assert.equal(r.status, 0, show(r));
  for (const expected of [
    /esp\/vmlinuz: signed \(v2 sha256 keyid [0-9a-f]{8}, into sidecar\)/,
    /sidecar-only .* esp\/vmlinuz/,
    /esp\/vmlinuz: copied to boot\/vmlinuz \(signature into xattr\)/,
    /esp\/vmlinuz: imported/,
    /boot\/vmlinuz: ok \(v2 sha256 keyid [0-9a-f]{8}, from xattr\)/,
    /boot\/vmlinuz: failed: digest mismatch/,
    /boot\/vmlinuz: exported/,
    /appended-only .* ok .* vmlinuz\.modsig/,
    /vmlinuz\.modsig: ok \(v2 sha256 keyid [0-9a-f]{8}, from sidecar\)/,
  ])
    assert.match(r.stdout, expected);
  assert.doesNotMatch(r.stdout + r.stderr, /internal error|^\s+at /m);
});
