#!/usr/bin/env bash
# docker-entrypoint.sh for localhost/dbcompat/mysql:* images.
#
# Keeps the contract of the official mysql image:
#   env   MYSQL_ROOT_PASSWORD / MYSQL_ALLOW_EMPTY_PASSWORD /
#         MYSQL_RANDOM_ROOT_PASSWORD (one is required), MYSQL_ROOT_HOST
#         (default %), MYSQL_DATABASE, MYSQL_USER + MYSQL_PASSWORD,
#         MYSQL_INITDB_SKIP_TZINFO, and the *_FILE forms;
#   args  `IMAGE --sql-mode=...` runs `mysqld --sql-mode=...`; any other
#         command is exec'd as is;
#   init  /docker-entrypoint-initdb.d/*.sh|*.sql|*.sql.gz|*.sql.xz|*.sql.zst
#         run once, on first start.
#
# The image ships a data directory initialised at build time with
# `mysqld --initialize-insecure` (time zone tables loaded; marked by
# /var/lib/mysql/dbcompat-unconfigured), which saves the slowest part of a
# first start. The users and the database from the environment are created
# by an --init-file the server runs before it accepts connections. Options
# that must match the initialisation (lower_case_table_names,
# innodb_page_size) make the entrypoint discard that directory and initialise
# a new one with them, as the official image would.
set -Eeo pipefail

DATADIR=/var/lib/mysql
SOCKET=/var/run/mysqld/mysqld.sock
BAKED_MARKER=$DATADIR/dbcompat-unconfigured
INIT_FILE=/var/run/mysqld/dbcompat-init.sql

note() { printf '%s [Note] [Entrypoint]: %s\n' "$(date --rfc-3339=seconds)" "$*"; }
error() { printf '%s [ERROR] [Entrypoint]: %s\n' "$(date --rfc-3339=seconds)" "$*" >&2; exit 1; }

file_env() {
	local var=$1 file_var="${1}_FILE" def=${2:-} val
	if [ -n "${!var:-}" ] && [ -n "${!file_var:-}" ]; then
		error "Both $var and $file_var are set (but are exclusive)"
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
	file_env MYSQL_ROOT_HOST '%'
	file_env MYSQL_DATABASE
	file_env MYSQL_USER
	file_env MYSQL_PASSWORD
	file_env MYSQL_ROOT_PASSWORD
	: "${MYSQL_ALLOW_EMPTY_PASSWORD:=}" "${MYSQL_RANDOM_ROOT_PASSWORD:=}" "${MYSQL_INITDB_SKIP_TZINFO:=}"
}

verify_minimum_env() {
	if [ -z "$MYSQL_ROOT_PASSWORD" ] && [ -z "$MYSQL_ALLOW_EMPTY_PASSWORD" ] && [ -z "$MYSQL_RANDOM_ROOT_PASSWORD" ]; then
		error $'Database is uninitialized and password option is not specified\n    You need to specify one of the following as an environment variable:\n    - MYSQL_ROOT_PASSWORD\n    - MYSQL_ALLOW_EMPTY_PASSWORD\n    - MYSQL_RANDOM_ROOT_PASSWORD'
	fi
	if [ "$MYSQL_USER" = root ]; then
		error $'MYSQL_USER="root", MYSQL_USER and MYSQL_PASSWORD are for configuring a regular user and cannot be used for the root user\n    Remove MYSQL_USER="root" and use one of the following to control the root user password:\n    - MYSQL_ROOT_PASSWORD\n    - MYSQL_ALLOW_EMPTY_PASSWORD\n    - MYSQL_RANDOM_ROOT_PASSWORD'
	fi
	if [ -n "$MYSQL_USER" ] && [ -z "$MYSQL_PASSWORD" ]; then
		note "MYSQL_USER specified, but missing MYSQL_PASSWORD; MYSQL_USER will not be created"
	elif [ -z "$MYSQL_USER" ] && [ -n "$MYSQL_PASSWORD" ]; then
		note "MYSQL_PASSWORD specified, but missing MYSQL_USER; MYSQL_PASSWORD will be ignored"
	fi
}

have_init_scripts() {
	local f
	for f in /docker-entrypoint-initdb.d/*; do [ -e "$f" ] && return 0; done
	return 1
}

# Options fixed at initialisation time.
needs_own_initialize() {
	local a
	for a in "$@"; do
		case "$a" in
			--lower[-_]case[-_]table[-_]names=0) ;;
			--lower[-_]case[-_]table[-_]names*|--innodb[-_]page[-_]size*) return 0 ;;
		esac
	done
	return 1
}

sql_escape() {
	local s=${1//\\/\\\\}
	s=${s//$'\n'/\\n}
	printf '%s' "${s//\'/\\\'}"
}

setup_sql() {
	if [ -n "$MYSQL_RANDOM_ROOT_PASSWORD" ]; then
		MYSQL_ROOT_PASSWORD=$(head -c 24 /dev/urandom | base64)
		export MYSQL_ROOT_PASSWORD
		note "GENERATED ROOT PASSWORD: $MYSQL_ROOT_PASSWORD"
	fi
	local rootpw
	rootpw=$(sql_escape "$MYSQL_ROOT_PASSWORD")
	echo "SET autocommit = 1;"
	echo "SET @@SESSION.SQL_LOG_BIN=0;"
	echo "ALTER USER 'root'@'localhost' IDENTIFIED BY '$rootpw';"
	echo "GRANT ALL ON *.* TO 'root'@'localhost' WITH GRANT OPTION;"
	if [ -n "$MYSQL_ROOT_HOST" ] && [ "$MYSQL_ROOT_HOST" != localhost ]; then
		local host
		host=$(sql_escape "$MYSQL_ROOT_HOST")
		echo "CREATE USER IF NOT EXISTS 'root'@'$host' IDENTIFIED BY '$rootpw';"
		echo "GRANT ALL ON *.* TO 'root'@'$host' WITH GRANT OPTION;"
	fi
	echo "DROP DATABASE IF EXISTS test;"
	if [ -n "$MYSQL_DATABASE" ]; then
		echo "CREATE DATABASE IF NOT EXISTS \`${MYSQL_DATABASE//\`/\`\`}\`;"
	fi
	if [ -n "$MYSQL_USER" ] && [ -n "$MYSQL_PASSWORD" ]; then
		local user
		user=$(sql_escape "$MYSQL_USER")
		echo "CREATE USER IF NOT EXISTS '$user'@'%' IDENTIFIED BY '$(sql_escape "$MYSQL_PASSWORD")';"
		if [ -n "$MYSQL_DATABASE" ]; then
			local db=${MYSQL_DATABASE//\`/\`\`}
			echo "GRANT ALL ON \`${db//_/\\_}\`.* TO '$user'@'%';"
		fi
	fi
}

process_sql() { # process_sql [--dont-use-root-password] [mysql args...]
	local pass=$MYSQL_ROOT_PASSWORD
	if [ "${1:-}" = --dont-use-root-password ]; then pass=; shift; fi
	mysql --defaults-extra-file=<(printf '[client]\npassword="%s"\n' "$(sql_escape "$pass")") \
		--protocol=socket -uroot -hlocalhost --socket="$SOCKET" --comments "$@"
}

temp_server_start() {
	"$@" --skip-networking --default-time-zone=SYSTEM --socket="$SOCKET" &
	TEMP_PID=$!
	note "Waiting for server startup"
	for _ in $(seq 1 600); do
		if mysqladmin --protocol=socket -uroot --socket="$SOCKET" --connect-timeout=1 ping >/dev/null 2>&1; then
			return 0
		fi
		kill -0 "$TEMP_PID" 2>/dev/null || error "Unable to start server."
		sleep 0.2
	done
	error "Unable to start server."
}

temp_server_stop() {
	kill "$TEMP_PID"
	wait "$TEMP_PID" || :
}

process_init_files() {
	local f
	for f in /docker-entrypoint-initdb.d/*; do
		[ -e "$f" ] || continue
		case "$f" in
			*.sh)
				if [ -x "$f" ]; then note "$0: running $f"; "$f"
				else
					note "$0: sourcing $f"
					# shellcheck disable=SC1090
					. "$f"
				fi ;;
			*.sql)     note "$0: running $f"; process_sql ${MYSQL_DATABASE:+--database="$MYSQL_DATABASE"} < "$f" ;;
			*.sql.gz)  note "$0: running $f"; gunzip -c "$f" | process_sql ${MYSQL_DATABASE:+--database="$MYSQL_DATABASE"} ;;
			*.sql.xz)  note "$0: running $f"; xzcat "$f" | process_sql ${MYSQL_DATABASE:+--database="$MYSQL_DATABASE"} ;;
			*.sql.zst) note "$0: running $f"; zstd -dc "$f" | process_sql ${MYSQL_DATABASE:+--database="$MYSQL_DATABASE"} ;;
			*)         note "$0: ignoring $f" ;;
		esac
	done
}

main() {
	# `IMAGE --opt` means `mysqld --opt`.
	if [ "${1:0:1}" = '-' ]; then
		set -- mysqld "$@"
	fi
	case "$1" in
		mysqld|/usr/sbin/mysqld) ;;
		*) exec "$@" ;;
	esac
	local a
	for a in "$@"; do
		case "$a" in -'?'|--help|--print-defaults|-V|--version|--verbose) exec "$@" ;; esac
	done

	if [ "$(id -u)" = 0 ]; then
		mkdir -p "$DATADIR" /var/run/mysqld /var/lib/mysql-files
		find "$DATADIR" /var/run/mysqld /var/lib/mysql-files \! -user mysql -exec chown mysql:mysql '{}' +
		exec setpriv --reuid=mysql --regid=mysql --init-groups "${BASH_SOURCE[0]}" "$@"
	fi

	setup_env
	# Left over from the previous run of this container; nothing else uses them.
	rm -f "$INIT_FILE" "$SOCKET" "$SOCKET.lock" /var/run/mysqld/mysqlx.sock /var/run/mysqld/mysqlx.sock.lock

	if [ -e "$BAKED_MARKER" ] && needs_own_initialize "$@"; then
		note "Discarding the prebuilt data directory (initialisation options given)"
		find "$DATADIR" -mindepth 1 -delete
	fi

	if [ ! -d "$DATADIR/mysql" ]; then
		verify_minimum_env
		note "Initializing database files"
		"$@" --initialize-insecure --default-time-zone=SYSTEM
		note "Database files initialized"
		temp_server_start "$@"
		if [ -z "$MYSQL_INITDB_SKIP_TZINFO" ]; then
			mysql_tzinfo_to_sql /usr/share/zoneinfo \
				| sed 's/Local time zone must be set--see zic manual page/FCTY/' \
				| process_sql --dont-use-root-password --database=mysql
		fi
		setup_sql | process_sql --dont-use-root-password --database=mysql
		process_init_files
		temp_server_stop
		note "MySQL init process done. Ready for start up."
	elif [ -e "$BAKED_MARKER" ]; then
		verify_minimum_env
		if have_init_scripts; then
			temp_server_start "$@"
			setup_sql | process_sql --dont-use-root-password --database=mysql
			process_init_files
			temp_server_stop
		else
			# The server runs this before it accepts connections.
			(umask 077; setup_sql > "$INIT_FILE")
			set -- "$@" --init-file="$INIT_FILE"
		fi
		rm -f "$BAKED_MARKER"
		note "MySQL init process done. Ready for start up."
	fi

	exec "$@"
}

main "$@"
