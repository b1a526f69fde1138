#!/usr/bin/env bash
# Runs a command inside User-Mode Linux (DESIGN §9) when the host kernel lacks
# features a test needs (ipip, ESP, ...).  The UML kernel boots with the host's
# root filesystem (hostfs), so every binary and script of the build is there.
#
#   uml_run WORKDIR CMD [ARGS...]
#
# WORKDIR must be on the host filesystem outside /tmp and /run (those are
# tmpfs inside the guest).  CMD's stdout/stderr go to our stdout; its exit
# status is written to WORKDIR/uml.rc and returned (UML's own exit status says
# nothing about the command).

UML_KVER=${UML_KVER:-6.1.176}
UML_MODDIR=${UML_MODDIR:-/usr/lib/uml/modules/$UML_KVER}
UML_MEM=${UML_MEM:-1G}
UML_TIMEOUT=${UML_TIMEOUT:-900}
# Modules our tests need (DESIGN §9); loaded at boot, the rest on demand.
UML_MODULES=${UML_MODULES:-"veth bridge ipip tunnel4 ip_tunnel xfrm_user xfrm4_tunnel esp4 ah4 \
 cbc hmac sha256_generic sha1_generic md5 authenc gcm seqiv echainiv aes_generic \
 ip_tables iptable_mangle iptable_filter x_tables xt_DSCP xt_set ip_set ip_set_hash_netnet \
 nf_nat iptable_nat xt_REDIRECT af_packet tun"}

uml_available() {
    command -v linux.uml >/dev/null 2>&1 && [ -d "$UML_MODDIR" ]
}

uml_run() {
    local work=$1; shift
    work=$(readlink -f "$work")
    case "$work" in /tmp/*|/run/*) echo "uml_run: $work is tmpfs inside UML" >&2; return 2;; esac
    mkdir -p "$work/mods/lib/modules"
    ln -sfn "$UML_MODDIR" "$work/mods/lib/modules/$UML_KVER"
    cat >"$work/modprobe.sh" <<MP
#!/bin/sh
exec /usr/sbin/modprobe -d $work/mods -S $UML_KVER "\$@"
MP
    chmod +x "$work/modprobe.sh"
    local q; q=$(printf ' %q' "$@")
    cat >"$work/init.sh" <<INIT
#!/bin/bash
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root LANG=C.UTF-8 UML_GUEST=1
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /run
mkdir -p /run/netns /dev/net /dev/shm
mount -t tmpfs tmpfs /dev/shm
[ -e /dev/net/tun ] || mknod /dev/net/tun c 10 200
# bash process substitution needs /dev/fd, which devtmpfs does not provide.
[ -e /dev/fd ] || ln -s /proc/self/fd /dev/fd
echo $work/modprobe.sh > /proc/sys/kernel/modprobe
for m in $UML_MODULES; do $work/modprobe.sh \$m 2>/dev/null; done
ip link set lo up
echo "@@uml-guest-start@@"
cd $(printf %q "$PWD")
$q
echo \$? > $work/uml.rc
sync
poweroff -f
INIT
    chmod +x "$work/init.sh"
    rm -f "$work/uml.rc"
    timeout "$UML_TIMEOUT" linux.uml mem="$UML_MEM" quiet loglevel=1 rootfstype=hostfs rootflags=/ rw \
        init="$work/init.sh" con=null con0=null,fd:1 </dev/null >"$work/console.log" 2>&1
    # The guest's console carries the command's output after the kernel's boot log.
    tr -d '\r' <"$work/console.log" | sed -n '/^@@uml-guest-start@@/,$p' | sed '1d' \
        | grep -v -E '^(Powering off\.|reboot: System halted)$'
    if [ -f "$work/uml.rc" ]; then
        return "$(cat "$work/uml.rc")"
    fi
    echo "uml_run: no result from the guest (see $work/console.log)" >&2
    return 125
}

# True if the running kernel can create an IP-in-IP link.
host_has_ipip() {
    local n=mipprobe$$
    if ip link add "$n" type ipip remote 192.0.2.1 local 192.0.2.2 2>/dev/null; then
        ip link del "$n"; return 0
    fi
    return 1
}
