/**
 * The IMA and EVM parameters of the kernel command line (/proc/cmdline):
 * ima_appraise=, ima_policy=, ima_tcb, ima_appraise_tcb, ima_hash=,
 * ima_template=, ima_template_fmt=, evm=. Split as lib/cmdline.c's next_arg
 * splits (double quotes group, parameters after "--" go to init), matched as
 * init/main.c matches (dashes equal underscores; __setup names are prefixes).
 */
import type { BootPolicies } from './builtin-policy.js';

export type AppraiseMode = 'enforce' | 'fix' | 'log' | 'off';

export interface KernelParameter {
  readonly name: string;
  readonly value?: string;
}

export interface KernelCmdline {
  /** The mode ima_appraise= asks for; undefined when not given (the kernel's default is enforce). */
  readonly appraise?: AppraiseMode;
  /** An ima_appraise= value the kernel does not know (it then keeps its default and logs an error). */
  readonly invalidAppraise?: string;
  readonly policies: BootPolicies;
  /** ima_policy=fail_securely: signatures on FUSE and the like always fail (unverifiable-signature). */
  readonly failSecurely: boolean;
  /** ima_policy= words the kernel does not know ("policy ... not found"). */
  readonly unknownPolicies: readonly string[];
  readonly hash?: string;
  readonly template?: string;
  readonly templateFormat?: string;
  /** evm=fix. */
  readonly evmFix: boolean;
  /** Every parameter, as split. */
  readonly parameters: readonly KernelParameter[];
}

const isSpace = (c: string): boolean => c === ' ' || c === '\t' || c === '\n' || c === '\r' || c === '\f' || c === '\v';

/** The parameters before "--", split as next_arg splits them. */
export function splitKernelParameters(text: string): KernelParameter[] {
  const out: KernelParameter[] = [];
  let i = 0;
  const n = text.length;
  while (i < n) {
    while (i < n && isSpace(text[i]!)) i++;
    if (i >= n) break;
    let start = i;
    let inQuote = false;
    let quoted = false;
    if (text[i] === '"') {
      start = ++i;
      inQuote = quoted = true;
    }
    let equals = -1;
    for (; i < n; i++) {
      const c = text[i]!;
      if (isSpace(c) && !inQuote) break;
      if (equals < 0 && c === '=') equals = i;
      if (c === '"') inQuote = !inQuote;
    }
    let end = i;
    let name: string;
    let value: string | undefined;
    if (equals < 0) {
      if (quoted && end > start && text[end - 1] === '"') end--;
      name = text.slice(start, end);
    } else {
      name = text.slice(start, equals);
      let vStart = equals + 1;
      let vEnd = end;
      if (text[vStart] === '"') {
        vStart++;
        if (text[vEnd - 1] === '"' && vEnd - 1 >= vStart) vEnd--;
      } else if (quoted && text[vEnd - 1] === '"') vEnd--;
      value = text.slice(vStart, vEnd);
    }
    if (value === undefined && name === '--') break;
    out.push(value === undefined ? { name } : { name, value });
  }
  return out;
}

const normal = (name: string): string => name.replace(/-/g, '_');

/** ima_appraise_parse_cmdline: the first letters decide, as its strncmp calls do. */
function appraiseMode(value: string): AppraiseMode | undefined {
  if (value.startsWith('off')) return 'off';
  if (value.startsWith('log')) return 'log';
  if (value.startsWith('fix')) return 'fix';
  if (value.startsWith('enforce')) return 'enforce';
  return undefined;
}

/** Reads the IMA and EVM parameters from /proc/cmdline's text. Never throws. */
export function parseCmdline(text: string): KernelCmdline {
  const parameters = splitKernelParameters(text);
  let appraise: AppraiseMode | undefined;
  let invalidAppraise: string | undefined;
  let tcb: BootPolicies['tcb'];
  let appraiseTcb = false;
  let secureBoot = false;
  let criticalData = false;
  let failSecurely = false;
  const unknownPolicies: string[] = [];
  let hash: string | undefined;
  let template: string | undefined;
  let templateFormat: string | undefined;
  let evmFix = false;
  for (const p of parameters) {
    const name = normal(p.name);
    // A core parameter: the name must be exact, the last one wins.
    if (name === 'ima_appraise' && p.value !== undefined) {
      const mode = appraiseMode(p.value);
      if (mode) {
        appraise = mode;
        invalidAppraise = undefined;
      } else invalidAppraise = p.value;
      continue;
    }
    // __setup parameters: the registered string is a prefix of "name=value".
    const line = p.value === undefined ? name : `${name}=${p.value}`;
    if (line.startsWith('ima_policy=')) {
      for (const word of line.slice('ima_policy='.length).split(/[ |\n]/)) {
        if (word === '') continue;
        if (word === 'tcb') tcb ??= 'tcb';
        else if (word === 'appraise_tcb') appraiseTcb = true;
        else if (word === 'secure_boot') secureBoot = true;
        else if (word === 'critical_data') criticalData = true;
        else if (word === 'fail_securely') failSecurely = true;
        else unknownPolicies.push(word);
      }
    } else if (line.startsWith('ima_appraise_tcb')) appraiseTcb = true;
    else if (line.startsWith('ima_tcb')) tcb ??= 'ima_tcb';
    else if (line.startsWith('ima_hash=')) hash = line.slice('ima_hash='.length);
    else if (line.startsWith('ima_template_fmt=')) templateFormat = line.slice('ima_template_fmt='.length);
    else if (line.startsWith('ima_template=')) template = line.slice('ima_template='.length);
    else if (line.startsWith('evm=')) evmFix = line.slice('evm='.length).startsWith('fix');
  }
  return {
    appraise,
    invalidAppraise,
    policies: { tcb, appraiseTcb, secureBoot, criticalData },
    failSecurely,
    unknownPolicies,
    hash,
    template,
    templateFormat,
    evmFix,
    parameters,
  };
}
