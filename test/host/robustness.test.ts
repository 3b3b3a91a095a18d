// No input stops the browser host. It runs as a real child process (bin/browser-host.mjs) so a crash
// shows as a dead process; after every hostile input the test checks that the process is up, that it
// still answers a fresh call, and that the bad input itself was answered with { code, message } (or,
// for WebSocket protocol violations, that only that socket was closed with the protocol's close code).
// A long job runs throughout and must finish: a dying host would take it down.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtempSync, rmSync, mkdirSync, writeFileSync, readdirSync, unlinkSync, readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { connect as netConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type WebSocket from 'ws';
import { spawnHost, httpGet, connectWs, nextAnswer, call, type HostProcess } from './host-process';
import { parseModel, serializeModel } from '../../engine/onnx/model-io';
import { models } from '../helpers/shared';

let dir: string;
let host: HostProcess;
let ws: WebSocket;
let projectId: string;
let longRunId: string;
let nextId = 1000;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'qs-robust-'));
  const renderer = join(dir, 'renderer');
  mkdirSync(renderer, { recursive: true });
  writeFileSync(join(renderer, 'index.html'), '<!doctype html><title>t</title>');
  host = await spawnHost(join(dir, 'data'), renderer, { QSTUDIO_TEST_JOB_KINDS: '1' });
  ws = await connectWs(host.port, host.token);
  const p = await call(ws, 1, 'projects.create', { name: 'robustness' });
  projectId = p.value.id;
  const run = await call(ws, 2, 'runs.start', { projectId, kind: 'selftest', params: { steps: 200, stepMs: 50 } });
  expect(run.ok).toBe(true);
  longRunId = run.value.id;
}, 90_000);

afterAll(async () => {
  ws?.terminate();
  await host?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** The host is up and a fresh connection gets a real answer. */
async function expectAlive(): Promise<void> {
  expect(host.alive(), `the host died:\n${host.output().slice(-3000)}`).toBe(true);
  expect(host.output()).not.toContain('unhandled rejection');
  const fresh = await connectWs(host.port, host.token);
  try {
    const info = await call(fresh, 1, 'app.info', {});
    expect(info).toMatchObject({ ok: true, value: { host: 'browser' } });
  } finally {
    fresh.close();
  }
  const run = await call(ws.readyState === ws.OPEN ? ws : (ws = await connectWs(host.port, host.token)), nextId++, 'runs.get', { id: longRunId });
  expect(['queued', 'running', 'succeeded']).toContain(run.value.status);
}

const isError = (x: any) => x && x.ok === false && typeof x.error?.code === 'string' && typeof x.error?.message === 'string' && x.error.message.length > 0;

describe('browser host robustness: WebSocket frames', () => {
  const nested = (n: number) => '['.repeat(n) + ']'.repeat(n);
  const frames: [string, string][] = [
    ['null', 'null'],
    ['a number', '42'],
    ['a string', '"projects.list"'],
    ['an array', '[1,2,3]'],
    ['an empty object', '{}'],
    ['not JSON', '{"id": 1, '],
    ['channel of the wrong type', '{"id":3,"channel":5,"request":{}}'],
    ['channel null', '{"id":4,"channel":null}'],
    ['id of the wrong type', '{"id":{"x":1},"channel":"app.info","request":{}}'],
    ['unknown channel', '{"id":5,"channel":"no.such.channel","request":{}}'],
    ['prototype keys', '{"id":6,"channel":"__proto__","request":{"__proto__":{"x":1}}}'],
    ['request null', '{"id":7,"channel":"projects.create","request":null}'],
    ['request of the wrong type', '{"id":8,"channel":"projects.create","request":"x"}'],
    ['fields of the wrong types', '{"id":9,"channel":"projects.create","request":{"name":123,"description":[]}}'],
    ['runs.start with a bad kind', `{"id":10,"channel":"runs.start","request":{"projectId":"nope","kind":{"a":1}}}`],
    ['a deeply nested request (100k levels)', `{"id":11,"channel":"projects.create","request":{"name":${nested(100_000)}}}`],
    ['a deeply nested frame (100k levels)', nested(100_000)],
    ['a huge valid string (8 MB name)', JSON.stringify({ id: 12, channel: 'projects.create', request: { name: 'x'.repeat(8 * 2 ** 20) } })],
  ];
  for (const [what, text] of frames) {
    it(`answers ${what} with { code, message } and stays up`, async () => {
      const { answer, closed } = await nextAnswer(ws, () => ws.send(text));
      expect(closed, 'the socket was closed').toBeUndefined();
      expect(isError(answer?.result), JSON.stringify(answer).slice(0, 300)).toBe(true);
      expect(answer.result.error.code, answer.result.error.message).toBe('BAD_ARGUMENT'); // the caller's mistake, not INTERNAL
      await expectAlive();
    }, 30_000);
  }

  it('answers a binary frame with { code, message } and stays up', async () => {
    const { answer } = await nextAnswer(ws, () => ws.send(Buffer.from(JSON.stringify({ id: 1, channel: 'app.info', request: {} })), { binary: true }));
    expect(isError(answer?.result)).toBe(true);
    await expectAlive();
  });

  it('closes only the offending socket on invalid UTF-8 (1007) and stays up', async () => {
    const bad = await connectWs(host.port, host.token);
    const { closed } = await nextAnswer(bad, () => bad.send(Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), { binary: false }));
    expect(closed?.code).toBe(1007);
    await expectAlive();
  });

  it('closes only the offending socket on a frame over the payload limit (1009) and stays up', async () => {
    const bad = await connectWs(host.port, host.token);
    const { closed } = await nextAnswer(bad, () => bad.send('x'.repeat(16 * 2 ** 20 + 1)), 30_000);
    expect(closed?.code).toBe(1009);
    await expectAlive();
  }, 60_000);

  it('survives a socket that disappears with calls in flight', async () => {
    const bad = await connectWs(host.port, host.token);
    for (let i = 0; i < 20; i++) bad.send(JSON.stringify({ id: i, channel: 'projects.list', request: {} }));
    bad.terminate();
    await new Promise((r) => setTimeout(r, 200));
    await expectAlive();
  });

  it('answers 50 concurrent calls, each with its own id', async () => {
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => call(ws, 5000 + i, i % 2 ? 'projects.create' : 'projects.list', i % 2 ? { name: `p${i}` } : {})));
    expect(results.every((r) => r.ok)).toBe(true);
    const names = results.filter((_, i) => i % 2).map((r) => r.value.name);
    expect(new Set(names).size).toBe(25);
    await expectAlive();
  }, 60_000);
});

describe('browser host robustness: HTTP', () => {
  const auth = () => ({ 'x-studio-token': host.token });
  const jsonError = (body: string) => { const b = JSON.parse(body); return isError(b); };

  it('refuses bad tokens with 403 { code, message }', async () => {
    for (const headers of <Record<string, string>[]>[{}, { 'x-studio-token': '' }, { 'x-studio-token': '0'.repeat(64) }, { 'x-studio-token': host.token.slice(1) }, { 'x-studio-token': 'é'.repeat(64) }, { cookie: 'qstudio_token=' + 'f'.repeat(64) }]) {
      const r = await httpGet(host.port, '/', headers);
      expect(r.status).toBe(403);
      expect(jsonError(r.body)).toBe(true);
    }
    const q = await httpGet(host.port, `/?token=${'%'}`);
    expect(q.status).toBe(403);
    await expectAlive();
  });

  it('answers malformed and unknown URLs with 400/404 { code, message }', async () => {
    const cases: [string, number][] = [
      ['/%', 400], ['/%E0%A4%A', 400], ['/%zz', 400], ['/download/artifact/%', 400], ['/download/artifact/%C0%AF', 400],
      ['/%00', 400], ['/download/artifact/no-such-id', 404], ['/no/such/file.js', 404], ['/download/artifact/', 404],
      [`/${'a/'.repeat(2000)}`, 404],
    ];
    for (const [path, status] of cases) {
      const r = await httpGet(host.port, path, auth());
      expect(r.status, path).toBe(status);
      expect(jsonError(r.body), path).toBe(true);
    }
    const put = await httpGet(host.port, '/', auth(), 'PUT', Buffer.from('x'));
    expect(put.status).toBe(405);
    expect(jsonError(put.body)).toBe(true);
    await expectAlive();
  });

  it('survives a garbage request line, oversized headers and a cut-off upload', async () => {
    const raw = (text: string) => new Promise<string>((res) => {
      const s = netConnect(host.port, '127.0.0.1', () => s.end(text));
      let b = '';
      s.on('data', (d) => (b += d));
      s.on('close', () => res(b));
      s.on('error', () => res(b));
    });
    expect(await raw('GARBAGE\r\n\r\n')).toMatch(/^HTTP\/1\.1 400/);
    expect(await raw(`GET / HTTP/1.1\r\nHost: 127.0.0.1:${host.port}\r\nX-Big: ${'a'.repeat(100_000)}\r\n\r\n`)).toMatch(/^HTTP\/1\.1 431/);
    // Content-Length promises more than arrives, then the connection closes.
    await raw(`POST /upload?name=cut.bin HTTP/1.1\r\nHost: 127.0.0.1:${host.port}\r\nX-Studio-Token: ${host.token}\r\nContent-Length: 1000000\r\n\r\n${'x'.repeat(1000)}`);
    await new Promise((r) => setTimeout(r, 200));
    const uploads = join(dir, 'data', '.uploads');
    const left = readdirSync(uploads).flatMap((d) => readdirSync(join(uploads, d)));
    expect(left).toEqual([]); // the cut-off upload was not kept
    await expectAlive();
  });

  it('refuses an oversized upload with 413 { code, message }', async () => {
    const r = await httpGet(host.port, '/upload?name=big.bin', { ...auth(), 'content-length': String(3 * 2 ** 30) }, 'POST');
    expect(r.status).toBe(413);
    expect(jsonError(r.body)).toBe(true);
    await expectAlive();
  });
});

describe('browser host robustness: concurrent imports of uploads', () => {
  it('16 uploads of different models, all named model.onnx, imported at once: 16 rows, 16 files, each hash matches its bytes', async () => {
    const N = 16;
    const base = parseModel(readFileSync(models.cnn), models.cnn);
    const bodies = Array.from({ length: N }, (_, i) => { base.docString = `variant ${i}`; return Buffer.from(serializeModel(base)); });
    const ids = await Promise.all(bodies.map(async (body) => {
      const r = await fetch(`http://127.0.0.1:${host.port}/upload?name=model.onnx`, { method: 'POST', body, headers: { 'x-studio-token': host.token } });
      return ((await r.json()) as any).value.uploadId as string;
    }));
    const p = await call(ws, nextId++, 'projects.create', { name: 'concurrent uploads' });
    const results = await Promise.all(ids.map((uploadId) => call(ws, nextId++, 'models.import', { projectId: p.value.id, file: { kind: 'upload', uploadId, name: 'model.onnx' } })));
    expect(results.every((r) => r.ok), JSON.stringify(results.find((r) => !r.ok))).toBe(true);
    const rows = (await call(ws, nextId++, 'models.list', { projectId: p.value.id })).value as { file: string; sha256: string }[];
    expect(rows).toHaveLength(N);
    expect(new Set(rows.map((r) => r.file)).size).toBe(N);
    const projectDir = join(dir, 'data', 'projects', p.value.id);
    for (const r of rows) expect(createHash('sha256').update(readFileSync(join(projectDir, r.file))).digest('hex')).toBe(r.sha256);
    expect(new Set(rows.map((r) => r.sha256))).toEqual(new Set(bodies.map((b) => createHash('sha256').update(b).digest('hex'))));
    await expectAlive();
  }, 60_000);
});

describe('browser host robustness: the long run', () => {
  it('the job that ran through all of the above finishes', async () => {
    const deadline = Date.now() + 60_000;
    let status = 'running';
    while (Date.now() < deadline && (status === 'running' || status === 'queued')) {
      status = (await call(ws, nextId++, 'runs.get', { id: longRunId })).value.status;
      if (status === 'running') await new Promise((r) => setTimeout(r, 500));
    }
    expect(status).toBe('succeeded');
    expect(host.alive()).toBe(true);
  }, 90_000);
});

// Test-only kinds share one slot: these runs start after the long one.
describe('browser host robustness: artifacts', () => {
  const auth = () => ({ 'x-studio-token': host.token });
  const jsonError = (body: string) => isError(JSON.parse(body));

  it('names downloads safely (non-ASCII, CR/LF, quotes, .work) and answers 410 { code, message } for an artifact whose file is gone', async () => {
    const names = ['plain.txt', 'résumé ✓.txt', 'evil\r\nSet-Cookie: x=1.txt', '.work', '"quoted" \\ name.txt'];
    const runs: string[] = [];
    for (const [i, outputName] of names.entries()) {
      const started = await call(ws, 9000 + i, 'runs.start', { projectId, kind: 'selftest', params: { steps: 1, stepMs: 1, outputName } });
      expect(started.ok).toBe(true);
      runs.push(started.value.id as string);
    }
    const deadline = Date.now() + 30_000;
    let arts: any[] = [];
    while (Date.now() < deadline) {
      const statuses = await Promise.all(runs.map((id, i) => call(ws, nextId++, 'runs.get', { id })));
      if (statuses.every((s) => s.value.status !== 'running' && s.value.status !== 'queued')) {
        expect(statuses.map((s) => s.value.status)).toEqual(names.map(() => 'succeeded'));
        break;
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    arts = (await call(ws, 9300, 'artifacts.list', { projectId })).value.filter((a: any) => runs.includes(a.runId));
    expect(arts).toHaveLength(names.length);
    for (const a of arts) {
      const name = a.file.split('/').pop();
      expect(name).not.toMatch(/[\r\n"\\]|^\./);
      const r = await httpGet(host.port, `/download/artifact/${a.id}`, auth());
      expect(r.status).toBe(200);
      expect(r.headers['set-cookie']).toBeUndefined();
      const cd = String(r.headers['content-disposition']);
      expect(cd).toMatch(/^attachment; filename="[\x20-\x7e]+"; filename\*=UTF-8''[A-Za-z0-9%._~!$&+=-]+$/);
      expect(decodeURIComponent(cd.split("''")[1]!)).toBe(name);
    }
    const accented = arts.find((a) => a.file.includes('résumé'));
    expect(accented).toBeDefined();
    unlinkSync(join(dir, 'data', 'projects', projectId, accented.file));
    const gone = await httpGet(host.port, `/download/artifact/${accented.id}`, auth());
    expect(gone.status).toBe(410);
    expect(jsonError(gone.body)).toBe(true);
    await expectAlive();
  }, 60_000);
});
