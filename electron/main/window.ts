// The main window: sandboxed, context-isolated renderer with a CSP; navigation, new windows and
// permission requests are refused (links never open inside the app).
import type { BrowserWindow as BrowserWindowT, Session, WebContents } from 'electron';

export const RENDERER_CSP = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; worker-src 'self' blob:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

export const secureWebPreferences = (preload: string) => ({
  preload,
  contextIsolation: true,
  sandbox: true,
  nodeIntegration: false,
  nodeIntegrationInWorker: false,
  webSecurity: true,
  allowRunningInsecureContent: false,
  webviewTag: false,
  spellcheck: false,
});

/** Refuse navigation away from the renderer and every new window. */
export function lockDownContents(contents: Pick<WebContents, 'on' | 'setWindowOpenHandler' | 'getURL'>): void {
  contents.on('will-navigate', (event, url) => {
    if (url !== contents.getURL()) event.preventDefault();
  });
  contents.on('will-redirect', (event) => event.preventDefault());
  contents.on('will-attach-webview', (event) => event.preventDefault());
  contents.setWindowOpenHandler(() => ({ action: 'deny' }));
}

/** CSP as a response header too (dev server), and no permissions (camera, notifications…) for anyone. */
export function hardenSession(session: Pick<Session, 'webRequest' | 'setPermissionRequestHandler'>): void {
  session.webRequest.onHeadersReceived((details, callback) => {
    callback({ responseHeaders: { ...details.responseHeaders, 'Content-Security-Policy': [RENDERER_CSP] } });
  });
  session.setPermissionRequestHandler((_wc, _permission, callback) => callback(false));
}

export function createMainWindow(
  BrowserWindow: typeof BrowserWindowT,
  opts: { preload: string; rendererFile: string; devUrl?: string },
): BrowserWindowT {
  const win = new BrowserWindow({
    width: 1280, height: 800, minWidth: 960, minHeight: 600, show: false, title: 'Quant Studio',
    backgroundColor: '#f5f6f8', webPreferences: secureWebPreferences(opts.preload),
  });
  lockDownContents(win.webContents);
  win.once('ready-to-show', () => win.show());
  if (opts.devUrl) void win.loadURL(opts.devUrl);
  else void win.loadFile(opts.rendererFile);
  return win;
}
