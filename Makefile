# SPDX-License-Identifier: GPL-2.0
#
# vdmabuf: virtio/vhost dma-buf sharing.
#
#   make            build both modules against KDIR
#   make userspace  build libvdmabuf, the vdmabuf command, the examples and
#                   the test programs (into build/)
#   make vhost-user build the vhost-user back-end (build/vhost-user/), for
#                   hosts without vhost_vdmabuf; QEMU_SRC=/path/to/qemu
#                   for its libvhost-user (default: the test bed's tree)
#   make install    install libvdmabuf (library, headers, pkg-config file,
#                   man pages) and the vdmabuf command; PREFIX (/usr/local)
#                   and DESTDIR are honoured
#   make check      set up the test bed, lint, unit tests, VM tests
#   make demo       set up the test bed and run the guest-to-host demo
#   make demo-weston  the same with weston in the guest on the KMS driver
#   make demo-vhost-user  the demo on the vhost-user back-end (no host module)
#   make bench      set up the test bed and run the zero-copy vs copy benchmark
#   make fuzz       the host fuzzer alone in the L1 VM: FUZZ_REQUESTS (10
#                   million) requests from FUZZ_SEED (new each run, printed)
#   make debug-kernel  the test bed's debug kernel (KASAN, lockdep, kmemleak,
#                   ...) with both drivers built in its tree; VM_KERNEL=debug
#                   boots the VMs of scripts/testbed/vmcheck.sh on it
#   make check-debug  every VM test on the debug kernel, L1 and L2, with
#                   fault injection into both modules (make check runs the
#                   host side of it); one summary line
#   make check-guest-debug  the guest tests, the guest fuzzer and fault
#                   injection on the debug kernel, in one level of TCG on
#                   this machine (README, "The debug kernel")
#
# KDIR defaults to the Debian 6.12 headers the test bed unpacks into the
# cache; any configured kernel tree works:
#   make KDIR=/lib/modules/$(uname -r)/build
# The host module takes the kernel's private vhost.h from compat/vhost/
# (the kernel series this tree has a copy for), or from VHOST_SRC:
#   make KDIR=... VHOST_SRC=/path/to/linux/drivers/vhost
#
#   make dkms-install    install both modules with DKMS, rebuilt for later
#                        kernels of the series compat/vhost/ has (as root)
#   make dkms-uninstall  remove them

TOP		:= $(CURDIR)
VDMABUF_CACHE	?= $(HOME)/.cache/vdmabuf
export VDMABUF_CACHE
SETUP		:= $(TOP)/scripts/testbed/setup.sh
KVER		= $(shell cat $(VDMABUF_CACHE)/kernel/KVER 2>/dev/null)
KDIR		?= $(VDMABUF_CACHE)/kernel/root/usr/src/linux-headers-$(KVER)
KSRC		?= $(VDMABUF_CACHE)/kernel/src
# Empty: drivers/vhost/Kbuild picks the copy in compat/vhost/
VHOST_SRC	?=
BUILD		:= $(TOP)/build

MODULES		:= drivers/virtio/virtio_vdmabuf.ko drivers/vhost/vhost_vdmabuf.ko \
		   drivers/gpu/drm/vdmabuf/vdmabuf_drm.ko
# Module BTF needs pahole; without it, build the modules without BTF.
KBUILD_OPTS	:= $(if $(shell command -v pahole),,CONFIG_DEBUG_INFO_BTF_MODULES=)

.PHONY: all modules clean setup kernel qemu check lint unit selftests \
	vmcheck demo demo-weston demo-vhost-user bench fuzz lib tools examples userspace install uninstall \
	vhost-user \
	dkms-install dkms-uninstall debug-kernel check-debug check-guest-debug FORCE

all: modules

# The test bed's kernel, fetched once, only when no KDIR was given.
$(VDMABUF_CACHE)/kernel/KVER:
	bash $(SETUP) kernel

ifeq ($(origin KDIR),file)
modules: $(VDMABUF_CACHE)/kernel/KVER
endif
modules:
	$(MAKE) -C $(KDIR) M=$(TOP) $(if $(VHOST_SRC),VHOST_SRC=$(VHOST_SRC)) \
		$(KBUILD_OPTS) modules

setup:
	bash $(SETUP) all

kernel: $(VDMABUF_CACHE)/kernel/KVER

qemu:
	bash $(SETUP) qemu

# Built from the same linux-source-6.12 as the test bed's kernel, cached
# (~40 min cold on 2 cores, seconds warm); the modules land in
# build/debug-kernel/.
debug-kernel: $(VDMABUF_CACHE)/kernel/KVER
	bash scripts/testbed/debug-kernel.sh

# Userspace: the library first, everything else links with it.
PREFIX		?= /usr/local
USER_VARS	:= TOP=$(TOP) LIBOUT=$(BUILD)/lib PREFIX=$(PREFIX)

lib:
	$(MAKE) -C lib OUTPUT=$(BUILD)/lib $(USER_VARS)

tools: lib
	$(MAKE) -C tools OUTPUT=$(BUILD)/tools $(USER_VARS)

examples: lib
	$(MAKE) -C examples OUTPUT=$(BUILD)/examples $(USER_VARS)

# Static test programs: host_* run in the L1 host VM, guest_* and e2e_* in
# the L2 guest VM; unit_* run on this machine.  With them the guest tests'
# moving dma-buf exporter, a module built against KDIR.
selftests: lib $(VDMABUF_CACHE)/kernel/KVER
	$(MAKE) -C selftests/vdmabuf OUTPUT=$(BUILD)/selftests KSRC=$(KSRC) \
		KDIR=$(KDIR) KBUILD_OPTS="$(KBUILD_OPTS)" $(USER_VARS)

# The vhost-user back-end, on QEMU's libvhost-user (source only): built
# when QEMU_SRC has it, as the test bed's QEMU tree does.
QEMU_SRC	?= $(VDMABUF_CACHE)/qemu/src
vhost-user:
	$(MAKE) -C tools/vhost-user-vdmabuf OUTPUT=$(BUILD)/vhost-user \
		QEMU_SRC=$(QEMU_SRC) $(USER_VARS)

userspace: lib tools examples selftests \
	$(if $(wildcard $(QEMU_SRC)/subprojects/libvhost-user/libvhost-user.c),vhost-user)

# The installed command is the dynamic one: tools' install target builds
# only that (no static libc needed).
install: lib
	$(MAKE) -C lib OUTPUT=$(BUILD)/lib $(USER_VARS) install
	$(MAKE) -C tools OUTPUT=$(BUILD)/tools $(USER_VARS) install

uninstall:
	$(MAKE) -C lib OUTPUT=$(BUILD)/lib $(USER_VARS) uninstall
	$(MAKE) -C tools OUTPUT=$(BUILD)/tools $(USER_VARS) uninstall

# DKMS, as root: both modules for the running kernel and later ones of
# its series (scripts/dkms.sh)
dkms-install:
	bash scripts/dkms.sh install

dkms-uninstall:
	bash scripts/dkms.sh uninstall

lint: $(VDMABUF_CACHE)/kernel/KVER
	bash scripts/testbed/lint.sh

unit: selftests
	bash scripts/testbed/unit.sh

vmcheck: modules selftests
	bash scripts/testbed/vmcheck.sh

# Everything, in order, on a fresh Debian 12 machine; one summary line.
check:
	bash scripts/testbed/check.sh

demo:
	bash scripts/testbed/check.sh demo

# Every VM test on the debug kernel: scripts/testbed/check.sh debug.
check-debug:
	bash scripts/testbed/check.sh debug

# The guest tests, the guest fuzzer and fault injection into the guest
# module on the debug kernel, booted here with the vhost-user back-end
# making no host dma-bufs: scripts/testbed/guest-debug.sh.  The patched
# QEMU first (cached: seconds), then the userspace with the back-end,
# which builds against QEMU's libvhost-user.
check-guest-debug:
	bash $(SETUP) qemu
	$(MAKE) userspace
	bash scripts/testbed/guest-debug.sh

demo-weston:
	bash scripts/testbed/check.sh demo-weston

demo-vhost-user:
	VDMABUF_BACKEND=vhost-user bash scripts/testbed/check.sh demo

bench:
	bash scripts/testbed/check.sh bench

# The host fuzzer (selftests/vdmabuf/fuzz_host.c) for as long as asked, on
# the test bed make check set up: scripts/testbed/fuzz.sh.
fuzz: modules selftests
	bash scripts/testbed/fuzz.sh

clean:
	-$(MAKE) -C $(KDIR) M=$(TOP) clean 2>/dev/null
	-$(MAKE) -C $(KDIR) M=$(TOP)/selftests/vdmabuf/dmabuf_mover clean \
		2>/dev/null
	rm -rf $(BUILD)
