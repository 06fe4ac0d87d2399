/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The library's version: these macros at compile time, rh_version() at run
 * time (the library actually loaded). CMakeLists.txt reads its project
 * version from here, so this file is the one place it is written.
 *
 * Compatibility: while MAJOR is 0, a MINOR release may change the ABI and
 * the soname is librafthttp.so.0.MINOR; from 1.0 on the soname is
 * librafthttp.so.MAJOR and MAJOR moves with any ABI break. Config structs
 * grow only at their end and carry a struct_size, so new fields do not
 * break programs built against an older header (rh_transport_config).
 */
#ifndef RAFTHTTP_VERSION_H
#define RAFTHTTP_VERSION_H

#include "rafthttp/api.h"

#ifdef __cplusplus
extern "C" {
#endif

#define RH_VERSION_MAJOR 0
#define RH_VERSION_MINOR 1
#define RH_VERSION_PATCH 0
#define RH_VERSION_STRING "0.1.0"
/* 0xMMmmpp: compare with >= */
#define RH_VERSION_NUMBER ((RH_VERSION_MAJOR << 16) | (RH_VERSION_MINOR << 8) | RH_VERSION_PATCH)

/* "MAJOR.MINOR.PATCH" of the library in use. */
RH_API const char *rh_version(void);
/* RH_VERSION_NUMBER of the library in use. */
RH_API int rh_version_number(void);

#ifdef __cplusplus
}
#endif
#endif
