import type { z } from 'zod';
import * as S from './schemas.ts';
import * as R from './site-report-schemas.ts';
import * as T from './run-terms.ts';

/** Messages a site sends to the coordinator, by event name. */
export const clientToServerSchemas = {
  hello: S.Hello,
  fitResult: S.FitResult,
  evaluateResult: S.EvaluateResult,
  siteFailure: S.SiteFailure,
  heartbeat: S.Heartbeat,
  secaggAdvertise: S.SecureAggAdvertise,
  secaggShareKeys: S.SecureAggShareKeys,
  secaggMasked: S.SecureAggMasked,
  secaggUnmaskResponse: S.SecureAggUnmaskResponse,
  siteReportResult: R.SiteReportResult,
  acceptTerms: T.AcceptTerms,
  refuseTerms: T.RefuseTerms,
  dataSummary: S.SiteDataSummary,
} as const;

/** Messages the coordinator sends to a site, by event name. */
export const serverToClientSchemas = {
  welcome: S.Welcome,
  model: S.ModelTopology,
  fit: S.FitInstruction,
  evaluate: S.EvaluateInstruction,
  rejected: S.Rejection,
  complete: S.RunComplete,
  secaggKeys: S.SecureAggKeys,
  secaggShares: S.SecureAggShares,
  secaggUnmask: S.SecureAggUnmask,
  siteReport: R.SiteReportInstruction,
  terms: T.SignedRunTerms,
} as const;

type Schemas = Record<string, z.ZodType>;
export type PayloadsOf<M extends Schemas> = { [K in keyof M]: z.output<M[K]> };
export type InputsOf<M extends Schemas> = { [K in keyof M]: z.input<M[K]> };
/** socket.io-style event map: event name → listener signature. */
export type EventMapOf<M extends Schemas> = { [K in keyof M]: (payload: z.input<M[K]>) => void };

export type ClientToServer = PayloadsOf<typeof clientToServerSchemas>;
export type ServerToClient = PayloadsOf<typeof serverToClientSchemas>;
export type ClientToServerEvents = EventMapOf<typeof clientToServerSchemas>;
export type ServerToClientEvents = EventMapOf<typeof serverToClientSchemas>;
export type ClientEvent = keyof ClientToServer & string;
export type ServerEvent = keyof ServerToClient & string;
