// The browser host as a real child process (bin/browser-host.mjs), so that an input that kills it is
// seen as a dead process rather than hidden inside the test runner's process.
import { spawn, type ChildProcess } from 'node:child_process';
import { request as httpRequest } from 'node:http';
import { resolve } from 'node:path';
import WebSocket from 'ws';

const repo = resolve(__dirname, '..', '..');

export interface HostProcess {
  child: ChildProcess;
  port: number;
  token: string;
  output: () => string;
  alive: () => boolean;
  stop: (signal?: NodeJS.Signals) => Promise<number | null>;
}

export async function spawnHost(dataDir: string, rendererDir: string, env: Record<string, string> = {}): Promise<HostProcess> {
  const child = spawn(process.execPath, [resolve(repo, 'bin/browser-host.mjs'), '--data-dir', dataDir, '--renderer', rendererDir], {
    cwd: repo, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env },
  });
  let out = '';
  let exited: number | null | undefined;
  const exit = new Promise<number | null>((r) => child.on('exit', (code, sig) => { exited = code ?? (sig ? -1 : null); r(exited); }));
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const started = await new Promise<{ port: number; token: string }>((res, rej) => {
    const timer = setTimeout(() => rej(new Error(`host did not start within 60 s:\n${out}`)), 60_000);
    const check = () => {
      const m = /http:\/\/127\.0\.0\.1:(\d+)\/\?token=([0-9a-f]{64})/.exec(out);
      if (m) { clearTimeout(timer); res({ port: Number(m[1]), token: m[2]! }); }
    };
    child.stdout!.on('data', check);
    void exit.then((code) => { clearTimeout(timer); rej(new Error(`host exited (${code}) before starting:\n${out}`)); });
  });
  return {
    child, ...started,
    output: () => out,
    alive: () => exited === undefined,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (exited !== undefined) return exited;
      child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      const code = await exit;
      clearTimeout(timer);
      return code;
    },
  };
}

export function httpGet(port: number, path: string, headers: Record<string, string> = {}, method = 'GET', body?: Buffer): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((res, rej) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, method, headers: { host: `127.0.0.1:${port}`, ...headers } }, (r) => {
      let b = '';
      r.on('data', (d) => (b += d));
      r.on('end', () => res({ status: r.statusCode!, headers: r.headers, body: b }));
      r.on('error', rej);
    });
    req.on('error', rej);
    req.end(body);
  });
}

export function connectWs(port: number, token: string, opts: WebSocket.ClientOptions = {}): Promise<WebSocket> {
  return new Promise((res, rej) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/ws?token=${token}`, { origin: `http://127.0.0.1:${port}`, ...opts });
    ws.once('open', () => res(ws));
    ws.once('error', rej);
    ws.once('unexpected-response', (_req, r) => rej(new Error(`HTTP ${r.statusCode}`)));
  });
}

/** Send a raw frame text and wait for the next answer that is not a push event (or the socket closing). */
export function nextAnswer(ws: WebSocket, send: () => void, timeoutMs = 10_000): Promise<{ answer?: any; closed?: { code: number; reason: string } }> {
  return new Promise((res) => {
    const timer = setTimeout(() => { cleanup(); res({}); }, timeoutMs);
    const onMsg = (d: WebSocket.RawData) => {
      const m = JSON.parse(String(d));
      if (m.event) return;
      cleanup();
      res({ answer: m });
    };
    const onClose = (code: number, reason: Buffer) => { cleanup(); res({ closed: { code, reason: String(reason) } }); };
    const cleanup = () => { clearTimeout(timer); ws.off('message', onMsg); ws.off('close', onClose); };
    ws.on('message', onMsg);
    ws.on('close', onClose);
    ws.on('error', () => undefined);
    send();
  });
}

export function call(ws: WebSocket, id: number, channel: string, request: unknown): Promise<any> {
  return new Promise((res, rej) => {
    const timer = setTimeout(() => { ws.off('message', on); rej(new Error(`no answer to ${channel} (id ${id})`)); }, 20_000);
    const on = (data: WebSocket.RawData) => {
      const m = JSON.parse(String(data));
      if (m.id === id) { clearTimeout(timer); ws.off('message', on); res(m.result); }
    };
    ws.on('message', on);
    ws.send(JSON.stringify({ id, channel, request }));
  });
}
