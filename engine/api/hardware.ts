// What this machine offers the engine: CPU model and int8 instruction flags, onnxruntime's
// execution providers, GPUs (from the native addon and nvidia-smi), and the native addon's own report.
import { execFileSync } from 'node:child_process';
import { arch, platform, totalmem, cpus } from 'node:os';
import type { ResponseOf } from '../../contract/ipc';
import type { Handlers } from './types';

/** native-kernels/lib's hardwareSummary() (cpuFeatures() + deviceInfo()) in the contract's shape.
 *  Importing the lib never throws when the binary is missing: it reports why in native.error. */
export async function nativeHardware(): Promise<ResponseOf<'hardware.native'>> {
  let native: typeof import('../../native-kernels/lib/index');
  try {
    native = await import('../../native-kernels/lib/index');
  } catch (e) {
    const reason = `the native kernels library could not be imported: ${(e as Error).message}`;
    return {
      addon: { loaded: false, error: reason, path: null },
      cpu: { vendor: '', brand: cpus()[0]?.model ?? '', threads: cpus().length, flags: {}, amxNote: 'unknown: the native addon is not loaded' },
      gpu: { compiled: false, available: false, reason, name: '', computeCapability: '', multiprocessors: 0, totalMemory: 0, freeMemory: 0, driverVersion: 0, runtimeVersion: 0, deviceCount: 0, archs: '' },
      cpuKernels: 'typescript-reference', gemmKernel: 'typescript-reference',
    };
  }
  const sum = native.hardwareSummary();
  const { vendor, brand, threads, amxNote, ...rest } = sum.cpu;
  const flags: Record<string, boolean> = {};
  for (const [k, v] of Object.entries(rest)) if (typeof v === 'boolean') flags[k] = v;
  const g = sum.gpu;
  const int = (v: number) => (Number.isFinite(v) ? Math.max(0, Math.trunc(v)) : 0);
  return {
    addon: { loaded: sum.native.available, error: sum.native.error ? String(sum.native.error).slice(0, 4000) : null, path: sum.native.path },
    cpu: { vendor, brand, threads: int(threads), flags, amxNote },
    gpu: {
      compiled: g.compiled, available: g.available, reason: g.reason.slice(0, 2000), name: g.name, computeCapability: g.computeCapability,
      multiprocessors: int(g.multiprocessors), totalMemory: Math.max(0, g.totalMemory || 0), freeMemory: Math.max(0, g.freeMemory || 0),
      driverVersion: int(g.driverVersion), runtimeVersion: int(g.runtimeVersion), deviceCount: int(g.deviceCount), archs: g.archs,
    },
    cpuKernels: sum.cpuKernels, gemmKernel: sum.gemmKernel,
  };
}

export const hardwareHandlers: Handlers = {
  'hardware.native': () => nativeHardware(),

  'hardware.info': async () => {
    const notes: string[] = [];
    let cpuModel = cpus()[0]?.model ?? 'unknown CPU';
    let flags: Record<string, boolean> = {};
    let providers: ResponseOf<'hardware.info'>['providers'] = [];
    try {
      const hw = await import('../runtime/hardware');
      const h = hw.detectHardware();
      cpuModel = h.cpuModel;
      flags = { ...h.flags };
      providers = h.backends;
    } catch (e) {
      notes.push(`Runtime hardware detection unavailable: ${(e as Error).message}`);
    }
    const gpus: ResponseOf<'hardware.info'>['gpus'] = [];
    // The native addon knows the CPU's AMX state and the CUDA device it was built for.
    try {
      const native = await import('../../native-kernels/lib/index');
      const sum = native.hardwareSummary();
      if (sum.native.available) {
        flags = { ...flags, amxTile: sum.cpu.amxTile, amxPermitted: sum.cpu.amxPermitted };
        notes.push(`Native kernels: ${sum.cpuKernels} (GEMM: ${sum.gemmKernel}).${sum.cpu.amxNote ? ` AMX: ${sum.cpu.amxNote}` : ''}`);
        if (sum.gpu.available) gpus.push({ name: `${sum.gpu.name} (sm ${sum.gpu.computeCapability})`, memoryBytes: sum.gpu.totalMemory || null, source: 'native CUDA addon' });
        else if (sum.gpu.compiled && sum.gpu.reason) notes.push(`CUDA kernels built but not usable: ${sum.gpu.reason}`);
      } else notes.push(`Native kernels not loaded (TypeScript reference kernels in use)${sum.native.error ? `: ${sum.native.error}` : ''}.`);
    } catch (e) {
      notes.push(`Native kernels unavailable: ${(e as Error).message}`);
    }
    try {
      const out = execFileSync('nvidia-smi', ['--query-gpu=name,memory.total', '--format=csv,noheader,nounits'], { timeout: 3000, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
      for (const line of out.trim().split('\n').filter(Boolean)) {
        const [gname, mem] = line.split(',').map((s) => s.trim());
        if (gpus.some((g) => gname && g.name.startsWith(gname))) continue;
        gpus.push({ name: gname ?? 'GPU', memoryBytes: mem ? Number(mem) * 2 ** 20 : null, source: 'nvidia-smi' });
      }
    } catch {
      if (!gpus.length) notes.push('No NVIDIA GPU found (nvidia-smi not available): runs use the CPU.');
    }
    return { cpuModel, cores: cpus().length, arch: arch(), platform: platform(), memoryBytes: totalmem(), flags, gpus, providers, notes };
  },
};
