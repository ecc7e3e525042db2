#!/bin/sh
# The KVM lab of the tests: real libvirtd + QEMU "hypervisors" on one machine, each in its own
# mount+UTS namespace with private libvirt directories (see labs/kvm-lab.md in the shared notes).
#
#   kvm-lab.sh host DIR N PORT    (run under `unshare -m -u --propagation private`) builds
#                                 hypervisor N under DIR/hN, starts its libvirtd (also on
#                                 qemu+tcp://127.0.0.1:PORT/system, for migrations between the
#                                 lab's hosts), then stays alive as the namespace's holder
#   kvm-lab.sh guest DIR N NAME [hung|shared]
#                                 (run inside host N's namespace, through nsenter) defines and
#                                 starts a tiny QEMU guest NAME; idempotent. A `hung` guest has
#                                 a blank disk: SeaBIOS finds nothing to boot and, like a hung
#                                 OS, ignores ACPI shutdown. A `shared` guest's image is in
#                                 DIR/shared, a path every hypervisor of the lab sees (as on
#                                 NFS), so it can migrate live without copying its disk
#   kvm-lab.sh down DIR           stops every process of every hypervisor of DIR, by PID
#
# Every process a hypervisor runs (libvirtd, QEMU, sshd and its sessions) lives in the
# hypervisor's mount namespace, so `down` finds them there: through the holder (its PID and
# start time are in DIR/hN/holder) or, if a crash killed the holder, through libvirtd's pid
# file (its command line names DIR). Nothing outside these namespaces is touched.
set -eu

die() { echo "kvm-lab: $*" >&2; exit 1; }

# Field 22 of /proc/PID/stat: start time, which tells a reused PID apart.
start_time() {
    [ -r "/proc/$1/stat" ] || return 0
    sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f20
}

# libvirtd refuses to start without this system account (`Failed to parse user
# 'libvirt-qemu'`); the libvirt packages expect it and create it on a normal install. It is
# not a login: no password, no shell.
ensure_libvirt_qemu_user() {
    getent group libvirt-qemu >/dev/null || groupadd -r libvirt-qemu
    getent passwd libvirt-qemu >/dev/null ||
        useradd -r -g libvirt-qemu -d /var/lib/libvirt -s /usr/sbin/nologin libvirt-qemu
}

host() {
    dir=$1 n=$2 h=$1/h$2 port=$3
    name=$(printf 'virthost%02d' "$n") # the inventory name of the test fleet
    for program in libvirtd virsh qemu-system-x86_64 qemu-img; do
        command -v "$program" >/dev/null 2>&1 || die "$program is missing: install the KVM lab packages (see scripts/test)"
    done
    ensure_libvirt_qemu_user
    mkdir -p "$h/etc" "$h/run" "$h/lib/images" "$h/cache" "$h/log"
    echo "$$ $(start_time $$)" >"$h/holder"
    uuid=$(cat /proc/sys/kernel/random/uuid)
    cat >"$h/etc/libvirtd.conf" <<CONF
# hypervisor $name of an rpatch test lab
host_uuid = "$uuid"
auth_unix_rw = "none"
auth_unix_ro = "none"
# as on a real host without polkit: only root may manage domains
unix_sock_rw_perms = "0700"
log_outputs = "3:file:/var/log/libvirt/libvirtd.log"
# The other hypervisors of the lab reach this one as qemu+tcp://127.0.0.1:$port/system to
# migrate a guest here. Without authentication: only on the loopback address of a test
# machine, never like this on a real host (there: qemu+ssh or TLS).
listen_tcp = 1
listen_tls = 0
listen_addr = "127.0.0.1"
tcp_port = "$port"
auth_tcp = "none"
CONF
    cat >"$h/etc/qemu.conf" <<CONF
user = "root"
group = "root"
dynamic_ownership = 0
remember_owner = 0
security_driver = "none"
cgroup_controllers = [ ]
namespaces = [ ]
# no virtlogd in the lab: QEMU writes its log file itself
stdio_handler = "file"
# Incoming migrations: a range of its own per host (libvirt also skips ports in use).
migration_port_min = $((49152 + (n - 1) * 64))
migration_port_max = $((49152 + n * 64 - 1))
CONF
    # Every hypervisor of the lab by name, each at its own loopback address: a migration
    # source connects to the URI the target offers (tcp:virthostNN:PORT). (Not the target's
    # own `migration_address`: libvirt rejects a local one.)
    printf '127.0.0.1 localhost\n' >"$h/hosts"
    for i in $(seq 1 16); do printf '127.0.1.%s virthost%02d\n' "$i" "$i"; done >>"$h/hosts"
    hostname "$name"
    for point in /etc/libvirt /run/libvirt /var/lib/libvirt /var/cache/libvirt /var/log/libvirt; do
        mkdir -p "$point"
    done
    mount --bind "$h/etc" /etc/libvirt
    mount --bind "$h/run" /run/libvirt
    mount --bind "$h/lib" /var/lib/libvirt
    mount --bind "$h/cache" /var/cache/libvirt
    mount --bind "$h/log" /var/log/libvirt
    mount --bind "$h/hosts" /etc/hosts
    readlink /proc/self/ns/mnt >"$h/mntns"
    libvirtd -d -l -f /etc/libvirt/libvirtd.conf -p "$h/libvirtd.pid"
    tries=0
    until virsh -q -c qemu:///system uri >/dev/null 2>&1; do
        tries=$((tries + 1))
        [ "$tries" -lt 300 ] || die "libvirtd of $name did not answer within 30 s: $(cat "$h/log/libvirtd.log" 2>/dev/null)"
        sleep 0.1
    done
    touch "$h/ready"
    exec sleep 2147483647
}

# A 512-byte boot sector that enables ACPI and powers off on the power button, so
# `virsh shutdown` works on a guest without an OS (SeaBIOS alone ignores it).
boot_image() {
    raw=$1
    rm -f "$raw"
    truncate -s 16M "$raw"
    printf '\272\002\006\270\000\001\357\373\364\272\000\006\355\251\000\001\164\365\272\004\006\270\000\040\357\364\353\376' |
        dd of="$raw" conv=notrunc status=none
    printf '\125\252' | dd of="$raw" bs=1 seek=510 conv=notrunc status=none
}

guest() {
    n=$2 name=$3 kind=${4:-}
    image=/var/lib/libvirt/images/$name.qcow2
    if [ "$kind" = shared ]; then
        mkdir -p "$1/shared"
        image=$1/shared/$name.qcow2
    fi
    if ! virsh -q domstate "$name" >/dev/null 2>&1; then
        if [ ! -f "$image" ]; then
            boot_image "$image.raw"
            [ "$kind" != hung ] || truncate -s 0 "$image.raw"
            truncate -s 16M "$image.raw"
            qemu-img convert -f raw -O qcow2 "$image.raw" "$image"
            rm -f "$image.raw"
        fi
        xml=/var/lib/libvirt/images/$name.xml
        cat >"$xml" <<XML
<domain type='qemu'>
  <name>$name</name>
  <memory unit='MiB'>64</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type><boot dev='hd'/></os>
  <features><acpi/></features>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source file='$image'/>
      <target dev='vda' bus='virtio'/>
    </disk>
    <serial type='pty'/>
    <console type='pty'/>
    <memballoon model='none'/>
  </devices>
</domain>
XML
        virsh -q define "$xml" >/dev/null
    fi
    [ "$(virsh -q domstate "$name")" = running ] || virsh -q start "$name" >/dev/null
    echo "$(hostname): $name running"
}

# PIDs of every process in mount namespace $1.
members() {
    for proc in /proc/[0-9]*; do
        [ "$(readlink "$proc/ns/mnt" 2>/dev/null)" = "$1" ] && echo "${proc#/proc/}"
    done
    return 0
}

down() {
    dir=$1
    own=$(readlink /proc/self/ns/mnt)
    for h in "$dir"/h*; do
        [ -d "$h" ] || continue
        anchor=""
        if [ -f "$h/holder" ]; then
            read -r pid start <"$h/holder" || true
            if [ -n "${pid:-}" ] && [ "$(start_time "$pid")" = "${start:-x}" ]; then anchor=$pid; fi
        fi
        if [ -z "$anchor" ] && [ -f "$h/libvirtd.pid" ]; then
            pid=$(cat "$h/libvirtd.pid")
            if tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF "$h/libvirtd.pid"; then anchor=$pid; fi
        fi
        [ -n "$anchor" ] || continue
        ns=$(readlink "/proc/$anchor/ns/mnt" 2>/dev/null) || continue
        [ "$ns" != "$own" ] || die "$h: refusing to stop processes of the caller's own namespace"
        # Guests first, as an admin would; then whatever is left, TERM then KILL.
        nsenter -t "$anchor" -m -u virsh -q list --name 2>/dev/null | while read -r domain; do
            [ -n "$domain" ] && nsenter -t "$anchor" -m -u virsh -q destroy "$domain" >/dev/null 2>&1
        done || true
        pids=$(members "$ns")
        [ -z "$pids" ] || kill -TERM $pids 2>/dev/null || true
        tries=0
        while [ -n "$(members "$ns")" ] && [ "$tries" -lt 30 ]; do sleep 0.1; tries=$((tries + 1)); done
        pids=$(members "$ns")
        [ -z "$pids" ] || kill -KILL $pids 2>/dev/null || true
    done
}

command=${1:-}
[ $# -gt 0 ] && shift
case $command in
host) [ $# -eq 3 ] || die "usage: host DIR N PORT"; host "$@" ;;
guest) [ $# -eq 3 ] || [ $# -eq 4 ] || die "usage: guest DIR N NAME [hung|shared]"; guest "$@" ;;
down) [ $# -eq 1 ] || die "usage: down DIR"; down "$@" ;;
*) die "usage: kvm-lab.sh host|guest|down ..." ;;
esac
