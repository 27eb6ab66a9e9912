#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# /init of the L1 host VM's initramfs: mount this machine's / read-only over
# 9p, tmpfs where writes go, then the project checkout (read-write: results
# go to its build/) and the cache (read-only) at their host paths, which
# may lie under a tmpfs (a clone in /tmp), and run l1-run.sh from the
# checkout inside that root.

/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
# What udev makes on a real system; bash's <(...) needs /dev/fd (dkms).
ln -sf /proc/self/fd /dev/fd
ln -sf /proc/self/fd/0 /dev/stdin
ln -sf /proc/self/fd/1 /dev/stdout
ln -sf /proc/self/fd/2 /dev/stderr

fail() {
	echo "VDMABUF-FATAL: l1-init: $*"
	echo o > /proc/sysrq-trigger
	sleep 10
}

echo "VDMABUF-STAGE: l1-init"
for m in $(cat /lib/vdmabuf/modules.load); do
	insmod "/lib/vdmabuf/mod/$m" || fail "insmod $m"
done

. /lib/vdmabuf/env
opts=trans=virtio,version=9p2000.L,msize=512000
mkdir -p /newroot
mount -t 9p -o "$opts,ro,cache=loose" hostroot /newroot || fail "mount 9p root"
for d in tmp run var/tmp var/lib/dhcp; do
	[ -d "/newroot/$d" ] && mount -t tmpfs -o mode=1777 tmpfs "/newroot/$d"
done
mkdir -p "/newroot$TOP" "/newroot$CACHE" 2>/dev/null
mount -t 9p -o "$opts" top "/newroot$TOP" || fail "mount 9p checkout $TOP"
mount -t 9p -o "$opts,ro,cache=loose" cache "/newroot$CACHE" ||
	fail "mount 9p cache $CACHE"
cp /lib/vdmabuf/env /newroot/run/vdmabuf.env
for d in dev proc sys; do
	mount --move "/$d" "/newroot/$d" || fail "move /$d"
done
exec chroot /newroot /bin/bash "$TOP/scripts/testbed/l1-run.sh"
