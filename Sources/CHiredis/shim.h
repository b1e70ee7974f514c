#ifndef OMS_CHIREDIS_SHIM_H
#define OMS_CHIREDIS_SHIM_H
#include <hiredis.h>
#endif
