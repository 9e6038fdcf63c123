/** Small statistics the benchmarks share. */

/**
 * Nearest-rank percentile of `xs` (not sorted in place); NaN for none.
 * @example pct([5, 1, 3], 50) // 3
 */
export function pct(xs: readonly number[], p: number): number {
  if (xs.length === 0) return NaN;
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}
