/**
 * The rule on the example count a site claims for its training (a plain round's fitResult, a secure round's
 * secaggAdvertise): an integer in 1..the run's cap, and no more than the site announced at hello. Returns why
 * the count is refused ('invalid_count'), or undefined when it is taken.
 */
export function claimedExampleCountError(siteId: string, n: number, maxExamples: number, announced: number | undefined): string | undefined {
  if (!Number.isInteger(n) || n <= 0 || n > maxExamples) return `number of examples must be an integer in 1..${maxExamples}`;
  // Stryker disable next-line ConditionalExpression: equivalent: with no announced count `n > undefined` is false anyway.
  if (announced !== undefined && n > announced) return `site ${siteId} claims more examples than the ${announced} it announced at hello`;
  return undefined;
}
