#!/usr/bin/env bash
# Makes sure a MySQL-compatible server and Redis answer at DATABASE_URL / REDIS_URL.
# When one is not reachable on this machine, installs it from Debian's packages (if missing) and
# starts it. Safe to run again and again: a running server is left alone.
set -euo pipefail

DATABASE_URL="${DATABASE_URL:-mysql://root@127.0.0.1:3306/wa_gateway}"
REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379}"

host_port() { # url default_port -> "host port"
  local rest="${1#*://}"; rest="${rest#*@}"; rest="${rest%%/*}"
  local host="${rest%%:*}" port="${rest##*:}"
  [ "$port" = "$rest" ] && port="$2"
  echo "$host $port"
}
reachable() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }
is_local() { case "$1" in 127.*|localhost|::1) return 0;; *) return 1;; esac; }
wait_for() { for _ in $(seq 1 60); do reachable "$1" "$2" && return 0; sleep 0.5; done; return 1; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else echo "need root for: $*" >&2; return 1; fi; }

apt_updated=0
apt_install() {
  echo "installing $* from Debian's packages"
  if [ "$apt_updated" = 0 ]; then as_root apt-get update -qq; apt_updated=1; fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}
sbin() { command -v "$1" 2>/dev/null || echo "/usr/sbin/$1"; } # /usr/sbin is not on every PATH

start_mariadb() { # port
  local datadir log=/var/log/mysql/error.log
  datadir="$(my_print_defaults --mysqld 2>/dev/null | sed -n 's/^--datadir=//p' | tail -n 1)"
  datadir="${datadir:-/var/lib/mysql}"
  # /run is a tmpfs: without systemd's tmpfiles nothing recreates the socket directory after a boot.
  as_root install -d -o mysql -g root -m 755 /run/mysqld
  as_root install -d -o mysql -g adm -m 2750 "$(dirname "$log")"
  # Debian's postinst initialises the data directory but carries on silently when that fails, and
  # slimmed images ship without one.
  if ! as_root test -d "$datadir/mysql"; then
    echo "initialising MariaDB's data directory $datadir"
    as_root mkdir -p "$datadir"
    as_root chown mysql:mysql "$datadir"
    as_root mariadb-install-db --user=mysql --datadir="$datadir" --skip-test-db --auth-root-authentication-method=socket >/dev/null
  fi
  as_root "$(sbin start-stop-daemon)" --start --oknodo --background --exec /usr/sbin/mariadbd -- \
    --user=mysql --port="$1" --bind-address=127.0.0.1 --log-error="$log"
}

read -r db_host db_port <<<"$(host_port "$DATABASE_URL" 3306)"
if ! reachable "$db_host" "$db_port"; then
  is_local "$db_host" || { echo "MySQL at $db_host:$db_port is not reachable" >&2; exit 1; }
  [ -x /usr/sbin/mariadbd ] || apt_install mariadb-server
  command -v mariadb >/dev/null || apt_install mariadb-client
  # On a machine with systemd, installing the package has already started the server.
  if ! reachable "$db_host" "$db_port"; then
    echo "starting a local MariaDB on port $db_port"
    start_mariadb "$db_port"
  fi
  wait_for "$db_host" "$db_port" || {
    echo "MariaDB did not come up on port $db_port: see /var/log/mysql/error.log (is another mariadbd running with other settings?)" >&2
    exit 1
  }
  # A fresh Debian MariaDB lets root in only over the unix socket; let it in over TCP with the
  # URL's (empty by default) password too, as the gateway connects over TCP.
  db_pass="$(node -e 'const u=new URL(process.argv[1]);process.stdout.write(decodeURIComponent(u.password))' "$DATABASE_URL")"
  db_user="$(node -e 'const u=new URL(process.argv[1]);process.stdout.write(decodeURIComponent(u.username)||"root")' "$DATABASE_URL")"
  as_root mariadb --protocol=socket -uroot <<SQL || echo "could not grant ${db_user} access over TCP; the gateway may be refused" >&2
CREATE USER IF NOT EXISTS '${db_user}'@'localhost' IDENTIFIED BY '${db_pass}';
CREATE USER IF NOT EXISTS '${db_user}'@'127.0.0.1' IDENTIFIED BY '${db_pass}';
ALTER USER '${db_user}'@'localhost' IDENTIFIED VIA unix_socket OR mysql_native_password USING PASSWORD('${db_pass}');
GRANT ALL PRIVILEGES ON *.* TO '${db_user}'@'localhost' WITH GRANT OPTION;
GRANT ALL PRIVILEGES ON *.* TO '${db_user}'@'127.0.0.1' WITH GRANT OPTION;
FLUSH PRIVILEGES;
SQL
fi

read -r redis_host redis_port <<<"$(host_port "$REDIS_URL" 6379)"
if ! reachable "$redis_host" "$redis_port"; then
  is_local "$redis_host" || { echo "Redis at $redis_host:$redis_port is not reachable" >&2; exit 1; }
  command -v redis-server >/dev/null || apt_install redis-server
  if ! reachable "$redis_host" "$redis_port"; then
    echo "starting a local Redis on port $redis_port"
    redis-server --daemonize yes --bind 127.0.0.1 --port "$redis_port" --save "" --appendonly no --dir /tmp \
      --logfile "/tmp/redis-$redis_port.log" >/dev/null
  fi
  wait_for "$redis_host" "$redis_port" || { echo "Redis did not come up: see /tmp/redis-$redis_port.log" >&2; exit 1; }
fi
