// What this machine offers for quantized inference: CPU model and the ISA flags that decide
// whether int8 kernels beat fp32 (AVX-512 VNNI, AVX-VNNI, AMX-INT8), and onnxruntime's backends.
import { readFileSync, existsSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { createRequire } from 'node:module';
import { listSupportedBackends } from 'onnxruntime-node';

export interface HardwareInfo {
  cpuModel: string;
  cores: number;
  flags: { avx2: boolean; avx512f: boolean; avx512vnni: boolean; avxvnni: boolean; amxInt8: boolean };
  /** Backends onnxruntime-node was built with; `available` says whether its library is installed here. */
  backends: { name: string; bundled: boolean; available: boolean }[];
  cudaAvailable: boolean;
}

/** Parse /proc/cpuinfo text (first processor block is enough: flags are uniform). */
export function parseCpuInfo(text: string): { model: string; flags: Set<string> } {
  const model = /^model name\s*:\s*(.+)$/m.exec(text)?.[1]?.trim() ?? 'unknown CPU';
  const flagLine = /^(?:flags|Features)\s*:\s*(.+)$/m.exec(text)?.[1] ?? '';
  return { model, flags: new Set(flagLine.trim().split(/\s+/)) };
}

function ortBinDir(): string | undefined {
  try {
    const req = createRequire(import.meta.url);
    const pkg = dirname(req.resolve('onnxruntime-node/package.json'));
    return join(pkg, 'bin', 'napi-v6', process.platform, process.arch);
  } catch {
    return undefined;
  }
}

/** The CUDA provider is "not bundled": usable only when its shared library was fetched at install. */
export function cudaProviderInstalled(): boolean {
  const dir = ortBinDir();
  if (!dir) return false;
  return ['libonnxruntime_providers_cuda.so', 'onnxruntime_providers_cuda.dll'].some((f) => existsSync(join(dir, f)));
}

export function detectHardware(): HardwareInfo {
  let text = '';
  try { text = readFileSync('/proc/cpuinfo', 'utf8'); } catch { /* not Linux */ }
  const { model, flags } = parseCpuInfo(text);
  const cudaInstalled = cudaProviderInstalled();
  const backends = listSupportedBackends().map((b) => ({
    name: b.name,
    bundled: b.bundled,
    available: b.bundled || (b.name === 'cuda' && cudaInstalled),
  }));
  return {
    cpuModel: text ? model : (cpus()[0]?.model ?? 'unknown CPU'),
    cores: cpus().length,
    flags: {
      avx2: flags.has('avx2'),
      avx512f: flags.has('avx512f'),
      avx512vnni: flags.has('avx512_vnni'),
      avxvnni: flags.has('avx_vnni'),
      amxInt8: flags.has('amx_int8'),
    },
    backends,
    cudaAvailable: cudaInstalled,
  };
}

/** One line for logs and the CLI: what int8 acceleration the CPU has. */
export function describeHardware(h: HardwareInfo): string {
  const isa = Object.entries(h.flags).filter(([, v]) => v).map(([k]) => k).join(', ') || 'no SIMD int8 extensions';
  return `${h.cpuModel}, ${h.cores} cores (${isa}); onnxruntime backends: ${h.backends.filter((b) => b.available).map((b) => b.name).join(', ')}`;
}
