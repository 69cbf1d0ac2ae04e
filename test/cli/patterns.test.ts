// Quoted glob patterns as path operands, through the real command line and without a shell (as a systemd unit
// or a kernel hook passes them): expanded by the tool, in byte order; a name that exists is literal; a pattern
// that matches nothing is a per-operand failure naming the operand, exit 1.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fixture, jsonOutput, loadManifest, runCli, show, tempDir } from '../helpers/cli.js';
import { skipOrFail } from '../helpers/skip.js';

const KEY = (name: string) => fixture(`keys/${name}`);
const CERT = KEY('rsa2048.crt.pem');
const signRsa = ['sign', '--key', KEY('rsa2048.key.pem'), '--cert', CERT];

function fixturesOk(t: TestContext): boolean {
  if (!loadManifest() || !existsSync(KEY('rsa2048.key.pem'))) {
    skipOrFail(t, 'the golden fixtures are missing');
    return false;
  }
  return true;
}

/** An ESP-like tree: efi/EFI/Linux with two kernels, a note, and a file really named '*.efi'. */
async function esp(t: TestContext): Promise<string> {
  const dir = await tempDir(t);
  const linux = join(dir, 'efi/EFI/Linux');
  await mkdir(linux, { recursive: true });
  for (const name of ['b.efi', 'a.efi', 'notes.txt']) await writeFile(join(linux, name), `${name}\n`);
  await writeFile(join(dir, '*.efi'), 'literal\n');
  return dir;
}

test('sign, verify and status expand a quoted pattern, in byte order; X.sig patterns mean their files', async (t) => {
  if (!fixturesOk(t)) return;
  const dir = await esp(t);
  const s = await runCli([...signRsa, '--json', 'efi/EFI/Linux/*.efi'], { cwd: dir });
  assert.equal(s.status, 0, show(s));
  assert.deepEqual(
    jsonOutput(s.stdout).records.map((r) => [r.path, r.status]),
    [
      ['efi/EFI/Linux/a.efi', 'signed'],
      ['efi/EFI/Linux/b.efi', 'signed'],
    ],
  );
  assert.equal(existsSync(join(dir, 'efi/EFI/Linux/notes.txt.sig')), false);

  const v = await runCli(['verify', '--cert', CERT, 'efi/EFI/Linux/*.efi'], { cwd: dir });
  assert.equal(v.status, 0, show(v));
  assert.match(v.stdout, /^efi\/EFI\/Linux\/a\.efi: ok .*\nefi\/EFI\/Linux\/b\.efi: ok .*\n$/);

  const st = await runCli(['status', '--json', 'efi/*/*/*.sig'], { cwd: dir });
  assert.equal(st.status, 0, show(st));
  assert.deepEqual(
    jsonOutput(st.stdout).records.map((r) => [r.path, r.status]),
    [
      ['efi/EFI/Linux/a.efi', 'sidecar-only'],
      ['efi/EFI/Linux/b.efi', 'sidecar-only'],
    ],
  );
});

test('a file that exists is taken by its name: "*.efi" signs only the file named so', async (t) => {
  if (!fixturesOk(t)) return;
  const dir = await esp(t);
  const s = await runCli([...signRsa, '--json', '*.efi'], { cwd: dir });
  assert.equal(s.status, 0, show(s));
  assert.deepEqual(
    jsonOutput(s.stdout).records.map((r) => [r.path, r.status]),
    [['*.efi', 'signed']],
  );
  assert.ok(existsSync(join(dir, '*.efi.sig')));
  assert.equal(existsSync(join(dir, 'efi/EFI/Linux/a.efi.sig')), false);
});

test('a pattern that matches nothing fails that operand: exit 1, a line naming it; the others are done', async (t) => {
  if (!fixturesOk(t)) return;
  const dir = await esp(t);
  const s = await runCli([...signRsa, 'efi/EFI/Linux/a*', 'efi/*.none'], { cwd: dir });
  assert.equal(s.status, 1, show(s));
  assert.match(s.stdout, /^efi\/EFI\/Linux\/a\.efi: signed /m);
  assert.match(s.stderr, /^efi\/\*\.none: skipped: no file matches the pattern$/m);

  const st = await runCli(['status', '--json', 'efi/*.none', 'efi/missing'], { cwd: dir });
  assert.equal(st.status, 1, show(st));
  assert.deepEqual(
    jsonOutput(st.stdout).records.map((r) => [r.path, r.status, r.reason]),
    [
      ['efi/*.none', 'skipped', 'no file matches the pattern'],
      ['efi/missing', 'skipped', 'no such file or directory (ENOENT)'],
    ],
  );
});

test('directories matched by a pattern need -r, as a directory operand does', async (t) => {
  if (!fixturesOk(t)) return;
  const dir = await esp(t);
  const plain = await runCli(['status', 'efi/E*'], { cwd: dir });
  assert.equal(plain.status, 1, show(plain));
  assert.match(plain.stdout + plain.stderr, /efi\/EFI[\s\S]*is a directory \(use -r to descend\)/);
  const r = await runCli(['status', '--json', '-r', 'efi/E*'], { cwd: dir });
  assert.equal(r.status, 0, show(r));
  assert.deepEqual(
    jsonOutput(r.stdout).records.map((x) => x.path),
    ['efi/EFI/Linux/a.efi', 'efi/EFI/Linux/b.efi', 'efi/EFI/Linux/notes.txt'],
  );
});
