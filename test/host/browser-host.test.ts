// The browser host's security and its wire: 127.0.0.1 only, every HTTP request and WebSocket without
// the token refused (403), foreign Host/Origin refused (DNS rebinding), path traversal refused,
// uploads streamed with a size limit, and contract calls + push events over the WebSocket.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtempSync, rmSync, mkdirSync, writeFileSync, readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { startBrowserHost, type BrowserHost } from '../../host/browser-host';
import { models } from '../helpers/shared';

let dir: string;
let host: BrowserHost;
let base: string;

function get(path: string, headers: Record<string, string> = {}, method = 'GET', body?: Buffer): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((res, rej) => {
    const req = httpRequest({ host: '127.0.0.1', port: host.port, path, method, headers: { host: `127.0.0.1:${host.port}`, ...headers } }, (r) => {
      let b = '';
      r.on('data', (d) => (b += d));
      r.on('end', () => res({ status: r.statusCode!, headers: r.headers, body: b }));
    });
    req.on('error', rej);
    req.end(body);
  });
}

function connect(url: string, origin?: string): Promise<WebSocket> {
  return new Promise((res, rej) => {
    const ws = new WebSocket(url, { origin: origin ?? `http://127.0.0.1:${host.port}` });
    ws.once('open', () => res(ws));
    ws.once('error', rej);
    ws.once('unexpected-response', (_req, r) => rej(new Error(`HTTP ${r.statusCode}`)));
  });
}

function rpc(ws: WebSocket, id: number, channel: string, request: unknown): Promise<any> {
  return new Promise((res) => {
    const on = (data: WebSocket.RawData) => {
      const m = JSON.parse(String(data));
      if (m.id === id) { ws.off('message', on); res(m.result); }
    };
    ws.on('message', on);
    ws.send(JSON.stringify({ id, channel, request }));
  });
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'qs-host-'));
  const renderer = join(dir, 'renderer');
  mkdirSync(join(renderer, 'assets'), { recursive: true });
  writeFileSync(join(renderer, 'index.html'), '<!doctype html><title>t</title>');
  writeFileSync(join(renderer, 'assets', 'app.js'), 'console.log(1)');
  writeFileSync(join(dir, 'secret.txt'), 'secret');
  host = await startBrowserHost({ dataDir: join(dir, 'data'), rendererDir: renderer, maxUploadBytes: 2 * 2 ** 20, testJobKinds: true });
  base = `http://127.0.0.1:${host.port}`;
});
afterAll(async () => {
  await host.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('browser host: access control', () => {
  it('prints a 127.0.0.1 URL with a long random token', () => {
    expect(host.url).toMatch(new RegExp(`^http://127\\.0\\.0\\.1:${host.port}/\\?token=[0-9a-f]{64}$`));
  });

  it('refuses requests without the token, with a wrong token, or for a foreign Host', async () => {
    expect((await get('/')).status).toBe(403);
    expect((await get('/assets/app.js')).status).toBe(403);
    expect((await get('/?token=' + '0'.repeat(64))).status).toBe(403);
    expect((await get(`/?token=${host.token}`, { host: `evil.example:${host.port}` })).status).toBe(403);
    expect((await get(`/upload?token=x&name=a`, {}, 'POST', Buffer.from('x'))).status).toBe(403);
  });

  it('serves the renderer with the token, then to the same browser through an HttpOnly cookie, with a CSP', async () => {
    const first = await get(`/?token=${host.token}`);
    expect(first.status).toBe(200);
    expect(first.headers['content-security-policy']).toContain("default-src 'self'");
    const cookie = String(first.headers['set-cookie']).split(';')[0]!;
    expect(String(first.headers['set-cookie'])).toMatch(/HttpOnly; SameSite=Strict/);
    const asset = await get('/assets/app.js', { cookie });
    expect(asset.status).toBe(200);
    expect(asset.headers['content-type']).toMatch(/javascript/);
    expect((await get('/..%2fsecret.txt', { cookie })).status).toBe(403);
    for (const p of ['/../secret.txt', '/%2e%2e/secret.txt']) {
      const r = await get(p, { cookie });
      expect(r.status).toBe(404);
      expect(r.body).not.toContain('secret');
    }
  });

  it('refuses WebSockets without the token or from another origin', async () => {
    await expect(connect(`ws://127.0.0.1:${host.port}/ws`)).rejects.toThrow(/403/);
    await expect(connect(`ws://127.0.0.1:${host.port}/ws?token=${host.token}`, 'http://evil.example')).rejects.toThrow(/403/);
    const ws = await connect(`ws://127.0.0.1:${host.port}/ws?token=${host.token}`);
    ws.close();
  });
});

describe('browser host: the contract over WebSocket, uploads', () => {
  it('answers calls, refuses malformed payloads, pushes run events', async () => {
    const ws = await connect(`ws://127.0.0.1:${host.port}/ws?token=${host.token}`);
    try {
      const events: any[] = [];
      ws.on('message', (d) => { const m = JSON.parse(String(d)); if (m.event) events.push(m); });
      const bad = await rpc(ws, 1, 'projects.create', { name: ['x'] });
      expect(bad).toMatchObject({ ok: false, error: { code: 'BAD_ARGUMENT' } });
      const p = await rpc(ws, 2, 'projects.create', { name: 'over ws' });
      expect(p.ok).toBe(true);
      const info = await rpc(ws, 3, 'app.info', {});
      expect(info.value.host).toBe('browser');
      // paths on the server are not readable from the browser unless allowPaths
      const byPath = await rpc(ws, 4, 'models.import', { projectId: p.value.id, file: { kind: 'path', path: models.cnn } });
      expect(byPath).toMatchObject({ ok: false, error: { code: 'BAD_ARGUMENT' } });
      const run = await rpc(ws, 5, 'runs.start', { projectId: p.value.id, kind: 'selftest', params: { steps: 2 } });
      await host.engine.jobs.wait(run.value.id);
      await new Promise((r) => setTimeout(r, 50));
      expect(events.filter((e) => e.event === 'run.progress').length).toBe(2);
      expect(events.some((e) => e.event === 'run.status' && e.payload.status === 'succeeded')).toBe(true);
      // the artifact: downloadable with the token, exportable only into <data>/exports
      const [art] = host.engine.store.listArtifacts(p.value.id);
      const dl = await fetch(`${base}/download/artifact/${art!.id}?token=${host.token}`);
      expect(dl.status).toBe(200);
      expect(await dl.text()).toBe('selftest done: 2 steps\n');
      expect((await fetch(`${base}/download/artifact/${art!.id}`)).status).toBe(403);
      const exp = await rpc(ws, 6, 'artifacts.export', { id: art!.id, destPath: 'selftest-copy.txt' });
      expect(exp).toMatchObject({ ok: true, value: { path: join(dir, 'data', 'exports', 'selftest-copy.txt') } });
      expect(readFileSync(exp.value.path, 'utf8')).toBe('selftest done: 2 steps\n');
      const outside = await rpc(ws, 7, 'artifacts.export', { id: art!.id, destPath: join(dir, 'elsewhere.txt') });
      expect(outside).toMatchObject({ ok: false, error: { code: 'BAD_ARGUMENT' } });
      ws.send('not json');
    } finally {
      ws.close();
    }
  });

  it('imports an uploaded model; refuses uploads over the limit', async () => {
    const cnn = readFileSync(models.cnn);
    const up = await fetch(`${base}/upload?token=${host.token}&name=fmnist-cnn.onnx`, { method: 'POST', body: cnn });
    expect(up.status).toBe(200);
    const { value } = (await up.json()) as { value: { uploadId: string; sizeBytes: number } };
    expect(value.sizeBytes).toBe(cnn.length);
    const p = host.engine.store.createProject({ name: 'upload' });
    const r = await host.engine.service.dispatch('models.import', { projectId: p.id, file: { kind: 'upload', uploadId: value.uploadId, name: 'fmnist-cnn.onnx' } });
    expect(r).toMatchObject({ ok: true, value: { name: 'fmnist-cnn', opset: 17 } });

    const big = await fetch(`${base}/upload?token=${host.token}&name=big.bin`, { method: 'POST', body: Buffer.alloc(3 * 2 ** 20) });
    expect(big.status).toBe(413);
    // streamed without Content-Length: the limit still holds
    const stream = new ReadableStream({ start(c) { for (let i = 0; i < 4; i++) c.enqueue(new Uint8Array(2 ** 20)); c.close(); } });
    const big2 = await fetch(`${base}/upload?token=${host.token}&name=big2.bin`, { method: 'POST', body: stream, duplex: 'half' } as RequestInit);
    expect(big2.status).toBe(413);
  });
});
