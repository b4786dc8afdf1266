;; The PREVIOUS exact streaming sum (commit 7fd16b5's streaming-sum.wat), frozen as bench/aggregation.ts's baseline:
;; blocked-fold-sum-wasm-bytes.ts holds its assembled bytes. The current kernel is shared/src/strategies/streaming-sum/.
;; Assembled into streaming-sum-wasm-bytes.ts by scripts/build-wasm-kernels.mjs; the JS twin is streaming-sum-js.ts.
;;
;; The sum of parameter i is one integer T_i = Σ_k round(x_k · 2^43), x_k = w_k · ns_k, ns_k = n_k · 2^-G
;; (n_k the update's example count; x_k is exact in float64: a 24-bit mantissa times a 29-bit count and a
;; power of two), kept in two i64 words, T = hi · 2^43 + lo, canonical: 0 ≤ lo < 2^43. Integer adds do not
;; depend on order, so neither does T.
;;
;; Updates are staged whole in slots of this memory (one float32 per parameter) and checked there (`check`);
;; every few updates `fold` adds the staged ones to hi and lo in one pass, so the 16 bytes of sums per
;; parameter are read and written once per block of updates, not once per update. A term is rounded with
;; the 1.5·2^m trick (adding the constant rounds to its ulp, ties to even; the bits of the sum minus the
;; constant's bits are the rounded integer):
;;   small updates (every |x| ≤ 2^7):  u = x + 1.5·2^9           bits(u) − bits(1.5·2^9) = round(x · 2^43)
;;   the others (|x| < 2^50):          t = x + 1.5·2^52          bits(t) − bits(1.5·2^52) = h = round(x)
;;                                     u = (x − h) + 1.5·2^9     bits(u) − bits(1.5·2^9) = round((x − h)·2^43)
;; and h·2^43 + round((x − h)·2^43) = round(x·2^43) (h·2^43 is an even integer): the same term either way.
;; The fold adds the raw bits (wrapping i64 adds) and subtracts the constants' bits once per block: the same
;; integers modulo 2^64, and the true ones fit in an i64. Then it carries lo's bits above 2^43 into hi.
(module
  (memory (export "memory") 1)
  ;; check(src, count): the largest |w| of the `count` float32 at `src` (NaN if one is NaN), found as the
  ;; largest of their bits with the sign cleared (NaN's bits are above +Inf's, which are above any finite's).
  (func (export "check") (param $src i32) (param $count i32) (result f32)
    (local $end i32) (local $vend i32) (local $mask v128) (local $m0 v128) (local $m1 v128) (local $m i32) (local $v i32)
    (local.set $mask (v128.const i32x4 0x7fffffff 0x7fffffff 0x7fffffff 0x7fffffff))
    (local.set $end (i32.add (local.get $src) (i32.shl (local.get $count) (i32.const 2))))
    (local.set $vend (i32.add (local.get $src) (i32.shl (i32.shr_u (local.get $count) (i32.const 3)) (i32.const 5))))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $src) (local.get $vend)))
        (local.set $m0 (i32x4.max_u (local.get $m0) (v128.and (v128.load (local.get $src)) (local.get $mask))))
        (local.set $m1 (i32x4.max_u (local.get $m1) (v128.and (v128.load offset=16 (local.get $src)) (local.get $mask))))
        (local.set $src (i32.add (local.get $src) (i32.const 32)))
        (br $next)))
    (local.set $m0 (i32x4.max_u (local.get $m0) (local.get $m1)))
    (local.set $m0 (i32x4.max_u (local.get $m0) (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $m0) (local.get $m0))))
    (local.set $m0 (i32x4.max_u (local.get $m0) (i8x16.shuffle 4 5 6 7 0 1 2 3 4 5 6 7 0 1 2 3 (local.get $m0) (local.get $m0))))
    (local.set $m (i32x4.extract_lane 0 (local.get $m0)))
    (block $tail
      (loop $more
        (br_if $tail (i32.ge_u (local.get $src) (local.get $end)))
        (local.set $v (i32.and (i32.load (local.get $src)) (i32.const 0x7fffffff)))
        (if (i32.gt_u (local.get $v) (local.get $m)) (then (local.set $m (local.get $v))))
        (local.set $src (i32.add (local.get $src) (i32.const 4)))
        (br $more)))
    (f32.reinterpret_i32 (local.get $m)))
  ;; fold(table, small, k, hi, lo, vecs): adds k staged updates to the sums at hi and lo (vecs × 4 of each).
  ;; The table has one 16-byte entry per update: its weight ns (f64), then the address of its slot (i32);
  ;; the first `small` entries are small updates (every |w · ns| ≤ 2^7).
  (func (export "fold") (param $table i32) (param $small i32) (param $k i32) (param $hi i32) (param $lo i32) (param $vecs i32)
    (local $o i32) (local $end i32) (local $e i32) (local $mid i32) (local $last i32) (local $p i32)
    (local $c v128) (local $c2 v128) (local $kc v128) (local $kc2 v128) (local $mask v128)
    (local $h0 v128) (local $l0 v128) (local $h1 v128) (local $l1 v128)
    (local $nsv v128) (local $x v128) (local $t v128) (local $s v128)
    (local.set $c (f64x2.splat (f64.const 0x1.8p52)))
    (local.set $c2 (f64x2.splat (f64.const 0x1.8p9)))
    (local.set $kc (i64x2.splat (i64.mul (i64.extend_i32_u (i32.sub (local.get $k) (local.get $small))) (i64.reinterpret_f64 (f64.const 0x1.8p52)))))
    (local.set $kc2 (i64x2.splat (i64.mul (i64.extend_i32_u (local.get $k)) (i64.reinterpret_f64 (f64.const 0x1.8p9)))))
    (local.set $mask (i64x2.splat (i64.const 0x7ffffffffff)))
    (local.set $mid (i32.add (local.get $table) (i32.shl (local.get $small) (i32.const 4))))
    (local.set $last (i32.add (local.get $table) (i32.shl (local.get $k) (i32.const 4))))
    (local.set $end (i32.shl (local.get $vecs) (i32.const 4)))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $o) (local.get $end)))
        (local.set $h0 (v128.const i64x2 0 0))
        (local.set $l0 (v128.const i64x2 0 0))
        (local.set $h1 (v128.const i64x2 0 0))
        (local.set $l1 (v128.const i64x2 0 0))
        (local.set $e (local.get $table))
        (block $smalls
          (loop $small
            (br_if $smalls (i32.ge_u (local.get $e) (local.get $mid)))
            (local.set $nsv (v128.load64_splat (local.get $e)))
            (local.set $p (i32.add (i32.load offset=8 (local.get $e)) (local.get $o)))
            (local.set $l0 (i64x2.add (local.get $l0) (f64x2.add (f64x2.mul (f64x2.promote_low_f32x4 (v128.load64_zero (local.get $p))) (local.get $nsv)) (local.get $c2))))
            (local.set $l1 (i64x2.add (local.get $l1) (f64x2.add (f64x2.mul (f64x2.promote_low_f32x4 (v128.load64_zero offset=8 (local.get $p))) (local.get $nsv)) (local.get $c2))))
            (local.set $e (i32.add (local.get $e) (i32.const 16)))
            (br $small)))
        (block $bigs
          (loop $big
            (br_if $bigs (i32.ge_u (local.get $e) (local.get $last)))
            (local.set $nsv (v128.load64_splat (local.get $e)))
            (local.set $p (i32.add (i32.load offset=8 (local.get $e)) (local.get $o)))
            (local.set $x (f64x2.mul (f64x2.promote_low_f32x4 (v128.load64_zero (local.get $p))) (local.get $nsv)))
            (local.set $t (f64x2.add (local.get $x) (local.get $c)))
            (local.set $h0 (i64x2.add (local.get $h0) (local.get $t)))
            (local.set $l0 (i64x2.add (local.get $l0) (f64x2.add (f64x2.sub (local.get $x) (f64x2.sub (local.get $t) (local.get $c))) (local.get $c2))))
            (local.set $x (f64x2.mul (f64x2.promote_low_f32x4 (v128.load64_zero offset=8 (local.get $p))) (local.get $nsv)))
            (local.set $t (f64x2.add (local.get $x) (local.get $c)))
            (local.set $h1 (i64x2.add (local.get $h1) (local.get $t)))
            (local.set $l1 (i64x2.add (local.get $l1) (f64x2.add (f64x2.sub (local.get $x) (f64x2.sub (local.get $t) (local.get $c))) (local.get $c2))))
            (local.set $e (i32.add (local.get $e) (i32.const 16)))
            (br $big)))
        ;; lo += L − k·bits(1.5·2^9); hi += H − (k − small)·bits(1.5·2^52) + (lo >> 43); lo &= 2^43 − 1
        (local.set $s (i64x2.add (v128.load (local.get $lo)) (i64x2.sub (local.get $l0) (local.get $kc2))))
        (v128.store (local.get $hi) (i64x2.add (v128.load (local.get $hi)) (i64x2.add (i64x2.sub (local.get $h0) (local.get $kc)) (i64x2.shr_s (local.get $s) (i32.const 43)))))
        (v128.store (local.get $lo) (v128.and (local.get $s) (local.get $mask)))
        (local.set $s (i64x2.add (v128.load offset=16 (local.get $lo)) (i64x2.sub (local.get $l1) (local.get $kc2))))
        (v128.store offset=16 (local.get $hi) (i64x2.add (v128.load offset=16 (local.get $hi)) (i64x2.add (i64x2.sub (local.get $h1) (local.get $kc)) (i64x2.shr_s (local.get $s) (i32.const 43)))))
        (v128.store offset=16 (local.get $lo) (v128.and (local.get $s) (local.get $mask)))
        (local.set $o (i32.add (local.get $o) (i32.const 16)))
        (local.set $hi (i32.add (local.get $hi) (i32.const 32)))
        (local.set $lo (i32.add (local.get $lo) (i32.const 32)))
        (br $next))))
  ;; mean(hi, lo, out, pairs, scale) writes pairs × 2 float32 means: (H + L·2^-43) · scale, rounded once, with
  ;; H, L the i64 sums split into exact float64 halves and added with TwoSum — the same operations, in the same
  ;; order, as StreamingFedAvg's JS result(), so both give the same bits.
  (func (export "mean") (param $hi i32) (param $lo i32) (param $out i32) (param $pairs i32) (param $scale f64)
    (local $end i32) (local $h v128) (local $l v128) (local $sv v128)
    (local $a v128) (local $b v128) (local $s v128) (local $s1 v128) (local $v v128) (local $e v128)
    (local.set $sv (f64x2.splat (local.get $scale)))
    (local.set $end (i32.add (local.get $out) (i32.shl (local.get $pairs) (i32.const 3))))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $out) (local.get $end)))
        (local.set $h (v128.load (local.get $hi)))
        (local.set $l (v128.load (local.get $lo)))
        ;; s1 = H.high·2^32 ⊕ H.low
        (local.set $a (f64x2.mul (f64x2.convert_low_i32x4_s (i8x16.shuffle 4 5 6 7 12 13 14 15 0 1 2 3 8 9 10 11 (local.get $h) (local.get $h))) (f64x2.splat (f64.const 0x1p32))))
        (local.set $b (f64x2.convert_low_i32x4_u (i8x16.shuffle 0 1 2 3 8 9 10 11 4 5 6 7 12 13 14 15 (local.get $h) (local.get $h))))
        (local.set $s1 (f64x2.add (local.get $a) (local.get $b)))
        (local.set $v (f64x2.sub (local.get $s1) (local.get $a)))
        (local.set $e (f64x2.add (f64x2.sub (local.get $a) (f64x2.sub (local.get $s1) (local.get $v))) (f64x2.sub (local.get $b) (local.get $v))))
        ;; ⊕ L.high·2^-11
        (local.set $b (f64x2.mul (f64x2.convert_low_i32x4_s (i8x16.shuffle 4 5 6 7 12 13 14 15 0 1 2 3 8 9 10 11 (local.get $l) (local.get $l))) (f64x2.splat (f64.const 0x1p-11))))
        (local.set $s (f64x2.add (local.get $s1) (local.get $b)))
        (local.set $v (f64x2.sub (local.get $s) (local.get $s1)))
        (local.set $e (f64x2.add (local.get $e) (f64x2.add (f64x2.sub (local.get $s1) (f64x2.sub (local.get $s) (local.get $v))) (f64x2.sub (local.get $b) (local.get $v)))))
        (local.set $s1 (local.get $s))
        ;; ⊕ L.low·2^-43
        (local.set $b (f64x2.mul (f64x2.convert_low_i32x4_u (i8x16.shuffle 0 1 2 3 8 9 10 11 4 5 6 7 12 13 14 15 (local.get $l) (local.get $l))) (f64x2.splat (f64.const 0x1p-43))))
        (local.set $s (f64x2.add (local.get $s1) (local.get $b)))
        (local.set $v (f64x2.sub (local.get $s) (local.get $s1)))
        (local.set $e (f64x2.add (local.get $e) (f64x2.add (f64x2.sub (local.get $s1) (f64x2.sub (local.get $s) (local.get $v))) (f64x2.sub (local.get $b) (local.get $v)))))
        (v128.store64_lane 0 (local.get $out) (f32x4.demote_f64x2_zero (f64x2.mul (f64x2.add (local.get $s) (local.get $e)) (local.get $sv))))
        (local.set $hi (i32.add (local.get $hi) (i32.const 16)))
        (local.set $lo (i32.add (local.get $lo) (i32.const 16)))
        (local.set $out (i32.add (local.get $out) (i32.const 8)))
        (br $next))))
)
