// npm run bench:ceiling: what any Node server can reach on this machine, against the targets of
// figures 2, 3 and 4 of scripts/bench.mjs. It measures the ceiling server (ceilingServer.mjs: a
// ticket's bare essentials and nothing else) in four forms (each ticket's shell spawned when it
// comes, or started ahead; with or without the server's cgroups), and the real daemon, each as
// bench.mjs measures it (benchFigures.mjs: the same floors, a fresh Node process spawning
// `bash -c true`, interleaved), and prints the ratios. A form of the ceiling server that misses a target shows that no Node
// server doing at least as much can meet it here. It judges nothing: it always exits 0.
import { fork } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startDaemon } from './daemon.mjs';
import { agentPaced, backToBack, fourSessions, timedTicket } from './benchFigures.mjs';
import { getJson, keepAlive, serverPidsWithSpawner } from './benchTools.mjs';

const CEILING_SERVER = path.join(path.dirname(fileURLToPath(import.meta.url)), 'ceilingServer.mjs');
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
/** Directories removed only at the end (removing thousands of records slows what follows: bench.mjs). */
const removeAtEnd = [];

/** Starts the ceiling server in `form`; resolves with how to send it a ticket and its PIDs. */
async function startCeiling(form) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'llmass-ceiling-'));
  removeAtEnd.push(dir);
  const proc = fork(CEILING_SERVER, [dir], { env: { ...process.env, CEILING_SHELLS: form.shells, CEILING_GROUPS: form.groups ? '1' : '0' }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const { port, spawner } = await new Promise((resolve, reject) => {
    proc.once('message', resolve);
    proc.once('exit', (code) => reject(new Error(`the ceiling server exited ${code}`)));
  });
  const base = `http://127.0.0.1:${port}`;
  return {
    pids: [proc.pid, spawner],
    ticket: () => getJson(base, '/ticket?cmd=true'),
    async stop() {
      const exited = new Promise((resolve) => proc.once('exit', resolve));
      proc.send('stop');
      await exited;
    },
  };
}

/** The real daemon, as bench.mjs starts it, behind the same interface. */
async function startReal() {
  const daemon = await startDaemon({ env: { DEDUP_WINDOW: '0' }, keepDir: true });
  removeAtEnd.push(daemon.dir);
  await getJson(daemon.base, daemon.url('shell', { session: 's0', wait: 10, cmd: 'true', nonce: 'warm' }));
  return {
    pids: await serverPidsWithSpawner(daemon.pid),
    ticket: (session, nonce) => getJson(daemon.base, daemon.url('shell', { session, wait: 10, cmd: 'true', nonce })),
    stop: () => daemon.stop(),
  };
}

/** Figures 2, 3, 4a and 4b for one server, as bench.mjs measures them (benchFigures.mjs). */
async function measure(server) {
  const ticket = timedTicket(server.ticket);
  for (let i = 0; i < 200; i += 1) await ticket('warm', String(i));
  const b2b = await backToBack(ticket);
  const four = await fourSessions(ticket, async () => server.pids, { rounds: ROUNDS });
  const paced = await agentPaced(ticket);
  return { b2b: b2b.ratio, paced: paced.ratio, four: four.rate.ratio, cpu: four.cpu.ratio, cpuMs: four.cpu.ours };
}

const FORMS = [
  { name: 'ceiling: shell spawned per ticket, no groups', shells: 'spawn', groups: false },
  { name: 'ceiling: shells started ahead, no groups', shells: 'ahead', groups: false },
  { name: 'ceiling: shell spawned per ticket, the server’s groups', shells: 'spawn', groups: true },
  { name: 'ceiling: shells started ahead, the server’s groups', shells: 'ahead', groups: true },
];

const rows = [];
try {
  for (const form of FORMS) {
    const server = await startCeiling(form);
    rows.push({ name: form.name, ...(await measure(server)) });
    await server.stop();
  }
  const real = await startReal();
  rows.push({ name: 'LLMASS (dist/server.js)', ...(await measure(real)) });
  await real.stop();
  const mark = (value, met) => `${value.toFixed(2)}×${met ? ' ✔' : ''}`;
  console.log(`\nMachine: ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'unknown CPU'}, Node ${process.version}; ${ROUNDS} rounds of figure 4 (BENCH_ROUNDS)\n`);
  console.log('| server | 2. back to back (≤ 1.2×) | 3. agent-paced (≤ 0.9×) | 4a. four sessions (≥ 0.8×) | 4b. CPU per ticket (≤ 1.5×) |');
  console.log('|---|---|---|---|---|');
  for (const row of rows) {
    console.log(`| ${row.name} | ${mark(row.b2b, row.b2b <= 1.2)} | ${mark(row.paced, row.paced <= 0.9)} | ${mark(row.four, row.four >= 0.8)} | ${mark(row.cpu, row.cpu <= 1.5)} (${row.cpuMs.toFixed(2)} ms) |`);
  }
} finally {
  keepAlive.destroy();
  for (const dir of removeAtEnd) fs.rmSync(dir, { recursive: true, force: true });
}
