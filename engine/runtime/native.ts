// The native addon (native-kernels/lib) as the engine uses it: loaded once, lazily, and only when it is
// built and loads on this machine; otherwise every caller runs the TypeScript twin of the kernel. The
// import goes through a string path so the Electron bundler leaves the addon's face (which finds the
// .node file next to itself) out of the main bundle; the dependency linter still reads that import
// (scripts/lint/typescript-imports.cjs). QSTUDIO_NATIVE_KERNELS=off runs the TypeScript twins (for
// measuring one against the other).
export type NativeKernels = typeof import('../../native-kernels/lib/index');

let pending: Promise<NativeKernels | null> | undefined;
let loaded: NativeKernels | null = null;

/** The addon's face when the addon is built and loads; null otherwise. Loads once per process. */
export function loadNativeKernels(): Promise<NativeKernels | null> {
  pending ??= (async () => {
    if (/^(off|0|false)$/i.test(process.env.QSTUDIO_NATIVE_KERNELS ?? '')) return null;
    try {
      const path = '../../native-kernels/lib/index';
      const lib = (await import(/* @vite-ignore */ path)) as NativeKernels;
      loaded = lib.nativeAvailable() ? lib : null;
    } catch {
      loaded = null; // not built (or its face failed to load): the TypeScript twins run
    }
    return loaded;
  })();
  return pending;
}

/** The addon when an earlier loadNativeKernels() found it, for synchronous hot loops; else null. */
export function nativeKernelsLoaded(): NativeKernels | null {
  return loaded;
}
