import { z } from 'zod';

/** One bin of a reliability diagram (metrics.ts `ReliabilityBin`). */
export const ReliabilityBinSchema = z.object({
  lo: z.number(),
  hi: z.number(),
  confidence: z.number(),
  accuracy: z.number(),
  count: z.number().int().min(0),
});
