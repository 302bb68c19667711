/**
 * DESIGN.md §4's invariants, checked as the simulated peers act (so a violation is caught at
 * the step that made it) and once more at the end:
 * 1. fencing — at most one peer accepts work for a scheduler (GUID) in an epoch, and nobody
 *    accepts at an epoch older than one already committed;
 * 2. nothing lost — every invocation a client was told was accepted ends with a result, unless
 *    the peer holding it crashed (schedulers are not replicated yet: counted, not hidden);
 * 3. once — each invocation runs to a result once, by one scheduler (two schedulers of one
 *    key, one each side of a partition, may each run it: each side acts alone, and the merge
 *    keeps one result); an idempotent retry gets the first invocation's id (not checked while
 *    the mesh is split, or after the holder crashed or stalled: the mesh cannot tell a pause
 *    from a crash, and ledgers are not replicated yet).
 */

export type InvariantName =
  'fencing' | 'one-responsible' | 'nothing-lost' | 'result-once' | 'idempotent'

export interface Violation {
  readonly invariant: InvariantName
  readonly step: number
  readonly at: number
  readonly message: string
  /** Peers whose last events explain it. */
  readonly peers: readonly string[]
  /** Their last events when it happened. */
  readonly recent: readonly string[]
}

export class InvariantChecker {
  checks = 0
  step = 0
  readonly violations: Violation[] = []
  lostToCrash = 0
  readonly #now: () => number
  readonly #recentOf: (peers: readonly string[]) => string[]
  readonly #maxEpoch = new Map<string, number>()
  readonly #acceptor = new Map<string, string>()
  readonly #holder = new Map<string, string>()
  readonly #results = new Map<string, number>()
  /** The scheduler (GUID) that first accepted each invocation. */
  readonly #acceptedBy = new Map<string, string>()
  /** Invocations accepted by two schedulers while the mesh was split: each may run it. */
  readonly #splitRuns = new Set<string>()
  /** Idempotency key → the first invocation id a client was given for it, and when. */
  readonly #firstId = new Map<string, { readonly id: string; readonly at: number }>()
  /**
   * Keys whose first invocation's holder crashed or stalled before a retry: the mesh took the
   * retry as new (it cannot tell a pause from a crash, and a scheduler's ledger is not
   * replicated yet), so the key has two invocations from then on, each run once.
   */
  readonly #splitKeys = new Set<string>()
  /** Invocations a client was told were accepted. */
  readonly #clientAccepted = new Set<string>()

  readonly #split: () => boolean

  constructor(
    now: () => number,
    recentOf: (peers: readonly string[]) => string[],
    /** True from a partition until its duplicate schedulers have merged. */
    split: () => boolean = () => false,
  ) {
    this.#now = now
    this.#recentOf = recentOf
    this.#split = split
  }

  /** Invocations run by a scheduler on each side of a partition. */
  get splitRuns(): number {
    return this.#splitRuns.size
  }

  get acceptedCount(): number {
    return this.#clientAccepted.size
  }

  committed(guid: string, epoch: number): void {
    this.step++
    if (epoch > (this.#maxEpoch.get(guid) ?? 0)) this.#maxEpoch.set(guid, epoch)
  }

  /** A scheduler took an invocation into its queue. */
  accepted(guid: string, epoch: number, peer: string, id: string): void {
    this.step++
    this.checks++
    const newest = this.#maxEpoch.get(guid) ?? 0
    if (epoch < newest) {
      this.#violate(
        'fencing',
        `${peer} accepted ${id} into ${guid} at epoch ${epoch} after epoch ${newest} was committed`,
        [peer],
      )
    }
    const slot = `${guid}@${epoch}`
    const acceptor = this.#acceptor.get(slot)
    if (acceptor === undefined) this.#acceptor.set(slot, peer)
    else if (acceptor !== peer) {
      this.#violate('one-responsible', `${peer} and ${acceptor} both accepted work for ${slot}`, [
        peer,
        acceptor,
      ])
    }
    this.#holder.set(id, peer)
    const by = this.#acceptedBy.get(id)
    if (by === undefined) this.#acceptedBy.set(id, guid)
    else if (by !== guid && this.#split()) this.#splitRuns.add(id)
  }

  /** Queued invocations went to `to` (a handover), which will accept them. */
  handedOn(ids: readonly string[], to: string): void {
    for (const id of ids) this.#holder.set(id, to)
  }

  resulted(id: string, peer: string): void {
    this.step++
    this.checks++
    const n = (this.#results.get(id) ?? 0) + 1
    this.#results.set(id, n)
    if (n > 1 && !this.#splitRuns.has(id))
      this.#violate('result-once', `${id} ran to a result ${n} times (last at ${peer})`, [peer])
  }

  /** An accepted invocation could not be handed on: it is gone. */
  handOnFailed(id: string, from: string, why: string): void {
    if (this.#clientAccepted.has(id))
      this.#violate('nothing-lost', `${id} could not be handed on from ${from}: ${why}`, [from])
  }

  /** A client was answered: accepted as `id`, for idempotency key `key`. */
  clientAnswered(
    key: string,
    id: string,
    trustworthy: boolean,
    /** Whether `peer` crashed, or stalled after `since`. */
    holderUnavailable: (peer: string, since: number) => boolean,
  ): void {
    this.step++
    this.checks++
    this.#clientAccepted.add(id)
    const first = this.#firstId.get(key)
    if (first === undefined) {
      this.#firstId.set(key, { id, at: this.#now() })
      return
    }
    if (first.id === id || this.#splitKeys.has(key)) return
    if (!trustworthy) {
      this.#splitKeys.add(key) // answered on two sides of a split: two invocations from now on
      return
    }
    const holder = this.#holder.get(first.id)
    if (holder !== undefined && holderUnavailable(holder, first.at)) {
      this.#splitKeys.add(key)
      return
    }
    this.#violate(
      'idempotent',
      `a retry with key ${key} got ${id}, not ${first.id}`,
      [holder ?? '', this.#holder.get(id) ?? ''].filter(Boolean),
    )
  }

  /** At the end, with the mesh quiet: every accepted invocation has its result. */
  finish(isCrashed: (peer: string) => boolean): { pending: number } {
    let pending = 0
    for (const id of this.#clientAccepted) {
      this.checks++
      if (this.#results.has(id)) continue
      const holder = this.#holder.get(id)
      if (holder !== undefined && isCrashed(holder)) {
        this.lostToCrash++
        continue
      }
      pending++
      this.#violate(
        'nothing-lost',
        `${id} was accepted and never finished (held by ${holder ?? 'nobody'})`,
        holder === undefined ? [] : [holder],
      )
    }
    return { pending }
  }

  #violate(invariant: InvariantName, message: string, peers: readonly string[]): void {
    if (this.violations.length >= 20) return
    const recent = this.#recentOf(peers)
    this.violations.push({ invariant, step: this.step, at: this.#now(), message, peers, recent })
  }
}
