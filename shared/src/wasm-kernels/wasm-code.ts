import { get, set, simd, uleb } from './optimizer-kernels.ts';

/**
 * WebAssembly instructions and loop shapes shared by the hand-assembled SIMD kernels (filter-gradient-kernels.ts,
 * max-pool-grad-kernels.ts), on top of the encoders in optimizer-kernels.ts. Each returns the bytes of a
 * code fragment; locals are referred to by index.
 */

export const F64X2_ADD = simd(0xf0);
export const F32X4_ADD = simd(0xe4);
export const F32X4_MUL = simd(0xe6);
export const F32X4_SPLAT = simd(0x13);
export const PROMOTE_LOW = simd(0x5f); // f64x2.promote_low_f32x4
export const DEMOTE_ZERO = simd(0x5e); // f32x4.demote_f64x2_zero
export const ZERO = [...simd(0x0c), ...Array(16).fill(0)]; // v128.export const 0
export const shuffle = (lanes: number[]): number[] => [...simd(0x0d), ...lanes];
export const HIGH_HALF = shuffle([8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7]);
export const JOIN_LOW_HALVES = shuffle([0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23]);
export const vload = (offset: number): number[] => [...simd(0x00), 4, ...uleb(offset)];
export const vstore = (offset: number): number[] => [...simd(0x0b), 4, ...uleb(offset)];
export const I32_ADD = 0x6a;
export const I32_MUL = 0x6c;
export const I32_GE_S = 0x4e;
export const f32load = [0x2a, 2, 0];
/** i32.export const n, for 0 ≤ n < 8192 (signed LEB128: a byte ≥ 0x40 needs a continuation byte). */
export const i32 = (n: number): number[] => (n < 64 ? [0x41, n] : [0x41, 0x80 | (n & 0x7f), n >> 7]);

/** while (counter < bound) { code; counter += 1 } with counter a local reset to 0 first. */
export const countTo = (counter: number, bound: number, code: number[]): number[] => [
  ...i32(0), ...set(counter),
  0x02, 0x40, 0x03, 0x40,
  ...get(counter), ...get(bound), I32_GE_S, 0x0d, 1,
  ...code,
  ...get(counter), ...i32(1), I32_ADD, ...set(counter),
  0x0c, 0, 0x0b, 0x0b,
];
/** local += other local */
export const addTo = (local: number, other: number): number[] => [...get(local), ...get(other), I32_ADD, ...set(local)];
export const F32X4_GT = simd(0x44);
export const I32X4_EQ = simd(0x37);
export const I32X4_SPLAT = simd(0x11);
export const V128_AND = simd(0x4e);
export const V128_ANDNOT = simd(0x4f); // a ∧ ¬b
export const V128_OR = simd(0x50);
export const BITSELECT = simd(0x52);
export const NEG_INFINITY_F32 = [0x43, 0x00, 0x00, 0x80, 0xff]; // f32.const -Infinity

/** for (counter = 0; counter < bound; counter += step) code — counter, bound and step are locals. */
export const stepTo = (counter: number, bound: number, step: number, code: number[]): number[] => [
  ...i32(0), ...set(counter),
  0x02, 0x40, 0x03, 0x40,
  ...get(counter), ...get(bound), I32_GE_S, 0x0d, 1,
  ...code,
  ...addTo(counter, step),
  0x0c, 0, 0x0b, 0x0b,
];
