#!/usr/bin/env bash
# docker-entrypoint.sh for localhost/dbcompat/postgres:* images.
#
# Keeps the contract of the official postgres image:
#   env   POSTGRES_PASSWORD, POSTGRES_USER (postgres), POSTGRES_DB (= user),
#         POSTGRES_INITDB_ARGS, POSTGRES_INITDB_WALDIR, POSTGRES_HOST_AUTH_METHOD,
#         and the *_FILE variants of the first four;
#   args  `IMAGE -c fsync=off` runs `postgres -c fsync=off`; any other command
#         is exec'd as is;
#   init  /docker-entrypoint-initdb.d/*.sh|*.sql|*.sql.gz|*.sql.xz|*.sql.zst
#         run once, on first start.
#
# The image ships a data directory initialised at build time for the default
# superuser "postgres" (marked by $PGDATA/dbcompat-unconfigured). On the first
# start the password, database and host auth line are applied to it in
# single-user mode, which takes a fraction of a second. When the request
# cannot be met by that directory (another POSTGRES_USER, initdb arguments,
# a WAL dir) it is discarded and initdb runs as in the official image.
set -Eeo pipefail

BAKED_MARKER=dbcompat-unconfigured
SOCKET_DIR=/var/run/postgresql

# file_env VAR [DEFAULT]: take VAR from VAR or from the file named by VAR_FILE.
file_env() {
	local var=$1 file_var="${1}_FILE" def=${2:-} val
	if [ -n "${!var:-}" ] && [ -n "${!file_var:-}" ]; then
		echo >&2 "error: both $var and $file_var are set (but are exclusive)"
		exit 1
	fi
	val=$def
	if [ -n "${!var:-}" ]; then
		val=${!var}
	elif [ -n "${!file_var:-}" ]; then
		val=$(< "${!file_var}")
	fi
	export "$var"="$val"
	unset "$file_var"
}

setup_env() {
	file_env POSTGRES_PASSWORD
	file_env POSTGRES_USER postgres
	file_env POSTGRES_DB "$POSTGRES_USER"
	file_env POSTGRES_INITDB_ARGS
	: "${POSTGRES_HOST_AUTH_METHOD:=}"
	: "${POSTGRES_INITDB_WALDIR:=}"
	export PGPORT=${PGPORT:-5432}
}

have_init_scripts() {
	local f
	for f in /docker-entrypoint-initdb.d/*; do
		[ -e "$f" ] && return 0
	done
	return 1
}

verify_minimum_env() {
	if [ -z "$POSTGRES_PASSWORD" ] && [ "$POSTGRES_HOST_AUTH_METHOD" != trust ]; then
		cat >&2 <<-'EOE'
			Error: Database is uninitialized and superuser password is not specified.
			       You must specify POSTGRES_PASSWORD to a non-empty value for the
			       superuser. For example, "-e POSTGRES_PASSWORD=password" on "docker run".

			       You may also use "POSTGRES_HOST_AUTH_METHOD=trust" to allow all
			       connections without a password. This is *not* recommended.
		EOE
		exit 1
	fi
}

# Same default as the official image: whatever password_encryption says
# (scram-sha-256 on every version built here), with the server args applied.
pg_setup_hba_conf() {
	if [ "$1" = postgres ]; then
		shift
	fi
	if [ -z "$POSTGRES_HOST_AUTH_METHOD" ]; then
		POSTGRES_HOST_AUTH_METHOD=$(postgres -C password_encryption "$@")
	fi
	{
		printf '\n'
		if [ "$POSTGRES_HOST_AUTH_METHOD" = trust ]; then
			printf '# warning trust is enabled for all connections\n'
		fi
		printf 'host all all all %s\n' "$POSTGRES_HOST_AUTH_METHOD"
	} >> "$PGDATA/pg_hba.conf"
}

init_database_dir() {
	local waldir=()
	if [ -n "$POSTGRES_INITDB_WALDIR" ]; then
		waldir=(--waldir="$POSTGRES_INITDB_WALDIR")
	fi
	# POSTGRES_INITDB_ARGS is word-split on purpose, like the official image.
	# The password travels through a pipe, never through the command line.
	eval 'initdb --username="$POSTGRES_USER" --pwfile=<(printf "%s\n" "$POSTGRES_PASSWORD") "${waldir[@]}" '"$POSTGRES_INITDB_ARGS"
}

# initdb writes the compiled-in socket directory into postgresql.conf; the
# packaged binaries use /var/run/postgresql, upstream builds /tmp.
ensure_socket_dir() {
	if [ "$(postgres -C unix_socket_directories)" != "$SOCKET_DIR" ]; then
		printf "unix_socket_directories = '%s'\n" "$SOCKET_DIR" >> "$PGDATA/postgresql.conf"
	fi
}

temp_server_start() {
	shift # "postgres"
	set -- "$@" -c listen_addresses='' -p "$PGPORT"
	PGUSER=${PGUSER:-$POSTGRES_USER} pg_ctl -D "$PGDATA" -o "$(printf '%q ' "$@")" -w start
}

temp_server_stop() {
	PGUSER=${PGUSER:-postgres} pg_ctl -D "$PGDATA" -m fast -w stop
}

process_sql() {
	local query_runner=(psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --no-password --no-psqlrc --host "$SOCKET_DIR")
	if [ -n "$POSTGRES_DB" ]; then
		query_runner+=(--dbname "$POSTGRES_DB")
	fi
	PGHOST= PGHOSTADDR= "${query_runner[@]}" "$@"
}

setup_db_via_psql() {
	local exists
	exists=$(POSTGRES_DB= process_sql --dbname postgres --set db="$POSTGRES_DB" --tuples-only <<-'EOSQL'
		SELECT 1 FROM pg_database WHERE datname = :'db' ;
	EOSQL
	)
	if [ -z "$exists" ]; then
		POSTGRES_DB= process_sql --dbname postgres --set db="$POSTGRES_DB" <<-'EOSQL'
			CREATE DATABASE :"db" ;
		EOSQL
		printf '\n'
	fi
}

process_init_files() {
	local f
	printf '\n'
	for f in /docker-entrypoint-initdb.d/*; do
		[ -e "$f" ] || continue
		case "$f" in
			*.sh)
				if [ -x "$f" ]; then
					printf '%s: running %s\n' "$0" "$f"
					"$f"
				else
					printf '%s: sourcing %s\n' "$0" "$f"
					# shellcheck disable=SC1090
					. "$f"
				fi
				;;
			*.sql)     printf '%s: running %s\n' "$0" "$f"; process_sql -f "$f"; printf '\n' ;;
			*.sql.gz)  printf '%s: running %s\n' "$0" "$f"; gunzip -c "$f" | process_sql; printf '\n' ;;
			*.sql.xz)  printf '%s: running %s\n' "$0" "$f"; xzcat "$f" | process_sql; printf '\n' ;;
			*.sql.zst) printf '%s: running %s\n' "$0" "$f"; zstd -dc "$f" | process_sql; printf '\n' ;;
			*)         printf '%s: ignoring %s\n' "$0" "$f" ;;
		esac
	done
}

sql_literal() { local s=${1//\'/\'\'}; printf "'%s'" "$s"; }
sql_ident() { local s=${1//\"/\"\"}; printf '"%s"' "$s"; }

# Apply POSTGRES_PASSWORD / POSTGRES_DB to the baked cluster in single-user
# mode: no server start/stop cycle, so the first start stays fast.
configure_baked_cluster() {
	local sql='' out
	if [ -n "$POSTGRES_PASSWORD" ]; then
		sql+="ALTER ROLE postgres WITH PASSWORD $(sql_literal "$POSTGRES_PASSWORD");"$'\n\n'
	fi
	if [ "$POSTGRES_DB" != postgres ]; then
		sql+="CREATE DATABASE $(sql_ident "$POSTGRES_DB");"$'\n\n'
	fi
	[ -n "$sql" ] || return 0
	# -j: a statement ends at ";" followed by an empty line, so values may contain newlines.
	# fsync=off: CREATE DATABASE and the shutdown checkpoint would otherwise wait
	# for the host's disk (seconds on a busy machine); the files reach the disk
	# with the page cache, and a container does not outlive a host crash.
	if ! out=$(printf '%s' "$sql" | postgres --single -j -D "$PGDATA" \
			-c listen_addresses='' -c exit_on_error=on -c fsync=off postgres 2>&1 >/dev/null); then
		printf '%s\n' "$out" >&2
		echo >&2 "error: could not apply POSTGRES_PASSWORD/POSTGRES_DB to the data directory"
		exit 1
	fi
}

# Print the official readiness line on stdout once the server accepts
# connections. The official image prints it on stdout during its init-time
# server run and on stderr from the real server; waiters on either stream
# (testcontainers' Postgres module waits for both) then see it.
# This helper ends up a child of the server (PID 1). It then sleeps until the
# container stops instead of exiting, because PostgreSQL 18 logs the exit of
# a child it did not start ("untracked child process").
announce_ready() {
	(
		trap '' INT TERM HUP
		exec </dev/null
		for _ in $(seq 1 6000); do
			if pg_isready -q -h "$SOCKET_DIR" -p "$PGPORT" >/dev/null 2>&1; then
				printf '%s [entrypoint] LOG:  database system is ready to accept connections\n' \
					"$(date -u '+%Y-%m-%d %H:%M:%S.%3N UTC')"
				exec sleep infinity
			fi
			sleep 0.1
		done
		exit 0
	) &
}

# The baked data directory lives in the image's layer. Overlayfs copies such a file
# into the container's own layer at its first open for writing; on a loaded machine
# such an open in a backend failed a probe's statement with `could not open file
# "base/5/2610_vm": Interrupted system call`. Opening every file for writing once now,
# before any server runs, does all the copying here (contents unchanged; a restart of
# the container finds them in its own layer already).
copy_up_data_dir() {
	find "$PGDATA" -type f -exec sh -c 'for f; do : >> "$f"; done' _ {} +
}

main() {
	# `IMAGE -c x=y` or `IMAGE --x=y` means `postgres -c x=y`.
	if [ "${1:0:1}" = '-' ]; then
		set -- postgres "$@"
	fi
	if [ "$1" != postgres ]; then
		exec "$@"
	fi

	: "${PGDATA:?PGDATA must be set}"
	if [ "$(id -u)" = 0 ]; then
		mkdir -p "$PGDATA" "$SOCKET_DIR"
		chown postgres:postgres "$SOCKET_DIR"
		chmod 3777 "$SOCKET_DIR"
		find "$PGDATA" \! -user postgres -exec chown postgres:postgres '{}' +
		chmod 00700 "$PGDATA" || :
		if [ -n "${POSTGRES_INITDB_WALDIR:-}" ]; then
			mkdir -p "$POSTGRES_INITDB_WALDIR"
			find "$POSTGRES_INITDB_WALDIR" \! -user postgres -exec chown postgres:postgres '{}' +
			chmod 700 "$POSTGRES_INITDB_WALDIR"
		fi
		# Drop to the postgres user and run this script again.
		exec setpriv --reuid=postgres --regid=postgres --init-groups "${BASH_SOURCE[0]}" "$@"
	fi

	setup_env

	if [ -e "$PGDATA/$BAKED_MARKER" ] && { [ "$POSTGRES_USER" != postgres ] \
			|| [ -n "$POSTGRES_INITDB_ARGS" ] || [ -n "$POSTGRES_INITDB_WALDIR" ]; }; then
		echo "$0: discarding the prebuilt data directory (custom POSTGRES_USER/INITDB_ARGS/INITDB_WALDIR)"
		find "$PGDATA" -mindepth 1 -delete
	fi

	if [ ! -s "$PGDATA/PG_VERSION" ]; then
		# Empty data directory: exactly the official first-start sequence.
		verify_minimum_env
		init_database_dir
		ensure_socket_dir
		pg_setup_hba_conf "$@"
		export PGPASSWORD=${PGPASSWORD:-$POSTGRES_PASSWORD}
		temp_server_start "$@"
		setup_db_via_psql
		process_init_files
		temp_server_stop
		unset PGPASSWORD
		printf '\nPostgreSQL init process complete; ready for start up.\n\n'
	elif [ -e "$PGDATA/$BAKED_MARKER" ]; then
		verify_minimum_env
		copy_up_data_dir
		configure_baked_cluster
		pg_setup_hba_conf "$@"
		if have_init_scripts; then
			export PGPASSWORD=${PGPASSWORD:-$POSTGRES_PASSWORD}
			temp_server_start "$@"
			process_init_files
			temp_server_stop
			unset PGPASSWORD
		fi
		rm -f "$PGDATA/$BAKED_MARKER"
		printf '\nPostgreSQL init process complete; ready for start up.\n\n'
	else
		printf '\nPostgreSQL Database directory appears to contain a database; Skipping initialization\n\n'
	fi

	announce_ready
	exec "$@"
}

main "$@"
