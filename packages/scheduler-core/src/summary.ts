/** What gossip carries about one scheduler: small, and enough to judge its load. */
export interface SchedulerSummary {
  readonly owner: string
  readonly provider: string
  readonly capacity: number
  readonly inflight: number
  /** Queued invocations by priority. */
  readonly pending: { readonly high: number; readonly low: number }
  /** How long the longest-waiting queued invocation has waited, in ms (0 if none). */
  readonly oldestWaitMs: number
  /** Submissions per second, exponentially weighted over about ARRIVAL_RATE_WINDOW_MS. */
  readonly arrivalRatePerSec: number
  /** The part of `arrivalRatePerSec` forwarded by other peers (the rest entered here). */
  readonly forwardedRatePerSec: number
  readonly warmHosts: number
  readonly workers: { readonly total: number; readonly eligible: number }
}

export const ARRIVAL_RATE_WINDOW_MS = 10_000

/** An exponentially decayed event rate: pure arithmetic on the times it is given. */
export interface DecayedRate {
  readonly perMs: number
  readonly at: number
}

export function decayRate(rate: DecayedRate, now: number): DecayedRate {
  if (now <= rate.at) return rate
  return { perMs: rate.perMs * Math.exp(-(now - rate.at) / ARRIVAL_RATE_WINDOW_MS), at: now }
}

export function recordArrival(rate: DecayedRate, now: number): DecayedRate {
  const decayed = decayRate(rate, now)
  return { perMs: decayed.perMs + 1 / ARRIVAL_RATE_WINDOW_MS, at: decayed.at }
}
