/**
 * SWIM's piggyback queue (memberlist's TransmitLimitedQueue): the latest update about each
 * member rides on outgoing pings and acks, least-sent first, until it has gone out
 * λ·⌈log10(n + 1)⌉ times.
 */
import type { MemberUpdate } from './member-update.js'

interface Queued {
  readonly update: MemberUpdate
  /** Enqueue order: newer first among equally sent updates. */
  readonly order: number
  transmits: number
}

/** How many times each update is piggybacked in a mesh of `members`: λ·⌈log10(n + 1)⌉. */
export function retransmitLimit(multiplier: number, members: number): number {
  return multiplier * Math.max(1, Math.ceil(Math.log10(members + 1)))
}

export class TransmitQueue {
  readonly #queued = new Map<string, Queued>()
  #order = 0

  get size(): number {
    return this.#queued.size
  }

  /** Queues `update`, replacing any older update about the same member. */
  enqueue(update: MemberUpdate): void {
    this.#queued.set(update.id, { update, order: ++this.#order, transmits: 0 })
  }

  /** Drops whatever is queued about `id`. */
  drop(id: string): void {
    this.#queued.delete(id)
  }

  /**
   * Up to `max` updates for one outgoing message, least-sent and then newest first; each
   * counts one transmission and leaves the queue when it has gone out `limit` times.
   */
  take(max: number, limit: number, skip?: string): MemberUpdate[] {
    if (max <= 0 || this.#queued.size === 0) return []
    const chosen = [...this.#queued.values()]
      .filter((q) => q.update.id !== skip)
      .sort((a, b) => a.transmits - b.transmits || b.order - a.order)
      .slice(0, max)
    for (const q of chosen) {
      q.transmits++
      if (q.transmits >= limit) this.#queued.delete(q.update.id)
    }
    return chosen.map((q) => q.update)
  }

  /** What is queued, for snapshots: least-sent first. */
  pending(): { update: MemberUpdate; transmits: number }[] {
    return [...this.#queued.values()]
      .sort((a, b) => a.transmits - b.transmits || b.order - a.order)
      .map((q) => ({ update: q.update, transmits: q.transmits }))
  }
}
