// `--` ends the options, as getopt has it: the words after it are operands, even those that begin with a dash or
// look like an option of ours. (yargs leaves them out of a command's operand count; main.ts passes them through.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fixture, jsonOutput, runCli, show, tempDir } from '../helpers/cli.js';

const KEY = fixture('keys/rsa2048.key.pem');
const CERT = fixture('keys/rsa2048.crt.pem');

test('after --, names beginning with a dash are files: signed, verified, reported as given', async (t) => {
  const dir = await tempDir(t);
  for (const name of ['-v', '--json', 'plain']) await writeFile(join(dir, name), `${name}\n`);
  const s = await runCli(['sign', '-q', '--key', KEY, '--cert', CERT, '--', '-v', '--json', 'plain'], { cwd: dir });
  assert.equal(s.status, 0, show(s));
  for (const name of ['-v', '--json', 'plain']) assert.ok(existsSync(join(dir, `${name}.sig`)), `${name}.sig`);
  assert.equal(s.stderr, '', 'the -v after -- is not --verbose');

  const st = await runCli(['status', '--json', '--', '--json', '-v'], { cwd: dir });
  assert.equal(st.status, 0, show(st));
  assert.deepEqual(
    jsonOutput(st.stdout).records.map((r) => [r.path, r.status]),
    [
      ['--json', 'sidecar-only'],
      ['-v', 'sidecar-only'],
    ],
  );
  const v = await runCli(['verify', '--cert', CERT, '--', '-v'], { cwd: dir });
  assert.equal(v.status, 0, show(v));
  assert.match(v.stdout, /^-v: ok /);
});

test('after --, a missing file and a word too many are named as given; nothing but -- is no operand', async (t) => {
  const dir = await tempDir(t);
  const missingFile = await runCli(['status', '--', '-gone'], { cwd: dir });
  assert.equal(missingFile.status, 1, show(missingFile));
  assert.match(missingFile.stderr + missingFile.stdout, /-gone/);
  const extra = await runCli(['kexec', '--dry-run', '--', 'vmlinuz', '-extra'], { cwd: dir });
  assert.equal(extra.status, 2, show(extra));
  assert.equal(extra.stderr, 'ima-sidecar: Unknown argument: -extra\n');
  const none = await runCli(['status', '--'], { cwd: dir });
  assert.equal(none.status, 2, show(none));
  assert.equal(none.stderr.split('\n').length, 2, 'one line');
});
