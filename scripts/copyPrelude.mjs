// Build step: the prelude is installed code (src/running/prelude.bash). It goes next to the
// compiled module that names it (dist/running/), readable by everyone (the command user sources
// it) and writable by its owner only, whatever the umask the build runs under; dist/ and every
// folder in it are made traversable the same way.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const dist = new URL('../dist/', import.meta.url);
fs.mkdirSync(new URL('running/', dist), { recursive: true });
const to = new URL('running/prelude.bash', dist);
fs.copyFileSync(new URL('../src/running/prelude.bash', import.meta.url), to);
fs.chmodSync(to, 0o644);
fs.chmodSync(dist, 0o755);
for (const entry of fs.readdirSync(fileURLToPath(dist), { withFileTypes: true, recursive: true })) {
  if (entry.isDirectory()) fs.chmodSync(path.join(entry.parentPath ?? entry.path, entry.name), 0o755);
}
