// Running the real command line (bin/ima-sidecar) and other programs (evmctl, openssl, getfattr) from
// tests, temporary directories that are always removed, and the golden fixtures' manifest.
//
// Every child runs with a clean password environment (IMA_SIDECAR_KEY_PASSWORD and EVMCTL_KEY_PASSWORD
// removed unless the test gives them), NO_COLOR set and stdin closed, so no test hangs on a prompt.
import type { TestContext } from 'node:test';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

function findRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'bin', 'ima-sidecar'))) return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error('cannot find the repository root above ' + fileURLToPath(import.meta.url));
    dir = up;
  }
}

/** The repository root (the directory with package.json and bin/). */
export const ROOT = findRoot();
export const BIN = join(ROOT, 'bin', 'ima-sidecar');
export const FIXTURES = join(ROOT, 'test', 'fixtures');

export interface RunResult {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** stdout as bytes, for binary output. */
  stdoutBytes: Buffer;
}

export interface RunOptions {
  cwd?: string;
  /** Added to (or, with undefined values, removed from) the environment. */
  env?: Record<string, string | undefined>;
  input?: string | Buffer;
  /** Kill the child after this many ms (default 30 s) so a hang fails the test instead of the suite. */
  timeoutMs?: number;
}

function childEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1', LC_ALL: 'C' };
  delete env.IMA_SIDECAR_KEY_PASSWORD;
  delete env.EVMCTL_KEY_PASSWORD;
  for (const [k, v] of Object.entries(extra)) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  return env;
}

/** Runs a program with arguments (no shell); never rejects for a non-zero exit. */
export function run(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, env: childEnv(opts.env), stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 30_000);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (status, signal) => {
      clearTimeout(timer);
      const stdoutBytes = Buffer.concat(out);
      resolve({
        status,
        signal,
        stdout: stdoutBytes.toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
        stdoutBytes,
      });
    });
    child.stdin.on('error', () => {});
    child.stdin.end(opts.input ?? '');
  });
}

/** Runs bin/ima-sidecar with the given arguments. */
export function runCli(args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  return run(process.execPath, [BIN, ...args], opts);
}

/** One JSON object per line of --json output. */
export function jsonLines(stdout: string): Record<string, unknown>[] {
  return stdout
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** The --json records (every line but the summary) and the summary object. */
export function jsonOutput(stdout: string): { records: Record<string, unknown>[]; summary: Record<string, unknown> } {
  const lines = jsonLines(stdout);
  const last = lines.at(-1);
  if (!last || typeof last.summary !== 'object' || last.summary === null)
    throw new Error(`no final {"summary":...} line in:\n${stdout}`);
  return { records: lines.slice(0, -1), summary: last.summary as Record<string, unknown> };
}

/** A compact description of a run, for assertion messages. */
export function show(r: RunResult): string {
  return (
    `status ` +
    `${r.status}${r.signal ? ` (signal ${r.signal})` : ''}\n--- stdout ---\n${r.stdout}--- stderr ---\n${r.stderr}`
  );
}

const liveTemps = new Set<string>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const d of liveTemps) {
      try {
        rmSync(d, { recursive: true, force: true });
      } catch {
        /* best effort at exit */
      }
    }
  });
}

/**
 * A fresh temporary directory. With a test context it is removed when that test ends; in any case it is
 * removed when the process exits. `removeTempDir` removes it earlier.
 */
export async function tempDir(t?: TestContext, prefix = 'ima-sidecar-test-'): Promise<string> {
  installExitHook();
  const dir = await mkdtemp(join(tmpdir(), prefix));
  liveTemps.add(dir);
  t?.after(() => removeTempDir(dir));
  return dir;
}

export async function removeTempDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
  liveTemps.delete(dir);
}

// ---- golden fixtures ----------------------------------------------------------------------------

/** One entry of test/fixtures/manifest.json (only the fields the tests read; all optional but file/kind). */
export interface ManifestEntry {
  file: string;
  kind: 'payload' | 'hash' | 'sidecar' | 'key' | 'pubkey' | 'cert' | 'bundle' | 'modsig' | string;
  size?: number;
  sha256?: string;
  payload?: string;
  key?: string;
  key_type?: string;
  bits?: number;
  curve?: string;
  format?: string;
  password?: string | null;
  algo?: string;
  algo_id?: number;
  type?: number;
  version?: number;
  keyid?: string | null;
  key_hash_keyid?: string;
  subject?: string;
  skid?: string | null;
  sig_size?: number;
  digest?: string;
  cert?: string | null;
  cert_der?: string | null;
  certs?: string[];
  keyids?: string[];
  valid?: boolean;
  negative?: string;
  evmctl_verify_der_rc?: number;
  evmctl_verify_pem_rc?: number;
  openssl_dgst_sign_equal?: boolean | null;
  producer?: string;
  notes?: string[];
}

export interface Manifest {
  schema: number;
  tools?: Record<string, string>;
  files: ManifestEntry[];
}

/** The manifest, or undefined while the fixtures are not there yet. */
export function loadManifest(): Manifest | undefined {
  const p = join(FIXTURES, 'manifest.json');
  if (!existsSync(p)) return undefined;
  return JSON.parse(readFileSync(p, 'utf8')) as Manifest;
}

/** Absolute path of a manifest-relative fixture path ("golden/x", "keys/y"). */
export function fixture(rel: string): string {
  return join(FIXTURES, rel);
}

/** The key entry (kind "key") of the unencrypted PKCS#8 PEM private key named `key` in the manifest. */
export function privateKeyEntry(m: Manifest, key: string): ManifestEntry | undefined {
  const keys = m.files.filter((f) => f.kind === 'key' && f.key === key);
  return keys.find((f) => f.format === 'pkcs8-pem' && !f.password) ?? keys.find((f) => !f.password);
}

/** An xattr's value as hex, read with getfattr; undefined when the file has none. Any other answer is an error. */
export function getfattrHex(path: string, name: string): string | undefined {
  const r = spawnSync('getfattr', ['--absolute-names', '-e', 'hex', '-n', name, path], { encoding: 'utf8' });
  if (r.status !== 0) {
    if (/No such attribute/.test(r.stderr)) return undefined;
    throw new Error(`getfattr ${path}: ${r.stderr}`);
  }
  const m = /=0x([0-9a-f]*)/.exec(r.stdout);
  if (!m) throw new Error(`getfattr ${path}: unexpected output ${r.stdout}`);
  return m[1];
}
