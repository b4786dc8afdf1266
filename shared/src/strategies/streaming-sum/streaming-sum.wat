;; The exact streaming sum of StreamingFedAvg (streaming-fedavg.ts), in wasm SIMD.
;; Assembled into streaming-sum-wasm-bytes.ts by scripts/build-wasm-sum.mjs; the JS twin is streaming-sum-js.ts.
;;
;; add(src, hi, lo, vecs, ns, bound) folds `vecs` × 4 float32 values at `src` into two i64 accumulators per
;; value (at `hi` and `lo`), weighted by the example count n, passed as ns = n · 2^-G:
;;   x  = w · ns                       exact: 24-bit mantissa × (29-bit count × a power of two)
;;   h  = round(x)                     via x + 1.5·2^52 (ties to even); its bits − the constant's bits = h
;;   l  = round((x − h) · 2^43)        x − h is exact (|x − h| ≤ 1/2), the scaling by 2^43 too
;;   hi += h, lo += l                  i64 adds: exact, so the sums do not depend on order
;; A value with !(|w| ≤ bound) (NaN, ±Inf, too large) is added as 0 and makes the result 1; the caller then
;; subtracts the same chunk again (ns negated: rounding is symmetric, i64 adds wrap exactly) to restore it.
(module
  (memory (export "memory") 1)
  (func (export "add") (param $src i32) (param $hi i32) (param $lo i32) (param $vecs i32) (param $ns f64) (param $bound f32) (result i32)
    (local $end i32) (local $v v128) (local $ok v128) (local $bad v128)
    (local $nsv v128) (local $bv v128) (local $c v128) (local $scale v128)
    (local $x v128) (local $t v128) (local $h v128)
    (local.set $nsv (f64x2.splat (local.get $ns)))
    (local.set $bv (f32x4.splat (local.get $bound)))
    (local.set $c (f64x2.splat (f64.const 0x1.8p52)))
    (local.set $scale (f64x2.splat (f64.const 0x1p43)))
    (local.set $bad (v128.const i32x4 0 0 0 0))
    (local.set $end (i32.add (local.get $src) (i32.shl (local.get $vecs) (i32.const 4))))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $src) (local.get $end)))
        (local.set $v (v128.load (local.get $src)))
        (local.set $ok (f32x4.le (f32x4.abs (local.get $v)) (local.get $bv)))
        (local.set $bad (v128.or (local.get $bad) (v128.not (local.get $ok))))
        (local.set $v (v128.and (local.get $v) (local.get $ok)))
        ;; lanes 0, 1
        (local.set $x (f64x2.mul (f64x2.promote_low_f32x4 (local.get $v)) (local.get $nsv)))
        (local.set $t (f64x2.add (local.get $x) (local.get $c)))
        (local.set $h (f64x2.sub (local.get $t) (local.get $c)))
        (v128.store (local.get $hi) (i64x2.add (v128.load (local.get $hi)) (i64x2.sub (local.get $t) (local.get $c))))
        (local.set $t (f64x2.add (f64x2.mul (f64x2.sub (local.get $x) (local.get $h)) (local.get $scale)) (local.get $c)))
        (v128.store (local.get $lo) (i64x2.add (v128.load (local.get $lo)) (i64x2.sub (local.get $t) (local.get $c))))
        ;; lanes 2, 3
        (local.set $x (f64x2.mul (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $v) (local.get $v))) (local.get $nsv)))
        (local.set $t (f64x2.add (local.get $x) (local.get $c)))
        (local.set $h (f64x2.sub (local.get $t) (local.get $c)))
        (v128.store offset=16 (local.get $hi) (i64x2.add (v128.load offset=16 (local.get $hi)) (i64x2.sub (local.get $t) (local.get $c))))
        (local.set $t (f64x2.add (f64x2.mul (f64x2.sub (local.get $x) (local.get $h)) (local.get $scale)) (local.get $c)))
        (v128.store offset=16 (local.get $lo) (i64x2.add (v128.load offset=16 (local.get $lo)) (i64x2.sub (local.get $t) (local.get $c))))
        (local.set $src (i32.add (local.get $src) (i32.const 16)))
        (local.set $hi (i32.add (local.get $hi) (i32.const 32)))
        (local.set $lo (i32.add (local.get $lo) (i32.const 32)))
        (br $next)))
    (v128.any_true (local.get $bad)))
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
