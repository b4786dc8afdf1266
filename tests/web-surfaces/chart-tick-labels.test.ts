import { expect, it } from 'vitest';
import { tickLabels } from '../../client-web/src/ui/tick-labels.ts';

it.each<[string, number[], string[]]>([
  ['losses 1.2194 → 1.0621: two decimals (one printed "1.2", "1.1", "1.1")', [1.0621, (1.0621 + 1.2194) / 2, 1.2194], ['1.06', '1.14', '1.22']],
  ['accuracy 0–1: one decimal, the same for every tick', [0, 0.5, 1], ['0.0', '0.5', '1.0']],
  ['a wide range from 1: one decimal is enough', [1, 2.5, 4], ['1.0', '2.5', '4.0']],
  ['from 10 up: none', [10, 55, 100], ['10', '55', '100']],
  ['close values below 1: more decimals', [0.5001, 0.50015, 0.5002], ['0.50010', '0.50015', '0.50020']],
  ['equal values keep their one label', [0.3, 0.3, 0.3], ['0.30', '0.30', '0.30']],
])('%s', (_what, values, labels) => {
  expect(tickLabels(values)).toEqual(labels);
});
