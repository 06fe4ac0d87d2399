/* SPDX-License-Identifier: Apache-2.0 */
/* rh_version (version.h). */
#include "rafthttp/version.h"

const char *rh_version(void)
{
    return RH_VERSION_STRING;
}

int rh_version_number(void)
{
    return RH_VERSION_NUMBER;
}
