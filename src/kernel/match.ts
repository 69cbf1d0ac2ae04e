/**
 * Which policy rule decides an access, as ima_match_rules and
 * ima_match_policy decide it: rules are tried in order, and for each pair of
 * actions (appraise/dont_appraise, measure/dont_measure, hash/dont_hash) the
 * first rule that matches decides. LSM label conditions are not evaluated
 * here: a rule with them is taken to match, and that is said.
 */
import { IdCondition, MAY, MayName, PolicyAction, PolicyFunc, PolicyRule, ruleLocation } from './policy.js';

/** What the kernel knows of the file when it matches (the inode and its superblock). */
export interface MatchFile {
  readonly fsMagic: number;
  /** The superblock's type name (mountinfo's type without its ".subtype"). */
  readonly fsName: string;
  /** The superblock's UUID, lower case; undefined when it could not be found out. */
  readonly fsUuid?: string;
  readonly uid: number;
  readonly gid: number;
}

/** The credentials of the process making the access. */
export interface Subject {
  readonly uid: number;
  readonly euid: number;
  readonly suid: number;
  readonly gid: number;
  readonly egid: number;
  readonly sgid: number;
  /** With CAP_SETUID (CAP_SETGID), euid= (egid=) also matches the saved and the real id. */
  readonly capSetuid: boolean;
  readonly capSetgid: boolean;
}

export interface MatchRequest {
  readonly func: PolicyFunc;
  readonly mask: MayName;
  readonly file: MatchFile;
  readonly subject: Subject;
}

export interface RuleMatch {
  readonly matches: boolean;
  /** What the answer takes for granted (LSM labels, an unknown filesystem UUID). */
  readonly assumptions: readonly string[];
}

function idMatches(actual: number, cond: IdCondition): boolean {
  if (cond.op === '=') return actual === cond.value;
  return cond.op === '>' ? actual > cond.value : actual < cond.value;
}

/** ima_match_rules for one rule (the hooks of files: not KEY_CHECK or CRITICAL_DATA data). */
export function ruleMatches(rule: PolicyRule, req: MatchRequest): RuleMatch {
  const no: RuleMatch = { matches: false, assumptions: [] };
  if (rule.func !== undefined && rule.func !== req.func) return no;
  if (rule.func === 'KEY_CHECK' || rule.func === 'CRITICAL_DATA') return no;
  if (rule.mask) {
    const want = MAY[rule.mask.name];
    const got = MAY[req.mask];
    if (rule.mask.anyOf ? (want & got) === 0 : want !== got) return no;
  }
  if (rule.fsmagic !== undefined && rule.fsmagic !== req.file.fsMagic) return no;
  if (rule.fsname !== undefined && rule.fsname !== req.file.fsName) return no;
  const assumptions: string[] = [];
  if (rule.fsuuid !== undefined) {
    if (req.file.fsUuid === undefined) {
      // Not knowing the UUID, the rule is taken not to match; said, since it may.
      return {
        matches: false,
        assumptions: [`${ruleLocation(rule)}: the filesystem's UUID is unknown, fsuuid= taken not to match`],
      };
    }
    if (rule.fsuuid !== req.file.fsUuid) return no;
  }
  const s = req.subject;
  if (rule.uid) {
    if (!rule.uid.effective) {
      if (!idMatches(s.uid, rule.uid)) return no;
    } else if (s.capSetuid) {
      if (!idMatches(s.euid, rule.uid) && !idMatches(s.suid, rule.uid) && !idMatches(s.uid, rule.uid)) return no;
    } else if (!idMatches(s.euid, rule.uid)) return no;
  }
  if (rule.gid) {
    if (!rule.gid.effective) {
      if (!idMatches(s.gid, rule.gid)) return no;
    } else if (s.capSetgid) {
      if (!idMatches(s.egid, rule.gid) && !idMatches(s.sgid, rule.gid) && !idMatches(s.gid, rule.gid)) return no;
    } else if (!idMatches(s.egid, rule.gid)) return no;
  }
  if (rule.fowner && !idMatches(req.file.uid, rule.fowner)) return no;
  if (rule.fgroup && !idMatches(req.file.gid, rule.fgroup)) return no;
  if (rule.lsm.length > 0) {
    const labels = rule.lsm.map((c) => `${c.field}=${c.value}`).join(' ');
    assumptions.push(`${ruleLocation(rule)}: LSM conditions (${labels}) not evaluated, taken to match`);
  }
  return { matches: true, assumptions };
}

/** The action pair each action belongs to. */
const PAIR: Readonly<Record<PolicyAction, string>> = {
  measure: 'measure',
  dont_measure: 'measure',
  appraise: 'appraise',
  dont_appraise: 'appraise',
  hash: 'hash',
  dont_hash: 'hash',
  audit: 'audit',
};

export interface DecidingRule {
  /** The first rule of the pair that matches; undefined when none does. */
  readonly rule?: PolicyRule;
  readonly assumptions: readonly string[];
}

/** The rule that decides `pair` ('appraise' for appraisal) for this access: the first of its pair that matches. */
export function decidingRule(
  rules: readonly PolicyRule[],
  pair: 'appraise' | 'measure' | 'hash',
  req: MatchRequest,
): DecidingRule {
  const assumptions: string[] = [];
  for (const rule of rules) {
    if (PAIR[rule.action] !== pair) continue;
    const m = ruleMatches(rule, req);
    assumptions.push(...m.assumptions);
    if (m.matches) return { rule, assumptions };
  }
  return { assumptions };
}
