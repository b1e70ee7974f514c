#ifndef OMS_CMYSQLCLIENT_SHIM_H
#define OMS_CMYSQLCLIENT_SHIM_H
// Oracle's libmysqlclient and MariaDB Connector/C both install <mysql.h>; pkg-config
// `mysqlclient` points the include path at whichever one is present.
#include <mysql.h>
#include <errmsg.h>
#endif
