// AdamW (decoupled weight decay) on Float32Arrays, with linear warm-up and cosine decay.
export interface AdamWOptions {
  beta1?: number;
  beta2?: number;
  eps?: number;
}

export interface Schedule {
  lr: number;
  steps: number;
  warmupSteps: number;
  /** Final learning rate as a fraction of `lr`. */
  minFraction?: number;
}

/** Learning rate at step t (0-based): linear warm-up to lr, then cosine down to lr·minFraction. */
export function learningRate(s: Schedule, t: number): number {
  if (s.warmupSteps > 0 && t < s.warmupSteps) return (s.lr * (t + 1)) / s.warmupSteps;
  const span = Math.max(1, s.steps - s.warmupSteps);
  const p = Math.min(1, (t - s.warmupSteps) / span);
  const min = s.lr * (s.minFraction ?? 0);
  return min + (s.lr - min) * 0.5 * (1 + Math.cos(Math.PI * p));
}

export class AdamW {
  readonly m = new Map<string, Float32Array>();
  readonly v = new Map<string, Float32Array>();
  /** Update count per parameter (bias correction). */
  readonly t = new Map<string, number>();
  private readonly b1: number;
  private readonly b2: number;
  private readonly eps: number;

  constructor(o: AdamWOptions = {}) {
    this.b1 = o.beta1 ?? 0.9;
    this.b2 = o.beta2 ?? 0.999;
    this.eps = o.eps ?? 1e-8;
  }

  /** One update of `p` in place. */
  step(name: string, p: Float32Array, g: ArrayLike<number>, lr: number, weightDecay = 0): void {
    let m = this.m.get(name), v = this.v.get(name);
    if (!m || !v) { m = new Float32Array(p.length); v = new Float32Array(p.length); this.m.set(name, m); this.v.set(name, v); }
    const t = (this.t.get(name) ?? 0) + 1;
    this.t.set(name, t);
    const { b1, b2, eps } = this;
    const c1 = 1 - b1 ** t, c2 = 1 - b2 ** t;
    const decay = 1 - lr * weightDecay;
    for (let i = 0; i < p.length; i++) {
      const gi = g[i]!;
      const mi = (m[i] = b1 * m[i]! + (1 - b1) * gi);
      const vi = (v[i] = b2 * v[i]! + (1 - b2) * gi * gi);
      p[i] = p[i]! * decay - (lr * (mi / c1)) / (Math.sqrt(vi / c2) + eps);
    }
  }
}
