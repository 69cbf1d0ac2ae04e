/**
 * This process's credentials as the kernel matches them against uid=, euid=,
 * gid= and egid= rules: real, effective and saved ids and the two capabilities
 * that widen euid=/egid= matching, from /proc/self/status.
 */
import { readFileSync } from 'node:fs';
import type { Subject } from './match.js';

const CAP_SETGID = 6n;
const CAP_SETUID = 7n;

/** Parses /proc/PID/status text; ids not found there are taken from `fallback`. */
export function subjectFromStatus(text: string, fallback: { uid: number; gid: number }): Subject {
  const ids = (key: string, dflt: number): [number, number, number] => {
    const m = new RegExp(`^${key}:\\s+(\\d+)\\s+(\\d+)\\s+(\\d+)`, 'm').exec(text);
    return m ? [Number(m[1]), Number(m[2]), Number(m[3])] : [dflt, dflt, dflt];
  };
  const [uid, euid, suid] = ids('Uid', fallback.uid);
  const [gid, egid, sgid] = ids('Gid', fallback.gid);
  const cap = /^CapEff:\s+([0-9a-fA-F]+)/m.exec(text);
  const eff = cap ? BigInt(`0x${cap[1]}`) : euid === 0 ? ~0n : 0n;
  return {
    uid,
    euid,
    suid,
    gid,
    egid,
    sgid,
    capSetuid: ((eff >> CAP_SETUID) & 1n) === 1n,
    capSetgid: ((eff >> CAP_SETGID) & 1n) === 1n,
  };
}

/** The credentials of this process. */
export function currentSubject(): Subject {
  const fallback = { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 };
  let text = '';
  try {
    text = readFileSync('/proc/self/status', 'utf8');
  } catch {
    /* no /proc: the ids Node reports */
  }
  return subjectFromStatus(text, fallback);
}
