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
# Output besides init.sh's RESULT/INFO/DMESG lines, for each command:
#   ISC name=N line=TEXT   (each line of its stdout and stderr)   ISC-EXIT name=N exit=STATUS

/bin/busybox mkdir -p /proc /sys /dev /tmp /mnt /bin /sbin /usr/bin /usr/sbin
/bin/busybox mount -t proc proc /proc
/bin/busybox --install -s
export PATH=/sbin:/bin:/usr/sbin:/usr/bin
export LD_LIBRARY_PATH=/lib/x86_64-linux-gnu
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t securityfs securityfs /sys/kernel/security
dmesg -n 1
echo 1000000 > /proc/sys/kernel/printk_ratelimit_burst

T=/etc/ima-test
R=/runtime

result() {
  if [ "$4" = 0 ]; then v=allowed e=none; else
    case "$5" in
      *"Permission denied"*) e=EACCES ;;
      *"No such file or directory"*) e=ENOENT ;;
      *) e=OTHER ;;
    esac
    v=denied
  fi
  echo "RESULT phase=$1 name=$2 op=$3 verdict=$v errno=$e msg=$(printf '%s' "$5" | tr '\r\n' '  ')"
}

run_checks() {
  while read -r op name path; do
    [ "$op" = read ] || continue
    msg=$(cat "$path" 2>&1 >/dev/null </dev/null)
    result "$1" "$name" read $? "$msg"
  done < "$2"
}

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

echo "IMA-TEST BEGIN"
echo "INFO kernel=$(uname -r)"
echo "INFO mem_kb=$(sed -n 's/^MemTotal: *\([0-9]*\).*/\1/p' /proc/meminfo)"

while read -r m; do
  [ -n "$m" ] || continue
  msg=$(insmod "/lib/modules/$m.ko" 2>&1 </dev/null)
  result setup "insmod:$m" insmod $? "$msg"
done < $T/modules

first=1
while read -r dev fstype dir opts; do
  [ -n "$dev" ] || continue
  i=0
  while [ ! -b "$dev" ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
  mkdir -p "$dir"
  msg=$(mount -t "$fstype" -o "$opts" "$dev" "$dir" 2>&1 </dev/null)
  result setup "mount:$dir" mount $? "$msg"
  if [ $first = 1 ]; then
    # The runtime image is read-only: its own kernel filesystems and scratch space go on
    # top (fresh instances: the same superblocks as outside for proc, sysfs, securityfs).
    first=0
    for a in "proc proc /proc" "sysfs sysfs /sys" "devtmpfs devtmpfs /dev" "tmpfs tmpfs /tmp" \
      "tmpfs tmpfs /run" "securityfs securityfs /sys/kernel/security"; do
      set -- $a
      msg=$(mount -t "$1" "$2" "$R$3" 2>&1 </dev/null)
      result setup "mount:$R$3" mount $? "$msg"
    done
  fi
done < $T/mounts
# No udev here, so no /dev/disk/by-uuid: doctor reads each disk's UUID (for fsuuid= rules)
# from its superblock.
# doctor reads the policy from a file: the kernel cannot show it back.
cp $T/policy $R/tmp/policy

msg=$(keyctl newring _ima @u 2>&1 </dev/null)
result setup keyring:_ima keyctl $? "$msg"
for k in $T/keys/*.der; do
  [ -e "$k" ] || continue
  n=${k##*/}
  msg=$(keyctl padd asymmetric "" %keyring:_ima < "$k" 2>&1)
  result setup "key:${n%.der}" keyctl $? "$msg"
done

run_isc $T/isc
run_checks nopolicy $T/checks.nopolicy

if [ -s $T/policy ]; then
  msg=$(cat $T/policy 2>&1 >/sys/kernel/security/ima/policy)
  result setup policy write $? "$msg"
fi

run_checks enforce $T/checks
run_isc $T/isc.after

# EVM, last: once a key is loaded it cannot be unloaded, and files without a valid
# security.evm fail appraisal from then on.
if [ -s $T/evm.stages ]; then
  msg=$(keyctl newring _evm @u 2>&1 </dev/null)
  result setup keyring:_evm keyctl $? "$msg"
  for k in $T/evm.keys/*.der; do
    [ -e "$k" ] || continue
    n=${k##*/}
    msg=$(keyctl padd asymmetric "" %keyring:_evm < "$k" 2>&1)
    result setup "evm-key:${n%.der}" keyctl $? "$msg"
  done
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
echo "IMA-TEST END"
umount $R/mnt/data 2>/dev/null
poweroff -f
