/**
 * Reaching a PKCS#11 module: which library to load (module-path, module-name,
 * PKCS11_MODULE_PATH or p11-kit's proxy), loading pkcs11js only when a token
 * key is asked for, and one C_Initialize per module per process.
 */
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '../errors.js';
import { Pkcs11Uri, scrubPin } from './pkcs11-uri.js';

/** The part of pkcs11js's PKCS11 class this tool uses (tests may wrap the real one). */
export interface Pkcs11Api {
  load(path: string): void;
  C_Initialize(options?: { flags?: number }): void;
  C_GetInfo(): { manufacturerID: string; libraryDescription: string; libraryVersion: { major: number; minor: number } };
  C_GetSlotList(tokenPresent?: boolean): Buffer[];
  C_GetSlotInfo(slot: Buffer): { slotDescription: string; manufacturerID: string };
  C_GetTokenInfo(slot: Buffer): {
    label: string;
    manufacturerID: string;
    model: string;
    serialNumber: string;
    flags: number;
    maxSessionCount: number;
  };
  C_GetMechanismList(slot: Buffer): number[];
  C_GetMechanismInfo(slot: Buffer, mechanism: number): { flags: number };
  C_OpenSession(slot: Buffer, flags: number): Buffer;
  C_CloseSession(session: Buffer): void;
  C_Login(session: Buffer, userType: number, pin?: string): void;
  C_FindObjectsInit(session: Buffer, template: { type: number; value?: number | boolean | string | Buffer }[]): void;
  C_FindObjects(session: Buffer, maxObjectCount: number): Buffer[];
  C_FindObjectsFinal(session: Buffer): void;
  C_GetAttributeValue(
    session: Buffer,
    object: Buffer,
    template: { type: number }[],
  ): { type: number; value?: Buffer }[];
  C_SignInit(session: Buffer, mechanism: { mechanism: number }, key: Buffer): void;
  C_SignAsync(session: Buffer, data: Buffer, out: Buffer): Promise<Buffer>;
}

/** Makes an unloaded module object; the default requires pkcs11js. */
export type Pkcs11Binding = () => Promise<Pkcs11Api>;

const CKF_OS_LOCKING_OK = 0x2;
const CKR_CRYPTOKI_ALREADY_INITIALIZED = 'CKR_CRYPTOKI_ALREADY_INITIALIZED';

/** pkcs11js, required at the first token key: a native addon nobody else should pay for. */
export const defaultBinding: Pkcs11Binding = async () => {
  // The bundle turns this import() into require(), and keeps pkcs11js out of itself (scripts/bundle.js).
  const mod = (await import('pkcs11js')) as unknown as {
    PKCS11?: new () => Pkcs11Api;
    default?: { PKCS11: new () => Pkcs11Api };
  };
  const PKCS11 = mod.PKCS11 ?? mod.default?.PKCS11;
  if (!PKCS11) throw new Error('pkcs11js has no PKCS11 class');
  return new PKCS11();
};

/** Debian's and others' multiarch directory names, by Node's process.arch. */
const TRIPLETS: Record<string, string> = {
  x64: 'x86_64-linux-gnu',
  arm64: 'aarch64-linux-gnu',
  arm: 'arm-linux-gnueabihf',
  ia32: 'i386-linux-gnu',
  ppc64: 'powerpc64le-linux-gnu',
  s390x: 's390x-linux-gnu',
  riscv64: 'riscv64-linux-gnu',
};

function libDirs(): string[] {
  const triplet = TRIPLETS[process.arch];
  return [...(triplet ? [`/usr/lib/${triplet}`] : []), '/usr/lib64', '/usr/lib'];
}

/** p11-kit's proxy: every module registered with p11-kit behind one library. */
export function proxyModuleCandidates(): string[] {
  return libDirs().map((d) => join(d, 'p11-kit-proxy.so'));
}

/** Where p11-kit reads module registrations (pkcs11.conf(5)): user, system, package. */
function moduleConfigDirs(env: NodeJS.ProcessEnv): string[] {
  const user = join(env.XDG_CONFIG_HOME || join(env.HOME || homedir(), '.config'), 'pkcs11', 'modules');
  return [user, '/etc/pkcs11/modules', '/usr/share/p11-kit/modules'];
}

/** The library of a p11-kit module name: its registration's `module:` line, or a library of that name. */
function moduleByName(name: string, env: NodeJS.ProcessEnv): string | undefined {
  for (const dir of moduleConfigDirs(env)) {
    const conf = join(dir, `${name}.module`);
    if (!existsSync(conf)) continue;
    const line = /^\s*module\s*:\s*(.+?)\s*$/m.exec(readFileSync(conf, 'utf8'));
    if (!line) continue;
    const lib = line[1]!;
    if (lib.startsWith('/')) return lib;
    // A relative module is in p11-kit's module directory.
    for (const d of libDirs()) if (existsSync(join(d, 'pkcs11', lib))) return join(d, 'pkcs11', lib);
    return join(libDirs()[0]!, 'pkcs11', lib);
  }
  for (const d of libDirs())
    for (const file of [`${name}.so`, `lib${name}.so`])
      for (const p of [join(d, 'pkcs11', file), join(d, file)]) if (existsSync(p)) return p;
  return undefined;
}

/** The module to load for a URI: module-path, module-name, PKCS11_MODULE_PATH, else p11-kit's proxy. */
export function resolveModulePath(uri: Pkcs11Uri, shown: string, env: NodeJS.ProcessEnv = process.env): string {
  if (uri.modulePath) return uri.modulePath;
  if (uri.moduleName) {
    const found = moduleByName(uri.moduleName, env);
    if (!found)
      throw new ConfigError(
        `${shown}: no PKCS#11 module named ${uri.moduleName} (neither registered with p11-kit nor a library)`,
      );
    return found;
  }
  if (env.PKCS11_MODULE_PATH) return env.PKCS11_MODULE_PATH;
  const proxy = proxyModuleCandidates().find((p) => existsSync(p));
  if (!proxy)
    throw new ConfigError(
      `${shown}: no PKCS#11 module: give module-path in the URI or set PKCS11_MODULE_PATH ` +
        "(p11-kit's proxy is not installed)",
    );
  return proxy;
}

/** Modules loaded and initialised in this process, by binding and path: C_Initialize is called once per module. */
const modules = new Map<Pkcs11Binding, Map<string, Promise<Pkcs11Api>>>();

/** The module at `path`, loaded and initialised once for the process; ConfigError naming the URI when it cannot be. */
export function openModule(path: string, shown: string, binding: Pkcs11Binding = defaultBinding): Promise<Pkcs11Api> {
  let byPath = modules.get(binding);
  if (!byPath) modules.set(binding, (byPath = new Map()));
  let p = byPath.get(path);
  if (!p) {
    p = initialise(path, shown, binding);
    byPath.set(path, p);
    // A module that failed may be fixed (installed) before the next try in a long-lived process.
    p.catch(() => byPath.delete(path));
  }
  return p;
}

async function initialise(path: string, shown: string, binding: Pkcs11Binding): Promise<Pkcs11Api> {
  let api: Pkcs11Api;
  try {
    api = await binding();
  } catch (e) {
    const why = e instanceof Error ? e.message.split('\n')[0] : String(e);
    throw new ConfigError(`${shown}: PKCS#11 keys need the pkcs11js package, which cannot be loaded (${why})`);
  }
  if (!existsSync(path))
    throw new ConfigError(`${shown}: cannot load the PKCS#11 module ${scrubPin(path)}: no such file`);
  try {
    api.load(path);
  } catch (e) {
    throw new ConfigError(`${shown}: cannot load the PKCS#11 module ${scrubPin(path)}: ${scrubPin(firstLine(e))}`);
  }
  try {
    // The module may be called from the thread pool (C_SignAsync): let it lock with the OS's primitives.
    api.C_Initialize({ flags: CKF_OS_LOCKING_OK });
  } catch (e) {
    if (firstLine(e) !== CKR_CRYPTOKI_ALREADY_INITIALIZED)
      throw new ConfigError(`${shown}: the PKCS#11 module ${scrubPin(path)} does not initialise: ${firstLine(e)}`);
  }
  return api;
}

export function firstLine(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).split('\n')[0]!;
}
