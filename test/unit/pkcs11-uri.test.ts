// The PKCS#11 URI parser (RFC 7512): the attributes the issue names, percent-encoding (bytes for id, UTF-8
// text elsewhere), refusals with a reason, and the PIN kept out of what is shown. Property tests (fast-check):
// any input gives a parsed URI or a Pkcs11UriError and nothing else; any attribute values survive being
// percent-encoded into a URI and parsed back; the shown form never holds the PIN.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { displayUri, isPkcs11Uri, parsePkcs11Uri, Pkcs11UriError } from '../../src/crypto/pkcs11-uri.js';

const RUNS = 1000;

function refused(text: string, message: RegExp): void {
  assert.throws(
    () => parsePkcs11Uri(text),
    (e: unknown) => e instanceof Pkcs11UriError && message.test(e.message) && !e.message.includes('\n'),
    text,
  );
}

describe('parsing', () => {
  test('path and query attributes', () => {
    const u = parsePkcs11Uri(
      'pkcs11:token=My%20Token;object=ima;id=%01%a0;type=private;manufacturer=SoftHSM%20project;model=SoftHSM%20v2;' +
        'serial=2b65cc34c48c9aa2;slot-id=17?pin-value=1234&module-path=/usr/lib/x.so',
    );
    assert.equal(u.token, 'My Token');
    assert.equal(u.object, 'ima');
    assert.deepEqual(u.id, Buffer.of(0x01, 0xa0));
    assert.equal(u.type, 'private');
    assert.equal(u.manufacturer, 'SoftHSM project');
    assert.equal(u.model, 'SoftHSM v2');
    assert.equal(u.serial, '2b65cc34c48c9aa2');
    assert.equal(u.slotId, 17n);
    assert.equal(u.pinValue, '1234');
    assert.equal(u.modulePath, '/usr/lib/x.so');
  });

  test('the bare scheme names any key; the scheme is case-insensitive', () => {
    assert.deepEqual(parsePkcs11Uri('pkcs11:'), {});
    assert.equal(parsePkcs11Uri('PKCS11:token=a').token, 'a');
    assert.ok(isPkcs11Uri('Pkcs11:x'));
    assert.ok(!isPkcs11Uri('/etc/keys/pkcs11:key.pem'));
  });

  test('text is UTF-8 whether written literally or percent-encoded; an empty value is a value', () => {
    assert.equal(parsePkcs11Uri('pkcs11:token=Jos%C3%A9').token, 'José');
    assert.equal(parsePkcs11Uri('pkcs11:token=José').token, 'José');
    assert.equal(parsePkcs11Uri('pkcs11:token=a b').token, 'a b');
    assert.equal(parsePkcs11Uri('pkcs11:object=').object, '');
    assert.deepEqual(parsePkcs11Uri('pkcs11:id=').id, Buffer.alloc(0));
    assert.equal(parsePkcs11Uri('pkcs11:object=a%3Bb%3Fc%26d%25').object, 'a;b?c&d%');
  });

  test('pin-source: a file: URI or a plain path; module-name; library and slot attributes; x- attributes', () => {
    assert.equal(parsePkcs11Uri('pkcs11:?pin-source=file:/run/pin').pinSource, '/run/pin');
    assert.equal(parsePkcs11Uri('pkcs11:?pin-source=file:///run/pin').pinSource, '/run/pin');
    assert.equal(parsePkcs11Uri('pkcs11:?pin-source=/run/pin').pinSource, '/run/pin');
    assert.equal(parsePkcs11Uri('pkcs11:?module-name=softhsm2').moduleName, 'softhsm2');
    const u = parsePkcs11Uri(
      'pkcs11:library-manufacturer=SoftHSM;library-description=d;library-version=2.6;slot-description=s;' +
        'slot-manufacturer=m;x-vendor=1?x-other=2',
    );
    assert.deepEqual(u['library-version'], { major: 2, minor: 6 });
    assert.equal(u['slot-description'], 's');
    assert.equal(parsePkcs11Uri('pkcs11:library-version=3')['library-version']?.minor, 0);
  });

  test('refusals name the problem', () => {
    refused('file:/x', /must start with "pkcs11:"/);
    refused('pkcs11:token=a;token=b', /"token" is given twice/);
    refused('pkcs11:tokn=a', /unknown path attribute "tokn"/);
    refused('pkcs11:?pin=1', /unknown query attribute "pin"/);
    refused('pkcs11:pin-value=1', /unknown path attribute "pin-value"/);
    refused('pkcs11:token', /not NAME=VALUE/);
    refused('pkcs11:=a', /not NAME=VALUE/);
    refused('pkcs11:id=%0', /two hex digits/);
    refused('pkcs11:id=%zz', /two hex digits/);
    refused('pkcs11:token=%ff', /not valid UTF-8/);
    refused('pkcs11:type=secret', /type must be one of/);
    refused('pkcs11:slot-id=-1', /slot-id must be a decimal number/);
    refused('pkcs11:slot-id=99999999999999999999', /slot-id must be a decimal number/);
    refused('pkcs11:library-version=a.b', /library-version/);
    refused('pkcs11:token=a#frag', /no fragment/);
    refused('pkcs11:?pin-value=1&pin-source=/f', /cannot both be given/);
    refused('pkcs11:?pin-source=|/bin/askpin', /not a command/);
    refused('pkcs11:?pin-source=https://x/pin', /only file:/);
    refused('pkcs11:?module-path=lib.so', /absolute path/);
    refused('pkcs11:?module-name=../x', /plain module name/);
  });
});

describe('what is shown', () => {
  test('the PIN is dropped wherever it was put, the rest kept as given', () => {
    assert.equal(displayUri('pkcs11:token=t;object=o?pin-value=1234'), 'pkcs11:token=t;object=o');
    assert.equal(displayUri('pkcs11:token=t?pin-value=1234&module-path=/m.so'), 'pkcs11:token=t?module-path=/m.so');
    assert.equal(displayUri('pkcs11:token=t?module-path=/m.so&pin-value=1'), 'pkcs11:token=t?module-path=/m.so');
    assert.equal(displayUri('pkcs11:pin-value=1;token=t'), 'pkcs11:token=t');
    assert.equal(displayUri('pkcs11:token=t?pin-source=/run/pin'), 'pkcs11:token=t?pin-source=/run/pin');
    // A "?" typed for "&" puts the PIN into another value: masked all the same.
    assert.equal(
      displayUri('pkcs11:token=t?module-path=/m.so?pin-value=12'),
      'pkcs11:token=t?module-path=/m.so?pin-value=***',
    );
  });
});

// ---- properties -------------------------------------------------------------------------------

const PIECES = [
  'pkcs11:',
  'token=',
  'object=',
  'id=',
  'type=',
  'private',
  'slot-id=',
  'serial=',
  'pin-value=',
  'pin-source=',
  'module-path=',
  'module-name=',
  'library-version=',
  'file:',
  'x-a=',
  ';',
  '?',
  '&',
  '=',
  '%',
  '%4',
  '%41',
  '%ff',
  '%C3%A9',
  '#',
  '|',
  '/',
  'a',
  '1',
  ' ',
  'é',
  '\u0000',
];

/** Strings made of URI pieces (so that many parse) and of anything at all. */
const anyInput = fc.oneof(
  fc.array(fc.constantFrom(...PIECES), { maxLength: 12 }).map((p) => p.join('')),
  fc.string({ maxLength: 40 }).map((s) => `pkcs11:${s}`),
  fc.string({ unit: 'binary', maxLength: 40 }),
);

test('any input: a parsed URI or a Pkcs11UriError, never anything else', () => {
  fc.assert(
    fc.property(anyInput, (text) => {
      try {
        const u = parsePkcs11Uri(text);
        assert.equal(typeof u, 'object');
        if (u.id !== undefined) assert.ok(Buffer.isBuffer(u.id));
      } catch (e) {
        assert.ok(e instanceof Pkcs11UriError, `${text}: ${String(e)}`);
        assert.ok(!e.message.includes('\n'));
      }
    }),
    { numRuns: RUNS * 3 },
  );
});

/** Every byte percent-encoded: what an application writing a URI for any value would do. */
const pct = (b: Buffer): string => [...b].map((x) => `%${x.toString(16).padStart(2, '0')}`).join('');
const text = fc.string({ unit: 'grapheme', maxLength: 12 });

test('any values, percent-encoded into a URI, parse back to the same values', () => {
  fc.assert(
    fc.property(
      text,
      text,
      fc.uint8Array({ maxLength: 20 }),
      fc.option(text.filter((p) => p.length > 0)),
      fc.boolean(),
      (token, object, id, pin, upper) => {
        const enc = (s: string): string => {
          const e = pct(Buffer.from(s, 'utf8'));
          return upper ? e.toUpperCase() : e;
        };
        const query = pin === null ? '' : `?pin-value=${enc(pin)}`;
        const uri = `pkcs11:token=${enc(token)};object=${enc(object)};id=${pct(Buffer.from(id))}${query}`;
        const u = parsePkcs11Uri(uri);
        assert.equal(u.token, token);
        assert.equal(u.object, object);
        assert.deepEqual(u.id, Buffer.from(id));
        assert.equal(u.pinValue, pin === null ? undefined : pin);
        const shown = displayUri(uri);
        assert.ok(!shown.includes('pin-value'));
        if (pin !== null) assert.equal(parsePkcs11Uri(shown).pinValue, undefined);
      },
    ),
    { numRuns: RUNS },
  );
});

test('the shown form of any input holds no pin-value attribute', () => {
  fc.assert(
    fc.property(anyInput, (text) => {
      const shown = displayUri(text);
      assert.ok(!/pin-value=(?!\*\*\*(&|;|$))/i.test(shown), `${text} -> ${shown}`);
    }),
    { numRuns: RUNS * 3 },
  );
});
