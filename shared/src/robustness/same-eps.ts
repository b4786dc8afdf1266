/** Two attack strengths ε are the same one (they come through JSON and arithmetic such as 5/3 × 0.06): within 1e-9. */
export function sameEps(a: number, b: number): boolean {
  return Math.abs(a - b) <= 1e-9;
}
