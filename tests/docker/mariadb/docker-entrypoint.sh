#!/bin/bash
# First-start initialisation as the official mariadb image does it, for
# Debian's mariadb-server: root password, database, user, a healthcheck user
# (for healthcheck.sh) and /docker-entrypoint-initdb.d/*.{sql,sql.gz,sh}.
# The temporary server used for this listens on no TCP port and on its own
# socket, so neither clients nor healthcheck.sh see it as ready.
set -euo pipefail

if [ "${1:0:1}" = '-' ]; then set -- mariadbd "$@"; fi
if [ "$1" != mariadbd ] && [ "$1" != mysqld ]; then exec "$@"; fi

env_or() { local v="${!1:-}"; [ -n "$v" ] || v="${!2:-}"; printf '%s' "$v"; }
ROOT_PASSWORD="$(env_or MARIADB_ROOT_PASSWORD MYSQL_ROOT_PASSWORD)"
DATABASE="$(env_or MARIADB_DATABASE MYSQL_DATABASE)"
USER_NAME="$(env_or MARIADB_USER MYSQL_USER)"
USER_PASSWORD="$(env_or MARIADB_PASSWORD MYSQL_PASSWORD)"
ALLOW_EMPTY="$(env_or MARIADB_ALLOW_EMPTY_ROOT_PASSWORD MYSQL_ALLOW_EMPTY_PASSWORD)"
ROOT_HOST="${MARIADB_ROOT_HOST:-%}"
DATADIR=/var/lib/mysql
INIT_SOCKET=/run/mysqld/init.sock

as_user=()
if [ "$(id -u)" = 0 ]; then
    mkdir -p "$DATADIR" /run/mysqld
    chown -R mysql:mysql "$DATADIR" /run/mysqld
    as_user=(--user=mysql)
fi

sql_escape() { printf '%s' "$1" | sed -e "s/\\\\/\\\\\\\\/g" -e "s/'/\\\\'/g"; }

if [ ! -d "$DATADIR/mysql" ]; then
    if [ -z "$ROOT_PASSWORD" ] && [ -z "$ALLOW_EMPTY" ]; then
        echo "error: database is uninitialized and MARIADB_ROOT_PASSWORD is not set; set it (or MARIADB_ALLOW_EMPTY_ROOT_PASSWORD=1)" >&2
        exit 1
    fi
    echo "entrypoint: initializing database in $DATADIR"
    mariadb-install-db "${as_user[@]}" --datadir="$DATADIR" --auth-root-authentication-method=normal \
        --skip-test-db --skip-name-resolve >/dev/null
    "$@" "${as_user[@]}" --skip-networking --socket="$INIT_SOCKET" &
    pid=$!
    for _ in $(seq 1 60); do
        mariadb --protocol=socket --socket="$INIT_SOCKET" -uroot -e 'SELECT 1' >/dev/null 2>&1 && break
        sleep 1
    done
    client=(mariadb --protocol=socket --socket="$INIT_SOCKET" -uroot)
    hc_password="$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"
    rp="$(sql_escape "$ROOT_PASSWORD")"
    {
        echo "DELETE FROM mysql.global_priv WHERE User='' OR (User='root' AND Host NOT IN ('localhost'));"
        echo "SET PASSWORD FOR 'root'@'localhost' = PASSWORD('$rp');"
        if [ "$ROOT_HOST" != localhost ]; then
            echo "CREATE USER 'root'@'$ROOT_HOST' IDENTIFIED BY '$rp';"
            echo "GRANT ALL ON *.* TO 'root'@'$ROOT_HOST' WITH GRANT OPTION;"
        fi
        echo "CREATE USER 'healthcheck'@'localhost' IDENTIFIED BY '$hc_password';"
        echo "GRANT USAGE ON *.* TO 'healthcheck'@'localhost';"
        if [ -n "$DATABASE" ]; then
            echo "CREATE DATABASE IF NOT EXISTS \`$DATABASE\`;"
        fi
        if [ -n "$USER_NAME" ]; then
            echo "CREATE USER '$USER_NAME'@'%' IDENTIFIED BY '$(sql_escape "$USER_PASSWORD")';"
            if [ -n "$DATABASE" ]; then
                echo "GRANT ALL ON \`$DATABASE\`.* TO '$USER_NAME'@'%';"
            fi
        fi
        echo "FLUSH PRIVILEGES;"
    } | "${client[@]}"
    printf '[mariadb-client]\nport=3306\nsocket=/run/mysqld/mysqld.sock\nuser=healthcheck\npassword=%s\n' "$hc_password" \
        >"$DATADIR/.my-healthcheck.cnf"
    [ "$(id -u)" = 0 ] && chown mysql:mysql "$DATADIR/.my-healthcheck.cnf"
    chmod 0600 "$DATADIR/.my-healthcheck.cnf"
    db_client=("${client[@]}" "-p$ROOT_PASSWORD")
    [ -n "$DATABASE" ] && db_client+=("$DATABASE")
    for f in /docker-entrypoint-initdb.d/*; do
        case "$f" in
            *.sh) echo "entrypoint: running $f"; . "$f" ;;
            *.sql) echo "entrypoint: running $f"; "${db_client[@]}" <"$f" ;;
            *.sql.gz) echo "entrypoint: running $f"; gunzip -c "$f" | "${db_client[@]}" ;;
            *) ;;
        esac
    done
    kill "$pid"
    wait "$pid" || true
    echo "entrypoint: initialization done"
fi

exec "$@" "${as_user[@]}"
