#!/bin/busybox sh
# PID 1 of the guest of the kexec-live scenario (test/kernel/kexec-live.test.ts): ima-sidecar
# kexec runs in the guest, chrooted into the runtime disk (node, the package, kexec-tools), and
# loads a kernel kept on a real vfat ESP under a KEXEC_KERNEL_CHECK + KEXEC_INITRAMFS_CHECK
# policy; doctor --hook kexec/kexec-initramfs is set against the kernel's own verdicts.
# Input, from the initramfs:
#   /etc/ima-test/modules, keys/*.der, policy    as for init.sh
#   /etc/ima-test/mounts    "DEVICE FSTYPE DIR OPTIONS"; the first one is the runtime root
#                           (/runtime), the others are mounted inside it
#   /etc/ima-test/by-uuid   "DEVICE UUID" lines, for the udev links doctor reads
#   /etc/ima-test/steps.nopolicy  steps before the policy is written (the keys are loaded)
#   /etc/ima-test/steps           steps after it; each line "OP NAME ARG...", paths inside the chroot:
#     kexec NAME KERNEL [INITRD]  plain kexec -s -l in the chroot, then unload: a RESULT line
#     isc NAME ARG...             ima-sidecar ARG... in the chroot; then whether a kernel is
#                                 loaded, unloaded again, and what staging is left: a KX line
#     term NAME ARG...            the same started in the background, sent SIGTERM as soon as
#                                 its staging folder has something in it
# Output besides the RESULT/INFO/DMESG lines of init.sh, between BEGIN and END (md5-checked):
#   ISC name=N line=TEXT   (each line of its stdout and stderr)   ISC-EXIT name=N exit=STATUS
#   KX name=N loaded=0|1 unloaded=0|1 left=PATHS|none mounts=COUNT [staging-seen=yes|no]

. /lib/ima-test/common.sh
guest_start
R=/runtime
# A clean environment in the chroot, as a boot hook would have.
IN_CHROOT="env -i PATH=/bin:/usr/bin:/usr/sbin HOME=/root LD_LIBRARY_PATH=/lib/x86_64-linux-gnu chroot $R"
KEXEC="$IN_CHROOT /usr/sbin/kexec"

# What ima-sidecar kexec may leave behind: staging folders (in /run, or /tmp under its own tmpfs)
# and tmpfs mounts.
leftovers() {
  l=$(ls -d $R/run/ima-sidecar-kexec-* $R/tmp/ima-sidecar-kexec-* 2>/dev/null | tr '\n' ',')
  echo "left=${l:-none} mounts=$(grep -c ima-sidecar-kexec /proc/mounts)"
}

print_isc() {
  while IFS= read -r l; do echo "ISC name=$1 line=$l"; done < /tmp/isc.out
  echo "ISC-EXIT name=$1 exit=$2"
}

# After a command: whether it left a kernel loaded, which is then unloaded (and must be gone).
after_isc() {
  loaded=$(cat /sys/kernel/kexec_loaded)
  # shellcheck disable=SC2086 # a command with its arguments
  [ "$loaded" = 0 ] || $KEXEC -s -u </dev/null >/dev/null 2>&1
  echo "KX name=$1 loaded=$loaded unloaded=$(cat /sys/kernel/kexec_loaded) $(leftovers)$2"
}

run_isc() {
  name=$1
  shift
  # shellcheck disable=SC2086
  $IN_CHROOT /usr/bin/node /pkg/bin/ima-sidecar "$@" > /tmp/isc.out 2>&1 </dev/null
  rc=$?
  print_isc "$name" $rc
  after_isc "$name" ""
}

# SIGTERM while staging: the folder appears (mkdtemp) before the copies; the signal goes as soon
# as it holds an entry, i.e. while a copy is being written.
run_term() {
  name=$1
  shift
  # shellcheck disable=SC2086
  $IN_CHROOT /usr/bin/node /pkg/bin/ima-sidecar "$@" > /tmp/isc.out 2>&1 </dev/null &
  pid=$!
  seen=no
  i=0
  while [ $i -lt 1200 ] && kill -0 $pid 2>/dev/null; do
    if ls -A $R/run/ima-sidecar-kexec-*/ 2>/dev/null | grep -q .; then
      seen=yes
      break
    fi
    sleep 0.05
    i=$((i + 1))
  done
  kill -TERM $pid 2>/dev/null
  wait $pid
  rc=$?
  print_isc "$name" $rc
  after_isc "$name" " staging-seen=$seen"
}

run_steps() {
  while read -r op name args; do
    # shellcheck disable=SC2086 # ARGs are words without spaces, by contract with the host
    case "$op" in
      kexec) check_kexec "$1" "$name" $args ;;
      isc) run_isc "$name" $args ;;
      term) run_term "$name" $args ;;
      '' | '#'*) ;;
      *) echo "RESULT phase=$1 name=$name op=$op verdict=error errno=OTHER msg=unknown step" ;;
    esac
  done < "$2"
}

report() {
  echo "INFO kernel=$(uname -r)"
  echo "INFO mem_kb=$(sed -n 's/^MemTotal: *\([0-9]*\).*/\1/p' /proc/meminfo)"
  load_modules
  mount_runtime $R
  # doctor learns a filesystem's UUID from udev's /dev/disk/by-uuid links (see live.sh).
  mkdir -p /dev/disk/by-uuid
  while read -r dev u; do
    [ -n "$u" ] && ln -sf "../../${dev##*/}" "/dev/disk/by-uuid/$u"
  done < $T/by-uuid
  # doctor and kexec read the policy from a file: the kernel cannot show it back.
  cp $T/policy $R/tmp/policy
  mkdir -p $R/tmp/staged
  echo "KX name=start loaded=$(cat /sys/kernel/kexec_loaded) unloaded=- $(leftovers)"

  load_keys
  run_steps nopolicy $T/steps.nopolicy
  write_policy
  run_steps enforce $T/steps
  echo "KX name=end loaded=$(cat /sys/kernel/kexec_loaded) unloaded=- $(leftovers)"

  sync
  sleep 1 # kauditd prints its records asynchronously
  dmesg | grep -iE 'audit|integrity|ima:|kexec|signature' | sed 's/^/DMESG /'
}

echo "IMA-TEST BEGIN"
report 2>&1 | tee /tmp/report
end_report /tmp/report
