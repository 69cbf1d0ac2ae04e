// The host's reading of the guest's serial report (lib/qemu.ts parseReport), without a boot:
// a report whose lines are not the ones the guest wrote is damage, never a kernel verdict.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseReport } from './lib/qemu.js';

const lines = [
  'INFO kernel=6.1.0-57-amd64',
  'RESULT phase=enforce name=ext4:unsigned op=kexec verdict=denied errno=EACCES ' +
    'msg=kexec_file_load failed: Permission denied',
  'DMESG [    7.821268] audit: type=1800 audit(1796154900.070:4): pid=216 uid=0 auid=4294967295 ses=4294967295 ' +
    'subj=unconfined op=appraise_data cause=IMA-signature-required comm="kexec" name="/mnt/kexec/unsigned/vmlinuz" ' +
    'dev="vda" ino=17 res=0 errno=0',
];
// What the guest's busybox md5sum says of these lines.
const END = 'IMA-TEST END md5=98be69b445012acf402328161c596f3f lines=3';

function serial(body: string[], end = END): string {
  return ['SeaBIOS', 'IMA-TEST BEGIN', ...body, end, 'IMA-TEST PADDING ....', '[   12.3] reboot: Power down', ''].join(
    '\n',
  );
}

describe('the guest report as the host reads it', () => {
  it('an intact report: the audit record is read, nothing is damaged', () => {
    const rep = parseReport(serial(lines));
    assert.equal(rep.began && rep.ended, true);
    assert.equal(rep.damage, undefined);
    assert.deepEqual(
      rep.audits.map((a) => [a.cause, a.name]),
      [['IMA-signature-required', '/mnt/kexec/unsigned/vmlinuz']],
    );
  });

  it('a console message cut into a line (poweroff before the tty drained) is damage', () => {
    const cut = lines[2].indexOf('subj=') + 3;
    const spliced = [lines[0], lines[1], `${lines[2].slice(0, cut)}[   12.3] reboot: Power down`, lines[2].slice(cut)];
    const rep = parseReport(serial(spliced));
    assert.equal(rep.audits.length, 0);
    assert.match(rep.damage ?? '', /the guest wrote 3 lines .*, the host got 4 /);
  });

  it('bytes lost inside a line are damage; a garbled end line too', () => {
    assert.match(parseReport(serial([lines[0], lines[1], lines[2].replace('errno=0', 'err')])).damage ?? '', /md5/);
    assert.match(parseReport(serial(lines, 'IMA-TEST END md5=98be69b4')).damage ?? '', /garbled end line/);
  });
});
