#!/usr/bin/env bash
# docker-entrypoint.sh for localhost/dbcompat/mariadb:* images.
#
# Keeps the contract of the official mariadb image:
#   env   MARIADB_ROOT_PASSWORD / MARIADB_ROOT_PASSWORD_HASH /
#         MARIADB_ALLOW_EMPTY_ROOT_PASSWORD / MARIADB_RANDOM_ROOT_PASSWORD (one is
#         required), MARIADB_ROOT_HOST (default %), MARIADB_DATABASE,
#         MARIADB_USER + MARIADB_PASSWORD (or MARIADB_PASSWORD_HASH); each also as
#         MYSQL_* and as *_FILE, like the official image;
#   args  `IMAGE --sql-mode=...` runs `mariadbd --sql-mode=...`; any other
#         command is exec'd as is;
#   init  /docker-entrypoint-initdb.d/*.sh|*.sql|*.sql.gz|*.sql.xz|*.sql.zst
#         run once, on first start.
#
# The image ships a data directory initialised at build time (time zone tables
# loaded, root@localhost without password; marked by
# /var/lib/mysql/dbcompat-unconfigured). On the first start the users and the
# database are created by an --init-file that the server runs before it
# accepts connections, so no temporary server is started. An empty data
# directory (e.g. a fresh volume) is initialised as in the official image.
set -Eeo pipefail

DATADIR=/var/lib/mysql
SOCKET=/run/mysqld/mysqld.sock
BAKED_MARKER=$DATADIR/dbcompat-unconfigured
INIT_FILE=/run/mysqld/dbcompat-init.sql

note() { printf '%s [Note] [Entrypoint]: %s\n' "$(date --rfc-3339=seconds)" "$*"; }
error() { printf '%s [ERROR] [Entrypoint]: %s\n' "$(date --rfc-3339=seconds)" "$*" >&2; exit 1; }

# file_env VAR [DEFAULT]: VAR or the contents of the file named by VAR_FILE.
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

# MARIADB_X falls back to MYSQL_X (and their _FILE forms), as upstream does.
mariadb_file_env() {
	local x=$1 def=${2:-}
	local m="MARIADB_$x" mf="MARIADB_${x}_FILE" y="MYSQL_$x" yf="MYSQL_${x}_FILE"
	if [ -z "${!m:-}" ] && [ -z "${!mf:-}" ]; then
		if [ -n "${!y:-}" ]; then
			export "$m"="${!y}"
		elif [ -n "${!yf:-}" ]; then
			export "$mf"="${!yf}"
		fi
	fi
	file_env "$m" "$def"
	export "$y"="${!m}"
	unset "$yf"
}

setup_env() {
	mariadb_file_env ROOT_HOST '%'
	mariadb_file_env DATABASE
	mariadb_file_env USER
	mariadb_file_env PASSWORD
	mariadb_file_env ROOT_PASSWORD
	file_env MARIADB_PASSWORD_HASH
	file_env MARIADB_ROOT_PASSWORD_HASH
	: "${MARIADB_ALLOW_EMPTY_ROOT_PASSWORD:=${MYSQL_ALLOW_EMPTY_PASSWORD:-}}"
	: "${MARIADB_RANDOM_ROOT_PASSWORD:=${MYSQL_RANDOM_ROOT_PASSWORD:-}}"
	: "${MARIADB_INITDB_SKIP_TZINFO:=${MYSQL_INITDB_SKIP_TZINFO:-}}"
}

verify_minimum_env() {
	if [ -z "$MARIADB_ROOT_PASSWORD" ] && [ -z "$MARIADB_ROOT_PASSWORD_HASH" ] \
		&& [ -z "$MARIADB_ALLOW_EMPTY_ROOT_PASSWORD" ] && [ -z "$MARIADB_RANDOM_ROOT_PASSWORD" ]; then
		error $'Database is uninitialized and password option is not specified\n\tYou need to specify one of MARIADB_ROOT_PASSWORD, MARIADB_ROOT_PASSWORD_HASH, MARIADB_ALLOW_EMPTY_ROOT_PASSWORD and MARIADB_RANDOM_ROOT_PASSWORD'
	fi
	if [ -n "$MARIADB_USER" ] && [ -z "$MARIADB_PASSWORD" ] && [ -z "$MARIADB_PASSWORD_HASH" ]; then
		error $'Database is uninitialized and MARIADB_USER is set without MARIADB_PASSWORD or MARIADB_PASSWORD_HASH'
	fi
	if [ "$MARIADB_USER" = root ]; then
		error $'MARIADB_USER="root", MARIADB_USER and MARIADB_PASSWORD are for configuring a regular user and cannot be used for the root user\n\tRemove MARIADB_USER="root" and use MARIADB_ROOT_PASSWORD to set the root password'
	fi
}

have_init_scripts() {
	local f
	for f in /docker-entrypoint-initdb.d/*; do [ -e "$f" ] && return 0; done
	return 1
}

# 'literal' body: backslash, newline and quote escaped (as upstream does).
sql_escape() {
	local s=${1//\\/\\\\}
	s=${s//$'\n'/\\n}
	printf '%s' "${s//\'/\\\'}"
}

# SQL that creates root@host, the database and the user from the environment.
setup_sql() {
	if [ -n "$MARIADB_RANDOM_ROOT_PASSWORD" ]; then
		MARIADB_ROOT_PASSWORD=$(head -c 24 /dev/urandom | base64 | tr -d '/+=' | head -c 32)
		export MARIADB_ROOT_PASSWORD MYSQL_ROOT_PASSWORD=$MARIADB_ROOT_PASSWORD
		note "GENERATED ROOT PASSWORD: $MARIADB_ROOT_PASSWORD"
	fi
	local rootpw auth
	rootpw=$(sql_escape "$MARIADB_ROOT_PASSWORD")
	if [ -n "$MARIADB_ROOT_PASSWORD_HASH" ]; then
		auth="IDENTIFIED BY PASSWORD '$(sql_escape "$MARIADB_ROOT_PASSWORD_HASH")'"
		echo "SET PASSWORD FOR 'root'@'localhost' = '$(sql_escape "$MARIADB_ROOT_PASSWORD_HASH")';"
	else
		auth="IDENTIFIED BY '$rootpw'"
		echo "SET PASSWORD FOR 'root'@'localhost' = PASSWORD('$rootpw');"
	fi
	if [ -n "$MARIADB_ROOT_HOST" ] && [ "$MARIADB_ROOT_HOST" != localhost ]; then
		local host
		host=$(sql_escape "$MARIADB_ROOT_HOST")
		echo "CREATE USER IF NOT EXISTS 'root'@'$host' $auth;"
		echo "GRANT ALL ON *.* TO 'root'@'$host' WITH GRANT OPTION;"
		# = GRANT PROXY ON ''@'%' TO root@host WITH GRANT OPTION; the init-file
		# user may not grant PROXY, so write the row directly.
		echo "INSERT IGNORE INTO mysql.proxies_priv (Host, User, Proxied_host, Proxied_user, With_grant, Grantor) VALUES ('$host', 'root', '%', '', 1, 'root@localhost');"
		echo "FLUSH PRIVILEGES;"
	fi
	if [ -n "$MARIADB_DATABASE" ]; then
		echo "CREATE DATABASE IF NOT EXISTS \`${MARIADB_DATABASE//\`/\`\`}\`;"
	fi
	if [ -n "$MARIADB_USER" ]; then
		local user
		user=$(sql_escape "$MARIADB_USER")
		if [ -n "$MARIADB_PASSWORD_HASH" ]; then
			echo "CREATE USER IF NOT EXISTS '$user'@'%' IDENTIFIED BY PASSWORD '$(sql_escape "$MARIADB_PASSWORD_HASH")';"
		else
			echo "CREATE USER IF NOT EXISTS '$user'@'%' IDENTIFIED BY '$(sql_escape "$MARIADB_PASSWORD")';"
		fi
		if [ -n "$MARIADB_DATABASE" ]; then
			echo "GRANT ALL ON \`${MARIADB_DATABASE//\`/\`\`}\`.* TO '$user'@'%';"
		fi
	fi
}

process_sql() { # process_sql [--dont-use-root-password] [mariadb args...]
	local pass=$MARIADB_ROOT_PASSWORD
	if [ "${1:-}" = --dont-use-root-password ]; then pass=; shift; fi
	mariadb --defaults-extra-file=<(printf '[client]\npassword="%s"\n' "$(sql_escape "$pass")") \
		--protocol=socket -uroot -hlocalhost --socket="$SOCKET" --comments "$@"
}

temp_server_start() {
	"$@" --skip-networking --default-time-zone=SYSTEM --socket="$SOCKET" --wsrep_on=OFF \
		--loose-innodb_buffer_pool_load_at_startup=0 &
	TEMP_PID=$!
	note "Waiting for server startup"
	for _ in $(seq 1 300); do
		if mariadb-admin --protocol=socket -uroot --socket="$SOCKET" --connect-timeout=1 ping >/dev/null 2>&1 \
			|| MYSQL_PWD=$MARIADB_ROOT_PASSWORD mariadb-admin --protocol=socket -uroot --socket="$SOCKET" --connect-timeout=1 ping >/dev/null 2>&1; then
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
			*.sql)     note "$0: running $f"; process_sql ${MARIADB_DATABASE:+--database="$MARIADB_DATABASE"} < "$f" ;;
			*.sql.gz)  note "$0: running $f"; gunzip -c "$f" | process_sql ${MARIADB_DATABASE:+--database="$MARIADB_DATABASE"} ;;
			*.sql.xz)  note "$0: running $f"; xzcat "$f" | process_sql ${MARIADB_DATABASE:+--database="$MARIADB_DATABASE"} ;;
			*.sql.zst) note "$0: running $f"; zstd -dc "$f" | process_sql ${MARIADB_DATABASE:+--database="$MARIADB_DATABASE"} ;;
			*)         note "$0: ignoring $f" ;;
		esac
	done
}

main() {
	# `IMAGE --opt` means `mariadbd --opt`.
	if [ "${1:0:1}" = '-' ]; then
		set -- mariadbd "$@"
	fi
	case "$1" in
		mariadbd|mysqld|/usr/sbin/mariadbd|/usr/sbin/mysqld) ;;
		*) exec "$@" ;;
	esac
	# --help / --version style invocations go straight to the server.
	local a
	for a in "$@"; do
		case "$a" in -'?'|--help|--print-defaults|-V|--version) exec "$@" ;; esac
	done

	if [ "$(id -u)" = 0 ]; then
		mkdir -p "$DATADIR" /run/mysqld
		find "$DATADIR" /run/mysqld \! -user mysql -exec chown mysql:mysql '{}' +
		exec setpriv --reuid=mysql --regid=mysql --init-groups "${BASH_SOURCE[0]}" "$@"
	fi

	setup_env
	# Left over from the previous run of this container; nothing else uses them.
	rm -f "$INIT_FILE" "$SOCKET" "$SOCKET.lock" /run/mysqld/mysqld.pid

	if [ ! -d "$DATADIR/mysql" ]; then
		# Empty data directory: initialise as the official image does.
		verify_minimum_env
		note "Initializing database files"
		# As the official images: the mode exists (and is given) from 10.6 on.
		local old_mode=--old-mode=UTF8_IS_UTF8MB3
		case "$(mariadbd --version)" in *' Ver 10.'[0-5].*) old_mode= ;; esac
		mariadb-install-db --datadir="$DATADIR" --rpm --auth-root-authentication-method=normal \
			--skip-test-db $old_mode --default-time-zone=SYSTEM \
			--enforce-storage-engine= --skip-log-bin --expire-logs-days=0 \
			--loose-innodb_buffer_pool_load_at_startup=0 \
			--loose-innodb_buffer_pool_dump_at_shutdown=0 "${@:2}"
		note "Database files initialized"
		temp_server_start "$@"
		process_sql --dont-use-root-password --database=mysql <<-'EOSQL'
			DROP USER IF EXISTS root@'127.0.0.1', root@'::1';
			EXECUTE IMMEDIATE CONCAT('DROP USER IF EXISTS root@\'', @@hostname,'\'');
		EOSQL
		if [ -z "$MARIADB_INITDB_SKIP_TZINFO" ]; then
			mariadb-tzinfo-to-sql --skip-write-binlog /usr/share/zoneinfo \
				| process_sql --dont-use-root-password --database=mysql
		fi
		setup_sql | process_sql --dont-use-root-password --database=mysql
		process_init_files
		temp_server_stop
		note "MariaDB init process done. Ready for start up."
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
		note "MariaDB init process done. Ready for start up."
	fi

	exec "$@"
}

main "$@"
