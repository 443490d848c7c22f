// Build step: the prelude is installed code (src/prelude.ts). It goes next to the compiled
// server, readable by everyone (the command user sources it) and writable by its owner only,
// whatever the umask the build runs under; dist/ itself is made traversable the same way.
import fs from 'node:fs';

fs.mkdirSync(new URL('../dist/', import.meta.url), { recursive: true });
const from = new URL('../src/prelude.bash', import.meta.url);
const to = new URL('../dist/prelude.bash', import.meta.url);
fs.copyFileSync(from, to);
fs.chmodSync(to, 0o644);
fs.chmodSync(new URL('../dist/', import.meta.url), 0o755);
