#!/usr/bin/env bash
# Nightly backup of tongban (deploy/systemd/tongban-backup.timer runs it):
#   <dir>/<UTC stamp>/tongban.dump          pg_dump --format=custom (restore: pg_restore)
#   <dir>/<UTC stamp>/tongban-export.json   `tongban export` (portable: any backend, `tongban import`)
#   <dir>/<UTC stamp>/SHA256SUMS
# A backup is written into <stamp>.partial and renamed when complete; only complete ones count
# for the rotation, which keeps the newest TONGBAN_BACKUP_KEEP.
#
# Settings (environment; the systemd unit reads /etc/tongban/tongban.env):
#   TONGBAN_DATABASE_URL   postgresql+asyncpg://user:password@host/db (as the app uses it)
#   TONGBAN_BACKUP_DIR     default /var/backups/tongban
#   TONGBAN_BACKUP_KEEP    default 14
#   TONGBAN_BIN            the tongban command, default: tongban on PATH
#   PG_DUMP                default: pg_dump on PATH
set -euo pipefail
umask 077

url=${TONGBAN_DATABASE_URL:?TONGBAN_DATABASE_URL is not set}
dir=${TONGBAN_BACKUP_DIR:-/var/backups/tongban}
keep=${TONGBAN_BACKUP_KEEP:-14}
tongban=${TONGBAN_BIN:-tongban}
pg_dump=${PG_DUMP:-pg_dump}

case "$url" in
    postgresql+asyncpg://*) dsn="postgresql://${url#postgresql+asyncpg://}" ;;
    postgresql://*) dsn=$url ;;
    *) echo "backup.sh: not a PostgreSQL URL; use 'tongban export' for other databases" >&2; exit 2 ;;
esac
[[ "$keep" =~ ^[1-9][0-9]*$ ]] || { echo "backup.sh: TONGBAN_BACKUP_KEEP must be a positive number" >&2; exit 2; }

mkdir -p "$dir"
stamp=$(date -u +%Y%m%dT%H%M%SZ)
target="$dir/$stamp"
work="$target.partial"
[ ! -e "$target" ] || { echo "backup.sh: $target exists already" >&2; exit 1; }
rm -rf "$work"
mkdir "$work"
trap 'rm -rf "$work"' EXIT

"$pg_dump" --format=custom --no-owner --no-privileges --file "$work/tongban.dump" "$dsn"
"$tongban" export "$work/tongban-export.json" >/dev/null
(cd "$work" && sha256sum tongban.dump tongban-export.json > SHA256SUMS)
mv "$work" "$target"
trap - EXIT

# rotation: complete backups only, oldest first, keep the newest $keep
mapfile -t complete < <(find "$dir" -mindepth 1 -maxdepth 1 -type d -name '2*Z' -printf '%f\n' | sort)
excess=$(( ${#complete[@]} - keep ))
for (( i = 0; i < excess; i++ )); do
    rm -rf -- "${dir:?}/${complete[$i]}"
done
echo "backup.sh: $target ($(du -sh "$target" | cut -f1)); kept $(( ${#complete[@]} < keep ? ${#complete[@]} : keep ))"
