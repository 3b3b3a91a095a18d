// Comparing model outputs in tests: largest absolute difference, largest magnitude, relative L2 error.
export const maxAbsDiff = (a: Float32Array, b: Float32Array): number => { let m = 0; for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!)); return m; };
export const maxAbs = (a: Float32Array): number => a.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
/** ‖x − ref‖ / ‖ref‖ */
export function relL2(x: Float32Array, ref: Float32Array): number {
  let d = 0, n = 0;
  for (let i = 0; i < ref.length; i++) { d += (x[i]! - ref[i]!) ** 2; n += ref[i]! ** 2; }
  return Math.sqrt(d / n);
}
