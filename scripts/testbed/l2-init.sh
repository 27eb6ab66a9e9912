#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# /init of the L2 guest VM's initramfs (everything is inside it): load the
# modules, run the guest and end-to-end test programs, write TAP to ttyS1
# (a file in L1), power off.

/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mkdir -p /dev/shm && mount -t tmpfs tmpfs /dev/shm
mount -t tmpfs tmpfs /tmp
export PATH=/bin:/tests HOME=/tmp

R=/dev/ttyS1
n=0
ok()     { n=$((n + 1)); echo "ok $n - $*" > $R; echo "ok - $*"; }
not_ok() { n=$((n + 1)); echo "not ok $n - $*" > $R; echo "not ok - $*"; }
check()  { name=$1; shift; if "$@"; then ok "$name"; else not_ok "$name"; fi; }
stage()  { echo "VDMABUF-STAGE: $*"; }

. /lib/vdmabuf/env
stage "l2: reached init"
echo "# l2.tap" > $R
ok "l2: booted the guest kernel under the patched QEMU to init"

stage "l2: loading modules"
for m in $(cat /lib/vdmabuf/modules.load); do
	check "l2: insmod $m" insmod "/lib/vdmabuf/mod/$m"
done

devs=$(grep -l '^0x0025$' /sys/bus/virtio/devices/*/device 2>/dev/null)
if [ "$EXPECT_DEVICE" = 1 ]; then
	check "l2: a virtio device with ID 37 (dma-buf) is present" [ -n "$devs" ]
fi
if [ -f /lib/vdmabuf/virtio_vdmabuf.ko ]; then
	check "l2: insmod virtio_vdmabuf.ko" insmod /lib/vdmabuf/virtio_vdmabuf.ko
	if [ "$EXPECT_DEVICE" = 1 ]; then
		for d in $devs; do
			d=${d%/device}
			check "l2: virtio_vdmabuf bound to $(basename "$d")" \
				[ "$(basename "$(readlink "$d/driver")")" = virtio_vdmabuf ]
		done
		check "l2: /dev/virtio-vdmabuf exists" [ -c /dev/virtio-vdmabuf ]
	fi
fi

tests="/tests/guest_* /tests/e2e_*"
[ "$VM_MODE" = demo ] && tests=/tests/demo_producer
for t in $tests; do
	[ -x "$t" ] || continue
	name=$(basename "$t")
	stage "l2: $name"
	echo "# program: $name" > $R
	timeout "$TEST_TIMEOUT" "$t" > /tmp/out.tap 2>&1
	rc=$?
	cat /tmp/out.tap
	cat /tmp/out.tap > $R
	echo "# exit: $name $rc" > $R
done

if [ -f /lib/vdmabuf/virtio_vdmabuf.ko ]; then
	stage "l2: unloading"
	check "l2: rmmod virtio_vdmabuf" rmmod virtio_vdmabuf
fi
if dmesg | grep -E -q 'BUG:|WARNING:|Oops|Call Trace|general protection'; then
	dmesg | grep -E -A20 'BUG:|WARNING:|Oops|Call Trace' | head -60
	not_ok "l2: kernel log has no BUG, WARNING or Oops"
else
	ok "l2: kernel log has no BUG, WARNING or Oops"
fi
echo "1..$n" > $R
echo "# l2: done" > $R
stage "l2: done"
sync
echo o > /proc/sysrq-trigger
sleep 10
