#!/bin/bash
# Puts an uploaded file in place for /upload, as the session's command user (through setpriv,
# like a command). Arguments: the session's working directory, the target path (relative to it,
# or absolute), and the mode (octal). The content comes on stdin, already checked by the server
# (size, sha256). It goes to a new temp file beside the target, made exclusively, then renamed
# over the target: a reader sees the old file or the new one, never half of one. It says on
# fd 3 what happened, one line: ok <bytes> | nocwd | nodir | directory | denied | failed
set -u
cd -- "$1" 2>/dev/null || { echo nocwd >&3; exit 0; }
target=$2
mode=$3
dir=$(dirname -- "$target")
base=$(basename -- "$target")
[ -d "$dir" ] || { echo nodir >&3; exit 0; }
[ -d "$target" ] && { echo directory >&3; exit 0; }
tmp="$dir/.$base.llmass-upload.$$"
# noclobber: the temp file is created, never opened if something is there already.
if ! ( set -o noclobber; cat > "$tmp" ) 2>/dev/null; then
  [ -w "$dir" ] && echo failed >&3 || echo denied >&3
  rm -f -- "$tmp" 2>/dev/null
  exit 0
fi
if ! chmod -- "$mode" "$tmp" || ! mv -f -T -- "$tmp" "$target"; then
  rm -f -- "$tmp"
  echo denied >&3
  exit 0
fi
echo "ok $(stat -c %s -- "$target")" >&3
