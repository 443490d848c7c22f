// The spawner: a small Node process the server forks once, which starts the shells started
// ahead (shellsAhead.ts) so that their fork leaves the server's event loop. spawn() is
// synchronous: it forks the calling process and waits for the exec, which for the server (a
// large process) is milliseconds in which no request is answered; this process is small, so its
// fork is cheap, and the server's loop only receives the shell's three pipes.
//
// Plain CommonJS with no imports of ours, so that the same file runs from src/ (the tests) and
// from dist/ (copied there by scripts/copyShellScripts.mjs). Its protocol, over the IPC channel,
// one shell at a time in order (Node keeps messages with handles in order):
//   server → { kind: 'spawn', id, program, args, cwd, env, joins }
//   spawner → { id, kind: 'pipe', fd } with the shell's pipe on fd 1, 2 and 3 as the handle,
//             then { id, kind: 'started', pid, refused }, and later { id, kind: 'exit', code, signal };
//             or { id, kind: 'failed', message } when the shell could not be started.
// The shell's pipes are handed over unread: the spawner stops reading them before the event
// loop can, so every byte the shell writes reaches the server. The IPC channel is not passed to
// the shell (Node opens it close-on-exec). When the server goes, the spawner exits; the shells
// it started are the server's to end (spawner.ts), or the next start's (by their tracking).
//
// `joins` (groupJoins.ts) are the cgroup.procs files the shell's PID is written to, in order,
// before it is handed over; `refused` says why the kernel refused one (the rest are not tried),
// or is null. Here, not in the server: a move waits for the kernel's threadgroup lock (up to
// 30 ms seen), which the server would wait for in its thread pool at about ten times the CPU of
// these synchronous writes (measured: 0.5 ms against 0.05 ms for three groups).
'use strict';
const { spawn } = require('node:child_process');
const fs = require('node:fs');

/** Moves the shell into its ticket's groups; why the kernel refused, or null. */
function join(pid, joins) {
  for (const { procs, what } of joins) {
    try {
      fs.writeFileSync(procs, String(pid));
    } catch (error) {
      return `the kernel refused to move it into its ${what} (${(error && error.code) || 'an error'})`;
    }
  }
  return null;
}

/** Sends to the server; a server that is gone (the channel closed) is not an error here. */
function send(message, handle) {
  try {
    process.send(message, handle, undefined, () => undefined);
  } catch {
    // The channel closed: 'disconnect' ends this process.
  }
}

function start(request) {
  const { id } = request;
  let child;
  try {
    child = spawn(request.program, request.args, { cwd: request.cwd, env: request.env, detached: true, stdio: ['ignore', 'pipe', 'pipe', 'pipe'] });
  } catch (error) {
    send({ id, kind: 'failed', message: String(error && error.message) });
    return;
  }
  if (child.pid === undefined) {
    // Not started (ENOENT, EACCES, a bad directory): the reason comes as 'error'.
    child.once('error', (error) => send({ id, kind: 'failed', message: error.message }));
    return;
  }
  child.on('error', () => undefined);
  const refused = join(child.pid, Array.isArray(request.joins) ? request.joins : []);
  for (const fd of [1, 2, 3]) {
    const pipe = child.stdio[fd];
    // Synchronously after the spawn, before the event loop reads anything from the shell.
    pipe._handle.readStop();
    pipe.on('error', () => undefined);
    send({ id, kind: 'pipe', fd }, pipe);
  }
  send({ id, kind: 'started', pid: child.pid, refused });
  child.once('exit', (code, signal) => send({ id, kind: 'exit', code, signal }));
}

process.on('message', (request) => {
  if (request !== null && typeof request === 'object' && request.kind === 'spawn') start(request);
});
// The server gone: 'disconnect' says so, except while a pipe it was being handed is in flight
// (Node then waits, forever, for an acknowledgement); being handed to another parent says so
// then. The shells' pipes close with this process, so a shell still waiting for its go exits.
// The server's PID comes as the argument: it may be gone before this process has started.
const server = Number(process.argv[2]);
process.on('disconnect', () => process.exit(0));
setInterval(() => {
  if (process.ppid !== server) process.exit(0);
}, 500).unref();
