#!/bin/bash
# The official mariadb image's healthcheck.sh, for the tests' image: each
# --TEST given must pass (exit 0), else exit 1. Supported tests:
#   --connect              the server accepts a client connection on its socket
#   --innodb_initialized   InnoDB is loaded and initialised
# It logs in as the healthcheck user the entrypoint created
# (/var/lib/mysql/.my-healthcheck.cnf).
set -u
CNF=/var/lib/mysql/.my-healthcheck.cnf
client=(mariadb --defaults-extra-file="$CNF" --protocol=socket --skip-column-names --batch)
[ -r "$CNF" ] || { echo "healthcheck.sh: $CNF missing (not initialised yet)" >&2; exit 1; }
[ $# -gt 0 ] || set -- --connect
for arg in "$@"; do
    case "$arg" in
        --connect)
            "${client[@]}" -e 'SELECT 1' >/dev/null 2>&1 || { echo "healthcheck.sh: cannot connect" >&2; exit 1; } ;;
        --innodb_initialized)
            out="$("${client[@]}" -e "SELECT 1 FROM information_schema.ENGINES WHERE engine='innodb' AND support IN ('YES','DEFAULT','ENABLED')" 2>/dev/null)"
            [ "$out" = 1 ] || { echo "healthcheck.sh: InnoDB not initialised" >&2; exit 1; } ;;
        --su-mysql|--su=*|--defaults-file=*|--no-defaults|--datadir=*) ;;
        *) echo "healthcheck.sh: unknown test $arg" >&2; exit 1 ;;
    esac
done
exit 0
