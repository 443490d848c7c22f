// npm run bench:ceiling: what any Node server can reach on this machine, against the targets of
// figures 2, 3 and 4 of scripts/bench.mjs. It measures the ceiling server (ceilingServer.mjs: a
// ticket's bare essentials and nothing else) in four forms (each ticket's shell spawned when it
// comes, or started ahead; with or without the server's cgroups), and the real daemon, each
// interleaved with the same floors as bench.mjs (a fresh Node process spawning `bash -c true`),
// and prints the ratios. A form of the ceiling server that misses a target shows that no Node
// server doing at least as much can meet it here. It judges nothing: it always exits 0.
import { fork } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startDaemon } from './daemon.mjs';
import { getJson, keepAlive, median, serverCpu, serverPidsWithSpawner, sleep, spawnFloor } from './benchTools.mjs';

const CEILING_SERVER = path.join(path.dirname(fileURLToPath(import.meta.url)), 'ceilingServer.mjs');
const BLOCKS = Number(process.env.BENCH_ROUNDS ?? 4);
const PAUSE = 150;
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
    ticket: (n) => getJson(base, `/ticket?cmd=true&n=${n}`),
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
    ticket: (n, session = 's0') => getJson(daemon.base, daemon.url('shell', { session, wait: 10, cmd: 'true', nonce: String(n) })),
    stop: () => daemon.stop(),
  };
}

async function timed(server, n, session) {
  const t = performance.now();
  const answer = await server.ticket(n, session);
  if (answer.status !== 'done') throw new Error(`no result: ${JSON.stringify(answer)}`);
  return performance.now() - t;
}

/** Figures 2, 3, 4a and 4b for one server, each against its floor, blocks interleaved. */
async function measure(server) {
  let n = 1;
  for (let i = 0; i < 200; i += 1) await timed(server, n++);
  const b2b = { ours: [], floor: [] };
  const cpu = { ours: [], floor: [] };
  const four = { ours: [], floor: [] };
  const paced = { ours: [], floor: [] };
  for (let block = 0; block < BLOCKS; block += 1) {
    const bare = await spawnFloor({ count: 100 });
    b2b.floor.push(...bare.times);
    for (let i = 0; i < 100; i += 1) b2b.ours.push(await timed(server, n++));
    const bareFour = await spawnFloor({ loops: 4, count: 50 });
    four.floor.push(200 / (bareFour.wallMs / 1000));
    cpu.floor.push(bareFour.cpuSeconds / 200);
    const cpuBefore = serverCpu(server.pids);
    const t0 = performance.now();
    await Promise.all([0, 1, 2, 3].map(async (s) => {
      for (let i = 0; i < 50; i += 1) await timed(server, n++, `s${s}`);
    }));
    four.ours.push(200 / ((performance.now() - t0) / 1000));
    cpu.ours.push((serverCpu(server.pids) - cpuBefore) / 200);
  }
  for (let block = 0; block < 3; block += 1) {
    paced.floor.push(...(await spawnFloor({ count: 20, pauseMs: PAUSE })).times);
    for (let i = 0; i < 20; i += 1) {
      await sleep(PAUSE);
      paced.ours.push(await timed(server, n++));
    }
  }
  const ratio = (figure) => median(figure.ours) / median(figure.floor);
  return { b2b: ratio(b2b), paced: ratio(paced), four: ratio(four), cpu: ratio(cpu), cpuMs: median(cpu.ours) * 1000 };
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
  console.log(`\nMachine: ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'unknown CPU'}, Node ${process.version}; ${BLOCKS} blocks (BENCH_ROUNDS)\n`);
  console.log('| server | 2. back to back (≤ 1.2×) | 3. agent-paced (≤ 0.9×) | 4a. four sessions (≥ 0.8×) | 4b. CPU per ticket (≤ 1.5×) |');
  console.log('|---|---|---|---|---|');
  for (const row of rows) {
    console.log(`| ${row.name} | ${mark(row.b2b, row.b2b <= 1.2)} | ${mark(row.paced, row.paced <= 0.9)} | ${mark(row.four, row.four >= 0.8)} | ${mark(row.cpu, row.cpu <= 1.5)} (${row.cpuMs.toFixed(2)} ms) |`);
  }
} finally {
  keepAlive.destroy();
  for (const dir of removeAtEnd) fs.rmSync(dir, { recursive: true, force: true });
}
