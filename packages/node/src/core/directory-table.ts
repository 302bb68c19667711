/**
 * The directory a peer keeps for the keys (owner/provider) that rendezvous hashing gives
 * it: who is responsible, under which scheduler GUID and epoch. Claims are atomic here
 * (claim-if-absent), which is what makes concurrent first requests end with one
 * responsible. Pure: liveness and new GUIDs are passed in.
 */

export interface DirectoryEntry {
  readonly key: string
  readonly guid: string
  readonly peerId: string
  readonly epoch: number
}

export type ClaimOutcome = { readonly entry: DirectoryEntry; readonly created: boolean }

export type CommitOutcome =
  /** Ownership moved: `entry` is the scheduler's new place, at the next epoch. */
  | { readonly committed: true; readonly entry: DirectoryEntry }
  /** The scheduler is not at (guid, epoch) any more: `entry` is where it is, if known. */
  | { readonly committed: false; readonly entry?: DirectoryEntry }

export type RegisterOutcome =
  /** The registration stands (it was new, the same, or it won a conflict). */
  | { readonly accepted: true; readonly entry: DirectoryEntry; readonly displaced?: DirectoryEntry }
  /** Another scheduler holds the key and wins: the registrant must merge into it. */
  | { readonly accepted: false; readonly entry: DirectoryEntry }

/**
 * Which of two schedulers for one key survives a conflict (a partition healed, or a
 * directory moved before its entries were re-registered): a live one over a dead one,
 * then the higher epoch, then the smaller GUID (then the smaller peer id). Every peer
 * decides the same.
 */
export function survivor(
  a: DirectoryEntry,
  b: DirectoryEntry,
  isAlive: (peerId: string) => boolean,
): DirectoryEntry {
  const aliveA = isAlive(a.peerId)
  if (aliveA !== isAlive(b.peerId)) return aliveA ? a : b
  if (a.epoch !== b.epoch) return a.epoch > b.epoch ? a : b
  if (a.guid !== b.guid) return a.guid < b.guid ? a : b
  // The same GUID on two peers (never drawn twice in practice): still one answer everywhere.
  return a.peerId <= b.peerId ? a : b
}

export class DirectoryTable {
  readonly #entries = new Map<string, DirectoryEntry>()

  get size(): number {
    return this.#entries.size
  }

  lookup(key: string): DirectoryEntry | undefined {
    return this.#entries.get(key)
  }

  entries(): DirectoryEntry[] {
    return [...this.#entries.values()]
  }

  /**
   * The responsible for `key`: the existing one if its peer is alive, otherwise
   * `claimant` becomes responsible with `newGuid`, at the next epoch.
   */
  claim(
    key: string,
    claimant: string,
    newGuid: string,
    isAlive: (peerId: string) => boolean,
  ): ClaimOutcome {
    const existing = this.#entries.get(key)
    if (existing && isAlive(existing.peerId)) return { entry: existing, created: false }
    const entry = { key, guid: newGuid, peerId: claimant, epoch: (existing?.epoch ?? 0) + 1 }
    this.#entries.set(key, entry)
    return { entry, created: true }
  }

  /**
   * Hands the scheduler `guid`, known at `epoch`, to `peerId` at epoch + 1 — if and only if
   * this directory still names it at that epoch (or names nothing for the key: a directory
   * that moved and has not been re-registered yet). Two concurrent moves of one scheduler
   * cannot both commit: the second finds the epoch raised.
   */
  commit(key: string, guid: string, epoch: number, peerId: string): CommitOutcome {
    const existing = this.#entries.get(key)
    if (existing !== undefined && (existing.guid !== guid || existing.epoch !== epoch)) {
      return { committed: false, entry: existing }
    }
    const entry: DirectoryEntry = { key, guid, peerId, epoch: epoch + 1 }
    this.#entries.set(key, entry)
    return { committed: true, entry }
  }

  /** A responsible announces what it hosts (after the directory moved, or periodically). */
  register(incoming: DirectoryEntry, isAlive: (peerId: string) => boolean): RegisterOutcome {
    const existing = this.#entries.get(incoming.key)
    if (!existing || sameScheduler(existing, incoming)) {
      const entry = existing && existing.epoch > incoming.epoch ? existing : incoming
      this.#entries.set(incoming.key, entry)
      return { accepted: true, entry }
    }
    const winner = survivor(existing, incoming, isAlive)
    if (winner === existing) return { accepted: false, entry: existing }
    this.#entries.set(incoming.key, incoming)
    return { accepted: true, entry: incoming, displaced: existing }
  }

  /** Removes the entry if it still names this scheduler (idle deallocation). */
  release(key: string, guid: string, epoch: number): boolean {
    const existing = this.#entries.get(key)
    if (!existing || existing.guid !== guid || existing.epoch !== epoch) return false
    this.#entries.delete(key)
    return true
  }

  /** Forgets entries this peer is no longer the directory for. */
  retain(keep: (key: string) => boolean): void {
    for (const key of [...this.#entries.keys()]) if (!keep(key)) this.#entries.delete(key)
  }
}

function sameScheduler(a: DirectoryEntry, b: DirectoryEntry): boolean {
  return a.guid === b.guid && a.peerId === b.peerId
}
