#!/bin/bash
# Reads a file for GET /file, as the session's command user (through setpriv, like a command).
# Arguments: the session's working directory, the path (relative to it, or absolute), the byte
# offset (-N: the last N bytes), and the byte count ('' for all). It says on fd 3 what it found, one line:
#   ok <size> <mtime seconds> <inode>   then the bytes follow on stdout
#   missing | denied | directory | special | nocwd
# The file is opened once, and everything after is done on that descriptor: what is checked is
# what is read.
set -u
cd -- "$1" 2>/dev/null || { echo nocwd >&3; exit 0; }
path=$2
offset=$3
count=$4
# A FIFO would block the open until someone writes to it.
if [ -p "$path" ]; then echo special >&3; exit 0; fi
if ! { exec 4<"$path"; } 2>/dev/null; then
  # Why the open failed, in the user's own words for it (errno through bash's message).
  why=$( { exec 5<"$path"; } 2>&1 )
  case $why in
    *"Permission denied"*) echo denied >&3 ;;
    *) echo missing >&3 ;;
  esac
  exit 0
fi
read -r kind size mtime inode < <(stat -L -c '%F|%s|%Y|%i' /proc/self/fd/4 | tr '|' ' ' | sed 's/^regular empty file/regular_file/; s/^regular file/regular_file/')
case $kind in
  regular_file) ;;
  directory) echo directory >&3; exit 0 ;;
  *) echo special >&3; exit 0 ;;
esac
echo "ok $size $mtime $inode" >&3
exec 3>&-
if [ "${offset#-}" != "$offset" ]; then
  tail -c "${offset#-}" <&4
elif [ -z "$count" ]; then
  tail -c +"$((offset + 1))" <&4
else
  tail -c +"$((offset + 1))" <&4 | head -c "$count"
fi
