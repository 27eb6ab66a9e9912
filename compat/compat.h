/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Out-of-tree compatibility: the only place that knows about kernel
 * versions.  The driver sources are written against mainline; this header
 * is force-included by the top-level Kbuild when building out of tree.
 */
#ifndef _VDMABUF_COMPAT_H
#define _VDMABUF_COMPAT_H

#include <linux/version.h>
#include <linux/module.h>

/*
 * Linux 6.13 (commit cdd30ebb1b9f, "module: Convert symbol namespace to
 * string literal") made the namespace argument a string literal.
 */
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 13, 0)
#undef MODULE_IMPORT_NS
#define MODULE_IMPORT_NS(ns)	MODULE_INFO(import_ns, ns)
#endif

#endif /* _VDMABUF_COMPAT_H */
