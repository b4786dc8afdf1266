;; The exact streaming sum of StreamingFedAvg (streaming-fedavg.ts), in wasm SIMD.
;; Assembled into streaming-sum-wasm-bytes.ts by scripts/build-wasm-kernels.mjs; the JS twin is streaming-sum-js.ts.
;;
;; The sum of parameter i is one integer T_i = Σ_k round(x_k · 2^43), x_k = w_k · ns_k, ns_k = n_k · 2^-G
;; (n_k the update's example count; x_k is exact in float64: a 24-bit mantissa times a 29-bit count and a
;; power of two), kept in two i64 words, T = hi · 2^43 + lo, canonical after `carry`: 0 ≤ lo < 2^43. Integer
;; adds do not depend on order, so neither does T.
;;
;; An update is written (decoded, or copied) into the one staging slot of this memory (a float32 per
;; parameter), checked there (`check`), and added at once in one pass over the slot and the sums (the slot is
;; then free for the next update). A term is rounded with the 1.5·2^m trick (adding the constant rounds to
;; its ulp, ties to even; the bits of the sum minus the constant's bits are the rounded integer):
;;   small updates (every |x| ≤ 2^7):  u = x + 1.5·2^9           bits(u) − bits(1.5·2^9) = round(x · 2^43)
;;   the others (|x| < 2^50):          t = x + 1.5·2^52          bits(t) − bits(1.5·2^52) = h = round(x)
;;                                     u = (x − h) + 1.5·2^9     bits(u) − bits(1.5·2^9) = round((x − h)·2^43)
;; and h·2^43 + round((x − h)·2^43) = round(x·2^43) (h·2^43 is an even integer): the same term either way.
;; A small update goes to lo alone (`add_small`: 16 bytes of memory traffic per parameter), any other one to
;; both, bits(t) to hi and bits(u) to lo (`add_general`, which gets u as x − (t − (1.5·2^52 + 1.5·2^9)): the
;; same single rounding of x − h + 1.5·2^9, one operation fewer). The adds put raw bits in (wrapping i64
;; adds: the same integers modulo 2^64) and leave the carry out. `carry` takes the constants' bits out (their
;; count per kind is known), then moves lo's bits above 2^43 into hi; the caller carries before the true lo
;; could leave i64 (each update moves it by at most 2^50) and before anything reads the sums.
(module
  (memory (export "memory") 1)
  ;; check(src, count): the largest |w| of the `count` float32 at `src` (NaN if one is NaN), found as the
  ;; largest of their bits with the sign cleared (NaN's bits are above +Inf's, which are above any finite's).
  (func (export "check") (param $src i32) (param $count i32) (result f32)
    (local $end i32) (local $gend i32) (local $vend i32) (local $mask v128)
    (local $m0 v128) (local $m1 v128) (local $m2 v128) (local $m3 v128) (local $m i32) (local $v i32)
    (local.set $mask (v128.const i32x4 0x7fffffff 0x7fffffff 0x7fffffff 0x7fffffff))
    (local.set $end (i32.add (local.get $src) (i32.shl (local.get $count) (i32.const 2))))
    (local.set $gend (i32.add (local.get $src) (i32.shl (i32.shr_u (local.get $count) (i32.const 4)) (i32.const 6))))
    (local.set $vend (i32.add (local.get $src) (i32.shl (i32.shr_u (local.get $count) (i32.const 2)) (i32.const 4))))
    ;; 16 values at a time in four running maxima, then 4 at a time, then one at a time
    (block $groups
      (loop $group
        (br_if $groups (i32.ge_u (local.get $src) (local.get $gend)))
        (local.set $m0 (i32x4.max_u (local.get $m0) (v128.and (v128.load (local.get $src)) (local.get $mask))))
        (local.set $m1 (i32x4.max_u (local.get $m1) (v128.and (v128.load offset=16 (local.get $src)) (local.get $mask))))
        (local.set $m2 (i32x4.max_u (local.get $m2) (v128.and (v128.load offset=32 (local.get $src)) (local.get $mask))))
        (local.set $m3 (i32x4.max_u (local.get $m3) (v128.and (v128.load offset=48 (local.get $src)) (local.get $mask))))
        (local.set $src (i32.add (local.get $src) (i32.const 64)))
        (br $group)))
    (block $vectors
      (loop $vector
        (br_if $vectors (i32.ge_u (local.get $src) (local.get $vend)))
        (local.set $m0 (i32x4.max_u (local.get $m0) (v128.and (v128.load (local.get $src)) (local.get $mask))))
        (local.set $src (i32.add (local.get $src) (i32.const 16)))
        (br $vector)))
    (local.set $m0 (i32x4.max_u (i32x4.max_u (local.get $m0) (local.get $m1)) (i32x4.max_u (local.get $m2) (local.get $m3))))
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
  ;; add_small(src, lo, vecs, ns): a small update (every |w · ns| ≤ 2^7), vecs × 4 float32 at src, into the
  ;; lo sums: lo += bits(w · ns + 1.5·2^9).
  (func (export "add_small") (param $src i32) (param $lo i32) (param $vecs i32) (param $ns f64)
    (local $gend i32) (local $end i32) (local $nsv v128) (local $c2 v128)
    (local.set $nsv (f64x2.splat (local.get $ns)))
    (local.set $c2 (f64x2.splat (f64.const 0x1.8p9)))
    (local.set $gend (i32.add (local.get $src) (i32.shl (i32.shr_u (local.get $vecs) (i32.const 2)) (i32.const 6))))
    (local.set $end (i32.add (local.get $src) (i32.shl (local.get $vecs) (i32.const 4))))
    ;; 16 parameters at a time
    (block $groups
      (loop $group
        (br_if $groups (i32.ge_u (local.get $src) (local.get $gend)))
        (v128.store (local.get $lo) (i64x2.add (v128.load (local.get $lo)) (f64x2.add (f64x2.mul (f64x2.promote_low_f32x4 (v128.load64_zero (local.get $src))) (local.get $nsv)) (local.get $c2))))
        (v128.store offset=16 (local.get $lo) (i64x2.add (v128.load offset=16 (local.get $lo)) (f64x2.add (f64x2.mul (f64x2.promote_low_f32x4 (v128.load64_zero offset=8 (local.get $src))) (local.get $nsv)) (local.get $c2))))
        (v128.store offset=32 (local.get $lo) (i64x2.add (v128.load offset=32 (local.get $lo)) (f64x2.add (f64x2.mul (f64x2.promote_low_f32x4 (v128.load64_zero offset=16 (local.get $src))) (local.get $nsv)) (local.get $c2))))
        (v128.store offset=48 (local.get $lo) (i64x2.add (v128.load offset=48 (local.get $lo)) (f64x2.add (f64x2.mul (f64x2.promote_low_f32x4 (v128.load64_zero offset=24 (local.get $src))) (local.get $nsv)) (local.get $c2))))
        (v128.store offset=64 (local.get $lo) (i64x2.add (v128.load offset=64 (local.get $lo)) (f64x2.add (f64x2.mul (f64x2.promote_low_f32x4 (v128.load64_zero offset=32 (local.get $src))) (local.get $nsv)) (local.get $c2))))
        (v128.store offset=80 (local.get $lo) (i64x2.add (v128.load offset=80 (local.get $lo)) (f64x2.add (f64x2.mul (f64x2.promote_low_f32x4 (v128.load64_zero offset=40 (local.get $src))) (local.get $nsv)) (local.get $c2))))
        (v128.store offset=96 (local.get $lo) (i64x2.add (v128.load offset=96 (local.get $lo)) (f64x2.add (f64x2.mul (f64x2.promote_low_f32x4 (v128.load64_zero offset=48 (local.get $src))) (local.get $nsv)) (local.get $c2))))
        (v128.store offset=112 (local.get $lo) (i64x2.add (v128.load offset=112 (local.get $lo)) (f64x2.add (f64x2.mul (f64x2.promote_low_f32x4 (v128.load64_zero offset=56 (local.get $src))) (local.get $nsv)) (local.get $c2))))
        (local.set $src (i32.add (local.get $src) (i32.const 64)))
        (local.set $lo (i32.add (local.get $lo) (i32.const 128)))
        (br $group)))
    ;; then 4 at a time
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $src) (local.get $end)))
        (v128.store (local.get $lo) (i64x2.add (v128.load (local.get $lo)) (f64x2.add (f64x2.mul (f64x2.promote_low_f32x4 (v128.load64_zero (local.get $src))) (local.get $nsv)) (local.get $c2))))
        (v128.store offset=16 (local.get $lo) (i64x2.add (v128.load offset=16 (local.get $lo)) (f64x2.add (f64x2.mul (f64x2.promote_low_f32x4 (v128.load64_zero offset=8 (local.get $src))) (local.get $nsv)) (local.get $c2))))
        (local.set $src (i32.add (local.get $src) (i32.const 16)))
        (local.set $lo (i32.add (local.get $lo) (i32.const 32)))
        (br $next))))
  ;; add_general(src, hi, lo, vecs, ns): any update (|w · ns| < 2^50): hi += bits(t), lo += bits(u), as above.
  (func (export "add_general") (param $src i32) (param $hi i32) (param $lo i32) (param $vecs i32) (param $ns f64)
    (local $gend i32) (local $end i32) (local $nsv v128) (local $c v128) (local $c3 v128) (local $x v128) (local $t v128)
    (local.set $nsv (f64x2.splat (local.get $ns)))
    (local.set $c (f64x2.splat (f64.const 0x1.8p52)))
    (local.set $c3 (f64x2.splat (f64.const 0x1.80000000003p52)))
    (local.set $gend (i32.add (local.get $src) (i32.shl (i32.shr_u (local.get $vecs) (i32.const 2)) (i32.const 6))))
    (local.set $end (i32.add (local.get $src) (i32.shl (local.get $vecs) (i32.const 4))))
    ;; 16 parameters at a time
    (block $groups
      (loop $group
        (br_if $groups (i32.ge_u (local.get $src) (local.get $gend)))
        (local.set $x (f64x2.mul (f64x2.promote_low_f32x4 (v128.load64_zero (local.get $src))) (local.get $nsv)))
        (local.set $t (f64x2.add (local.get $x) (local.get $c)))
        (v128.store (local.get $hi) (i64x2.add (v128.load (local.get $hi)) (local.get $t)))
        (v128.store (local.get $lo) (i64x2.add (v128.load (local.get $lo)) (f64x2.sub (local.get $x) (f64x2.sub (local.get $t) (local.get $c3)))))
        (local.set $x (f64x2.mul (f64x2.promote_low_f32x4 (v128.load64_zero offset=8 (local.get $src))) (local.get $nsv)))
        (local.set $t (f64x2.add (local.get $x) (local.get $c)))
        (v128.store offset=16 (local.get $hi) (i64x2.add (v128.load offset=16 (local.get $hi)) (local.get $t)))
        (v128.store offset=16 (local.get $lo) (i64x2.add (v128.load offset=16 (local.get $lo)) (f64x2.sub (local.get $x) (f64x2.sub (local.get $t) (local.get $c3)))))
        (local.set $x (f64x2.mul (f64x2.promote_low_f32x4 (v128.load64_zero offset=16 (local.get $src))) (local.get $nsv)))
        (local.set $t (f64x2.add (local.get $x) (local.get $c)))
        (v128.store offset=32 (local.get $hi) (i64x2.add (v128.load offset=32 (local.get $hi)) (local.get $t)))
        (v128.store offset=32 (local.get $lo) (i64x2.add (v128.load offset=32 (local.get $lo)) (f64x2.sub (local.get $x) (f64x2.sub (local.get $t) (local.get $c3)))))
        (local.set $x (f64x2.mul (f64x2.promote_low_f32x4 (v128.load64_zero offset=24 (local.get $src))) (local.get $nsv)))
        (local.set $t (f64x2.add (local.get $x) (local.get $c)))
        (v128.store offset=48 (local.get $hi) (i64x2.add (v128.load offset=48 (local.get $hi)) (local.get $t)))
        (v128.store offset=48 (local.get $lo) (i64x2.add (v128.load offset=48 (local.get $lo)) (f64x2.sub (local.get $x) (f64x2.sub (local.get $t) (local.get $c3)))))
        (local.set $x (f64x2.mul (f64x2.promote_low_f32x4 (v128.load64_zero offset=32 (local.get $src))) (local.get $nsv)))
        (local.set $t (f64x2.add (local.get $x) (local.get $c)))
        (v128.store offset=64 (local.get $hi) (i64x2.add (v128.load offset=64 (local.get $hi)) (local.get $t)))
        (v128.store offset=64 (local.get $lo) (i64x2.add (v128.load offset=64 (local.get $lo)) (f64x2.sub (local.get $x) (f64x2.sub (local.get $t) (local.get $c3)))))
        (local.set $x (f64x2.mul (f64x2.promote_low_f32x4 (v128.load64_zero offset=40 (local.get $src))) (local.get $nsv)))
        (local.set $t (f64x2.add (local.get $x) (local.get $c)))
        (v128.store offset=80 (local.get $hi) (i64x2.add (v128.load offset=80 (local.get $hi)) (local.get $t)))
        (v128.store offset=80 (local.get $lo) (i64x2.add (v128.load offset=80 (local.get $lo)) (f64x2.sub (local.get $x) (f64x2.sub (local.get $t) (local.get $c3)))))
        (local.set $x (f64x2.mul (f64x2.promote_low_f32x4 (v128.load64_zero offset=48 (local.get $src))) (local.get $nsv)))
        (local.set $t (f64x2.add (local.get $x) (local.get $c)))
        (v128.store offset=96 (local.get $hi) (i64x2.add (v128.load offset=96 (local.get $hi)) (local.get $t)))
        (v128.store offset=96 (local.get $lo) (i64x2.add (v128.load offset=96 (local.get $lo)) (f64x2.sub (local.get $x) (f64x2.sub (local.get $t) (local.get $c3)))))
        (local.set $x (f64x2.mul (f64x2.promote_low_f32x4 (v128.load64_zero offset=56 (local.get $src))) (local.get $nsv)))
        (local.set $t (f64x2.add (local.get $x) (local.get $c)))
        (v128.store offset=112 (local.get $hi) (i64x2.add (v128.load offset=112 (local.get $hi)) (local.get $t)))
        (v128.store offset=112 (local.get $lo) (i64x2.add (v128.load offset=112 (local.get $lo)) (f64x2.sub (local.get $x) (f64x2.sub (local.get $t) (local.get $c3)))))
        (local.set $src (i32.add (local.get $src) (i32.const 64)))
        (local.set $hi (i32.add (local.get $hi) (i32.const 128)))
        (local.set $lo (i32.add (local.get $lo) (i32.const 128)))
        (br $group)))
    ;; then 4 at a time
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $src) (local.get $end)))
        (local.set $x (f64x2.mul (f64x2.promote_low_f32x4 (v128.load64_zero (local.get $src))) (local.get $nsv)))
        (local.set $t (f64x2.add (local.get $x) (local.get $c)))
        (v128.store (local.get $hi) (i64x2.add (v128.load (local.get $hi)) (local.get $t)))
        (v128.store (local.get $lo) (i64x2.add (v128.load (local.get $lo)) (f64x2.sub (local.get $x) (f64x2.sub (local.get $t) (local.get $c3)))))
        (local.set $x (f64x2.mul (f64x2.promote_low_f32x4 (v128.load64_zero offset=8 (local.get $src))) (local.get $nsv)))
        (local.set $t (f64x2.add (local.get $x) (local.get $c)))
        (v128.store offset=16 (local.get $hi) (i64x2.add (v128.load offset=16 (local.get $hi)) (local.get $t)))
        (v128.store offset=16 (local.get $lo) (i64x2.add (v128.load offset=16 (local.get $lo)) (f64x2.sub (local.get $x) (f64x2.sub (local.get $t) (local.get $c3)))))
        (local.set $src (i32.add (local.get $src) (i32.const 16)))
        (local.set $hi (i32.add (local.get $hi) (i32.const 32)))
        (local.set $lo (i32.add (local.get $lo) (i32.const 32)))
        (br $next))))
  ;; carry(hi, lo, pairs, updates, general): takes the constants' bits of `updates` updates, `general` of them
  ;; added by add_general, out of pairs × 2 sums (modulo 2^64: lo −= updates · bits(1.5·2^9),
  ;; hi −= general · bits(1.5·2^52)) and makes them canonical: hi += lo >> 43 (arithmetic), lo &= 2^43 − 1.
  (func (export "carry") (param $hi i32) (param $lo i32) (param $pairs i32) (param $updates i32) (param $general i32)
    (local $end i32) (local $s v128) (local $mask v128) (local $kl v128) (local $kh v128)
    (local.set $mask (i64x2.splat (i64.const 0x7ffffffffff)))
    (local.set $kl (i64x2.splat (i64.mul (i64.extend_i32_u (local.get $updates)) (i64.reinterpret_f64 (f64.const 0x1.8p9)))))
    (local.set $kh (i64x2.splat (i64.mul (i64.extend_i32_u (local.get $general)) (i64.reinterpret_f64 (f64.const 0x1.8p52)))))
    (local.set $end (i32.add (local.get $lo) (i32.shl (local.get $pairs) (i32.const 4))))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $lo) (local.get $end)))
        (local.set $s (i64x2.sub (v128.load (local.get $lo)) (local.get $kl)))
        (v128.store (local.get $hi) (i64x2.add (i64x2.sub (v128.load (local.get $hi)) (local.get $kh)) (i64x2.shr_s (local.get $s) (i32.const 43))))
        (v128.store (local.get $lo) (v128.and (local.get $s) (local.get $mask)))
        (local.set $hi (i32.add (local.get $hi) (i32.const 16)))
        (local.set $lo (i32.add (local.get $lo) (i32.const 16)))
        (br $next))))
  ;; mean(hi, lo, out, pairs, scale) writes pairs × 2 float32 means: (H + L·2^-43) · scale, rounded once, with
  ;; H, L the canonical i64 sums split into exact float64 halves and added with TwoSum — the same operations,
  ;; in the same order, as the JS kernel's mean (streaming-sum-js.ts), so both give the same bits.
  ;; When both of a pair's |H| < 2^42 (nearly always), every TwoSum but the last is exact (H has at most 42
  ;; integer bits and L.high·2^-11 11 fractional ones), so that chain gives fl(H + L·2^-43) exactly; it is
  ;; computed so: H and L·2^-43 exact in float64 with the 1.5·2^m trick backwards (bits(1.5·2^52) + H and
  ;; bits(1.5·2^9) + L are the bits of 1.5·2^52 + H and 1.5·2^9 + L·2^-43), then one add.
  (func (export "mean") (param $hi i32) (param $lo i32) (param $out i32) (param $pairs i32) (param $scale f64)
    (local $end i32) (local $h v128) (local $l v128) (local $sv v128)
    (local $a v128) (local $b v128) (local $s v128) (local $s1 v128) (local $v v128) (local $e v128)
    (local $c v128) (local $c2 v128) (local $bias v128)
    (local.set $sv (f64x2.splat (local.get $scale)))
    (local.set $c (f64x2.splat (f64.const 0x1.8p52)))
    (local.set $c2 (f64x2.splat (f64.const 0x1.8p9)))
    (local.set $bias (i64x2.splat (i64.const 0x40000000000)))
    (local.set $end (i32.add (local.get $out) (i32.shl (local.get $pairs) (i32.const 3))))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $out) (local.get $end)))
        (local.set $h (v128.load (local.get $hi)))
        (local.set $l (v128.load (local.get $lo)))
        ;; |H| < 2^42 in both lanes: (H + 2^42) >> 43 is 0 (unsigned)
        (if (i32.eqz (v128.any_true (i64x2.shr_u (i64x2.add (local.get $h) (local.get $bias)) (i32.const 43))))
          (then
            (local.set $a (f64x2.sub (i64x2.add (local.get $h) (local.get $c)) (local.get $c)))
            (local.set $b (f64x2.sub (i64x2.add (local.get $l) (local.get $c2)) (local.get $c2)))
            (v128.store64_lane 0 (local.get $out) (f32x4.demote_f64x2_zero (f64x2.mul (f64x2.add (local.get $a) (local.get $b)) (local.get $sv))))
            (local.set $hi (i32.add (local.get $hi) (i32.const 16)))
            (local.set $lo (i32.add (local.get $lo) (i32.const 16)))
            (local.set $out (i32.add (local.get $out) (i32.const 8)))
            (br $next)))
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
