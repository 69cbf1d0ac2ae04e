/**
 * The keys IMA can verify signatures with: the keyring named `_ima` (or
 * `.ima`) and the asymmetric keys linked into it, from /proc/keys
 * (security/keys/proc.c, crypto/asymmetric_keys/asymmetric_type.c) and, where
 * keyctl(1) is there, its raw listing of the keyring's links. The kernel gives
 * keyids and descriptions back, never certificates. Input is taken as hostile:
 * a line that does not parse is skipped with a note.
 */

/** One line of /proc/keys. */
export interface ProcKey {
  readonly serial: number;
  readonly flags: string;
  readonly perm: number;
  readonly uid: number;
  readonly gid: number;
  /** The type name, as /proc/keys cuts it to nine characters ("asymmetri"), made whole again where known. */
  readonly type: string;
  /** What the key type's describe() printed. */
  readonly describe: string;
}

export interface ProcKeys {
  readonly keys: readonly ProcKey[];
  readonly notes: readonly string[];
}

/** proc_keys_show: serial, flags, usage, expiry, permissions, uid, gid, the type cut to nine, describe(). */
const LINE = new RegExp(
  '^([0-9a-f]{8}) ([I-][R-][D-][Q-][U-][N-][i-]) +(\\d{1,10}) +(\\S{1,16}) ([0-9a-f]{8})' +
    ' +(\\d{1,10}) +(\\d{1,10}) (.{9}) ?(.*)$',
);

const WHOLE_TYPES: Readonly<Record<string, string>> = { asymmetri: 'asymmetric', dns_resol: 'dns_resolver' };

/** Parses /proc/keys; never throws. Lines that do not parse are skipped, each with a note (the first few). */
export function parseProcKeys(text: string): ProcKeys {
  const keys: ProcKey[] = [];
  const notes: string[] = [];
  let skipped = 0;
  const lines = text.split('\n');
  lines.forEach((line, i) => {
    if (line === '') return;
    const m = LINE.exec(line);
    if (!m) {
      skipped++;
      if (skipped <= 3) notes.push(`/proc/keys line ${i + 1} skipped: not in the kernel's format`);
      return;
    }
    const type = m[8]!.trimEnd();
    keys.push({
      serial: parseInt(m[1]!, 16),
      flags: m[2]!,
      perm: parseInt(m[5]!, 16),
      uid: Number(m[6]),
      gid: Number(m[7]),
      type: WHOLE_TYPES[type] ?? type,
      describe: m[9]!,
    });
  });
  if (skipped > 3) notes.push(`${skipped - 3} more /proc/keys lines skipped`);
  return { keys, notes };
}

/** A keyring's describe(): its name, then ": N" keys or ": empty" once instantiated. */
export function keyringName(describe: string): { name: string; count?: number } {
  const m = /^(.*): (\d+|empty)$/s.exec(describe);
  if (!m) return { name: describe };
  return { name: m[1]!, count: m[2] === 'empty' ? 0 : Number(m[2]) };
}

/** An asymmetric key as the kernel shows it. */
export interface KernelKey {
  readonly serial: number;
  /** The key's description: for X.509, "<subject>: <SKID in hex>" (the serial when there is no SKID). */
  readonly description: string;
  readonly subject?: string;
  /** "X509" */
  readonly idType?: string;
  /** "rsa", "ecdsa-nist-p256", ... */
  readonly algorithm?: string;
  /**
   * The keyid IMA finds this key by: the last four bytes of its SKID, as /proc/keys shows them. Absent for a
   * key without SKID (the kernel then cannot match an IMA signature's keyid to it).
   */
  readonly keyid?: string;
}

const ASYMMETRIC_TAIL = /^(.*): ([A-Za-z0-9]+)\.([A-Za-z0-9_-]+)(?: ([0-9a-f]{2,8}))? \[[^\]]*\]$/s;

/** The parts of an asymmetric key's /proc/keys describe() text; undefined when it has no subtype part. */
export function asymmetricKey(serial: number, describe: string): KernelKey {
  const m = ASYMMETRIC_TAIL.exec(describe);
  if (!m) return { serial, description: describe };
  const description = m[1]!;
  const cut = description.lastIndexOf(': ');
  return {
    serial,
    description,
    subject: cut >= 0 ? description.slice(0, cut) : undefined,
    idType: m[2],
    algorithm: m[3],
    // A SKID shorter than four bytes cannot match the four-byte keyid of a signature.
    keyid: m[4] && m[4].length === 8 ? m[4] : undefined,
  };
}

/** Runs keyctl with arguments: its standard output, or undefined when it is missing or fails. */
export type KeyctlRunner = (args: readonly string[]) => string | undefined;

export interface KeyringSources {
  /** The text of /proc/keys; undefined when it cannot be read. */
  readonly procKeys: () => string | undefined;
  /** keyctl(1), when it may be used (only on the running system). */
  readonly keyctl?: KeyctlRunner;
}

export interface KeyringView {
  readonly name: string;
  /** present: a keyring of that name is visible; absent: none is; unknown: /proc/keys could not be read. */
  readonly state: 'present' | 'absent' | 'unknown';
  readonly serials: readonly number[];
  /** The asymmetric keys linked into it (membership 'keyctl'), or every one visible ('proc-keys'). */
  readonly keys: readonly KernelKey[];
  readonly membership: 'keyctl' | 'proc-keys' | 'none';
  readonly notes: readonly string[];
}

/** keyctl rlist prints the linked key ids as decimal numbers separated by spaces. */
function parseRlist(out: string): number[] | undefined {
  const t = out.trim();
  if (t === '') return [];
  if (!/^\d+( \d+)*$/.test(t)) return undefined;
  return t.split(' ').map(Number);
}

/** Finds the keyring `name` and the keys in it. Never throws. */
export function keyringView(name: string, sources: KeyringSources): KeyringView {
  const notes: string[] = [];
  let text: string | undefined;
  try {
    text = sources.procKeys();
  } catch {
    text = undefined;
  }
  if (text === undefined)
    return { name, state: 'unknown', serials: [], keys: [], membership: 'none', notes: ['/proc/keys cannot be read'] };
  const parsed = parseProcKeys(text);
  notes.push(...parsed.notes);
  const rings = parsed.keys.filter((k) => k.type === 'keyring' && keyringName(k.describe).name === name);
  const asymmetric = parsed.keys.filter((k) => k.type === 'asymmetric').map((k) => asymmetricKey(k.serial, k.describe));
  if (rings.length === 0) {
    notes.push(`no keyring named ${name} is visible to this user in /proc/keys`);
    return { name, state: 'absent', serials: [], keys: [], membership: 'none', notes };
  }
  if (rings.length > 1)
    notes.push(`${rings.length} keyrings are named ${name}: the kernel uses the first one its lookup found`);
  const bySerial = new Map(asymmetric.map((k) => [k.serial, k]));
  const linked = sources.keyctl ? linkedKeys(rings, sources.keyctl) : undefined;
  if (linked) {
    const keys: KernelKey[] = [];
    for (const serial of linked) {
      const k = bySerial.get(serial) ?? describedKey(serial, sources.keyctl!);
      if (k) keys.push(k);
      else notes.push(`key ${serial} is linked into ${name} but is not an asymmetric key visible in /proc/keys`);
    }
    return { name, state: 'present', serials: rings.map((r) => r.serial), keys, membership: 'keyctl', notes };
  }
  const count = rings.reduce((n, r) => n + (keyringName(r.describe).count ?? 0), 0);
  if (count > 0)
    notes.push(
      `${name} holds ${count} key${count === 1 ? '' : 's'}; ` +
        'without keyctl, every asymmetric key visible is taken as one',
    );
  return {
    name,
    state: 'present',
    serials: rings.map((r) => r.serial),
    keys: count > 0 ? asymmetric : [],
    membership: 'proc-keys',
    notes,
  };
}

/**
 * A linked key /proc/keys did not show, from `keyctl rdescribe` ("type;uid;gid;perm;description"): its keyid
 * taken from the description's hex tail, which is the SKID for a certificate that has one.
 */
function describedKey(serial: number, keyctl: KeyctlRunner): KernelKey | undefined {
  let out: string | undefined;
  try {
    out = keyctl(['rdescribe', String(serial)]);
  } catch {
    out = undefined;
  }
  const m = out === undefined ? null : /^asymmetric;-?\d+;-?\d+;[0-9a-f]+;(.*)$/s.exec(out.trimEnd());
  if (!m) return undefined;
  const description = m[1]!;
  const cut = description.lastIndexOf(': ');
  const tail = cut >= 0 ? description.slice(cut + 2) : '';
  return {
    serial,
    description,
    subject: cut >= 0 ? description.slice(0, cut) : undefined,
    keyid: /^[0-9a-f]{8,}$/.test(tail) ? tail.slice(-8) : undefined,
  };
}

function linkedKeys(rings: readonly ProcKey[], keyctl: KeyctlRunner): number[] | undefined {
  const all: number[] = [];
  for (const r of rings) {
    let out: string | undefined;
    try {
      out = keyctl(['rlist', String(r.serial)]);
    } catch {
      out = undefined;
    }
    const ids = out === undefined ? undefined : parseRlist(out);
    if (!ids) return undefined;
    all.push(...ids);
  }
  return all;
}

/** The key of the keyring that IMA would find for a signature's keyid, if any. */
export function keyForKeyid(view: KeyringView, keyid: string): KernelKey | undefined {
  return view.keys.find((k) => k.keyid === keyid.toLowerCase());
}
