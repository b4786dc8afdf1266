export * from './personalize-model.ts';
export * from './site-robustness-summary.ts';
export * from './site-report-work.ts';
export * from './auto-personalize.ts';
export * from './select-personal-candidate.ts';
export * from './validation-robustness.ts';
