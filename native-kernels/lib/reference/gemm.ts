// Plain twins of the int8 GEMM and the Hessian accumulation.

/** C[M,N] = Σ_k (A[m,k] − aZp) · (B[k,n] − bZp); A int8 or uint8 [M,K], B int8 [K,N], row-major (ONNX MatMulInteger). */
export function gemmInt8Ref(A: Int8Array | Uint8Array, B: Int8Array, M: number, K: number, N: number, aZp = 0, bZp = 0): Int32Array {
  const C = new Int32Array(M * N);
  const row = new Int32Array(N);
  for (let m = 0; m < M; m++) {
    row.fill(0);
    for (let k = 0; k < K; k++) {
      const a = A[m * K + k]! - aZp;
      if (a === 0) continue;
      const off = k * N;
      for (let n = 0; n < N; n++) row[n]! += a * (B[off + n]! - bZp);
    }
    C.set(row, m * N);
  }
  return C;
}

/** gram[cols × cols] += XᵀX for X [rows × cols] (float64, rows summed in order). */
export function hessianAccumulateRef(gram: Float64Array, X: Float32Array, rows: number, cols: number): Float64Array {
  for (let i = 0; i < cols; i++) {
    const gi = i * cols;
    for (let r = 0; r < rows; r++) {
      const xi = X[r * cols + i]!;
      if (xi === 0) continue;
      const xr = r * cols;
      for (let j = 0; j < cols; j++) gram[gi + j]! += xi * X[xr + j]!;
    }
  }
  return gram;
}
