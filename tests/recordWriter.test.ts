// What the record writer's durability rule promises (src/storage/recordWriter.ts): a small record
// with nothing to follow is on disk when write() returns; writes to one ticket land in the order
// asked, small after large and large after small; every record is 0600. (That a reader never
// sees half of one is tests/concurrency.test.ts's; exclusive temp files, tests/edges.test.ts's;
// a final record the full disk refuses leaving the queued one, answered as nothing else,
// tests/disk.test.ts's.)
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { FinishedTicket } from '../src/protocol/types.js';
import { SessionLayout } from '../src/storage/sessionLayout.js';
import { TicketStore } from '../src/storage/ticketStore.js';
import { tempDir } from './helpers/server.js';

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
});

async function storeWithTicket(): Promise<{ store: TicketStore; layout: SessionLayout; record: (output: string) => FinishedTicket }> {
  const dir = tempDir();
  dirs.push(dir);
  const layout = new SessionLayout(dir);
  const store = new TicketStore(layout, 64 << 20);
  const index = await store.open('s', true);
  if (index === undefined) throw new Error('the session did not open');
  const ticket = store.allocate(index);
  const now = new Date().toISOString();
  const record = (output: string): FinishedTicket => ({
    ticket, session: 's', input: 'x', timeout: 1, idle_timeout: null, nonce: null, key: 'HASH', process_marker: null,
    submitted_at: now, started_at: now, finished_at: now, duration_ms: 1, exit_code: 0, signal: null, timeout_kind: null,
    truncated: false, output_dropped_bytes: 0, background: [], reason: null, status: 'done', output, output_bytes: output.length,
  });
  return { store, layout, record };
}

const onDisk = (layout: SessionLayout, ticket = 1): FinishedTicket => JSON.parse(fs.readFileSync(layout.ticketFile('s', ticket), 'utf8')) as FinishedTicket;

describe('the record writer', () => {
  it('has a small record on disk, 0600, when write() returns', async () => {
    const { store, layout, record } = await storeWithTicket();
    void store.write(record('small'));
    expect(onDisk(layout).output).toBe('small');
    expect(fs.statSync(layout.ticketFile('s', 1)).mode & 0o777).toBe(0o600);
  });

  it('lands writes to one ticket in the order asked, whatever their sizes', async () => {
    const { store, layout, record } = await storeWithTicket();
    const large = 'L'.repeat(1 << 20);
    const writes = [store.write(record(large)), store.write(record('small after large')), store.write(record(`${large}2`)), store.write(record('last'))];
    await Promise.all(writes);
    expect(onDisk(layout).output).toBe('last');
  });

  it('keeps a replaced record as the spare for the next, never one with another name (a hard link), never through a planted link', async () => {
    const { store, layout, record } = await storeWithTicket();
    const dir = layout.sessionDir('s');
    const file = layout.ticketFile('s', 1);
    const spares = (): string[] => fs.readdirSync(dir).filter((name) => name.startsWith('.next.ticket.'));
    await store.write(record('a'));
    const first = fs.statSync(file).ino;
    await store.write(record('b'));
    // 'a' was replaced and kept, under a temp name only.
    expect(spares().map((name) => fs.statSync(path.join(dir, name)).ino)).toEqual([first]);
    // An operator's hard link to the record: that inode is never written to again.
    const backup = path.join(dir, 'backup');
    fs.linkSync(file, backup);
    await store.write(record('c'));
    expect(fs.statSync(file).ino).toBe(first);
    expect(spares()).toEqual([]);
    await store.write(record('d'));
    await store.write(record('e'));
    expect(onDisk(layout).output).toBe('e');
    expect(JSON.parse(fs.readFileSync(backup, 'utf8')).output).toBe('b');
    // A link planted in place of the spare is not followed: the write goes the usual way.
    const [spare] = spares();
    const outside = path.join(dir, 'outside');
    fs.writeFileSync(outside, 'untouched');
    fs.rmSync(path.join(dir, spare ?? ''));
    fs.symlinkSync(outside, path.join(dir, spare ?? ''));
    await store.write(record('f'));
    expect(onDisk(layout).output).toBe('f');
    expect(fs.readFileSync(outside, 'utf8')).toBe('untouched');
    expect(fs.lstatSync(file).isSymbolicLink()).toBe(false);
    // After the shutdown's drop, records still written (a late leftover's note) keep no spare.
    await store.dropPrepared();
    await store.write(record('g'));
    await store.write(record('h'));
    expect(onDisk(layout).output).toBe('h');
    expect(spares()).toEqual([]);
  });
});
