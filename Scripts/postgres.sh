#!/usr/bin/env bash
# A throwaway PostgreSQL cluster on a loopback port, for the tests and for
# trying the multi-node server on one machine. Nothing here is for
# production: authentication is "trust" on 127.0.0.1 only.
#
#   Scripts/postgres.sh start   installs PostgreSQL from Debian if missing,
#                               creates the cluster once, starts it, and
#                               prints its URL (postgres://scuttleboard@127.0.0.1:PORT/scuttleboard)
#   Scripts/postgres.sh stop    stops it
#   Scripts/postgres.sh url     prints the URL
#   Scripts/postgres.sh destroy stops it and deletes its files
#
# Settings: SCUTTLEBOARD_PG_PORT (55432), SCUTTLEBOARD_PG_DIR
# (/tmp/scuttleboard-postgres). As root, the cluster runs as the
# unprivileged "postgres" user (PostgreSQL refuses to run as root).
set -euo pipefail

port="${SCUTTLEBOARD_PG_PORT:-55432}"
dir="${SCUTTLEBOARD_PG_DIR:-/tmp/scuttleboard-postgres}"
url="postgres://scuttleboard@127.0.0.1:$port/scuttleboard"

bin_dir() {
    local found
    found=$(ls -d /usr/lib/postgresql/*/bin 2> /dev/null | sort -V | tail -1 || true)
    [ -n "$found" ] && [ -x "$found/initdb" ] && { echo "$found"; return; }
    command -v initdb > /dev/null && { dirname "$(command -v initdb)"; return; }
    return 1
}

install_postgres() {
    bin_dir > /dev/null && return
    echo "postgres.sh: installing PostgreSQL from Debian's packages" >&2
    local sudo=""
    [ "$(id -u)" = 0 ] || sudo="sudo"
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postgresql > /dev/null ||
        { $sudo apt-get update > /dev/null &&
            $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postgresql > /dev/null; }
    bin_dir > /dev/null || { echo "postgres.sh: PostgreSQL did not install" >&2; exit 1; }
}

# Runs a command as the cluster's owner.
as_owner() {
    if [ "$(id -u)" = 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

start() {
    install_postgres
    local bin
    bin=$(bin_dir)
    if [ ! -f "$dir/PG_VERSION" ]; then
        mkdir -p "$dir"
        [ "$(id -u)" = 0 ] && chown postgres: "$dir"
        as_owner "$bin/initdb" -D "$dir" -U postgres --auth=trust --encoding=UTF8 --locale=C > "$dir.initdb.log" 2>&1 ||
            { cat "$dir.initdb.log" >&2; exit 1; }
        cat >> "$dir/postgresql.conf" << CONF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$dir'
max_connections = 200
shared_buffers = 256MB
fsync = on
synchronous_commit = on
CONF
    fi
    if ! as_owner "$bin/pg_ctl" -D "$dir" status > /dev/null 2>&1; then
        as_owner "$bin/pg_ctl" -D "$dir" -l "$dir/server.log" -w -t 30 start > /dev/null ||
            { tail -20 "$dir/server.log" >&2; exit 1; }
    fi
    local psql="$bin/psql"
    [ -x "$psql" ] || psql=psql
    if [ "$("$psql" -h 127.0.0.1 -p "$port" -U postgres -tAc "SELECT 1 FROM pg_roles WHERE rolname = 'scuttleboard'")" != 1 ]; then
        "$psql" -q -h 127.0.0.1 -p "$port" -U postgres -c "CREATE ROLE scuttleboard LOGIN CREATEDB"
        "$psql" -q -h 127.0.0.1 -p "$port" -U postgres -c "CREATE DATABASE scuttleboard OWNER scuttleboard"
    fi
    echo "$url"
}

stop() {
    local bin
    bin=$(bin_dir) || return 0
    [ -f "$dir/PG_VERSION" ] || return 0
    as_owner "$bin/pg_ctl" -D "$dir" -m fast -w stop > /dev/null 2>&1 || true
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    url) echo "$url" ;;
    destroy) stop; rm -rf "$dir" "$dir.initdb.log" ;;
    *) echo "usage: Scripts/postgres.sh start|stop|url|destroy" >&2; exit 64 ;;
esac
