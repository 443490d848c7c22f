// npm run soak: mixed load against the real daemon for SOAK_SECONDS (default 600) — submissions
// across 20 sessions, long-polls, cancels, large outputs, timeouts, history reads — then checks
// that no file descriptor or process leaked (beyond the shells and record files the daemon keeps
// ready for its 16 most recent sessions), RSS stayed flat, and every ticket is terminal and
// readable. Prints its figures; exits non-zero if a check fails.
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { startDaemon } from './daemon.mjs';

const SECONDS = Number(process.env.SOAK_SECONDS ?? 600);
const SESSIONS = 20;
const AGENTS = 8;
const FINAL = new Set(['done', 'timeout', 'canceled', 'interrupted', 'error']);

const daemon = await startDaemon({ env: { COMMAND_TIMEOUT: '3', MAX_CONCURRENCY: '4' }, prefix: 'llmass-soak-' });
const { base, hash } = daemon;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
const counts = { submitted: 0, polls: 0, cancels: 0, histories: 0, errors5xx: 0, otherErrors: 0 };

function get(target) {
  return new Promise((resolve, reject) => {
    http
      .get(`${base}${target}`, { agent }, (res) => {
        const chunks = [];
        res.on('data', (chunk) => chunks.push(chunk));
        res.on('end', () => {
          if ((res.statusCode ?? 0) >= 500) counts.errors5xx += 1;
          const text = Buffer.concat(chunks).toString();
          try {
            resolve({ status: res.statusCode, json: JSON.parse(text) });
          } catch {
            resolve({ status: res.statusCode, json: undefined });
          }
        });
      })
      .on('error', reject);
  });
}
const q = (params) => new URLSearchParams({ hash, ...params }).toString();

/** A process's parent PID and state, from /proc; undefined once it is gone. */
function statOf(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { ppid: Number(fields[1]), state: fields[0] };
  } catch {
    return undefined;
  }
}

/**
 * Open file descriptors, RSS and live child processes of the daemon, from /proc. A child that is
 * a shell started ahead (still in the prelude, waiting for its command: it has run nothing, so it
 * has no child of its own) is counted apart: the daemon keeps one per recently used session.
 */
function probe() {
  const pid = daemon.pid;
  const fds = fs.readdirSync(`/proc/${pid}/fd`).length;
  const rss = Number(/VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) / 1024;
  const all = fs.readdirSync('/proc').filter((entry) => /^\d+$/.test(entry)).map((entry) => ({ pid: Number(entry), stat: statOf(entry) }));
  const hasChild = new Set(all.map((p) => p.stat?.ppid));
  const cmdlineOf = (child) => {
    try {
      return fs.readFileSync(`/proc/${child}/cmdline`, 'utf8');
    } catch {
      return undefined;
    }
  };
  // The shells started ahead are the spawner process's children (spawner.ts); it is the daemon's.
  const spawner = all.find((p) => p.stat?.ppid === pid && p.stat.state !== 'Z' && cmdlineOf(p.pid)?.includes('spawnerProcess.cjs'))?.pid;
  let children = 0;
  let readyShells = 0;
  for (const child of all) {
    if ((child.stat?.ppid !== pid && child.stat?.ppid !== spawner) || child.pid === spawner || child.stat.state === 'Z') continue;
    const cmdline = cmdlineOf(child.pid);
    if (cmdline === undefined) continue;
    if (cmdline.includes('__llmass_cmd') && !hasChild.has(child.pid)) readyShells += 1;
    else children += 1;
  }
  return { fds, rss, children, readyShells };
}

const COMMANDS = [
  () => 'echo hello',
  () => 'seq 1 2000 | tail -n 3',
  () => 'head -c 3000000 /dev/urandom | base64',
  () => 'sleep 0.3; echo slept',
  () => 'cd /tmp && export SOAK=1; pwd',
  () => 'echo $SOAK; false',
  () => 'ls /nonexistent',
  () => 'sleep 30',
  () => 'yes | head -c 200000000',
  () => 'sleep 5 & echo background',
];

const deadline = Date.now() + SECONDS * 1000;
const samples = [];
const start = probe();
const sampler = setInterval(() => samples.push(probe()), 5000);

async function agentLoop(id) {
  let n = 0;
  while (Date.now() < deadline) {
    n += 1;
    const session = `soak${(id * 7 + n) % SESSIONS}`;
    const cmd = COMMANDS[(id + n) % COMMANDS.length]();
    const submitted = await get(`/shell?${q({ session, cmd, nonce: `${id}-${n}` })}`);
    if (submitted.status === 503) {
      await sleep(200);
      continue;
    }
    if (submitted.status !== 200) {
      counts.otherErrors += 1;
      continue;
    }
    counts.submitted += 1;
    const ticket = submitted.json.ticket;
    if (n % 5 === 0) {
      await sleep(100);
      await get(`/cancel?${q({ session, ticket })}`);
      counts.cancels += 1;
    }
    let view;
    do {
      view = (await get(`/callback?${q({ session, ticket, wait: 5 })}`)).json;
      counts.polls += 1;
    } while (view !== undefined && view.type !== 'result' && Date.now() < deadline + 60_000);
    if (n % 10 === 0) {
      await get(`/history?${q({ session, after: Math.max(0, ticket - 5) })}`);
      counts.histories += 1;
    }
  }
}

await Promise.all(Array.from({ length: AGENTS }, (_, id) => agentLoop(id)));
clearInterval(sampler);
// Let background children (sleep 5 &) end, then look.
await sleep(6000);
const end = probe();

let tickets = 0;
let unreadable = 0;
let unfinished = 0;
for (const session of fs.readdirSync(daemon.sessionsDir)) {
  const sessionDir = path.join(daemon.sessionsDir, session);
  if (!fs.statSync(sessionDir).isDirectory() || session.startsWith('.')) continue;
  for (const name of fs.readdirSync(sessionDir)) {
    if (!name.endsWith('.ticket')) continue;
    tickets += 1;
    try {
      const record = JSON.parse(fs.readFileSync(path.join(sessionDir, name), 'utf8'));
      if (!FINAL.has(record.status)) unfinished += 1;
    } catch {
      unreadable += 1;
    }
  }
}

const rssValues = samples.map((s) => s.rss);
const firstQuarter = rssValues.slice(0, Math.max(1, Math.floor(rssValues.length / 4)));
const lastQuarter = rssValues.slice(-Math.max(1, Math.floor(rssValues.length / 4)));
const mean = (values) => values.reduce((a, b) => a + b, 0) / values.length;
const figures = {
  seconds: SECONDS,
  ...counts,
  tickets,
  unfinished,
  unreadable,
  fds_start: start.fds,
  fds_end: end.fds,
  children_end: end.children,
  ready_shells_end: end.readyShells,
  rss_start_mb: start.rss.toFixed(1),
  rss_first_quarter_mean_mb: mean(firstQuarter).toFixed(1),
  rss_last_quarter_mean_mb: mean(lastQuarter).toFixed(1),
  rss_max_mb: Math.max(...rssValues).toFixed(1),
  rss_end_mb: end.rss.toFixed(1),
};
console.log(JSON.stringify(figures, null, 2));

const failures = [];
// Each shell started ahead holds 3 pipes, and each idle session two record files made ahead
// (its next ticket's queued and final records).
const allowedFds = start.fds + 2 + 3 * end.readyShells + 2 * SESSIONS;
if (end.fds > allowedFds) failures.push(`file descriptors grew from ${start.fds} to ${end.fds} (allowed ${allowedFds} with ${end.readyShells} shells ready)`);
if (end.children > 0) failures.push(`${end.children} child processes still running`);
if (end.readyShells > 16) failures.push(`${end.readyShells} shells ready, more than the 16 sessions that may keep one`);
if (unfinished > 0) failures.push(`${unfinished} tickets not terminal`);
if (unreadable > 0) failures.push(`${unreadable} tickets unreadable`);
if (counts.errors5xx > 0) failures.push(`${counts.errors5xx} answers were 5xx`);
if (mean(lastQuarter) > mean(firstQuarter) + 30) failures.push('RSS grew by more than 30 MB between the first and last quarter');

await daemon.stop();
agent.destroy();
if (failures.length > 0) {
  console.log(`soak: FAILED: ${failures.join('; ')}`);
  process.exit(1);
}
console.log('soak: passed');
