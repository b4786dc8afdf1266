/** Types of axis-range.js (plain JavaScript: the dashboard loads it unbuilt). */
export interface Axis {
  lo: number;
  hi: number;
  step: number;
  ticks: readonly number[];
}
export function niceStep(raw: number): number;
export function niceAxis(values: readonly number[], options?: { ticks?: number; floor?: number; ceil?: number; minSpan?: number }): Axis | undefined;
export const FULL_ACCURACY_AXIS: Axis;
export function accuracyAxis(values: readonly number[], full?: boolean): Axis | undefined;
export function percentTick(value: number, step: number): string;
export function stepDecimals(step: number): number;
export function numberTick(value: number, step: number): string;
