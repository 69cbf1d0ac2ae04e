// /proc/keys as security/keys/proc.c prints it and asymmetric_type.c describes X.509 keys, the _ima keyring
// found in it, and its members from keyctl's raw listing, or from /proc/keys alone; odd lines skipped with a
// note. The lines are as this kind of machine prints them (checked with keyctl padd of the test certificates).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  asymmetricKey,
  keyForKeyid,
  keyringName,
  KeyctlRunner,
  keyringView,
  parseProcKeys,
} from '../../src/kernel/keyring.js';

const PROC_KEYS = [
  '045c225e I------     1 perm 0f0b0000     0     0 keyring   .blacklist: empty',
  '1f92a4c1 I--Q---     1 perm 39010000     0     0 asymmetri ima-sidecar test: rsa2048: ' +
    '044a83ace061398b34734334acd98891308baedd: X509.rsa 308baedd []',
  '24dd880e I--Q---     1 perm 39010000     0     0 asymmetri ima-sidecar test: rsa2048-noskid: ' +
    '5e7a100000000005: X509.rsa []',
  '31acfdd4 I--Q---     1 perm 3f010000     0     0 keyring   _ima: 2',
  '3891aa9d I--Q---     2 perm 1f3f0000     0 65534 keyring   _uid.0: empty',
  '0aaaaaaa I------     1  53m 3f010000  1000  1000 user      a user key: 5',
  '',
].join('\n');

describe('/proc/keys lines', () => {
  test('fields, the cut type name made whole, and the description', () => {
    const { keys, notes } = parseProcKeys(PROC_KEYS);
    assert.deepEqual(notes, []);
    assert.equal(keys.length, 6);
    const rsa = keys[1]!;
    assert.equal(rsa.serial, 0x1f92a4c1);
    assert.equal(rsa.type, 'asymmetric');
    assert.equal(rsa.perm, 0x39010000);
    assert.match(rsa.describe, /X509\.rsa 308baedd \[\]$/);
    assert.equal(keys[4]!.gid, 65534);
    assert.equal(keys[5]!.uid, 1000);
    assert.equal(keys[5]!.type, 'user');
  });

  test('odd lines are skipped with a note each (the first few), never a throw', () => {
    const text = [
      'not a key line',
      PROC_KEYS.split('\n')[3]!,
      '31acfdd4 I--Q--- x perm',
      '\u0000\u0001',
      'a',
      'b',
    ].join('\n');
    const { keys, notes } = parseProcKeys(text);
    assert.equal(keys.length, 1);
    assert.equal(notes.length, 4);
    assert.match(notes[0]!, /line 1 skipped/);
    assert.match(notes[3]!, /2 more/);
  });

  test("a keyring's name and key count", () => {
    assert.deepEqual(keyringName('_ima: 2'), { name: '_ima', count: 2 });
    assert.deepEqual(keyringName('_ima: empty'), { name: '_ima', count: 0 });
    assert.deepEqual(keyringName('_ima'), { name: '_ima' });
    assert.deepEqual(keyringName('odd: name: 3'), { name: 'odd: name', count: 3 });
  });

  const asymmetric: [string, Record<string, unknown>][] = [
    [
      'ima-sidecar test: rsa2048: 044a83ace061398b34734334acd98891308baedd: X509.rsa 308baedd []',
      {
        subject: 'ima-sidecar test: rsa2048',
        description: 'ima-sidecar test: rsa2048: 044a83ace061398b34734334acd98891308baedd',
        algorithm: 'rsa',
        idType: 'X509',
        keyid: '308baedd',
      },
    ],
    // No SKID: the description ends in the serial, and there is no keyid for IMA to find.
    [
      'ima-sidecar test: rsa2048-noskid: 5e7a100000000005: X509.rsa []',
      { subject: 'ima-sidecar test: rsa2048-noskid', algorithm: 'rsa', keyid: undefined },
    ],
    ['Example: k: a0b1c2d3e4f5: X509.ecdsa-nist-p256 e4f5a0b1 []', { algorithm: 'ecdsa-nist-p256', keyid: 'e4f5a0b1' }],
    // A SKID shorter than four bytes cannot match a four-byte keyid.
    ['short: 01ab: X509.rsa 01ab []', { keyid: undefined }],
    // Without a subtype (a negative key), only the description.
    ['something odd', { description: 'something odd', keyid: undefined, algorithm: undefined }],
  ];
  for (const [text, want] of asymmetric) {
    test(`asymmetric key: ${text}`, () => {
      const k = asymmetricKey(7, text) as unknown as Record<string, unknown>;
      for (const [field, value] of Object.entries(want)) assert.equal(k[field], value, field);
    });
  }
});

describe('the _ima keyring and its keys', () => {
  test('with keyctl: exactly the linked keys', () => {
    const calls: string[][] = [];
    const keyctl: KeyctlRunner = (args) => {
      calls.push([...args]);
      return args[0] === 'rlist' ? `${0x1f92a4c1}\n` : undefined;
    };
    const v = keyringView('_ima', { procKeys: () => PROC_KEYS, keyctl });
    assert.equal(v.state, 'present');
    assert.equal(v.membership, 'keyctl');
    assert.deepEqual(
      v.keys.map((k) => k.keyid),
      ['308baedd'],
    );
    assert.deepEqual(calls, [['rlist', String(0x31acfdd4)]]);
    assert.equal(keyForKeyid(v, '308BAEDD')?.serial, 0x1f92a4c1);
    assert.equal(keyForKeyid(v, 'deadbeef'), undefined);
  });

  test('a linked key /proc/keys does not show: from keyctl rdescribe, keyid from the SKID in the description', () => {
    const keyctl: KeyctlRunner = (args) =>
      args[0] === 'rlist'
        ? '12345'
        : args[0] === 'rdescribe' && args[1] === '12345'
          ? 'asymmetric;0;0;39010000;Org: signer: 11223344556677889900aabbccddeeff01020304\n'
          : undefined;
    const v = keyringView('_ima', { procKeys: () => PROC_KEYS, keyctl });
    assert.deepEqual(v.keys, [
      {
        serial: 12345,
        description: 'Org: signer: 11223344556677889900aabbccddeeff01020304',
        subject: 'Org: signer',
        keyid: '01020304',
      },
    ]);
  });

  test('keyctl failing or printing nonsense: /proc/keys alone, every asymmetric key taken as a member, said so', () => {
    for (const keyctl of [
      () => undefined,
      () => 'not numbers',
      () => {
        throw new Error('boom');
      },
    ] as KeyctlRunner[]) {
      const v = keyringView('_ima', { procKeys: () => PROC_KEYS, keyctl });
      assert.equal(v.membership, 'proc-keys');
      assert.equal(v.keys.length, 2);
      assert.ok(
        v.notes.some((n) => /without keyctl/.test(n)),
        v.notes.join('\n'),
      );
    }
  });

  test('an empty _ima keyring has no keys, whatever else /proc/keys shows', () => {
    const text = PROC_KEYS.replace('_ima: 2', '_ima: empty');
    assert.deepEqual(keyringView('_ima', { procKeys: () => text }).keys, []);
  });

  test('no such keyring; /proc/keys unreadable', () => {
    const absent = keyringView('.ima', { procKeys: () => PROC_KEYS });
    assert.equal(absent.state, 'absent');
    assert.ok(absent.notes.some((n) => /no keyring named \.ima/.test(n)));
    assert.equal(keyringView('_ima', { procKeys: () => undefined }).state, 'unknown');
    const throwing = keyringView('_ima', {
      procKeys: () => {
        throw new Error('EACCES');
      },
    });
    assert.equal(throwing.state, 'unknown');
  });

  test('two keyrings of the name: both serials, a note', () => {
    const text = `${PROC_KEYS}0bbbbbbb I--Q---     1 perm 3f010000     0     0 keyring   _ima: empty\n`;
    const v = keyringView('_ima', { procKeys: () => text });
    assert.equal(v.serials.length, 2);
    assert.ok(v.notes.some((n) => /2 keyrings are named _ima/.test(n)));
  });
});
