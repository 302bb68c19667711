/**
 * Membership for meshes past what the real core can run here: full membership is N² member
 * records (10⁸ at 10,000 peers), so above `REAL_MEMBERSHIP_MAX` peers each peer's view is
 * modelled instead. The truth (who joined, crashed or left, and when) is kept once; each peer
 * sees a change after a delay drawn from what the real SWIM core showed
 * (`membership-delays.json`, recorded by `npm run sim -- --record-delays`), fixed per (peer,
 * member, change) by a hash, so a run replays exactly. Directory, router, load view and
 * schedulers stay real: they read the views this gives.
 *
 * Cheap where it matters: peers with nothing pending share one array of live ids (so the
 * rendezvous memo is shared too); a change puts it in the pending set of every peer and lifts
 * it in 32 groups, one per delay quantile, each a single timer.
 */
import { readFileSync } from 'node:fs'
import { hash53 } from '../../packages/node/src/core/rendezvous.js'
import type { VirtualTime } from '../../packages/node/src/core/virtual-time.js'

/** The largest mesh the real membership core runs for in the simulator. */
export const REAL_MEMBERSHIP_MAX = 2_000

export type ChangeKind = 'join' | 'dead' | 'left'

/** Quantiles 0, 1, …, 100 of each change's delay (ms) until a peer's view shows it. */
export interface MembershipDelays {
  /** The command that recorded each kind (its `--peers` is the mesh size they come from). */
  readonly recordedWith: Readonly<Record<ChangeKind, string>>
  readonly delays: Readonly<Record<ChangeKind, readonly number[]>>
}

export const DELAYS_FILE = new URL('./membership-delays.json', import.meta.url)

export function loadDelays(): MembershipDelays {
  return JSON.parse(readFileSync(DELAYS_FILE, 'utf8')) as MembershipDelays
}

/** Quantiles 0..100 of `samples` (ms, rounded to 0.1). */
export function quantiles(samples: readonly number[]): number[] {
  const sorted = [...samples].sort((a, b) => a - b)
  return Array.from({ length: 101 }, (_, q) => {
    const at = Math.min(sorted.length - 1, Math.floor((q / 100) * sorted.length))
    return Math.round((sorted[at] ?? 0) * 10) / 10
  })
}

const GROUPS = 32

/** What a modelled peer's shell is told. */
export interface ModelledPeer {
  readonly id: string
  /** Its view changed: rendezvous, directory entries and registrations follow. */
  viewChanged(): void
}

interface Pending {
  /** Members that joined and this peer does not see yet. */
  readonly joins: Set<string>
  /** Members that went and this peer still sees. */
  readonly gone: Set<string>
  live: readonly string[] | undefined
}

export class MembershipModel {
  readonly #time: VirtualTime
  readonly #delays: MembershipDelays
  readonly #peers = new Map<string, ModelledPeer>()
  /** Members alive in truth, in the order they joined. */
  readonly #alive = new Set<string>()
  #aliveIds: readonly string[] | undefined
  readonly #pending = new Map<string, Pending>()
  /** A joiner sees only itself and its bootstrap until its first sync. */
  readonly #joining = new Map<string, readonly string[]>()
  /** Peers whose view changed at this instant: told once, after the instant's changes. */
  readonly #changed = new Set<string>()
  #flushArmed = false

  constructor(time: VirtualTime, delays: MembershipDelays) {
    this.#time = time
    this.#delays = delays
  }

  get source(): string {
    const sizes = [...new Set(Object.values(this.#delays.recordedWith).map(peersOf))]
    return `modelled, with delays the real core showed at ${sizes.join(' / ')} peers`
  }

  /** Peers that start with the mesh formed: everyone sees everyone at once. */
  formed(peers: readonly ModelledPeer[]): void {
    for (const p of peers) {
      this.#peers.set(p.id, p)
      this.#alive.add(p.id)
    }
    this.#aliveIds = undefined
  }

  /**
   * `peer` starts and joins through `bootstrap`: it sees the mesh after a push-pull round trip
   * (`syncMs`, then calls `ready`); the mesh sees it after the join delays.
   */
  joined(peer: ModelledPeer, bootstrap: readonly string[], syncMs: number, ready: () => void) {
    this.#peers.set(peer.id, peer)
    this.#joining.set(peer.id, [peer.id, ...bootstrap.filter((b) => b !== peer.id)])
    this.#change(peer.id, 'join')
    this.#time.after(syncMs, () => {
      if (!this.#peers.has(peer.id)) return
      this.#joining.delete(peer.id)
      this.#markChanged(peer.id)
      ready()
    })
  }

  /** `id` crashed (`dead`) or announced its leave (`left`). */
  went(id: string, kind: 'dead' | 'left'): void {
    if (!this.#alive.has(id)) return
    this.#change(id, kind)
  }

  /** The members `peer` counts (alive in its view), itself included. */
  liveIds(peer: string): readonly string[] {
    const joining = this.#joining.get(peer)
    if (joining !== undefined) return joining
    const pending = this.#pending.get(peer)
    if (pending === undefined) return this.#truth()
    pending.live ??= [
      ...this.#truth().filter((id) => !pending.joins.has(id)),
      ...[...pending.gone].filter((id) => id !== peer),
    ]
    return pending.live
  }

  isLive(peer: string, id: string): boolean {
    if (id === peer) return true
    const joining = this.#joining.get(peer)
    if (joining !== undefined) return joining.includes(id)
    const pending = this.#pending.get(peer)
    if (this.#alive.has(id)) return pending === undefined || !pending.joins.has(id)
    return pending !== undefined && pending.gone.has(id)
  }

  #truth(): readonly string[] {
    this.#aliveIds ??= [...this.#alive]
    return this.#aliveIds
  }

  /** Every other peer sees `id`'s change after its delay: pending until its group's timer. */
  #change(id: string, kind: ChangeKind): void {
    if (kind === 'join') this.#alive.add(id)
    else this.#alive.delete(id)
    this.#aliveIds = undefined
    const groups: string[][] = Array.from({ length: GROUPS }, () => [])
    for (const peer of this.#peers.keys()) {
      if (peer === id) continue
      const pending = this.#pendingOf(peer)
      if (kind === 'join') pending.joins.add(id)
      else if (!pending.joins.delete(id)) pending.gone.add(id)
      pending.live = undefined
      this.#markChanged(peer)
      ;(groups[hash53(`${peer}\u0000${id}\u0000${kind}`) % GROUPS] as string[]).push(peer)
    }
    if (kind !== 'join') this.#peers.delete(id)
    const quantile = this.#delays.delays[kind]
    groups.forEach((peers, g) => {
      if (peers.length === 0) return
      const q = Math.min(100, Math.floor(((g + 0.5) / GROUPS) * 100))
      this.#time.after(quantile[q] ?? 0, () => {
        for (const peer of peers) {
          const pending = this.#pending.get(peer)
          if (pending === undefined) continue
          if (kind === 'join') pending.joins.delete(id)
          else pending.gone.delete(id)
          pending.live = undefined
          if (pending.joins.size === 0 && pending.gone.size === 0) this.#pending.delete(peer)
          this.#markChanged(peer)
        }
      })
    })
  }

  #pendingOf(peer: string): Pending {
    let pending = this.#pending.get(peer)
    if (pending === undefined) {
      pending = { joins: new Set(), gone: new Set(), live: undefined }
      this.#pending.set(peer, pending)
    }
    return pending
  }

  #markChanged(peer: string): void {
    this.#changed.add(peer)
    if (this.#flushArmed) return
    this.#flushArmed = true
    this.#time.after(0, () => {
      this.#flushArmed = false
      const changed = [...this.#changed]
      this.#changed.clear()
      for (const id of changed) this.#peers.get(id)?.viewChanged()
    })
  }
}

function peersOf(command: string): string {
  return /--peers (\d+)/.exec(command)?.[1] ?? '?'
}
