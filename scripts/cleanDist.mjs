// Build step: dist/ is made anew, so that a module moved or removed in src/ leaves no stale copy
// that could still be imported.
import fs from 'node:fs';

fs.rmSync(new URL('../dist/', import.meta.url), { recursive: true, force: true });
