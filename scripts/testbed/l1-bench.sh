# SPDX-License-Identifier: GPL-2.0
#
# Sourced by l1-run.sh in VM_MODE=bench (make bench), inside the L1 host
# VM, once the L2 guest is to get the vdmabuf device: loads vhost_vsock,
# gives the guest a vhost-vsock-pci device (guest CID 3) for the copy
# alternative and the floor and a second vdmabuf device with QEMU's
# display for the FRAME_DONE pacing comparison, and starts importer_bench,
# which follows both vdmabuf devices and listens on vsock.  Its progress
# lines go to L1's console, where the runner outside prints them as
# stages.  Uses l1-run.sh's check, not_ok, modprobe_k, start_importer and
# dev.

check "l1: modprobe vhost_vsock (bench: the copy alternative)" \
	modprobe_k vhost_vsock
if [ -c /dev/vhost-vsock ]; then
	dev+=(-device vhost-vsock-pci,guest-cid=3)
else
	not_ok "l1: /dev/vhost-vsock exists"
fi
# After the first vdmabuf device on the command line, so that it probes
# second: the guest's /dev/virtio-vdmabuf1 (bench_guest -p).  One output
# of the frames' size; QEMU's display imports every image for it and
# owes each frame, beside importer_bench.
DISP_SOCK=/run/vdmabuf-l2-disp.sock
rm -f "$DISP_SOCK"
dev+=(-device "vhost-vdmabuf-pci,importer-socket=$DISP_SOCK,display=on,xres=1920,yres=1080")
[ -x "$BUILD/examples/importer_bench" ] &&
	start_importer importer_bench --progress /dev/console \
		--display-socket "$DISP_SOCK"
