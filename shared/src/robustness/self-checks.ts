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
import type { RobustnessReport } from './report-schema.ts';
export interface SelfCheckOptions {
  /** How much PGD may beat FGSM at the same ε (accuracy points as a fraction) before it is flagged. Default 0.02. */
  pgdOverFgsmTolerance?: number;
  /** How much accuracy may rise from one ε to the next before it is flagged. Default 0. */
  monotoneTolerance?: number;
  /**
   * How much lower an attack's worst case over its losses may be than its first loss alone (accuracy points
   * as a fraction) before it is flagged: the first loss (the cross-entropy) is then saturated. Default 0.05.
   */
  lossGapTolerance?: number;
}
type Checked = Pick<RobustnessReport, 'fgsm' | 'pgd' | 'adversarialCleanAccuracy'> & Partial<Pick<RobustnessReport, 'pgdL2'>>;

/**
 * The self-checks of an adversarial evaluation. A violation is the classic sign of gradient masking or a
 * broken evaluation, and is reported, never hidden:
 *   - robust accuracy must not rise with ε (per attack);
 *   - PGD must not beat FGSM at the same ε by more than noise;
 *   - accuracy at ε = 0 (`eps0Accuracy`, the attack path run with ε = 0) must equal the clean accuracy of
 *     the attacked subset;
 *   - with several attack losses, the later ones must not fool many examples the first (the cross-entropy)
 *     left standing: that is a saturated cross-entropy, gradient masking that the worst case over the losses
 *     (the reported accuracy) has already seen through.
 */
export function robustnessWarnings(report: Checked, eps0Accuracy: number | null, options: SelfCheckOptions = {}): string[] {
  if (stryMutAct_9fa48("74")) {
    {}
  } else {
    stryCov_9fa48("74");
    const tolPgd = stryMutAct_9fa48("75") ? options.pgdOverFgsmTolerance && 0.02 : (stryCov_9fa48("75"), options.pgdOverFgsmTolerance ?? 0.02);
    const tolMono = stryMutAct_9fa48("76") ? options.monotoneTolerance && 0 : (stryCov_9fa48("76"), options.monotoneTolerance ?? 0);
    const tolLoss = stryMutAct_9fa48("77") ? options.lossGapTolerance && 0.05 : (stryCov_9fa48("77"), options.lossGapTolerance ?? 0.05);
    const warnings: string[] = stryMutAct_9fa48("78") ? ["Stryker was here"] : (stryCov_9fa48("78"), []);
    const pct = stryMutAct_9fa48("79") ? () => undefined : (stryCov_9fa48("79"), (() => {
      const pct = (x: number) => stryMutAct_9fa48("80") ? `` : (stryCov_9fa48("80"), `${(stryMutAct_9fa48("81") ? 100 / x : (stryCov_9fa48("81"), 100 * x)).toFixed(1)}%`);
      return pct;
    })());
    for (const [name, rows] of [['FGSM', report.fgsm], ['PGD', report.pgd], ['PGD-L2', report.pgdL2 ?? []]] as const) {
      if (stryMutAct_9fa48("82")) {
        {}
      } else {
        stryCov_9fa48("82");
        const sorted = stryMutAct_9fa48("83") ? [...rows] : (stryCov_9fa48("83"), (stryMutAct_9fa48("84") ? [] : (stryCov_9fa48("84"), [...rows])).sort(stryMutAct_9fa48("85") ? () => undefined : (stryCov_9fa48("85"), (a, b) => stryMutAct_9fa48("86") ? a.eps + b.eps : (stryCov_9fa48("86"), a.eps - b.eps))));
        for (let i = 1; stryMutAct_9fa48("89") ? i >= sorted.length : stryMutAct_9fa48("88") ? i <= sorted.length : stryMutAct_9fa48("87") ? false : (stryCov_9fa48("87", "88", "89"), i < sorted.length); stryMutAct_9fa48("90") ? i-- : (stryCov_9fa48("90"), i++)) {
          if (stryMutAct_9fa48("91")) {
            {}
          } else {
            stryCov_9fa48("91");
            if (stryMutAct_9fa48("95") ? sorted[i].accuracy <= sorted[i - 1].accuracy + tolMono : stryMutAct_9fa48("94") ? sorted[i].accuracy >= sorted[i - 1].accuracy + tolMono : stryMutAct_9fa48("93") ? false : stryMutAct_9fa48("92") ? true : (stryCov_9fa48("92", "93", "94", "95"), sorted[i].accuracy > (stryMutAct_9fa48("96") ? sorted[i - 1].accuracy - tolMono : (stryCov_9fa48("96"), sorted[stryMutAct_9fa48("97") ? i + 1 : (stryCov_9fa48("97"), i - 1)].accuracy + tolMono)))) {
              if (stryMutAct_9fa48("98")) {
                {}
              } else {
                stryCov_9fa48("98");
                warnings.push(stryMutAct_9fa48("99") ? `` : (stryCov_9fa48("99"), `${name} accuracy rises with ε: ${pct(sorted[stryMutAct_9fa48("100") ? i + 1 : (stryCov_9fa48("100"), i - 1)].accuracy)} at ε=${sorted[stryMutAct_9fa48("101") ? i + 1 : (stryCov_9fa48("101"), i - 1)].eps} but ${pct(sorted[i].accuracy)} at ε=${sorted[i].eps} (gradient masking?)`));
              }
            }
          }
        }
        if (stryMutAct_9fa48("104") ? report.adversarialCleanAccuracy === null : stryMutAct_9fa48("103") ? false : stryMutAct_9fa48("102") ? true : (stryCov_9fa48("102", "103", "104"), report.adversarialCleanAccuracy !== null)) {
          if (stryMutAct_9fa48("105")) {
            {}
          } else {
            stryCov_9fa48("105");
            for (const r of sorted) {
              if (stryMutAct_9fa48("106")) {
                {}
              } else {
                stryCov_9fa48("106");
                if (stryMutAct_9fa48("110") ? r.accuracy <= report.adversarialCleanAccuracy + tolMono : stryMutAct_9fa48("109") ? r.accuracy >= report.adversarialCleanAccuracy + tolMono : stryMutAct_9fa48("108") ? false : stryMutAct_9fa48("107") ? true : (stryCov_9fa48("107", "108", "109", "110"), r.accuracy > (stryMutAct_9fa48("111") ? report.adversarialCleanAccuracy - tolMono : (stryCov_9fa48("111"), report.adversarialCleanAccuracy + tolMono)))) {
                  if (stryMutAct_9fa48("112")) {
                    {}
                  } else {
                    stryCov_9fa48("112");
                    warnings.push(stryMutAct_9fa48("113") ? `` : (stryCov_9fa48("113"), `${name} accuracy at ε=${r.eps} (${pct(r.accuracy)}) exceeds the clean accuracy of the same examples (${pct(report.adversarialCleanAccuracy)})`));
                  }
                }
              }
            }
          }
        }
      }
    }
    for (const p of report.pgd) {
      if (stryMutAct_9fa48("114")) {
        {}
      } else {
        stryCov_9fa48("114");
        const f = report.fgsm.find(stryMutAct_9fa48("115") ? () => undefined : (stryCov_9fa48("115"), r => stryMutAct_9fa48("118") ? r.eps !== p.eps : stryMutAct_9fa48("117") ? false : stryMutAct_9fa48("116") ? true : (stryCov_9fa48("116", "117", "118"), r.eps === p.eps)));
        if (stryMutAct_9fa48("121") ? f || p.accuracy > f.accuracy + tolPgd : stryMutAct_9fa48("120") ? false : stryMutAct_9fa48("119") ? true : (stryCov_9fa48("119", "120", "121"), f && (stryMutAct_9fa48("124") ? p.accuracy <= f.accuracy + tolPgd : stryMutAct_9fa48("123") ? p.accuracy >= f.accuracy + tolPgd : stryMutAct_9fa48("122") ? true : (stryCov_9fa48("122", "123", "124"), p.accuracy > (stryMutAct_9fa48("125") ? f.accuracy - tolPgd : (stryCov_9fa48("125"), f.accuracy + tolPgd)))))) {
          if (stryMutAct_9fa48("126")) {
            {}
          } else {
            stryCov_9fa48("126");
            warnings.push(stryMutAct_9fa48("127") ? `` : (stryCov_9fa48("127"), `PGD is weaker than FGSM at ε=${p.eps}: ${pct(p.accuracy)} vs ${pct(f.accuracy)} (gradient masking, or too few/small PGD steps: ${p.steps} × ${p.stepSize})`));
          }
        }
      }
    }
    for (const [name, rows] of [['FGSM', report.fgsm], ['PGD', report.pgd], ['PGD-L2', report.pgdL2 ?? []]] as const) {
      if (stryMutAct_9fa48("128")) {
        {}
      } else {
        stryCov_9fa48("128");
        for (const r of rows) {
          if (stryMutAct_9fa48("129")) {
            {}
          } else {
            stryCov_9fa48("129");
            const first = stryMutAct_9fa48("130") ? r.byLoss[0] : (stryCov_9fa48("130"), r.byLoss?.[0]);
            if (stryMutAct_9fa48("133") ? first || first.accuracy > r.accuracy + tolLoss : stryMutAct_9fa48("132") ? false : stryMutAct_9fa48("131") ? true : (stryCov_9fa48("131", "132", "133"), first && (stryMutAct_9fa48("136") ? first.accuracy <= r.accuracy + tolLoss : stryMutAct_9fa48("135") ? first.accuracy >= r.accuracy + tolLoss : stryMutAct_9fa48("134") ? true : (stryCov_9fa48("134", "135", "136"), first.accuracy > (stryMutAct_9fa48("137") ? r.accuracy - tolLoss : (stryCov_9fa48("137"), r.accuracy + tolLoss)))))) {
              if (stryMutAct_9fa48("138")) {
                {}
              } else {
                stryCov_9fa48("138");
                const rest = stryMutAct_9fa48("139") ? r.byLoss!.map(s => s.loss).join(' and the ') : (stryCov_9fa48("139"), r.byLoss!.slice(1).map(stryMutAct_9fa48("140") ? () => undefined : (stryCov_9fa48("140"), s => s.loss)).join(stryMutAct_9fa48("141") ? "" : (stryCov_9fa48("141"), ' and the ')));
                warnings.push(stryMutAct_9fa48("142") ? `` : (stryCov_9fa48("142"), `${name} at ε=${r.eps}: the ${first.loss} loss alone leaves ${pct(first.accuracy)} correct, the ${rest} loss ${pct(r.accuracy)}: the ${first.loss} loss is saturated (gradient masking); the reported accuracy is the worst case`));
              }
            }
          }
        }
      }
    }
    if (stryMutAct_9fa48("145") ? eps0Accuracy !== null && report.adversarialCleanAccuracy !== null || Math.abs(eps0Accuracy - report.adversarialCleanAccuracy) > 1e-9 : stryMutAct_9fa48("144") ? false : stryMutAct_9fa48("143") ? true : (stryCov_9fa48("143", "144", "145"), (stryMutAct_9fa48("147") ? eps0Accuracy !== null || report.adversarialCleanAccuracy !== null : stryMutAct_9fa48("146") ? true : (stryCov_9fa48("146", "147"), (stryMutAct_9fa48("149") ? eps0Accuracy === null : stryMutAct_9fa48("148") ? true : (stryCov_9fa48("148", "149"), eps0Accuracy !== null)) && (stryMutAct_9fa48("151") ? report.adversarialCleanAccuracy === null : stryMutAct_9fa48("150") ? true : (stryCov_9fa48("150", "151"), report.adversarialCleanAccuracy !== null)))) && (stryMutAct_9fa48("154") ? Math.abs(eps0Accuracy - report.adversarialCleanAccuracy) <= 1e-9 : stryMutAct_9fa48("153") ? Math.abs(eps0Accuracy - report.adversarialCleanAccuracy) >= 1e-9 : stryMutAct_9fa48("152") ? true : (stryCov_9fa48("152", "153", "154"), Math.abs(stryMutAct_9fa48("155") ? eps0Accuracy + report.adversarialCleanAccuracy : (stryCov_9fa48("155"), eps0Accuracy - report.adversarialCleanAccuracy)) > 1e-9)))) {
      if (stryMutAct_9fa48("156")) {
        {}
      } else {
        stryCov_9fa48("156");
        warnings.push(stryMutAct_9fa48("157") ? `` : (stryCov_9fa48("157"), `accuracy at ε=0 (${pct(eps0Accuracy)}) differs from the clean accuracy of the same examples (${pct(report.adversarialCleanAccuracy)}): the attack path changes the inputs`));
      }
    }
    return warnings;
  }
}