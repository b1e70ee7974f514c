#!/bin/sh
# First-start initialisation of the MySQL container: one schema and one user per service,
# each with rights on its own schema only (the same shape tools/oms-env.sh gives MariaDB).
set -eu
for s in checkout inventory orders payments shipments; do
    var="OMS_$(echo "$s" | tr a-z A-Z)_DB_PASSWORD"
    eval "pw=\${$var:-}"
    [ -n "$pw" ] || { echo "missing $var" >&2; exit 1; }
    mysql -uroot -p"$MYSQL_ROOT_PASSWORD" <<SQL
CREATE DATABASE IF NOT EXISTS oms_$s CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
CREATE USER IF NOT EXISTS 'oms_$s'@'%' IDENTIFIED BY '$pw';
GRANT ALL PRIVILEGES ON \`oms\\_$s%\`.* TO 'oms_$s'@'%';
SQL
done
