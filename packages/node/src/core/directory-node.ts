/**
 * A peer in its role as directory: for the keys rendezvous hashing gives it among the live
 * members, it answers who is responsible (claim-if-absent, lookup), takes registrations and
 * settles conflicts between two schedulers of one key, releases idle ones, and moves
 * ownership only by compare-and-swap on (guid, epoch). Requests in, an answer and effects
 * out; the membership view and fresh GUIDs come in with the events. Pure: the directory
 * shell (`mesh/directory-service.ts`) and the simulator both drive it.
 */
import {
  DirectoryTable,
  type ClaimOutcome,
  type CommitOutcome,
  type DirectoryEntry,
  type RegisterOutcome,
} from './directory-table.js'
import { directoryPeerFor } from './rendezvous.js'

export type DirectoryRequest =
  /** Lookup-or-become: `from` becomes responsible with `newGuid` if nobody live is. */
  | {
      readonly type: 'claim'
      readonly key: string
      readonly from: string
      readonly newGuid: string
    }
  | { readonly type: 'register'; readonly entry: DirectoryEntry }
  | { readonly type: 'release'; readonly entry: DirectoryEntry }
  | {
      readonly type: 'commit'
      readonly key: string
      readonly guid: string
      readonly epoch: number
      readonly peerId: string
    }
  | { readonly type: 'lookup'; readonly key: string }

/** What the answer of each request is. */
export interface DirectoryAnswers {
  readonly claim: ClaimOutcome
  readonly register: RegisterOutcome
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
    this.#table.retain((key) => this.directoryFor(key) === this.selfId)
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
        return this.#table.lookup(request.key)
    }
  }
}
