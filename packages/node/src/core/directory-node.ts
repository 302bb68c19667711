/**
 * A peer in its role as directory: for the keys rendezvous hashing gives it among the live
 * members, it answers who is responsible (claim-if-absent, lookup), takes registrations and
 * settles conflicts between two schedulers of one key, releases idle ones, and moves
 * ownership only by compare-and-swap on (guid, epoch). Requests in, an answer and effects
 * out; the membership view and fresh GUIDs come in with the events. Pure: the directory
 * shell (`mesh/directory-service.ts`) and the simulator both drive it.
 *
 * When a key's directory moves (a peer joined that rendezvous ranks first), the new directory
 * knows nothing of it until the responsible re-registers. A claim in that window would make a
 * second responsible — and a retry with the same idempotency key a second invocation — so a
 * directory that does not know a key first asks its predecessors (`predecessorsFor`), which
 * still answer lookups for the entries it handed on (the most recent `FORMER_KEPT`).
 */
import {
  DirectoryTable,
  type ClaimOutcome,
  type CommitOutcome,
  type DirectoryEntry,
  type RegisterOutcome,
} from './directory-table.js'
import { directoryPeerFor, topRankedFor } from './rendezvous.js'

/** Entries a peer remembers, after it stopped being their directory, for its successor. */
export const FORMER_KEPT = 10_000

/** Previous directories asked: the key may have moved more than once while joiners came. */
export const PREDECESSORS_ASKED = 3

export type DirectoryRequest =
  /** Lookup-or-become: `from` becomes responsible with `newGuid` if nobody live is. */
  | {
      readonly type: 'claim'
      readonly key: string
      readonly from: string
      readonly newGuid: string
    }
  | {
      readonly type: 'register'
      readonly entry: DirectoryEntry
      /**
       * After a pause (`PauseFence`): the registrant was away, so any other live scheduler of
       * the key was made while it was and wins — whatever epochs and GUIDs would say.
       */
      readonly yielding?: boolean
    }
  | { readonly type: 'release'; readonly entry: DirectoryEntry }
  | {
      readonly type: 'commit'
      readonly key: string
      readonly guid: string
      readonly epoch: number
      readonly peerId: string
    }
  | { readonly type: 'lookup'; readonly key: string }

/**
 * A registration refused for now: this directory sees the registrant dead. A peer the mesh
 * declared dead may have had its schedulers claimed elsewhere, and a claim here would not
 * count its entry (it names a dead peer); it registers again once its refutation has spread.
 */
export interface RegistrationRefused {
  readonly accepted: false
  readonly refused: string
}

/** What the answer of each request is. */
export interface DirectoryAnswers {
  readonly claim: ClaimOutcome
  readonly register: RegisterOutcome | RegistrationRefused
  readonly release: boolean
  readonly commit: CommitOutcome
  readonly lookup: DirectoryEntry | undefined
}

/** A displaced responsible must merge into the winner: tell it (it may be this peer). */
export interface TellLost {
  readonly type: 'tell-lost'
  readonly to: string
  readonly winner: DirectoryEntry
}

/** Who counts, as the membership shell sees it now. */
export interface DirectoryMembersView {
  /** Members that count for rendezvous (alive and suspect ones), this peer included. */
  readonly live: readonly string[]
  readonly isAlive: (peerId: string) => boolean
}

export class DirectoryNode {
  readonly selfId: string
  readonly #table = new DirectoryTable()
  /** Entries of keys this peer is no longer the directory for, oldest first. */
  readonly #former = new Map<string, DirectoryEntry>()
  #members: DirectoryMembersView

  constructor(selfId: string, members: DirectoryMembersView) {
    this.selfId = selfId
    this.#members = members
  }

  get size(): number {
    return this.#table.size
  }

  entries(): DirectoryEntry[] {
    return this.#table.entries()
  }

  /**
   * The membership changed: forgets the entries of keys this peer is no longer the
   * directory for (their responsibles re-register with the new one).
   */
  membersChanged(members: DirectoryMembersView): void {
    this.#members = members
    for (const entry of this.#table.entries()) {
      if (this.directoryFor(entry.key) === this.selfId) continue
      this.#former.delete(entry.key)
      this.#former.set(entry.key, entry)
      if (this.#former.size > FORMER_KEPT)
        this.#former.delete(this.#former.keys().next().value as string)
    }
    this.#table.retain((key) => this.directoryFor(key) === this.selfId)
  }

  /**
   * Whom to ask about `key` before granting a claim for it: the live members rendezvous ranks
   * next (2nd to 4th) — where the key's directory was before this peer and other joiners
   * outranked them — when this peer is first and does not know the key. Empty otherwise.
   */
  predecessorsFor(key: string): string[] {
    if (this.#table.lookup(key) !== undefined) return []
    const [first, ...next] = topRankedFor(key, this.#members.live, PREDECESSORS_ASKED + 1)
    return first === this.selfId ? next : []
  }

  /**
   * The key's directory peer: the live member rendezvous hashing ranks first — counting
   * `leaving` out, a peer that announced it leaves and may still be in the view.
   */
  directoryFor(key: string, leaving?: string): string | undefined {
    const live = this.#members.live
    return directoryPeerFor(key, leaving === undefined ? live : live.filter((id) => id !== leaving))
  }

  handle<R extends DirectoryRequest>(
    request: R,
  ): { answer: DirectoryAnswers[R['type']]; effects: TellLost[] } {
    const effects: TellLost[] = []
    const answer = this.#answer(request, effects)
    return { answer: answer as DirectoryAnswers[R['type']], effects }
  }

  #answer(
    request: DirectoryRequest,
    effects: TellLost[],
  ): DirectoryAnswers[keyof DirectoryAnswers] {
    const isAlive = this.#members.isAlive
    switch (request.type) {
      case 'claim':
        return this.#table.claim(request.key, request.from, request.newGuid, isAlive)
      case 'register': {
        if (!isAlive(request.entry.peerId))
          return {
            accepted: false,
            refused: `${request.entry.peerId} is not alive in the view of ${this.selfId}`,
          }
        const existing = this.#table.lookup(request.entry.key)
        if (
          request.yielding === true &&
          existing !== undefined &&
          existing.guid !== request.entry.guid &&
          isAlive(existing.peerId)
        )
          return { accepted: false, entry: existing }
        this.#former.delete(request.entry.key)
        const outcome = this.#table.register(request.entry, isAlive)
        if (outcome.accepted && outcome.displaced) {
          effects.push({ type: 'tell-lost', to: outcome.displaced.peerId, winner: request.entry })
        }
        return outcome
      }
      case 'release':
        return this.#table.release(request.entry.key, request.entry.guid, request.entry.epoch)
      case 'commit':
        return this.#table.commit(request.key, request.guid, request.epoch, request.peerId)
      case 'lookup':
        return this.#table.lookup(request.key) ?? this.#former.get(request.key)
    }
  }
}
