/**
 * One anti-entropy exchange, as a pure state machine: which request to send next, given
 * the answers so far. The shell sends each request, applies the answer's operations to the
 * log, and feeds the answer back, until `next()` says there is nothing left to ask.
 *
 * Two passes run side by side, each paged so that no request or answer outgrows its
 * bounds. The owner pass sends this peer's summary; the answer brings every operation of
 * the owners this peer has never heard of and names the owners whose hashes differ, in
 * owner order, from where the last page stopped. The name pass sends, for each differing
 * owner, the stamps of its names (a key range at a time); the answer brings exactly the
 * operations that beat them. An answer cut short (`more`) is asked again.
 */
import {
  SYNC_LIMITS,
  type DefinitionLog,
  type SyncRequest,
  type SyncSlice,
} from './definition-log.js'

export interface SyncSessionInit {
  /** Requests in one exchange, whatever the answers say. */
  readonly maxRounds?: number
  /** Stamps (plus one per slice) in one request; the answerer's `SyncLimits.maxKeys`. */
  readonly maxKeys?: number
}

/** Where the name pass stands for one owner: its keys after `after` are still to compare. */
interface Cursor {
  readonly owner: string
  readonly after?: string
}

export class SyncSession {
  readonly #log: DefinitionLog
  readonly #maxRounds: number
  readonly #maxKeys: number
  /** Owners already given to the name pass. */
  readonly #asked = new Set<string>()
  #queue: Cursor[] = []
  /** The owner pass resumes after this owner; undefined once it has gone through them all. */
  #from: string | undefined = ''
  #sent: { cursors: Cursor[]; from: boolean } | undefined
  #rounds = 0
  #complete = false

  constructor(log: DefinitionLog, init: SyncSessionInit = {}) {
    this.#log = log
    this.#maxRounds = init.maxRounds ?? 16
    this.#maxKeys = Math.max(2, init.maxKeys ?? SYNC_LIMITS.maxKeys)
  }

  /** Requests sent so far. */
  get rounds(): number {
    return this.#rounds
  }

  /** Both passes are through (false while running, or if the round bound stopped them). */
  get complete(): boolean {
    return this.#complete
  }

  /** The next request to send, or undefined when the exchange is over. */
  next(): SyncRequest | undefined {
    if (this.#complete || this.#rounds >= this.#maxRounds) return undefined
    const slices: SyncSlice[] = []
    const cursors: Cursor[] = []
    let budget = this.#maxKeys
    while (budget > 1) {
      const cursor = this.#queue.shift()
      if (!cursor) break
      const { stamps, through } = this.#log.stampsOf(cursor.owner, cursor.after, budget - 1)
      budget -= Object.keys(stamps).length + 1
      cursors.push(cursor)
      slices.push({
        owner: cursor.owner,
        ...(cursor.after === undefined ? {} : { after: cursor.after }),
        ...(through === undefined ? {} : { through }),
        stamps,
      })
      if (through !== undefined) {
        // The rest of this owner's keys go in a later request.
        this.#queue.unshift({ owner: cursor.owner, after: through })
        break
      }
    }
    const from = this.#from
    this.#sent = { cursors, from: from !== undefined }
    this.#rounds++
    return {
      ...(from === undefined ? {} : { from, owners: this.#log.summary().owners }),
      ...(slices.length > 0 ? { slices } : {}),
    }
  }

  /** The answer to the last request, after its operations were applied to the log. */
  answered(answer: {
    readonly differ: readonly string[]
    readonly more: boolean
    readonly next?: string | undefined
  }): void {
    const sent = this.#sent
    if (!sent) return
    this.#sent = undefined
    for (const cursor of sent.cursors) this.#asked.add(cursor.owner)
    // Cut short: ask again for those slices (with the stamps as they are now).
    if (answer.more) this.#queue.unshift(...sent.cursors)
    if (sent.from) this.#from = answer.next
    for (const owner of answer.differ) {
      if (this.#asked.has(owner)) continue
      this.#asked.add(owner)
      this.#queue.push({ owner })
    }
    this.#queue = dedupe(this.#queue)
    this.#complete = this.#queue.length === 0 && this.#from === undefined
  }
}

function dedupe(cursors: readonly Cursor[]): Cursor[] {
  const seen = new Set<string>()
  return cursors.filter((c) => {
    const id = `${c.owner}\n${c.after ?? ''}`
    if (seen.has(id)) return false
    seen.add(id)
    return true
  })
}
