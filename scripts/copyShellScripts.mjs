// Build step: the shell code the command user runs is installed code (src/running/*.bash: the
// prelude, and the file helpers of /file and /upload), with the spawner process that starts shells
// ahead (src/running/spawnerProcess.cjs, plain JS run as it is). It goes next to the compiled module that
// names it (dist/running/), readable by everyone (the command user runs it) and writable by its
// owner only, whatever the umask the build runs under; dist/ and every folder in it are made
// traversable the same way.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const dist = fileURLToPath(new URL('../dist/', import.meta.url));
const source = fileURLToPath(new URL('../src/running/', import.meta.url));
fs.mkdirSync(path.join(dist, 'running'), { recursive: true });
for (const name of fs.readdirSync(source).filter((file) => file.endsWith('.bash') || file.endsWith('.cjs'))) {
  const to = path.join(dist, 'running', name);
  fs.copyFileSync(path.join(source, name), to);
  fs.chmodSync(to, 0o644);
}
fs.chmodSync(dist, 0o755);
// The code is readable by all, as installed code is (deploy/install.sh does the same): a server
// started as another user, or a command user sourcing the prelude, reads it whatever the umask.
for (const entry of fs.readdirSync(dist, { withFileTypes: true, recursive: true })) {
  fs.chmodSync(path.join(entry.parentPath ?? entry.path, entry.name), entry.isDirectory() ? 0o755 : 0o644);
}
// The `llmass` command runs as a program (npm sets this bit on install; a clone gets it here).
if (fs.existsSync(path.join(dist, 'cli.js'))) fs.chmodSync(path.join(dist, 'cli.js'), 0o755);
