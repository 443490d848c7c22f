#!/bin/sh
# Installs LLMASS as README.md's Deploy describes, from the checkout it is in (/opt/llmass, built):
# the command user, the code owned by root and readable by all, /etc/llmass with a fresh HASH,
# the systemd unit, Caddy's site block and drop-in, a private access-log directory. Run it as
# root; running it again (after an upgrade, say) changes nothing that is already in place and
# never replaces the secret or a drop-in you edited. The tests run it into a scratch root
# (DESTDIR) twice.
#
#   LLMASS_AGENT_USER   the command user to make             (default: llmass-agent)
#   LLMASS_FQDN         the public URL written into a new env (default: https://llmass.example.com)
#   DESTDIR             install the files under this directory instead of / (tests); the user is
#                       made on this host either way, and nothing is started
set -eu

code=$(cd "$(dirname "$0")/.." && pwd)
root=${DESTDIR:-}
agent=${LLMASS_AGENT_USER:-llmass-agent}
fqdn=${LLMASS_FQDN:-https://llmass.example.com}

[ "$(id -u)" -eq 0 ] || { echo "install.sh: run it as root" >&2; exit 1; }
[ -f "$code/dist/server.js" ] || { echo "install.sh: build first: cd $code && npm ci && npm run build && npm prune --omit=dev" >&2; exit 1; }
getent group caddy >/dev/null || { echo "install.sh: install Caddy first (apt-get install caddy): its group owns the socket" >&2; exit 1; }

# The command user: made once.
if id -u "$agent" >/dev/null 2>&1; then
  echo "user $agent exists"
else
  useradd --system --create-home --home-dir "/home/$agent" --shell /bin/bash "$agent"
  echo "made user $agent"
fi

# The code: root's, readable and searchable by all (the command user sources dist/running/prelude.bash),
# writable by root alone, whatever the umask it was cloned and built under.
chown -R root:root "$code"
chmod -R u=rwX,go=rX "$code"

# The configuration: private; a new HASH only when there is no env file yet.
install -d -m 0700 "$root/etc/llmass"
if [ -e "$root/etc/llmass/llmass.env" ]; then
  echo "$root/etc/llmass/llmass.env exists: kept as it is"
else
  (
    umask 077
    printf 'HASH=%s\nFQDN=%s\nCOMMAND_USER=%s\nSOCKET=/run/llmass/llmass.sock\nSESSIONS_DIR=/var/lib/llmass/sessions\n' \
      "$(head -c 36 /dev/urandom | base64 | tr '+/' '-_')" "$fqdn" "$agent" > "$root/etc/llmass/llmass.env"
  )
  echo "wrote $root/etc/llmass/llmass.env with a new HASH"
fi

# The unit, as shipped (an upgrade brings the new one).
install -d -m 0755 "$root/etc/systemd/system"
install -m 0644 "$code/deploy/llmass.service" "$root/etc/systemd/system/llmass.service"

# Caddy: the site block, imported once into Caddy's own Caddyfile, and its drop-in (address,
# access log, umask), which is yours to edit and so is written only the first time.
install -d -m 0755 "$root/etc/caddy" "$root/etc/systemd/system/caddy.service.d"
install -m 0644 "$code/Caddyfile" "$root/etc/caddy/llmass.caddy"
touch "$root/etc/caddy/Caddyfile"
grep -qx 'import /etc/caddy/llmass.caddy' "$root/etc/caddy/Caddyfile" || echo 'import /etc/caddy/llmass.caddy' >> "$root/etc/caddy/Caddyfile"
if [ -e "$root/etc/systemd/system/caddy.service.d/llmass.conf" ]; then
  echo "$root/etc/systemd/system/caddy.service.d/llmass.conf exists: kept as it is"
else
  install -m 0644 "$code/deploy/caddy-llmass.conf" "$root/etc/systemd/system/caddy.service.d/llmass.conf"
  echo "wrote $root/etc/systemd/system/caddy.service.d/llmass.conf: set LLMASS_ADDRESS there"
fi
# The access log holds every command: its directory is Caddy's and its group's only.
install -d -m 0750 -o caddy -g caddy "$root/var/log/caddy"
chmod 0750 "$root/var/log/caddy"

# Bursts: the server listens with a backlog of 4096, which the kernel caps at somaxconn.
somaxconn=$(cat /proc/sys/net/core/somaxconn 2>/dev/null || echo 4096)
if [ "$somaxconn" -lt 4096 ]; then
  echo "note: net.core.somaxconn is $somaxconn: bursts of more connections are refused (Caddy answers 503); raise it: echo 'net.core.somaxconn = 4096' > /etc/sysctl.d/60-llmass.conf && sysctl --system"
fi

if [ -z "$root" ] && [ -d /run/systemd/system ]; then
  systemctl daemon-reload
  systemctl enable llmass
  systemctl restart llmass caddy
  echo "started: systemctl status llmass"
else
  echo "not started (DESTDIR is set, or systemd is not running): start it as the unit does"
fi
