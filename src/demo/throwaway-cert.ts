/**
 * A throwaway RSA key and self-signed certificate for the demo, made with
 * pkijs over Node's WebCrypto: subjectKeyIdentifier by RFC 5280 method 1, so
 * the kernel and evmctl agree on its keyid.
 */
import { createHash, webcrypto } from 'node:crypto';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';

export interface ThrowawayIdentity {
  readonly keyPem: string;
  readonly certPem: string;
  readonly certDer: Buffer;
}

function pem(label: string, der: ArrayBuffer | Uint8Array): string {
  const b64 = Buffer.from(der instanceof Uint8Array ? der : new Uint8Array(der)).toString('base64');
  return `-----BEGIN ${label}-----\n${b64.replace(/.{64}/g, '$&\n').replace(/\n$/, '')}\n-----END ${label}-----\n`;
}

export async function makeThrowawayIdentity(commonName = 'ima-sidecar demo'): Promise<ThrowawayIdentity> {
  const crypto = webcrypto as unknown as Crypto;
  const engine = new pkijs.CryptoEngine({ name: 'node', crypto });
  const keys = (await crypto.subtle.generateKey(
    { name: 'RSASSA-PKCS1-v1_5', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' },
    true,
    ['sign', 'verify'],
  )) as CryptoKeyPair;
  const cert = new pkijs.Certificate();
  cert.version = 2;
  cert.serialNumber = new asn1js.Integer({
    // Positive and minimally encoded: a first byte of 0x00 followed by one below 0x80 is not valid DER.
    valueHex: new Uint8Array(webcrypto.getRandomValues(new Uint8Array(8))).map((b, i) =>
      i === 0 ? (b & 0x7f) | 0x40 : b,
    ).buffer,
  });
  const name = [
    new pkijs.AttributeTypeAndValue({ type: '2.5.4.3', value: new asn1js.Utf8String({ value: commonName }) }),
  ];
  cert.subject.typesAndValues = name;
  cert.issuer.typesAndValues = name;
  cert.notBefore.value = new Date(Date.now() - 60_000);
  cert.notAfter.value = new Date(Date.now() + 365 * 24 * 3600_000);
  await cert.subjectPublicKeyInfo.importKey(keys.publicKey, engine);
  const spk = cert.subjectPublicKeyInfo.subjectPublicKey.valueBlock.valueHexView;
  const skid = createHash('sha1').update(spk).digest();
  cert.extensions = [
    new pkijs.Extension({
      extnID: '2.5.29.19',
      critical: true,
      extnValue: new pkijs.BasicConstraints({ cA: false }).toSchema().toBER(false),
    }),
    new pkijs.Extension({
      extnID: '2.5.29.15',
      critical: true,
      extnValue: new asn1js.BitString({ valueHex: new Uint8Array([0x80]).buffer, unusedBits: 7 }).toBER(false),
    }),
    new pkijs.Extension({
      extnID: '2.5.29.14',
      extnValue: new asn1js.OctetString({ valueHex: new Uint8Array(skid).buffer }).toBER(false),
    }),
  ];
  await cert.sign(keys.privateKey, 'SHA-256', engine);
  const certDer = Buffer.from(cert.toSchema(true).toBER(false));
  const pkcs8 = await crypto.subtle.exportKey('pkcs8', keys.privateKey);
  return { keyPem: pem('PRIVATE KEY', pkcs8), certPem: pem('CERTIFICATE', certDer), certDer };
}
