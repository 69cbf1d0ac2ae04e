// Property tests (fast-check) for the parsers of kernel text doctor reads: a policy line gives a rule, nothing,
// or a PolicyError, whatever the text; /proc/keys, keyctl's output, the command line, EVM's flags and a
// security.ima value never make anything throw; and well-formed input comes out as it went in.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseCmdline, splitKernelParameters } from '../../src/kernel/cmdline.js';
import { parseEvmFlags } from '../../src/kernel/evm.js';
import { kernelValue } from '../../src/kernel/ima-xattr.js';
import { keyringView, parseProcKeys } from '../../src/kernel/keyring.js';
import {
  formatRule,
  parsePolicy,
  parsePolicyLine,
  PolicyError,
  POLICY_ACTIONS,
  POLICY_FUNCS,
} from '../../src/kernel/policy.js';
import { DEBIAN_6_1 } from '../../src/kernel/profile.js';

const RUNS = 2000;

/** Runs `f` and says what came out: a value, or a PolicyError; anything else thrown fails the property. */
function policyOutcome(f: () => unknown): 'value' | 'policy-error' {
  try {
    f();
    return 'value';
  } catch (e) {
    if (e instanceof PolicyError) return 'policy-error';
    throw e;
  }
}

/** Conditions and options, valid ones far more often than not, so that the generator reaches deep into the grammar. */
const often = <T>(valid: fc.Arbitrary<T>, invalid: fc.Arbitrary<T>): fc.Arbitrary<T> =>
  fc.oneof({ weight: 12, arbitrary: valid }, { weight: 1, arbitrary: invalid });
const condition = fc.oneof(
  often(fc.constantFrom(...POLICY_FUNCS, 'PATH_CHECK', 'FILE_MMAP'), fc.constant('NOPE')).map((f) => `func=${f}`),
  often(fc.constantFrom('MAY_EXEC', '^MAY_READ', 'MAY_WRITE', '^MAY_APPEND'), fc.constant('MAY_')).map(
    (m) => `mask=${m}`,
  ),
  fc
    .tuple(
      fc.constantFrom('uid', 'euid', 'gid', 'egid', 'fowner', 'fgroup'),
      fc.constantFrom('=', '<', '>'),
      often(fc.nat({ max: 70000 }).map(String), fc.constantFrom('-1', '0x10', '4294967295')),
    )
    .map(([k, op, v]) => `${k}${op}${v}`),
  often(fc.constantFrom('ef53', '0x9fa0', '+4d44'), fc.constantFrom('0x', 'zz')).map((m) => `fsmagic=${m}`),
  often(fc.constantFrom('6f3a9a2b-1c2d-4e5f-8a9b-0c1d2e3f4a5b'), fc.constant('zz')).map((u) => `fsuuid=${u}`),
  fc.constantFrom('vfat', 'ext4').map((n) => `fsname=${n}`),
  fc.constantFrom('obj_user', 'obj_role', 'obj_type', 'subj_user', 'subj_role', 'subj_type').map((l) => `${l}=v_t`),
);
const option = fc.oneof(
  often(fc.constantFrom('imasig'), fc.constantFrom('sigv3', 'imasig|modsig', 'other')).map((t) => `appraise_type=${t}`),
  often(fc.constantFrom('sha256', 'sha1,sha512'), fc.constantFrom('sha3-256', 'sha256,', 'sm3')).map(
    (a) => `appraise_algos=${a}`,
  ),
  fc.constantFrom('verity', 'x').map((t) => `digest_type=${t}`),
  often(fc.constantFrom('.ima', 'a|b'), fc.constant('a||b')).map((k) => `keyrings=${k}`),
  fc.constantFrom('selinux', '|').map((k) => `label=${k}`),
  often(fc.constantFrom('ima-ng', 'ima-sig'), fc.constant('nope')).map((t) => `template=${t}`),
  often(fc.nat({ max: 63 }).map(String), fc.constant('64')).map((p) => `pcr=${p}`),
  fc.constant('permit_directio'),
);
const junk = fc.oneof(fc.constantFrom('#', 'x', '\r'), fc.string({ maxLength: 12 }));
const policyLine = fc
  .tuple(
    fc.option(fc.constantFrom(...POLICY_ACTIONS), { freq: 8 }),
    fc.array(
      fc.oneof({ weight: 6, arbitrary: condition }, { weight: 3, arbitrary: option }, { weight: 1, arbitrary: junk }),
      {
        maxLength: 5,
      },
    ),
    fc.constantFrom(' ', '\t', '  '),
  )
  .map(([action, words, sep]) => (action ? [action, ...words] : words).join(sep));

describe('policy parser: any text gives a rule, nothing, or a PolicyError', () => {
  test('arbitrary strings, one line', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), (text) => {
        policyOutcome(() => parsePolicyLine(text, 1));
      }),
      { numRuns: RUNS },
    );
  });
  test('arbitrary strings of full Unicode, as a whole policy', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 300 }), (text) => {
        policyOutcome(() => parsePolicy(text));
      }),
      { numRuns: RUNS },
    );
  });
  test('lines made of policy words: a rule that prints and parses back to itself, or a PolicyError', () => {
    let rules = 0;
    let refused = 0;
    fc.assert(
      fc.property(policyLine, (line) => {
        let rule;
        try {
          rule = parsePolicyLine(line, 3, { source: 's' });
        } catch (e) {
          if (!(e instanceof PolicyError)) throw e;
          assert.equal(e.line, 3);
          assert.ok(e.message.startsWith('s:3: '));
          refused++;
          return;
        }
        if (!rule) return;
        rules++;
        const again = parsePolicyLine(formatRule(rule), 1, { source: 's', readBack: true })!;
        assert.equal(formatRule(again), formatRule(rule));
      }),
      { numRuns: RUNS },
    );
    // Both sides of the grammar were reached, not only its refusals.
    assert.ok(rules > RUNS / 20 && refused > RUNS / 20, `rules ${rules}, refused ${refused}`);
  });
});

const hex8 = fc.integer({ min: 0, max: 0xffffffff }).map((n) => n.toString(16).padStart(8, '0'));
const procKeyLine = fc
  .record({
    serial: hex8,
    usage: fc.nat({ max: 99999 }),
    perm: hex8,
    uid: fc.nat({ max: 65534 }),
    gid: fc.nat({ max: 65534 }),
    type: fc.constantFrom('keyring', 'asymmetri', 'user', 'logon'),
    describe: fc.string({ maxLength: 80 }).filter((s) => !s.includes('\n')),
  })
  .map((k) => ({
    ...k,
    line:
      `${k.serial} I--Q--- ${String(k.usage).padStart(5)} perm ${k.perm} ${String(k.uid).padStart(5)} ` +
      `${String(k.gid).padStart(5)} ${k.type.padEnd(9)} ${k.describe}`,
  }));

describe('/proc/keys: never a throw, and lines in the kernel format come out whole', () => {
  test('arbitrary text', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 500 }), (text) => {
        const r = parseProcKeys(text);
        assert.ok(Array.isArray(r.keys) && Array.isArray(r.notes));
        keyringView('_ima', { procKeys: () => text });
      }),
      { numRuns: RUNS },
    );
  });
  test('well-formed lines among garbage', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(
            procKeyLine,
            fc.string({ maxLength: 40 }).map((s) => ({ line: s.replace(/\n/g, '') })),
          ),
          {
            maxLength: 12,
          },
        ),
        (entries) => {
          const text = entries.map((e) => e.line).join('\n');
          const r = parseProcKeys(text);
          const wellFormed = entries.flatMap((e) => ('serial' in e ? [e] : []));
          for (const e of wellFormed) {
            const k = r.keys.find((x) => x.serial === parseInt(e.serial, 16) && x.describe === e.describe);
            assert.ok(k, `line not parsed: ${e.line}`);
          }
        },
      ),
      { numRuns: RUNS },
    );
  });
  test('keyctl answering anything, or throwing', () => {
    const text = '31acfdd4 I--Q---     1 perm 3f010000     0     0 keyring   _ima: 2\n';
    fc.assert(
      fc.property(fc.option(fc.string({ maxLength: 100 })), fc.boolean(), (answer, explode) => {
        const v = keyringView('_ima', {
          procKeys: () => text,
          keyctl: () => {
            if (explode) throw new Error('keyctl');
            return answer ?? undefined;
          },
        });
        assert.equal(v.state, 'present');
      }),
      { numRuns: RUNS },
    );
  });
});

describe('the other kernel texts never throw', () => {
  test('command line', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), (text) => {
        parseCmdline(text);
        splitKernelParameters(text);
      }),
      { numRuns: RUNS },
    );
  });
  test('EVM flags', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 30 }), (text) => {
        const s = parseEvmFlags(text);
        if (s.flags !== undefined) assert.equal(s.keyLoaded, (s.flags & 3) !== 0);
      }),
      { numRuns: RUNS },
    );
  });
  test('a security.ima value as the kernel reads it', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), (bytes) => {
        const v = kernelValue(Buffer.from(bytes), DEBIAN_6_1);
        if (bytes.length === 0) assert.equal(v.kind, 'empty');
        if (v.kind === 'digest' && v.compared) assert.equal(v.compared.length, v.algo.digestSize);
      }),
      { numRuns: RUNS },
    );
  });
});
