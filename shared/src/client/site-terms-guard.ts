import type { SignedRunTerms, RunTerms } from '../messages/run-terms.ts';
import type { MessageOf } from '../transport/transport.ts';
import type { ServerToClient } from '../messages/events.ts';
import { checkRunTerms, type TermsCheck } from '../policy/check-run-terms.ts';
import type { Ed25519Verify } from '../policy/ed25519-verify.ts';
import type { Sha256OfChunks } from '../audit/sha256-hex.ts';
import { checkEvaluateInstruction, checkFitInstruction, checkModelInstruction, checkSiteReportInstruction } from '../policy/check-instruction.ts';
import { internRunTerms } from './interned-run-terms.ts';
import { DEFAULT_SITE_POLICY, type SitePolicy } from '../policy/site-policy.ts';
import { InstructionBudget, type InstructionLimits } from './instruction-budget.ts';

/** What the guard decided about a 'terms' message: accept with this hash, or refuse with a reason. */
export type TermsDecision = { accept: true; hash: string } | { accept: false; reason: string };

/**
 * A site's consent, over one run (docs/site-policy.md): checks the run's terms at join against the policy,
 * then every instruction against the accepted terms. Once the coordinator departs from its terms the guard
 * stays broken: nothing more from that coordinator is accepted for this run (the site leaves).
 */
export class SiteTermsGuard {
  private accepted?: { terms: RunTerms; hash: string };
  /** Most examples per round this site trains on (the policy's cap when the terms allow more). */
  maxExamples?: number;
  /** Why this site refused the run or an instruction; set once, never cleared. */
  breach?: string;

  constructor(
    readonly policy: SitePolicy = DEFAULT_SITE_POLICY,
    private readonly extra: readonly TermsCheck[] = [],
    /** How the terms' signature is verified (checkRunTerms' default, @noble/curves, when undefined). */
    private readonly verifySignature?: Ed25519Verify,
    /** How model bytes are hashed (the initial weights against the terms): @noble/hashes when undefined. */
    private readonly sha256?: Sha256OfChunks,
    limits?: InstructionLimits,
  ) {
    this.budget = new InstructionBudget(limits);
  }

  private readonly budget: InstructionBudget;

  /**
   * An instruction arrived, before it is queued behind `pending` others: why it is more than this site answers
   * (the same work asked too often, or a flood: instruction-budget.ts), or undefined. A breach, as a departure from the terms.
   */
  countArrival(message: MessageOf<ServerToClient>, pending: number): string | undefined {
    if (this.breach) return this.breach;
    const reason = this.budget.take(message, pending);
    this.breach ??= reason;
    return reason;
  }

  get terms(): RunTerms | undefined {
    return this.accepted?.terms;
  }

  /** The run's terms arrived (after 'welcome' of run `runId`): accept or refuse. Terms of a reconnect must be the ones accepted before. */
  onTerms(signed: SignedRunTerms, runId: string | undefined): TermsDecision {
    if (this.breach) return this.refuse(this.breach);
    if (runId !== undefined && signed.terms.runId !== runId) return this.refuse(`the terms are for run ${signed.terms.runId}, not the run ${runId} this site was welcomed to`);
    if (this.accepted) {
      return signed.hash === this.accepted.hash ? { accept: true, hash: signed.hash } : this.refuse('the coordinator changed the run\'s terms after this site accepted them');
    }
    const verdict = checkRunTerms(signed, this.policy, this.extra, this.verifySignature);
    if (!verdict.ok) return this.refuse(verdict.reason);
    // Verified against its hash: the process's one frozen copy of these terms (interned-run-terms.ts).
    this.accepted = { terms: internRunTerms(verdict.hash, signed.terms), hash: verdict.hash };
    this.maxExamples = verdict.maxExamples;
    return { accept: true, hash: verdict.hash };
  }

  /** Why this instruction is refused (one line), or undefined when it keeps to the accepted terms. */
  checkInstruction(message: MessageOf<ServerToClient>): string | undefined {
    if (this.breach) return this.breach;
    const terms = this.accepted?.terms;
    const reason = (() => {
      switch (message.event) {
        case 'model':
        case 'fit':
        case 'evaluate':
        case 'siteReport':
          if (!terms) return `"${message.event}" arrived before this site accepted the run's terms`;
          if (message.event === 'model') return checkModelInstruction(message.payload, terms);
          if (message.event === 'fit') return checkFitInstruction(message.payload, terms, this.policy, this.sha256);
          if (message.event === 'evaluate') return checkEvaluateInstruction(message.payload, terms, this.sha256);
          return checkSiteReportInstruction(message.payload, terms, this.policy);
        // Stryker disable next-line ConditionalExpression: equivalent: without this case the switch falls out to the same undefined
        default:
          return undefined;
      }
    })();
    // Set once, never cleared (a breach returned above).
    this.breach ??= reason;
    return reason;
  }

  private refuse(reason: string): TermsDecision {
    this.breach = reason;
    return { accept: false, reason };
  }
}
