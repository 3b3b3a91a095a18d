// The browser host: the built renderer and the same service handlers over HTTP + WebSocket, so the
// real renderer runs in a real browser (e2e tests in headless Chromium, headless workstations).
//
// Security (it serves a local engine that reads and writes files):
//  - bound to 127.0.0.1 only; port random by default;
//  - a random 256-bit token: the printed URL carries it (?token=…); the first page load turns it into an
//    HttpOnly SameSite=Strict cookie for the page's own assets; every HTTP request and the WebSocket
//    without the right token get 403 (constant-time compare);
//  - DNS rebinding: the Host header must be 127.0.0.1:<port> or localhost:<port>, and the WebSocket's
//    Origin must be that same origin — other sites' pages cannot talk to it;
//  - every message is validated against the contract by the service; uploads are size-limited and
//    streamed to disk; by default FileRefs may only name uploads (no arbitrary server paths) unless
//    started with allowPaths (tests, trusted local use).
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createReadStream, createWriteStream, existsSync, statSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { extname, join, resolve, sep, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { startStudioEngine, type StudioEngine } from '../engine/api/engine-host';
import { StudioError, quote } from '../engine/errors';
import type { FileRef } from '../contract/ipc';

export interface BrowserHostOptions {
  dataDir: string;
  /** 0 = a random free port. */
  port?: number;
  /** The built renderer (electron-vite build → out/renderer). */
  rendererDir?: string;
  token?: string;
  /** Let FileRefs of kind 'path' and export paths name any local file (tests, trusted use). */
  allowPaths?: boolean;
  maxUploadBytes?: number;
  /** Job cancel grace period (ms). */
  graceMs?: number;
  log?: (line: string) => void;
}

export interface BrowserHost {
  url: string;
  port: number;
  token: string;
  engine: StudioEngine;
  close(): Promise<void>;
}

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8', '.json': 'application/json', '.svg': 'image/svg+xml', '.png': 'image/png',
  '.jpg': 'image/jpeg', '.ico': 'image/x-icon', '.woff2': 'font/woff2', '.wasm': 'application/wasm', '.map': 'application/json',
};
const COOKIE = 'qstudio_token';

function csp(port: number): string {
  return `default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self' ws://127.0.0.1:${port} ws://localhost:${port}; worker-src 'self' blob:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'`;
}

function sameToken(a: string | null | undefined, b: string): boolean {
  if (!a) return false;
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function cookieToken(req: IncomingMessage): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === COOKIE) return v.join('=');
  }
  return undefined;
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(JSON.stringify(body));
}

export async function startBrowserHost(opts: BrowserHostOptions): Promise<BrowserHost> {
  const token = opts.token ?? randomBytes(32).toString('hex');
  const rendererDir = resolve(opts.rendererDir ?? join(repoRoot, 'out', 'renderer'));
  const maxUpload = opts.maxUploadBytes ?? 2 * 2 ** 30;
  const uploadDir = join(opts.dataDir, '.uploads');
  const uploads = new Map<string, string>();
  const log = opts.log ?? (() => undefined);

  const resolveFile = (ref: FileRef): string => {
    if (ref.kind === 'upload') {
      const p = uploads.get(ref.uploadId);
      if (!p) throw new StudioError('NOT_FOUND', `Upload ${quote(ref.uploadId)} is unknown (expired or never uploaded).`);
      return p;
    }
    if (!opts.allowPaths) throw new StudioError('BAD_ARGUMENT', `The browser host does not read server paths such as ${quote(ref.path)}; upload the file instead.`);
    return ref.path;
  };
  const checkExportPath = (p: string): string => {
    if (opts.allowPaths) return p;
    const exportsDir = join(resolve(opts.dataDir), 'exports');
    const dest = resolve(exportsDir, p);
    if (!dest.startsWith(exportsDir + sep)) throw new StudioError('BAD_ARGUMENT', `The browser host exports only into ${quote(exportsDir)}; got ${quote(p)}. Use the download link for other places.`);
    return dest;
  };

  const engine = startStudioEngine({ dataDir: opts.dataDir, host: 'browser', resolveFile, checkExportPath, graceMs: opts.graceMs });
  await mkdir(join(opts.dataDir, 'exports'), { recursive: true });
  let port = 0;
  const allowedHosts = () => new Set([`127.0.0.1:${port}`, `localhost:${port}`]);
  const allowedOrigins = () => new Set([`http://127.0.0.1:${port}`, `http://localhost:${port}`]);

  const server = createServer((req, res) => {
    void handle(req, res).catch((e) => {
      log(`error: ${(e as Error).message}`);
      if (!res.headersSent) json(res, 500, { ok: false, error: { code: 'INTERNAL', message: (e as Error).message } });
      else res.destroy();
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (!allowedHosts().has(req.headers.host ?? '')) {
      res.writeHead(403, { 'content-type': 'text/plain' }).end('Forbidden: unexpected Host header.');
      return;
    }
    const url = new URL(req.url ?? '/', `http://127.0.0.1:${port}`);
    const queryToken = url.searchParams.get('token');
    const authed = sameToken(queryToken, token) || sameToken(req.headers['x-studio-token'] as string | undefined, token) || sameToken(cookieToken(req), token);
    if (!authed) {
      res.writeHead(403, { 'content-type': 'text/plain' }).end('Forbidden: open the URL the browser host printed (it carries the access token).');
      return;
    }
    const origin = req.headers.origin;
    if (origin && !allowedOrigins().has(origin)) {
      res.writeHead(403, { 'content-type': 'text/plain' }).end('Forbidden: cross-origin request.');
      return;
    }
    if (req.method === 'POST' && url.pathname === '/upload') return upload(req, res, url);
    if (req.method === 'GET' && url.pathname.startsWith('/download/artifact/')) return download(res, decodeURIComponent(url.pathname.slice('/download/artifact/'.length)));
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405).end();
      return;
    }
    return serveStatic(req, res, url, sameToken(queryToken, token));
  }

  function serveStatic(req: IncomingMessage, res: ServerResponse, url: URL, setCookie: boolean): void {
    let rel = decodeURIComponent(url.pathname);
    if (rel === '/' || rel === '') rel = '/index.html';
    const file = resolve(rendererDir, '.' + rel);
    if (!file.startsWith(rendererDir + sep)) {
      res.writeHead(403).end();
      return;
    }
    if (!existsSync(file) || !statSync(file).isFile()) {
      const msg = rel === '/index.html' ? `The renderer is not built (${rendererDir}): run \`npx electron-vite build\` first.` : 'Not found.';
      res.writeHead(404, { 'content-type': 'text/plain' }).end(msg);
      return;
    }
    const headers: Record<string, string> = {
      'content-type': MIME[extname(file)] ?? 'application/octet-stream',
      'content-security-policy': csp(port),
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'no-referrer',
      'cache-control': 'no-store',
    };
    if (setCookie) headers['set-cookie'] = `${COOKIE}=${token}; HttpOnly; SameSite=Strict; Path=/`;
    res.writeHead(200, headers);
    if (req.method === 'HEAD') res.end();
    else createReadStream(file).pipe(res);
  }

  async function upload(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const name = url.searchParams.get('name') ?? 'upload.bin';
    const declared = Number(req.headers['content-length'] ?? NaN);
    if (Number.isFinite(declared) && declared > maxUpload) {
      json(res, 413, { ok: false, error: { code: 'BAD_ARGUMENT', message: `Upload ${quote(name)} is ${declared} bytes; the limit is ${maxUpload}.` } });
      req.resume();
      return;
    }
    await mkdir(uploadDir, { recursive: true });
    const id = randomBytes(12).toString('hex');
    const path = join(uploadDir, id);
    const out = createWriteStream(path, { flags: 'wx' });
    let size = 0;
    let tooBig = false;
    await new Promise<void>((resolveUp, rejectUp) => {
      req.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > maxUpload && !tooBig) {
          tooBig = true;
          req.unpipe(out);
          out.destroy();
          resolveUp();
        }
      });
      req.on('error', rejectUp);
      out.on('error', rejectUp);
      out.on('finish', () => resolveUp());
      req.pipe(out);
    }).catch(async (e) => {
      await rm(path, { force: true });
      throw e;
    });
    if (tooBig) {
      await rm(path, { force: true });
      res.setHeader('connection', 'close');
      json(res, 413, { ok: false, error: { code: 'BAD_ARGUMENT', message: `Upload ${quote(name)} exceeds the limit of ${maxUpload} bytes.` } });
      return;
    }
    uploads.set(id, path);
    log(`upload ${id}: ${name} (${size} bytes)`);
    json(res, 200, { ok: true, value: { uploadId: id, sizeBytes: size } });
  }

  function download(res: ServerResponse, artifactId: string): void {
    let file: string;
    let name: string;
    try {
      const a = engine.store.getArtifact(artifactId);
      file = join(engine.store.projectDir(a.projectId), a.file);
      name = a.file.split('/').pop() ?? 'artifact';
    } catch (e) {
      json(res, 404, { ok: false, error: { code: 'NOT_FOUND', message: (e as Error).message } });
      return;
    }
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-disposition': `attachment; filename="${name.replace(/"/g, '')}"` });
    createReadStream(file).pipe(res);
  }

  // ---- WebSocket: the contract's calls and push events ----
  const wss = new WebSocketServer({ noServer: true, maxPayload: 16 * 2 ** 20 });
  const sockets = new Set<WebSocket>();
  server.on('upgrade', (req, socket, head) => {
    const url = new URL(req.url ?? '/', `http://127.0.0.1:${port}`);
    const ok = url.pathname === '/ws' && allowedHosts().has(req.headers.host ?? '') && allowedOrigins().has(req.headers.origin ?? '')
      && (sameToken(url.searchParams.get('token'), token) || sameToken(cookieToken(req), token));
    if (!ok) {
      socket.end('HTTP/1.1 403 Forbidden\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      sockets.add(ws);
      ws.on('close', () => sockets.delete(ws));
      ws.on('message', (data) => {
        let msg: { id?: unknown; channel?: unknown; request?: unknown };
        try { msg = JSON.parse(String(data)); } catch {
          ws.send(JSON.stringify({ id: null, result: { ok: false, error: { code: 'BAD_ARGUMENT', message: 'Message is not JSON.' } } }));
          return;
        }
        const id = typeof msg.id === 'number' ? msg.id : null;
        void engine.service.dispatch(msg.channel, msg.request).then((result) => {
          if (ws.readyState === ws.OPEN) ws.send(JSON.stringify({ id, result }));
        });
      });
    });
  });
  const offEvents = engine.onEvent((event, payload) => {
    const text = JSON.stringify({ event, payload });
    for (const ws of sockets) if (ws.readyState === ws.OPEN) ws.send(text);
  });

  await new Promise<void>((res, rej) => {
    server.once('error', rej);
    server.listen(opts.port ?? 0, '127.0.0.1', () => res());
  });
  port = (server.address() as AddressInfo).port;
  const url = `http://127.0.0.1:${port}/?token=${token}`;
  log(`Quant Studio browser host: ${url} (data: ${opts.dataDir})`);

  return {
    url, port, token, engine,
    async close() {
      offEvents();
      for (const ws of sockets) ws.terminate();
      wss.close();
      await new Promise<void>((r) => server.close(() => r()));
      server.closeAllConnections?.();
      await engine.close();
      await rm(uploadDir, { recursive: true, force: true });
    },
  };
}
