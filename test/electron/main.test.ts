// Electron main-process pieces with `electron` MOCKED (vi.mock): no Electron binary can run on these
// machines. The service behind the IPC handler is real (real SQLite store in a temp folder).
// Checks: IPC from untrusted frames is refused, malformed payloads are refused, the window is
// sandboxed/isolated with navigation and new windows blocked, dialogs gate which paths the renderer
// may name.
import { describe, it, expect, vi, beforeAll } from 'vitest';
import { pathToFileURL } from 'node:url';

vi.mock('electron', () => ({ app: {}, BrowserWindow: class {}, ipcMain: {}, dialog: {}, session: {} }));

import { registerIpc, isTrustedUrl, checkSender, sendEvent } from '../../electron/main/ipc';
import { createMainWindow, lockDownContents, hardenSession, secureWebPreferences, RENDERER_CSP } from '../../electron/main/window';
import { createDialogPolicy } from '../../electron/main/dialogs';
import { IPC_INVOKE, IPC_EVENT } from '../../contract/ipc';
import { useTempStudio } from '../fixtures/temp-studio';

const rendererFile = '/opt/quant-studio/resources/app.asar/out/renderer/index.html';
const trusted = { fileUrl: pathToFileURL(rendererFile).href };
const studio = useTempStudio('qs-electron-', { host: 'electron' });
let invoke: (event: unknown, msg: unknown) => Promise<any>;

beforeAll(() => {
  const ipcMain = { handle: vi.fn((ch: string, fn: typeof invoke) => { expect(ch).toBe(IPC_INVOKE); invoke = fn; }), removeHandler: vi.fn() };
  registerIpc(ipcMain, studio.engine.service, trusted);
});

const frame = (url: string, parent: unknown = null) => ({ senderFrame: { url, parent } });

describe('electron main: IPC handler', () => {
  it('answers our own renderer', async () => {
    const r = await invoke(frame(trusted.fileUrl + '#/p/x/overview'), { channel: 'projects.create', request: { name: 'from electron' } });
    expect(r).toMatchObject({ ok: true, value: { name: 'from electron' } });
  });

  it('refuses senders that are not our top-level renderer', async () => {
    for (const ev of [
      frame('https://evil.example/'),
      frame('file:///tmp/other.html'),
      frame(trusted.fileUrl, { url: trusted.fileUrl }), // a sub-frame
      frame(''),
      { senderFrame: null },
    ]) {
      const r = await invoke(ev, { channel: 'projects.list', request: {} });
      expect(r).toMatchObject({ ok: false, error: { code: 'FORBIDDEN' } });
    }
    expect(studio.engine.store.listProjects().map((p) => p.name)).toEqual(['from electron']);
  });

  it('refuses malformed payloads', async () => {
    const ok = frame(trusted.fileUrl);
    for (const msg of [null, 'projects.list', { channel: 'nope', request: {} }, { channel: 'projects.create', request: { name: 7 } }, { channel: 'projects.create' }, { channel: 'projects.rename', request: { id: 'a b', name: 'x' } }]) {
      const r = await invoke(ok, msg);
      expect(r.ok, JSON.stringify(msg)).toBe(false);
      expect(r.error.code).toBe('BAD_ARGUMENT');
    }
  });

  it('trusts the dev server only on localhost', () => {
    expect(isTrustedUrl('http://localhost:5173/#/x', { ...trusted, devUrl: 'http://localhost:5173' })).toBe(true);
    expect(isTrustedUrl('http://localhost:5174/', { ...trusted, devUrl: 'http://localhost:5173' })).toBe(false);
    expect(isTrustedUrl('http://evil.example:5173/', { ...trusted, devUrl: 'http://evil.example:5173' })).toBe(false);
    expect(checkSender(frame('http://localhost:5173/') as never, trusted)).not.toBeNull();
  });

  it('push events go to a live window only', () => {
    const send = vi.fn();
    sendEvent({ isDestroyed: () => false, send } as never, 'run.log', { runId: 'r', line: 'x' });
    sendEvent({ isDestroyed: () => true, send } as never, 'run.log', { runId: 'r', line: 'y' });
    sendEvent(undefined, 'run.log', { runId: 'r', line: 'z' });
    expect(send).toHaveBeenCalledTimes(1);
    expect(send).toHaveBeenCalledWith(IPC_EVENT, { event: 'run.log', payload: { runId: 'r', line: 'x' } });
  });
});

describe('electron main: window and session', () => {
  it('creates a sandboxed, context-isolated window without node integration', () => {
    const created: any[] = [];
    class FakeWindow {
      webContents = { on: vi.fn(), setWindowOpenHandler: vi.fn(), getURL: () => trusted.fileUrl };
      loadFile = vi.fn(async () => undefined);
      loadURL = vi.fn(async () => undefined);
      once = vi.fn();
      constructor(opts: unknown) { created.push(opts); }
    }
    const win = createMainWindow(FakeWindow as never, { preload: '/x/preload/index.cjs', rendererFile }) as unknown as FakeWindow;
    const prefs = created[0].webPreferences;
    expect(prefs).toMatchObject({ contextIsolation: true, sandbox: true, nodeIntegration: false, webSecurity: true, webviewTag: false, preload: '/x/preload/index.cjs' });
    expect(win.loadFile).toHaveBeenCalledWith(rendererFile);
    expect(secureWebPreferences('p').nodeIntegrationInWorker).toBe(false);
  });

  it('blocks navigation away and every new window', () => {
    const handlers: Record<string, (e: { preventDefault: () => void }, url?: string) => void> = {};
    let openHandler: (() => { action: string }) | undefined;
    lockDownContents({ on: (ev: string, fn: never) => { handlers[ev] = fn; }, setWindowOpenHandler: (fn: never) => { openHandler = fn; }, getURL: () => trusted.fileUrl } as never);
    const e1 = { preventDefault: vi.fn() };
    handlers['will-navigate']!(e1, 'https://evil.example/');
    expect(e1.preventDefault).toHaveBeenCalled();
    const e2 = { preventDefault: vi.fn() };
    handlers['will-navigate']!(e2, trusted.fileUrl);
    expect(e2.preventDefault).not.toHaveBeenCalled();
    expect(openHandler!()).toEqual({ action: 'deny' });
  });

  it('adds the CSP header and denies permission requests', () => {
    let headersFn: any;
    let permFn: any;
    hardenSession({ webRequest: { onHeadersReceived: (fn: unknown) => { headersFn = fn; } }, setPermissionRequestHandler: (fn: unknown) => { permFn = fn; } } as never);
    const cb = vi.fn();
    headersFn({ responseHeaders: { a: ['b'] } }, cb);
    expect(cb.mock.calls[0][0].responseHeaders['Content-Security-Policy']).toEqual([RENDERER_CSP]);
    expect(RENDERER_CSP).toContain("script-src 'self'");
    const perm = vi.fn();
    permFn({}, 'media', perm);
    expect(perm).toHaveBeenCalledWith(false);
  });
});

describe('electron main: dialogs decide which files the renderer may name', () => {
  it('accepts only paths returned by a dialog', async () => {
    const dialog = {
      showOpenDialog: vi.fn(async () => ({ canceled: false, filePaths: ['/home/u/models/cnn.onnx'] })),
      showSaveDialog: vi.fn(async () => ({ canceled: false, filePath: '/home/u/out/cnn.int8.onnx' })),
    };
    const policy = createDialogPolicy(dialog as never, () => undefined);
    expect(() => policy.resolveFile({ kind: 'path', path: '/home/u/models/cnn.onnx' })).toThrow(/not chosen in an open dialog/);
    const opened = await policy.handlers['dialog.openFile']!({ title: 'Import' }, {} as never);
    expect(opened).toEqual({ path: '/home/u/models/cnn.onnx' });
    expect(policy.resolveFile({ kind: 'path', path: '/home/u/models/cnn.onnx' })).toBe('/home/u/models/cnn.onnx');
    expect(() => policy.resolveFile({ kind: 'path', path: '/etc/passwd' })).toThrow(/not chosen/);
    expect(() => policy.resolveFile({ kind: 'upload', uploadId: 'u', name: 'x' })).toThrow(/not uploads/);
    expect(() => policy.checkExportPath('/home/u/out/cnn.int8.onnx')).toThrow(/save dialog/);
    await policy.handlers['dialog.saveFile']!({ defaultName: 'cnn.int8.onnx' }, {} as never);
    expect(policy.checkExportPath('/home/u/out/cnn.int8.onnx')).toBe('/home/u/out/cnn.int8.onnx');
  });

  it('a cancelled dialog grants nothing', async () => {
    const policy = createDialogPolicy({ showOpenDialog: async () => ({ canceled: true, filePaths: [] }), showSaveDialog: async () => ({ canceled: true }) } as never, () => undefined);
    expect(await policy.handlers['dialog.openFile']!({}, {} as never)).toEqual({ path: null });
    expect(await policy.handlers['dialog.saveFile']!({}, {} as never)).toEqual({ path: null });
  });
});
