;; ‖w − g‖² and the largest |w| of one update, wasm SIMD (coordinator/src/engine/delta-norm/delta-norm-wasm.ts).
;;
;; The same arithmetic, in the same order, as deltaNormChecked in validate-fit-result.ts, so the result is
;; bit-identical: four float64 partial sums s0..s3 (element i of a tensor goes to s(i mod 4) in the vector part,
;; the tail of each tensor to s0), each term (w − g)² computed in float64 from the float32 values (exact
;; promotion, one rounding for the difference, one for the square, one for the add: no fused multiply-add in
;; wasm). s0,s1 are the lanes of $a and s2,s3 those of $b. The largest |w| is kept as the largest of the bits
;; with the sign cleared (unsigned): above every finite value's bits are +Infinity's, then NaN's, so a NaN
;; weight makes the largest |w| a NaN, as Math.max does.
;;
;; Memory: the caller places a tensor's update and global values (float32, 16-byte aligned) and calls
;; `tensor(u, g, n)` per tensor after `reset()`; then reads `sum(k)` (k = 0..3) and `largestBits()`.
(module
  (memory (export "memory") 1)
  (global $a (mut v128) (v128.const i64x2 0 0))
  (global $b (mut v128) (v128.const i64x2 0 0))
  (global $m (mut v128) (v128.const i32x4 0 0 0 0))

  (func (export "reset")
    (global.set $a (v128.const i64x2 0 0))
    (global.set $b (v128.const i64x2 0 0))
    (global.set $m (v128.const i32x4 0 0 0 0)))

  ;; One tensor: n float32 values of the update at byte offset $u, of the global model at $g.
  (func (export "tensor") (param $u i32) (param $g i32) (param $n i32)
    (local $a v128) (local $b v128) (local $m v128)
    (local $w v128) (local $x v128) (local $d v128)
    (local $end i32) (local $tail i32)
    (local $s0 f64) (local $e f64) (local $bits i32) (local $mx i32)
    (local.set $a (global.get $a))
    (local.set $b (global.get $b))
    (local.set $m (global.get $m))
    ;; $end: byte offset (from $u) after the last whole group of four.
    (local.set $end (i32.add (local.get $u) (i32.shl (i32.and (local.get $n) (i32.const -4)) (i32.const 2))))
    (block $done
      (loop $four
        (br_if $done (i32.ge_u (local.get $u) (local.get $end)))
        (local.set $w (v128.load (local.get $u)))
        (local.set $x (v128.load (local.get $g)))
        (local.set $m (i32x4.max_u (local.get $m) (v128.and (local.get $w) (v128.const i32x4 0x7fffffff 0x7fffffff 0x7fffffff 0x7fffffff))))
        ;; elements 0, 1 → s0, s1
        (local.set $d (f64x2.sub (f64x2.promote_low_f32x4 (local.get $w)) (f64x2.promote_low_f32x4 (local.get $x))))
        (local.set $a (f64x2.add (local.get $a) (f64x2.mul (local.get $d) (local.get $d))))
        ;; elements 2, 3 → s2, s3
        (local.set $d (f64x2.sub
          (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $w) (local.get $w)))
          (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $x) (local.get $x)))))
        (local.set $b (f64x2.add (local.get $b) (f64x2.mul (local.get $d) (local.get $d))))
        (local.set $u (i32.add (local.get $u) (i32.const 16)))
        (local.set $g (i32.add (local.get $g) (i32.const 16)))
        (br $four)))
    ;; The tail (n mod 4 values): into s0 and the running largest bits, one by one.
    (local.set $tail (i32.and (local.get $n) (i32.const 3)))
    (local.set $s0 (f64x2.extract_lane 0 (local.get $a)))
    (local.set $mx (i32.const 0))
    (block $tdone
      (loop $one
        (br_if $tdone (i32.eqz (local.get $tail)))
        (local.set $bits (i32.and (i32.load (local.get $u)) (i32.const 0x7fffffff)))
        (if (i32.gt_u (local.get $bits) (local.get $mx)) (then (local.set $mx (local.get $bits))))
        (local.set $e (f64.sub (f64.promote_f32 (f32.load (local.get $u))) (f64.promote_f32 (f32.load (local.get $g)))))
        (local.set $s0 (f64.add (local.get $s0) (f64.mul (local.get $e) (local.get $e))))
        (local.set $u (i32.add (local.get $u) (i32.const 4)))
        (local.set $g (i32.add (local.get $g) (i32.const 4)))
        (local.set $tail (i32.sub (local.get $tail) (i32.const 1)))
        (br $one)))
    (global.set $a (f64x2.replace_lane 0 (local.get $a) (local.get $s0)))
    (global.set $b (local.get $b))
    (global.set $m (i32x4.max_u (local.get $m) (i32x4.splat (local.get $mx)))))

  ;; Partial sum k (0..3).
  (func (export "sum") (param $k i32) (result f64)
    (if (result f64) (i32.lt_u (local.get $k) (i32.const 2))
      (then (if (result f64) (i32.eqz (local.get $k))
        (then (f64x2.extract_lane 0 (global.get $a)))
        (else (f64x2.extract_lane 1 (global.get $a)))))
      (else (if (result f64) (i32.eq (local.get $k) (i32.const 2))
        (then (f64x2.extract_lane 0 (global.get $b)))
        (else (f64x2.extract_lane 1 (global.get $b)))))))

  ;; The largest |w| seen since reset, as float32 bits with the sign cleared (unsigned max of the lanes).
  (func (export "largestBits") (result i32)
    (local $v v128) (local $x i32) (local $y i32)
    (local.set $v (global.get $m))
    (local.set $v (i32x4.max_u (local.get $v) (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $v) (local.get $v))))
    (local.set $x (i32x4.extract_lane 0 (local.get $v)))
    (local.set $y (i32x4.extract_lane 1 (local.get $v)))
    (select (local.get $x) (local.get $y) (i32.gt_u (local.get $x) (local.get $y)))))
