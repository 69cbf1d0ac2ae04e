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
# Without auditd the kernel prints audit records through printk_ratelimit(): lift it so
# that no IMA record is dropped.
echo 1000000 > /proc/sys/kernel/printk_ratelimit_burst

T=/etc/ima-test

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

check_kexec() {
  msg=$(kexec -s -l "$3" 2>&1 </dev/null)
  rc=$?
  if [ "$rc" = 0 ]; then
    loaded=$(cat /sys/kernel/kexec_loaded)
    kexec -s -u </dev/null >/dev/null 2>&1
    if [ "$loaded" != 1 ]; then
      rc=1
      msg="kexec exited 0 but /sys/kernel/kexec_loaded is '$loaded'; $msg"
    fi
  fi
  result "$1" "$2" kexec "$rc" "$msg"
}

run_checks() {
  while read -r op name path; do
    case "$op" in
      read) check_read "$1" "$name" "$path" ;;
      kexec) check_kexec "$1" "$name" "$path" ;;
      '' | '#'*) ;;
      *) echo "RESULT phase=$1 name=$name op=$op verdict=error errno=OTHER msg=unknown check" ;;
    esac
  done < "$2"
}

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

  while read -r m; do
    [ -n "$m" ] || continue
    msg=$(insmod "/lib/modules/$m.ko" 2>&1 </dev/null)
    result setup "insmod:$m" insmod $? "$msg"
  done < $T/modules

  while read -r dev fstype dir opts; do
    [ -n "$dev" ] || continue
    i=0
    while [ ! -b "$dev" ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
    mkdir -p "$dir"
    msg=$(mount -t "$fstype" -o "$opts" "$dev" "$dir" 2>&1 </dev/null)
    result setup "mount:$dir" mount $? "$msg"
  done < $T/mounts

  run_checks nopolicy $T/checks.nopolicy

  msg=$(keyctl newring _ima @u 2>&1 </dev/null)
  result setup keyring:_ima keyctl $? "$msg"
  for k in $T/keys/*.der; do
    [ -e "$k" ] || continue
    n=${k##*/}
    msg=$(keyctl padd asymmetric "" %keyring:_ima < "$k" 2>&1)
    result setup "key:${n%.der}" keyctl $? "$msg"
  done

  if [ -s $T/policy ]; then
    msg=$(cat $T/policy 2>&1 >/sys/kernel/security/ima/policy)
    result setup policy write $? "$msg"
  fi

  run_checks enforce $T/checks

  sed 's/^/KEYS /' /proc/keys
  sleep 1 # kauditd prints its records asynchronously
  dmesg | grep -iE 'audit|integrity|ima:|kexec|signature|pkcs|pefile|lockdown|x509' | sed 's/^/DMESG /'
}

echo "IMA-TEST BEGIN"
report 2>&1 | tee /tmp/report
echo "IMA-TEST END md5=$(md5sum < /tmp/report | cut -d' ' -f1) lines=$(wc -l < /tmp/report)"
# Power off only once the console has sent all of that. qemu takes a byte from the UART only
# when its stdout (a non-blocking socket) has room, so while the host reads slowly up to 4 KiB
# wait in the tty, and poweroff would cut them off, its "reboot: Power down" (KERN_EMERG, past
# dmesg -n 1) landing in the middle. stty setting the modes it read is TCSETSW, which waits
# for the tty to drain but only briefly for the last FIFO-full (16 bytes) in the UART: the
# line after END, which the host ignores, is there to take that loss.
echo "IMA-TEST PADDING ................................"
sync
stty -F /dev/console "$(stty -F /dev/console -g)"
poweroff -f
