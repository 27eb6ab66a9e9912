# SPDX-License-Identifier: GPL-2.0
#
# Sourced by l1-run.sh in VM_MODE=bench (make bench), inside the L1 host
# VM, once the L2 guest is to get the vdmabuf device: loads vhost_vsock,
# gives the guest a vhost-vsock-pci device (guest CID 3) for the copy
# alternative and the floor, and starts importer_bench, which follows the
# vdmabuf device and listens on vsock.  Its progress lines go to L1's
# console, where the runner outside prints them as stages.  Uses
# l1-run.sh's check, not_ok, modprobe_k, start_importer and dev.

check "l1: modprobe vhost_vsock (bench: the copy alternative)" \
	modprobe_k vhost_vsock
if [ -c /dev/vhost-vsock ]; then
	dev+=(-device vhost-vsock-pci,guest-cid=3)
else
	not_ok "l1: /dev/vhost-vsock exists"
fi
[ -x "$BUILD/examples/importer_bench" ] &&
	start_importer importer_bench --progress /dev/console
