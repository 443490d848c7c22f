// The layout shows the architecture, and stays so: folders that follow a request, imports that
// flow one way between them, no cycle between modules, no module over 300 lines, each opening
// with a line on its job, and the README's map of folders true.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = new URL('../src/', import.meta.url).pathname;
const README = new URL('../README.md', import.meta.url).pathname;

/** What each folder may import: the flow of a request, downward only. */
const MAY_IMPORT: Readonly<Record<string, readonly string[]>> = {
  protocol: [],
  config: [],
  auth: [],
  logging: ['protocol'],
  storage: ['protocol', 'logging'],
  running: ['storage', 'protocol', 'config', 'logging'],
  scheduling: ['running', 'storage', 'protocol', 'config', 'logging'],
  answers: ['protocol', 'auth'],
  boot: ['running', 'config', 'logging'],
  http: ['answers', 'scheduling', 'running', 'storage', 'auth', 'protocol', 'config', 'logging'],
  reach: ['http', 'answers', 'auth', 'protocol'],
};
const TOP_MODULES = ['app.ts', 'cli.ts', 'routes.ts', 'server.ts'];

function modules(dir = SRC): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const file = path.join(dir, entry.name);
    if (entry.isDirectory()) return modules(file);
    return entry.name.endsWith('.ts') ? [file] : [];
  });
}

/** The modules a module imports (static and dynamic, relative), as paths under src/. */
function importsOf(file: string): string[] {
  const text = fs.readFileSync(file, 'utf8');
  return [...text.matchAll(/(?:from|import\()\s*'(\.{1,2}\/[^']+)\.js'/g)].map((match) => path.relative(SRC, path.resolve(path.dirname(file), `${match[1]}.ts`)));
}

const folderOf = (relative: string): string | undefined => (relative.includes('/') ? relative.split('/')[0] : undefined);

describe('the layout of src/', () => {
  const files = modules().map((file) => path.relative(SRC, file));

  it('has only the entries, the wiring and the route table at the top, and the folders the map names', () => {
    expect(files.filter((file) => folderOf(file) === undefined).sort()).toEqual(TOP_MODULES);
    const folders = fs.readdirSync(SRC, { withFileTypes: true }).filter((entry) => entry.isDirectory()).map((entry) => entry.name);
    expect(folders.sort()).toEqual(Object.keys(MAY_IMPORT).sort());
  });

  it('lets each folder import only the folders below it, and never the top', () => {
    const wrong: string[] = [];
    for (const file of files) {
      const from = folderOf(file);
      if (from === undefined) continue;
      for (const target of importsOf(path.join(SRC, file))) {
        const to = folderOf(target);
        if (to === from) continue;
        if (to === undefined || !(MAY_IMPORT[from] ?? []).includes(to)) wrong.push(`${file} imports ${target}`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it('has no import cycle between modules', () => {
    const graph = new Map(files.map((file) => [file, importsOf(path.join(SRC, file))]));
    const state = new Map<string, 'visiting' | 'done'>();
    const cycles: string[] = [];
    const visit = (file: string, trail: string[]): void => {
      if (state.get(file) === 'done') return;
      if (state.get(file) === 'visiting') {
        cycles.push([...trail.slice(trail.indexOf(file)), file].join(' -> '));
        return;
      }
      state.set(file, 'visiting');
      for (const next of graph.get(file) ?? []) visit(next, [...trail, file]);
      state.set(file, 'done');
    };
    for (const file of files) visit(file, []);
    expect(cycles).toEqual([]);
  });

  it('keeps every module within 300 lines, opening with a comment on its job', () => {
    const long = files.filter((file) => fs.readFileSync(path.join(SRC, file), 'utf8').split('\n').length > 300);
    expect(long).toEqual([]);
    // A program's first line may be its #! line; the comment comes right after it.
    const silent = files.filter((file) => !fs.readFileSync(path.join(SRC, file), 'utf8').replace(/^#!.*\n/, '').startsWith('// '));
    expect(silent).toEqual([]);
  });

  it('is mapped in the README, one line a folder', () => {
    const readme = fs.readFileSync(README, 'utf8');
    const section = readme.slice(readme.indexOf('## Development'));
    expect(section.length).toBeLessThan(readme.length);
    for (const folder of Object.keys(MAY_IMPORT)) expect(section).toMatch(new RegExp(`^  ${folder}/ +\\S`, 'm'));
    for (const top of TOP_MODULES) expect(section).toMatch(new RegExp(`^  ${top.replace('.', '\\.')} +\\S`, 'm'));
  });
});
