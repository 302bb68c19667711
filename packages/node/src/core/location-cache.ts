/**
 * Where each key's responsible was last found, as an entry peer remembers it: a cache, so
 * it expires (`ttlMs` after it was learned) and is bounded (the oldest go first). The
 * directory is the truth; a responsible that refuses a forward (`stale-epoch`,
 * `not-responsible`) makes the entry go, and a newer epoch of the same scheduler replaces an
 * older one, never the other way round. Pure: the time comes in as `now`.
 */
import type { DirectoryEntry } from './directory-table.js'

export const LOCATION_TTL_MS = 30_000
export const LOCATIONS_KEPT = 100_000

interface Cached {
  readonly entry: DirectoryEntry
  readonly expiresAt: number
}

export class LocationCache {
  readonly #ttlMs: number
  readonly #capacity: number
  readonly #entries = new Map<string, Cached>()

  constructor(ttlMs = LOCATION_TTL_MS, capacity = LOCATIONS_KEPT) {
    this.#ttlMs = ttlMs
    this.#capacity = capacity
  }

  get size(): number {
    return this.#entries.size
  }

  /** The responsible of `key`, if known and not expired at `now`. */
  get(key: string, now: number): DirectoryEntry | undefined {
    const cached = this.#entries.get(key)
    if (cached === undefined) return undefined
    if (cached.expiresAt <= now) {
      this.#entries.delete(key)
      return undefined
    }
    return cached.entry
  }

  /** Learns where `entry.key`'s responsible is; an older epoch of the same scheduler is ignored. */
  learn(entry: DirectoryEntry, now: number): void {
    const known = this.#entries.get(entry.key)?.entry
    if (known !== undefined && known.guid === entry.guid && known.epoch > entry.epoch) return
    this.#entries.delete(entry.key)
    this.#entries.set(entry.key, { entry, expiresAt: now + this.#ttlMs })
    if (this.#entries.size > this.#capacity) {
      const oldest = this.#entries.keys().next().value
      if (oldest !== undefined) this.#entries.delete(oldest)
    }
  }

  forget(key: string): void {
    this.#entries.delete(key)
  }

  /** Forgets every entry whose responsible is no longer live. */
  retainLive(isLive: (peerId: string) => boolean): void {
    for (const [key, { entry }] of this.#entries) {
      if (!isLive(entry.peerId)) this.#entries.delete(key)
    }
  }
}
