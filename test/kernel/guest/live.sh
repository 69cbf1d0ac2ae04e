#!/bin/busybox sh
# PID 1 of the guest of the live scenario (test/kernel/live.test.ts): ima-sidecar itself runs
# in the guest, chrooted into the runtime disk, against a real vfat ESP and an ext4 disk, with
# the keys in _ima but before the policy is written (as an early boot hook would); then the
# policy is written and the kernel's own verdicts are taken. Input, from the initramfs:
#   /etc/ima-test/modules, keys/*.der, policy, checks, checks.nopolicy  as for init.sh
#   /etc/ima-test/mounts    "DEVICE FSTYPE DIR OPTIONS"; the first one is the runtime root
#                           (/runtime), the others are mounted inside it
#   /etc/ima-test/isc       "NAME ARG..." lines: ima-sidecar ARG... in the chroot, before the policy
#   /etc/ima-test/isc.after the same, after the policy is written
#   /etc/ima-test/evm.keys/*.der   certificates for the _evm keyring (the EVM part, last: EVM
#                           cannot be switched off once a key is loaded)
#   /etc/ima-test/evm.stages "FLAGS NAME ARG..." lines: FLAGS written to /sys/kernel/security/evm,
#                           then ima-sidecar ARG... as for isc
# Output besides init.sh's RESULT/INFO/DMESG lines, between BEGIN and END (md5-checked), for each
# ima-sidecar command:
#   ISC name=N line=TEXT   (each line of its stdout and stderr)   ISC-EXIT name=N exit=STATUS

# guest_start, errno_of, result, check_read, run_checks, load_modules, mount_one, mount_runtime, load_keys,
# write_policy, end_report; T=/etc/ima-test
. /lib/ima-test/common.sh
guest_start
R=/runtime

# ima-sidecar in the chroot; a clean environment, as a boot hook would have.
run_one() {
  name=$1
  shift
  env -i PATH=/bin:/usr/bin:/usr/sbin HOME=/root LD_LIBRARY_PATH=/lib/x86_64-linux-gnu \
    chroot $R /usr/bin/node /pkg/bin/ima-sidecar "$@" > /tmp/isc.out 2>&1 </dev/null
  rc=$?
  while IFS= read -r l; do echo "ISC name=$name line=$l"; done < /tmp/isc.out
  echo "ISC-EXIT name=$name exit=$rc"
}

run_isc() {
  while read -r name args; do
    [ -n "$name" ] || continue
    # shellcheck disable=SC2086 # ARGs are words without spaces, by contract with the host
    run_one "$name" $args
  done < "$1"
}

# Everything between the BEGIN and END lines, the ISC lines included (md5-checked).
report() {
  echo "INFO kernel=$(uname -r)"
  echo "INFO mem_kb=$(sed -n 's/^MemTotal: *\([0-9]*\).*/\1/p' /proc/meminfo)"

  load_modules
  mount_runtime $R
  # No udev here, so no /dev/disk/by-uuid: doctor reads each disk's UUID (for fsuuid= rules)
  # from its superblock.
  # doctor reads the policy from a file: the kernel cannot show it back.
  cp $T/policy $R/tmp/policy

  load_keys

  run_isc $T/isc
  run_checks nopolicy $T/checks.nopolicy

  write_policy

  run_checks enforce $T/checks
  run_isc $T/isc.after

  # EVM, last: once a key is loaded it cannot be unloaded, and files without a valid
  # security.evm fail appraisal from then on.
  if [ -s $T/evm.stages ]; then
    load_keys _evm $T/evm.keys evm-key
    while read -r flags name args; do
      [ -n "$name" ] || continue
      msg=$( (echo "$flags" > /sys/kernel/security/evm) 2>&1 </dev/null)
      result setup "evm:$flags" write $? "$msg"
      echo "INFO evm.$name=$(cat /sys/kernel/security/evm 2>&1)"
      # shellcheck disable=SC2086 # as in run_isc
      run_one "$name" $args
    done < $T/evm.stages
  fi

  sync
  sleep 1 # kauditd prints its records asynchronously
  dmesg | grep -iE 'audit|integrity|ima:|kexec|signature' | sed 's/^/DMESG /'
  umount $R/mnt/data 2>/dev/null
}

echo "IMA-TEST BEGIN"
report 2>&1 | tee /tmp/report
end_report /tmp/report
