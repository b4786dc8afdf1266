function stryNS_9fa48() {
  var g = typeof globalThis === 'object' && globalThis && globalThis.Math === Math && globalThis || new Function("return this")();
  var ns = g.__stryker__ || (g.__stryker__ = {});
  if (ns.activeMutant === undefined && g.process && g.process.env && g.process.env.__STRYKER_ACTIVE_MUTANT__) {
    ns.activeMutant = g.process.env.__STRYKER_ACTIVE_MUTANT__;
  }
  function retrieveNS() {
    return ns;
  }
  stryNS_9fa48 = retrieveNS;
  return retrieveNS();
}
stryNS_9fa48();
function stryCov_9fa48() {
  var ns = stryNS_9fa48();
  var cov = ns.mutantCoverage || (ns.mutantCoverage = {
    static: {},
    perTest: {}
  });
  function cover() {
    var c = cov.static;
    if (ns.currentTestId) {
      c = cov.perTest[ns.currentTestId] = cov.perTest[ns.currentTestId] || {};
    }
    var a = arguments;
    for (var i = 0; i < a.length; i++) {
      c[a[i]] = (c[a[i]] || 0) + 1;
    }
  }
  stryCov_9fa48 = cover;
  cover.apply(null, arguments);
}
function stryMutAct_9fa48(id) {
  var ns = stryNS_9fa48();
  function isActive(id) {
    if (ns.activeMutant === id) {
      if (ns.hitCount !== void 0 && ++ns.hitCount > ns.hitLimit) {
        throw new Error('Stryker: Hit count limit reached (' + ns.hitCount + ')');
      }
      return true;
    }
    return false;
  }
  stryMutAct_9fa48 = isActive;
  return isActive(id);
}
import * as tf from '@tensorflow/tfjs';
import type { AttackLoss } from './attack-loss.ts';

/**
 * The loss an attack ascends, summed over the batch, on the model's logits (models output logits, no softmax):
 *   - 'ce': the softmax cross-entropy;
 *   - 'margin': max over j ≠ y of z_j − z_y (Carlini & Wagner 2017's margin, unbounded and unsaturated).
 * On a confident model the cross-entropy saturates: in float32 the true class's probability rounds to 1 and the
 * gradient is what rounding left, so an attack on it can fail where one on the margin succeeds (gradient masking
 * by saturation, docs/robustness.md#two-losses).
 */
export function attackLoss(logits: tf.Tensor, onehot: tf.Tensor, loss: AttackLoss = stryMutAct_9fa48("0") ? "" : (stryCov_9fa48("0"), 'ce')): tf.Scalar {
  if (stryMutAct_9fa48("1")) {
    {}
  } else {
    stryCov_9fa48("1");
    return tf.tidy(() => {
      if (stryMutAct_9fa48("2")) {
        {}
      } else {
        stryCov_9fa48("2");
        if (stryMutAct_9fa48("5") ? loss !== 'ce' : stryMutAct_9fa48("4") ? false : stryMutAct_9fa48("3") ? true : (stryCov_9fa48("3", "4", "5"), loss === (stryMutAct_9fa48("6") ? "" : (stryCov_9fa48("6"), 'ce')))) return tf.losses.softmaxCrossEntropy(onehot, logits, undefined, undefined, tf.Reduction.SUM) as tf.Scalar;
        const isTrue = tf.greater(onehot, 0.5);
        const trueLogit = tf.sum(tf.mul(logits, tf.cast(isTrue, stryMutAct_9fa48("7") ? "" : (stryCov_9fa48("7"), 'float32'))), 1);
        const bestOther = stryMutAct_9fa48("8") ? tf.min(tf.where(isTrue, tf.fill(logits.shape, Number.NEGATIVE_INFINITY), logits), 1) : (stryCov_9fa48("8"), tf.max(tf.where(isTrue, tf.fill(logits.shape, Number.NEGATIVE_INFINITY), logits), 1));
        return tf.sum(tf.sub(bestOther, trueLogit));
      }
    });
  }
}

/** Gradient of `attackLoss` (default: the cross-entropy) with respect to the inputs, in inference mode (dropout off). */
export function inputGradient(model: tf.LayersModel, x: tf.Tensor, onehot: tf.Tensor, loss: AttackLoss = stryMutAct_9fa48("9") ? "" : (stryCov_9fa48("9"), 'ce')): tf.Tensor {
  if (stryMutAct_9fa48("10")) {
    {}
  } else {
    stryCov_9fa48("10");
    return tf.tidy(stryMutAct_9fa48("11") ? () => undefined : (stryCov_9fa48("11"), () => tf.grad(stryMutAct_9fa48("12") ? () => undefined : (stryCov_9fa48("12"), (input: tf.Tensor) => attackLoss(model.apply(input, {
      training: false
    }) as tf.Tensor, onehot, loss)))(x)));
  }
}