// The plain JavaScript loops the benchmarks compare against (Node's and the browser page's): the
// same formulas as the kernels, fused forward+backward, float64 sums, one pass.

/** BCE with logits: returns the mean loss, writes d loss / d x into `g`. */
export function naiveLogits(x, y, g) {
  const n = x.length;
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const xi = x[i];
    const yi = y[i];
    const t = Math.exp(-Math.abs(xi));
    sum += (1 - yi) * xi - (Math.min(xi, 0) - Math.log1p(t));
    const s = xi >= 0 ? 1 / (1 + t) : t / (1 + t);
    g[i] = (s - yi) / n;
  }
  return sum / n;
}

/** BCE on probabilities (range-checked, logs clamped at -100): the mean loss, gradient into `g`. */
export function naiveProbabilities(x, y, g) {
  const n = x.length;
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const xi = x[i];
    const yi = y[i];
    if (!(xi >= 0 && xi <= 1)) throw new RangeError('input out of range');
    sum -= yi * Math.max(Math.log(xi), -100) + (1 - yi) * Math.max(Math.log1p(-xi), -100);
    g[i] = (xi - yi) / Math.max((1 - xi) * xi, 1e-12) / n;
  }
  return sum / n;
}
