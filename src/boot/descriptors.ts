// Descriptors the server inherited from whoever started it (a shell, a supervisor, a test) and
// does not use: without close-on-exec they would pass through every spawn into the agent's
// commands (an open log, a socket, a pipe to the parent). Closed at start, before anything runs.
// Node's own descriptors all carry close-on-exec; only stdio (0–2) and Node's IPC channel are kept.
import fs from 'node:fs';

const O_CLOEXEC = 0o2000000;

/** Closes every inherited descriptor above stdio that lacks close-on-exec; returns their numbers. */
export function closeInheritedDescriptors(): number[] {
  let entries: string[];
  try {
    entries = fs.readdirSync('/proc/self/fdinfo');
  } catch {
    return []; // no /proc: nothing to learn here
  }
  const ipc = Number(process.env.NODE_CHANNEL_FD ?? -1);
  const closed: number[] = [];
  for (const entry of entries) {
    const fd = Number(entry);
    if (!Number.isSafeInteger(fd) || fd <= 2 || fd === ipc) continue;
    let flags: number;
    try {
      const match = /^flags:\s+([0-7]+)$/m.exec(fs.readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'));
      if (match?.[1] === undefined) continue;
      flags = Number.parseInt(match[1], 8);
    } catch {
      continue; // closed meanwhile (the directory listing's own descriptor)
    }
    if ((flags & O_CLOEXEC) !== 0) continue;
    try {
      fs.closeSync(fd);
      closed.push(fd);
    } catch {
      // not ours to close after all
    }
  }
  return closed;
}
