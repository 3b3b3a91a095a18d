// A writer killed (SIGKILL) in the middle of a transaction leaves the database consistent:
// integrity_check ok, the earlier commit present, none of the half-done transaction's rows.
import { describe, it, expect } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Store } from '../../engine/store/store';

const repo = resolve(__dirname, '..', '..');

describe('store: killed writer', () => {
  it('survives SIGKILL mid-transaction', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'qs-kill-'));
    try {
      const child = spawn(process.execPath, ['--import', 'tsx', join(repo, 'test/store/fixtures/killed-writer.ts'), dir], { cwd: repo, stdio: ['ignore', 'pipe', 'pipe'] });
      let err = '';
      child.stderr.on('data', (d) => (err += d));
      await new Promise<void>((res, rej) => {
        child.stdout.on('data', (d: Buffer) => { if (String(d).includes('MID')) res(); });
        child.on('exit', (code) => rej(new Error(`writer exited early (${code}): ${err}`)));
      });
      // The open transaction has spilled pages into the WAL: the crash is really mid-write.
      expect(statSync(join(dir, 'studio.sqlite-wal')).size).toBeGreaterThan(1_000_000);
      child.kill('SIGKILL');
      await new Promise((r) => child.on('exit', r));
      expect(existsSync(join(dir, 'studio.sqlite'))).toBe(true);

      const store = Store.open(dir);
      try {
        expect(store.db.pragma('integrity_check', { simple: true })).toBe('ok');
        const names = store.listProjects().map((p) => p.name);
        expect(names).toEqual(['committed-before-crash']);
        const partial = store.db.prepare("SELECT count(*) AS n FROM projects WHERE id LIKE 'partial%'").get() as { n: number };
        expect(partial.n).toBe(0);
        // and it is writable again
        store.createProject({ name: 'after' });
        expect(store.listProjects()).toHaveLength(2);
      } finally {
        store.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
