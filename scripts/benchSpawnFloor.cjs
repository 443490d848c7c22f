// The bare spawn floor of scripts/bench.mjs, in a fresh process of its own so that its CPU can be
// read from /proc as the server's is: `loops` loops of `count` spawns of `bash -c true` (the
// server's stdio: three pipes, a process group of its own), `pauseMs` before each. Prints JSON.
const { spawn } = require('node:child_process');
const [loops, count, pauseMs] = process.argv.slice(2).map(Number);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function spawnTrue() {
  return new Promise((resolve) => {
    const child = spawn('/bin/bash', ['-c', 'true'], { stdio: ['ignore', 'pipe', 'pipe', 'pipe'], detached: true });
    child.stdout.resume();
    child.stderr.resume();
    child.once('close', resolve);
  });
}

async function loop(times) {
  for (let i = 0; i < count; i += 1) {
    if (pauseMs > 0) await sleep(pauseMs);
    const t = performance.now();
    await spawnTrue();
    times.push(performance.now() - t);
  }
}

(async () => {
  const times = [];
  const cpuBefore = process.cpuUsage();
  const t0 = performance.now();
  await Promise.all(Array.from({ length: loops }, () => loop(times)));
  const wallMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpuBefore);
  process.stdout.write(JSON.stringify({ times, wallMs, cpuSeconds: (cpu.user + cpu.system) / 1e6 }));
})();
