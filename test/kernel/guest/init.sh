#!/bin/busybox sh
# PID 1 of the guest booted by the kernel acceptance suite (test/kernel/kernel.test.ts).
# Everything it does is described by files the host put into the initramfs:
#   /etc/ima-test/modules      module names in insmod order (files /lib/modules/NAME.ko)
#   /etc/ima-test/mounts       lines "DEVICE FSTYPE DIR OPTIONS"
#   /etc/ima-test/keys/*.der   certificates for the _ima keyring (none: the ring stays empty)
#   /etc/ima-test/policy       IMA policy rules, written once to securityfs (empty: none)
#   /etc/ima-test/checks       lines "OP NAME PATH"; OP is read (open and read the file)
#                              or kexec (kexec -s -l, i.e. kexec_file_load, then unload)
#   /etc/ima-test/checks.nopolicy  checks (same format) to run before the policy is written
#                              and the keys loaded: the control that IMA makes the difference
# It reports on the serial console, one line each, between "IMA-TEST BEGIN" and
# "IMA-TEST END md5=M lines=N" (the digest and count of the lines between), and powers off:
#   RESULT phase=P name=N op=O verdict=allowed|denied errno=E msg=TEXT
#   INFO KEY=VALUE      KEYS <line of /proc/keys>      DMESG <kernel log line>
# Kernel messages are kept off the console (dmesg -n 1) so that they cannot cut into these
# lines; the interesting ones are printed at the end from dmesg.

# guest_start, errno_of, result, check_read, check_kexec, run_checks, load_modules, mount_one, load_keys,
# write_policy, end_report; T=/etc/ima-test
. /lib/ima-test/common.sh
guest_start

# Everything between the BEGIN and END lines.
report() {
  echo "INFO kernel=$(uname -r)"
  echo "INFO cmdline=$(cat /proc/cmdline)"
  echo "INFO lockdown=$(cat /sys/kernel/security/lockdown 2>/dev/null)"
  if [ -d /sys/firmware/efi ]; then echo "INFO efi=yes"; else echo "INFO efi=no"; fi
  # kexec_file.c reports a failed PE signature check (KEXEC_SIG) only with pr_debug.
  for f in kexec_file.c kexec-bzimage64.c; do
    echo "file $f +p" > /sys/kernel/debug/dynamic_debug/control 2>/dev/null
  done

  load_modules
  while read -r dev fstype dir opts; do
    [ -n "$dev" ] && mount_one "$dev" "$fstype" "$dir" "$opts"
  done < $T/mounts

  run_checks nopolicy $T/checks.nopolicy

  load_keys
  write_policy

  run_checks enforce $T/checks

  sed 's/^/KEYS /' /proc/keys
  sleep 1 # kauditd prints its records asynchronously
  dmesg | grep -iE 'audit|integrity|ima:|kexec|signature|pkcs|pefile|lockdown|x509' | sed 's/^/DMESG /'
}

echo "IMA-TEST BEGIN"
report 2>&1 | tee /tmp/report
end_report /tmp/report
