/**
 * A scheduler's invocation ledger: the idempotency keys it accepted invocations under, and
 * their results. It is part of the scheduler's state, so it travels with it — a graceful
 * leave or a merge hands it to the next responsible — and an idempotent retry finds the
 * same invocation wherever the scheduler went (DESIGN.md invariant 3). A result is recorded
 * here once; what entry peers keep are copies. Bounded: the oldest entries go first. Pure.
 */

/** What a ledger remembers of a finished invocation: its final view, as the API shows it. */
export interface LedgerResult {
  readonly id: string
  readonly status: 'succeeded' | 'failed'
  readonly output?: unknown
  readonly error?: { readonly code: string; readonly message: string }
  readonly peerId?: string
  readonly trace?: unknown
  /** Times it was started and preempted; absent in results recorded before they were counted. */
  readonly attempts?: number
  readonly preemptions?: number
}

export const LEDGER_FORMAT = 'chorus.ledger/1'

/** A ledger as it travels: plain JSON, oldest entries first. */
export interface LedgerSnapshot {
  readonly format: typeof LEDGER_FORMAT
  /** `[idempotency key, invocation id]`. */
  readonly keys: readonly (readonly [string, string])[]
  readonly results: readonly LedgerResult[]
}

/** Entries kept, at most, of each kind. */
export const LEDGER_CAPACITY = 100_000

export class InvocationLedger {
  readonly #capacity: number
  /** Idempotency key → invocation id, in insertion order. */
  readonly #keys = new Map<string, string>()
  /** Invocation id → its key, for handing a queued invocation on with it. */
  readonly #keyOf = new Map<string, string>()
  readonly #results = new Map<string, LedgerResult>()

  constructor(capacity = LEDGER_CAPACITY) {
    this.#capacity = capacity
  }

  /**
   * The invocation an earlier submit with `key` got; when there was none, `id` takes the
   * key and undefined is returned.
   */
  claimKey(key: string, id: string): string | undefined {
    const earlier = this.#keys.get(key)
    if (earlier !== undefined) return earlier
    this.#keys.set(key, id)
    this.#keyOf.set(id, key)
    this.#trimKeys()
    return undefined
  }

  /** The idempotency key invocation `id` was accepted under, if any. */
  keyOf(id: string): string | undefined {
    return this.#keyOf.get(id)
  }

  /** Records a final outcome; false (and nothing changes) if `id` has one already. */
  record(result: LedgerResult): boolean {
    if (this.#results.has(result.id)) return false
    this.#results.set(result.id, result)
    if (this.#results.size > this.#capacity) {
      const oldest = this.#results.keys().next().value
      if (oldest !== undefined) this.#results.delete(oldest)
    }
    return true
  }

  result(id: string): LedgerResult | undefined {
    return this.#results.get(id)
  }

  get size(): { keys: number; results: number } {
    return { keys: this.#keys.size, results: this.#results.size }
  }

  snapshot(): LedgerSnapshot {
    return {
      format: LEDGER_FORMAT,
      keys: [...this.#keys],
      results: [...this.#results.values()],
    }
  }

  /**
   * Takes in another ledger of the same scheduler key (a handover, or the loser of a merge):
   * what this one already has stays — a key or result is never replaced — and the rest is
   * added.
   */
  absorb(snapshot: LedgerSnapshot): void {
    for (const [key, id] of snapshot.keys) this.claimKey(key, id)
    for (const result of snapshot.results) this.record(result)
  }

  static restore(snapshot: LedgerSnapshot, capacity = LEDGER_CAPACITY): InvocationLedger {
    const ledger = new InvocationLedger(capacity)
    ledger.absorb(snapshot)
    return ledger
  }

  #trimKeys(): void {
    while (this.#keys.size > this.#capacity) {
      const [key, id] = this.#keys.entries().next().value as [string, string]
      this.#keys.delete(key)
      this.#keyOf.delete(id)
    }
  }
}
