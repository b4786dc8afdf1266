/**
 * A synthetic stand-in for the Kaggle Titanic training file DISCO's titanic task reads (the real one is
 * downloaded from Google storage, which this machine cannot reach): the same header and cell formats — quoted
 * names with commas, empty Age and Cabin cells, unscaled fares up to ~500 — and a label that depends on sex,
 * class, age and fare as the real one does, so both systems learn something. Deterministic for a seed.
 */
import { SeededRandom } from '@fedtune/shared';

const HEADER = 'PassengerId,Survived,Pclass,Name,Sex,Age,SibSp,Parch,Ticket,Fare,Cabin,Embarked';
const SURNAMES = ['Braund', 'Cumings', 'Heikkinen', 'Futrelle', 'Allen', 'Moran', 'McCarthy', 'Palsson', 'Johnson', 'Nasser', 'Sandstrom', 'Bonnell'];
const TITLES = { male: ['Mr.', 'Master.'], female: ['Mrs.', 'Miss.'] } as const;
const GIVEN = ['Owen Harris', 'John Bradley', 'Laina', 'Jacques Heath', 'William Henry', 'James', 'Timothy J', 'Gosta Leonard', 'Oscar W', 'Nicholas', 'Marguerite Rut', 'Elizabeth'];

/** `rows` passengers as CSV text (header first, LF line ends). */
export function titanicLikeCsv(rows = 891, seed = 1912): string {
  const rng = new SeededRandom(seed);
  const r = () => rng.next();
  const normal = () => Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(r() * xs.length)];
  const lines = [HEADER];
  for (let i = 1; i <= rows; i++) {
    const u = r();
    const pclass = u < 0.24 ? 1 : u < 0.45 ? 2 : 3;
    const sex = r() < 0.35 ? 'female' : 'male';
    const age = Math.max(0.42, Math.round((29.7 + 14.5 * normal()) * 10) / 10);
    const sibsp = r() < 0.68 ? 0 : r() < 0.75 ? 1 : Math.floor(r() * 8);
    const parch = r() < 0.76 ? 0 : Math.floor(1 + r() * 5);
    const fare = Math.min(512.33, Math.round(Math.exp((pclass === 1 ? 4.2 : pclass === 2 ? 3.0 : 2.2) + 0.6 * normal()) * 1e4) / 1e4);
    const logit = (sex === 'female' ? 2.5 : 0) - 1.1 * (pclass - 2) - 0.03 * (age - 30) + 0.004 * fare - 0.3 * sibsp - 1.2;
    const survived = r() < 1 / (1 + Math.exp(-logit)) ? 1 : 0;
    const name = `"${pick(SURNAMES)}, ${pick(TITLES[sex])} ${pick(GIVEN)}"`;
    const ageCell = r() < 0.2 ? '' : String(age);
    const cabin = pclass === 1 && r() < 0.8 ? `${pick(['A', 'B', 'C', 'D', 'E'])}${1 + Math.floor(r() * 120)}` : '';
    const ticket = r() < 0.25 ? `PC ${17000 + Math.floor(r() * 700)}` : String(100000 + Math.floor(r() * 300000));
    lines.push([i, survived, pclass, name, sex, ageCell, sibsp, parch, ticket, fare, cabin, pick(['S', 'S', 'S', 'C', 'Q'])].join(','));
  }
  return `${lines.join('\n')}\n`;
}
