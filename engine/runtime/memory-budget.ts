// How much memory a quantization run may hold beyond the process itself: 1.5× the FP32 model's size
// (a 1 B-parameter model must quantize on a 24 GB machine beside other work), and at least
// RUN_MEMORY_FLOOR, so runs on small models keep the optional passes that cost several times the
// model (the quality warning's quick diagnosis, the int8 prefill branch) — they are skipped, with a
// notice saying why, only where they would not fit.
export const RUN_MEMORY_FACTOR = 1.5;
export const RUN_MEMORY_FLOOR = 512 * 2 ** 20;

export function runMemoryBudget(modelBytes: number): number {
  return Math.max(RUN_MEMORY_FACTOR * modelBytes, RUN_MEMORY_FLOOR);
}
