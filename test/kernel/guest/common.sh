# Shell functions shared by the guests' PID 1 scripts (init.sh, live.sh, kexec-live.sh), sourced
# from /lib/ima-test/common.sh in the initramfs. They read the plan the host put into /etc/ima-test
# and print the RESULT lines described in init.sh.

T=/etc/ima-test

# What every PID 1 does first: the pseudo filesystems, busybox's applets on the PATH, kernel
# messages kept off the console (so that they cannot cut into the report's lines), and, since
# without auditd the kernel prints audit records through printk_ratelimit(), the limit lifted so
# that no IMA record is dropped. Sourced before the applets exist, so busybox is named at first.
guest_start() {
  /bin/busybox mkdir -p /proc /sys /dev /tmp /mnt /bin /sbin /usr/bin /usr/sbin
  /bin/busybox mount -t proc proc /proc
  /bin/busybox --install -s
  export PATH=/sbin:/bin:/usr/sbin:/usr/bin
  export LD_LIBRARY_PATH=/lib/x86_64-linux-gnu
  mount -t sysfs sysfs /sys
  mount -t devtmpfs devtmpfs /dev
  mount -t securityfs securityfs /sys/kernel/security
  mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
  dmesg -n 1
  echo 1000000 > /proc/sys/kernel/printk_ratelimit_burst
}

errno_of() {
  case "$1" in
    *"Permission denied"*) echo EACCES ;;
    *"Operation not permitted"*) echo EPERM ;;
    *"No such file or directory"*) echo ENOENT ;;
    *"Required key not available"*) echo ENOKEY ;;
    *"Key was rejected"*) echo EKEYREJECTED ;;
    *"Bad message"*) echo EBADMSG ;;
    *"Invalid argument"*) echo EINVAL ;;
    *"not supported"* | *"Not supported"*) echo EOPNOTSUPP ;;
    *) echo OTHER ;;
  esac
}

# result PHASE NAME OP STATUS MESSAGE
result() {
  if [ "$4" = 0 ]; then v=allowed e=none; else v=denied e=$(errno_of "$5"); fi
  echo "RESULT phase=$1 name=$2 op=$3 verdict=$v errno=$e msg=$(printf '%s' "$5" | tr '\r\n' '  ')"
}

check_read() {
  msg=$(cat "$3" 2>&1 >/dev/null </dev/null)
  result "$1" "$2" read $? "$msg"
}

# check_kexec PHASE NAME KERNEL [INITRD]: kexec_file_load, then unload. $KEXEC is the command
# (default kexec; "chroot DIR /usr/sbin/kexec" to run it in a chroot, the paths then inside it).
check_kexec() {
  k=${KEXEC:-kexec}
  # shellcheck disable=SC2086 # $k is a command with its arguments
  msg=$($k -s -l "$3" ${4:+--initrd "$4"} 2>&1 </dev/null)
  rc=$?
  if [ "$rc" = 0 ]; then
    loaded=$(cat /sys/kernel/kexec_loaded)
    # shellcheck disable=SC2086
    $k -s -u </dev/null >/dev/null 2>&1
    if [ "$loaded" != 1 ]; then
      rc=1
      msg="kexec exited 0 but /sys/kernel/kexec_loaded is '$loaded'; $msg"
    fi
  fi
  result "$1" "$2" kexec "$rc" "$msg"
}

# run_checks PHASE FILE: lines "OP NAME PATH [INITRD]"; OP read or kexec.
run_checks() {
  while read -r op name path initrd; do
    case "$op" in
      read) check_read "$1" "$name" "$path" ;;
      kexec) check_kexec "$1" "$name" "$path" "$initrd" ;;
      '' | '#'*) ;;
      *) echo "RESULT phase=$1 name=$name op=$op verdict=error errno=OTHER msg=unknown check" ;;
    esac
  done < "$2"
}

load_modules() {
  while read -r m; do
    [ -n "$m" ] || continue
    msg=$(insmod "/lib/modules/$m.ko" 2>&1 </dev/null)
    result setup "insmod:$m" insmod $? "$msg"
  done < $T/modules
}

# mount_one DEVICE FSTYPE DIR OPTIONS: waits up to 30 s for the block device.
mount_one() {
  i=0
  while [ ! -b "$1" ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
  mkdir -p "$3"
  msg=$(mount -t "$2" -o "$4" "$1" "$3" 2>&1 </dev/null)
  result setup "mount:$3" mount $? "$msg"
}

# load_keys [RING [DIR [LABEL]]]: the keyring RING (default _ima) with every certificate of DIR
# (default $T/keys), reported as LABEL:NAME (default key).
load_keys() {
  ring=${1:-_ima}
  msg=$(keyctl newring "$ring" @u 2>&1 </dev/null)
  result setup "keyring:$ring" keyctl $? "$msg"
  for k in "${2:-$T/keys}"/*.der; do
    [ -e "$k" ] || continue
    n=${k##*/}
    msg=$(keyctl padd asymmetric "" "%keyring:$ring" < "$k" 2>&1)
    result setup "${3:-key}:${n%.der}" keyctl $? "$msg"
  done
}

# mount_runtime ROOT: the disks of $T/mounts for a chroot (live.sh, kexec-live.sh); the first is the
# runtime root ROOT, the others go inside it. The runtime image is read-only: its own kernel
# filesystems and scratch space go on top (fresh instances: the same superblocks as outside for
# proc, sysfs, securityfs).
mount_runtime() {
  root=$1
  first=1
  while read -r dev fstype dir opts; do
    [ -n "$dev" ] || continue
    mount_one "$dev" "$fstype" "$dir" "$opts"
    [ $first = 1 ] || continue
    first=0
    for a in "proc proc /proc" "sysfs sysfs /sys" "devtmpfs devtmpfs /dev" "tmpfs tmpfs /tmp" \
      "tmpfs tmpfs /run" "securityfs securityfs /sys/kernel/security"; do
      # shellcheck disable=SC2086 # three words
      set -- $a
      msg=$(mount -t "$1" "$2" "$root$3" 2>&1 </dev/null)
      result setup "mount:$root$3" mount $? "$msg"
    done
  done < $T/mounts
}

write_policy() {
  if [ -s $T/policy ]; then
    msg=$(cat $T/policy 2>&1 >/sys/kernel/security/ima/policy)
    result setup policy write $? "$msg"
  fi
}

# end_report FILE: the END line with the digest and count of FILE's lines (what the guest wrote
# between BEGIN and END), then powers off once the console has sent it all. qemu takes a byte
# from the UART only when its stdout (a non-blocking socket) has room, so while the host reads
# slowly up to 4 KiB wait in the tty, and poweroff would cut them off, its "reboot: Power down"
# (KERN_EMERG, past dmesg -n 1) landing in the middle. stty setting the modes it read is
# TCSETSW, which waits for the tty to drain but only briefly for the last FIFO-full (16 bytes)
# in the UART: the line after END, which the host ignores, is there to take that loss.
end_report() {
  echo "IMA-TEST END md5=$(md5sum < "$1" | cut -d' ' -f1) lines=$(wc -l < "$1")"
  echo "IMA-TEST PADDING ................................"
  sync
  stty -F /dev/console "$(stty -F /dev/console -g)"
  poweroff -f
}
