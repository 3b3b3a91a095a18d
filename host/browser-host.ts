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
//
// Robustness: no input may stop the process (its running jobs would die with it). Every socket, stream
// and server has an 'error' listener; WebSocket messages are type-checked before use and answered with
// `{ ok: false, error: { code, message } }`; files are opened before any header is sent; a request
// handler that throws answers 400/404/500 with `{ code, message }`.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createWriteStream, readdirSync, rmSync } from 'node:fs';
import { mkdir, open, rm, type FileHandle } from 'node:fs/promises';
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { extname, join, resolve, sep, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { startStudioEngine, type StudioEngine } from '../engine/api/engine-host';
import { StudioError, quote, toErrorPayload } from '../engine/errors';
import { bootId, ownerAlive } from '../engine/store/process-owner';
import { parseJsonBounded } from '../engine/util/json-limits';
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
  /** Accept test-only job kinds (see StudioEngineOptions.testJobKinds). */
  testJobKinds?: boolean;
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

function fail(res: ServerResponse, status: number, code: string, message: string): void {
  json(res, status, { ok: false, error: { code, message } });
}

const STATUS_OF: Record<string, number> = { BAD_ARGUMENT: 400, NOT_FOUND: 404 };

/** A WebSocket message: up to the frame limit; a pipeline graph or recipe nests a dozen levels at most. */
const WS_MAX_PAYLOAD = 16 * 2 ** 20;
const WS_JSON_LIMITS = { maxBytes: WS_MAX_PAYLOAD, maxDepth: 64 };

/** decodeURIComponent that answers BAD_ARGUMENT (400) instead of throwing URIError (was a 500). */
function decodePath(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    throw new StudioError('BAD_ARGUMENT', `Malformed percent-encoding in ${quote(s.slice(0, 200))}.`);
  }
}

/**
 * Content-Disposition for any file name: an ASCII fallback (non-ASCII, quotes, backslashes and control
 * characters replaced) plus RFC 5987 filename* with the exact UTF-8 name. A CR/LF or non-Latin-1 name
 * put raw into the header made writeHead throw (500).
 */
export function contentDisposition(name: string): string {
  const ascii = name.replace(/[^\x20-\x7e]|["\\]/g, '_') || 'download';
  const encoded = encodeURIComponent(name.replace(/[\uD800-\uDFFF]/gu, '\uFFFD')).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encoded}`;
}

/** Open a regular file for sending, or say why not (before any header is written). */
async function openForSending(file: string): Promise<{ fh: FileHandle; size: number } | { missing: true } | { notFile: true }> {
  let fh: FileHandle;
  try {
    fh = await open(file, 'r');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return { missing: true };
    if (code === 'EISDIR') return { notFile: true };
    throw e;
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) { await fh.close(); return { notFile: true }; }
    return { fh, size: st.size };
  } catch (e) {
    await fh.close().catch(() => undefined);
    throw e;
  }
}

/** Stream an opened file; a read error after the headers can only cut the response short. */
function sendFile(res: ServerResponse, fh: FileHandle, log: (l: string) => void, what: string): void {
  const stream = fh.createReadStream({ autoClose: true });
  stream.on('error', (e) => {
    log(`error: reading ${what}: ${e.message}`);
    res.destroy(e);
  });
  res.on('close', () => stream.destroy());
  stream.pipe(res);
}

const bootHex = () => bootId().replace(/-/g, '');

/** Each host process keeps its uploads in its own folder: `<pid>-<boot id>-<random>`. */
const UPLOAD_FOLDER = /^(\d+)-([0-9a-f]*)-([0-9a-f]+)$/;

/** Remove upload folders (and loose files of the old flat layout) whose owning process is dead. */
function removeDeadUploads(root: string, log: (l: string) => void): void {
  let names: string[];
  try { names = readdirSync(root); } catch { return; }
  for (const name of names) {
    const m = UPLOAD_FOLDER.exec(name);
    // This process's own older folders are dead too: the data-dir lock admits one host, and it is this one.
    const alive = m ? Number(m[1]) !== process.pid && ownerAlive({ pid: Number(m[1]), boot: m[2] === bootHex() ? bootId() : m[2] || null }) : false;
    if (alive) continue;
    try {
      rmSync(join(root, name), { recursive: true, force: true });
      log(`removed uploads left by a stopped process: ${name}`);
    } catch { /* retried at the next start */ }
  }
}

export async function startBrowserHost(opts: BrowserHostOptions): Promise<BrowserHost> {
  const token = opts.token ?? randomBytes(32).toString('hex');
  const rendererDir = resolve(opts.rendererDir ?? join(repoRoot, 'out', 'renderer'));
  const maxUpload = opts.maxUploadBytes ?? 2 * 2 ** 30;
  const uploadRoot = join(opts.dataDir, '.uploads');
  const uploadDir = join(uploadRoot, `${process.pid}-${bootHex()}-${randomBytes(6).toString('hex')}`);
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

  // Takes the data dir's lock first: the upload cleanup below must never touch a live host's folder.
  const engine = startStudioEngine({ dataDir: opts.dataDir, host: 'browser', resolveFile, checkExportPath, graceMs: opts.graceMs, testJobKinds: opts.testJobKinds });
  try {
    removeDeadUploads(uploadRoot, log);
    await mkdir(join(opts.dataDir, 'exports'), { recursive: true });
    await mkdir(uploadDir, { recursive: true });
  } catch (e) {
    await engine.close();
    throw e;
  }
  let port = 0;
  const allowedHosts = () => new Set([`127.0.0.1:${port}`, `localhost:${port}`]);
  const allowedOrigins = () => new Set([`http://127.0.0.1:${port}`, `http://localhost:${port}`]);

  const server = createServer((req, res) => {
    res.on('error', (e) => log(`error: response: ${e.message}`));
    req.on('error', (e) => log(`error: request: ${e.message}`));
    let p: Promise<void>;
    try { p = handle(req, res); } catch (e) { p = Promise.reject(e); }
    void p.catch((e) => {
      const err = toErrorPayload(e);
      const status = STATUS_OF[err.code] ?? 500;
      if (status === 500) log(`error: ${req.method} ${String(req.url).slice(0, 200)}: ${err.message}`);
      if (!res.headersSent) {
        try { fail(res, status, err.code, err.message); } catch { res.destroy(); }
      } else res.destroy();
    });
  });
  // A malformed request line or headers: answer 400 and drop the connection (never an unhandled error).
  server.on('clientError', (e: NodeJS.ErrnoException, socket) => {
    const status = e.code === 'HPE_HEADER_OVERFLOW' ? '431 Request Header Fields Too Large' : '400 Bad Request';
    if (socket.writable && e.code !== 'ECONNRESET') socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    else socket.destroy();
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (!allowedHosts().has(req.headers.host ?? '')) {
      fail(res, 403, 'BAD_ARGUMENT', `Forbidden: unexpected Host header ${quote(req.headers.host ?? '')}.`);
      return;
    }
    let url: URL;
    try { url = new URL(req.url ?? '/', `http://127.0.0.1:${port}`); } catch {
      throw new StudioError('BAD_ARGUMENT', `Malformed request URL ${quote(String(req.url).slice(0, 200))}.`);
    }
    const queryToken = url.searchParams.get('token');
    const headerToken = req.headers['x-studio-token'];
    const authed = sameToken(queryToken, token) || sameToken(typeof headerToken === 'string' ? headerToken : undefined, token) || sameToken(cookieToken(req), token);
    if (!authed) {
      fail(res, 403, 'BAD_ARGUMENT', 'Forbidden: open the URL the browser host printed (it carries the access token).');
      return;
    }
    const origin = req.headers.origin;
    if (origin && !allowedOrigins().has(origin)) {
      fail(res, 403, 'BAD_ARGUMENT', `Forbidden: cross-origin request from ${quote(origin)}.`);
      return;
    }
    if (req.method === 'POST' && url.pathname === '/upload') return upload(req, res, url);
    if (req.method === 'GET' && url.pathname.startsWith('/download/artifact/')) return download(res, decodePath(url.pathname.slice('/download/artifact/'.length)));
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      fail(res, 405, 'BAD_ARGUMENT', `Method ${quote(req.method)} is not allowed here.`);
      return;
    }
    return serveStatic(req, res, url, sameToken(queryToken, token));
  }

  async function serveStatic(req: IncomingMessage, res: ServerResponse, url: URL, setCookie: boolean): Promise<void> {
    let rel = decodePath(url.pathname);
    if (rel === '/' || rel === '') rel = '/index.html';
    if (rel.includes('\0')) throw new StudioError('BAD_ARGUMENT', `Path ${quote(rel)} contains a NUL byte.`);
    const file = resolve(rendererDir, '.' + rel);
    if (!file.startsWith(rendererDir + sep)) {
      fail(res, 403, 'BAD_ARGUMENT', `Forbidden: ${quote(rel)} is outside the served folder.`);
      return;
    }
    const opened = await openForSending(file);
    if (!('fh' in opened)) {
      const msg = rel === '/index.html' ? `The renderer is not built (${rendererDir}): run \`npx electron-vite build\` first.` : 'Not found.';
      fail(res, 404, 'NOT_FOUND', msg);
      return;
    }
    const headers: Record<string, string | number> = {
      'content-type': MIME[extname(file)] ?? 'application/octet-stream',
      'content-length': opened.size,
      'content-security-policy': csp(port),
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'no-referrer',
      'cache-control': 'no-store',
    };
    if (setCookie) headers['set-cookie'] = `${COOKIE}=${token}; HttpOnly; SameSite=Strict; Path=/`;
    res.writeHead(200, headers);
    if (req.method === 'HEAD') {
      await opened.fh.close();
      res.end();
    } else sendFile(res, opened.fh, log, file);
  }

  async function upload(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const name = url.searchParams.get('name') ?? 'upload.bin';
    const declared = Number(req.headers['content-length'] ?? NaN);
    if (Number.isFinite(declared) && declared > maxUpload) {
      res.setHeader('connection', 'close');
      fail(res, 413, 'BAD_ARGUMENT', `Upload ${quote(name)} is ${declared} bytes; the limit is ${maxUpload}.`);
      req.resume();
      return;
    }
    // No await before the listeners below: a body that ends (or a client that leaves) meanwhile would
    // go unseen, the upload would wait forever and its file would stay.
    const id = randomBytes(12).toString('hex');
    const path = join(uploadDir, id);
    const out = createWriteStream(path, { flags: 'wx' });
    // Remove a refused or cut-off upload only once the stream has closed: it opens the file
    // asynchronously, and a removal before that open would leave the file behind.
    const discard = async () => {
      if (!out.closed) await new Promise<void>((r) => { out.once('close', () => r()); out.destroy(); });
      await rm(path, { force: true });
    };
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
      // The client went away before the body ended: nothing to keep.
      req.on('close', () => { if (!req.complete) rejectUp(new StudioError('BAD_ARGUMENT', `Upload ${quote(name)} was cut off after ${size} bytes.`)); });
      out.on('error', rejectUp);
      out.on('finish', () => resolveUp());
      req.pipe(out);
    }).catch(async (e) => {
      await discard();
      throw e;
    });
    if (tooBig) {
      await discard();
      res.setHeader('connection', 'close');
      fail(res, 413, 'BAD_ARGUMENT', `Upload ${quote(name)} exceeds the limit of ${maxUpload} bytes.`);
      return;
    }
    uploads.set(id, path);
    log(`upload ${id}: ${name} (${size} bytes)`);
    json(res, 200, { ok: true, value: { uploadId: id, sizeBytes: size } });
  }

  async function download(res: ServerResponse, artifactId: string): Promise<void> {
    const a = engine.store.getArtifact(artifactId); // NOT_FOUND → 404
    const file = join(engine.store.projectDir(a.projectId), a.file);
    const name = a.file.split('/').pop() || 'artifact';
    const opened = await openForSending(file);
    if (!('fh' in opened)) {
      fail(res, 410, 'NOT_FOUND', `Artifact ${quote(a.id)} is recorded but its file ${quote(a.file)} is gone from the project folder.`);
      return;
    }
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': opened.size, 'content-disposition': contentDisposition(name), 'cache-control': 'no-store' });
    sendFile(res, opened.fh, log, file);
  }

  // ---- WebSocket: the contract's calls and push events ----
  const wss = new WebSocketServer({ noServer: true, maxPayload: WS_MAX_PAYLOAD });
  wss.on('error', (e) => log(`error: websocket server: ${e.message}`));
  const sockets = new Set<WebSocket>();
  const send = (ws: WebSocket, text: string) => {
    if (ws.readyState === ws.OPEN) ws.send(text, (e) => { if (e) log(`error: websocket send: ${e.message}`); });
  };
  const reply = (ws: WebSocket, id: number | string | null, result: unknown) => send(ws, JSON.stringify({ id, result }));
  const refuse = (ws: WebSocket, id: number | string | null, message: string) => reply(ws, id, { ok: false, error: { code: 'BAD_ARGUMENT', message } });

  function onMessage(ws: WebSocket, data: WebSocket.RawData, isBinary: boolean): void {
    if (isBinary) return refuse(ws, null, 'Binary frames are not part of the protocol; send JSON text { id, channel, request }.');
    let msg: unknown;
    // Bounded nesting: the contract's validators and error messages walk a request recursively, and
    // 100000 nested brackets made them overflow the stack (answered INTERNAL instead of BAD_ARGUMENT).
    try { msg = parseJsonBounded(String(data), 'The message', WS_JSON_LIMITS); } catch (e) {
      return refuse(ws, null, (e as Error).message);
    }
    if (typeof msg !== 'object' || msg === null || Array.isArray(msg)) {
      return refuse(ws, null, `A message is a JSON object { id, channel, request }; got ${msg === null ? 'null' : Array.isArray(msg) ? 'an array' : typeof msg}.`);
    }
    const m = msg as { id?: unknown; channel?: unknown; request?: unknown };
    const id = typeof m.id === 'number' && Number.isFinite(m.id) ? m.id : typeof m.id === 'string' ? m.id.slice(0, 100) : null;
    if (m.id !== undefined && m.id !== null && id === null) return refuse(ws, null, `A message's id must be a number or a string; got ${quote(m.id)}.`);
    if (typeof m.channel !== 'string') return refuse(ws, id, `A message's channel must be a string; got ${quote(m.channel)}.`);
    let pending: Promise<unknown>;
    try { pending = engine.service.dispatch(m.channel, m.request); } catch (e) { pending = Promise.reject(e); }
    pending.then(
      (result) => reply(ws, id, result),
      (e) => reply(ws, id, { ok: false, error: toErrorPayload(e) }),
    ).catch((e) => {
      // e.g. a result JSON.stringify cannot write: still an answer, never an unhandled rejection
      reply(ws, id, { ok: false, error: { code: 'INTERNAL', message: `Cannot send the answer: ${(e as Error).message}` } });
    });
  }

  server.on('upgrade', (req, socket, head) => {
    socket.on('error', (e) => log(`error: websocket connection: ${e.message}`));
    let ok = false;
    try {
      const url = new URL(req.url ?? '/', `http://127.0.0.1:${port}`);
      ok = url.pathname === '/ws' && allowedHosts().has(req.headers.host ?? '') && allowedOrigins().has(req.headers.origin ?? '')
        && (sameToken(url.searchParams.get('token'), token) || sameToken(cookieToken(req), token));
    } catch { ok = false; }
    if (!ok) {
      socket.end('HTTP/1.1 403 Forbidden\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      sockets.add(ws);
      // Protocol errors (invalid UTF-8, a frame over maxPayload, bad opcodes) close this socket with the
      // matching code (1007, 1009, 1002); without a listener they were thrown and ended the process.
      ws.on('error', (e) => log(`error: websocket: ${e.message}`));
      ws.on('close', () => sockets.delete(ws));
      ws.on('message', (data, isBinary) => {
        try { onMessage(ws, data, isBinary); } catch (e) {
          log(`error: websocket message: ${(e as Error).message}`);
          reply(ws, null, { ok: false, error: toErrorPayload(e) });
        }
      });
    });
  });
  const offEvents = engine.onEvent((event, payload) => {
    let text: string;
    try { text = JSON.stringify({ event, payload }); } catch { return; }
    for (const ws of sockets) send(ws, text);
  });

  try {
    await new Promise<void>((res, rej) => {
      server.once('error', rej);
      server.listen(opts.port ?? 0, '127.0.0.1', () => { server.off('error', rej); res(); });
    });
  } catch (e) {
    await engine.close();
    throw e;
  }
  server.on('error', (e) => log(`error: http server: ${e.message}`));
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
      // Only this process's uploads: another host's folder is not ours to remove.
      await rm(uploadDir, { recursive: true, force: true });
    },
  };
}
