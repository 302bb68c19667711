/**
 * The directory, spread over the mesh by rendezvous hashing: each key (owner/provider)
 * has one directory peer among the live members, which answers `dir.claim` atomically
 * (claim-if-absent). Responsibles re-register what they host whenever membership changes
 * and every few seconds, so a moved or restarted directory peer relearns its keys, and
 * conflicting responsibles (after a partition healed) are found and merged.
 */
import { randomUUID } from 'node:crypto'
import { background } from '../background.js'
import { DirectoryTable, type DirectoryEntry, type RegisterOutcome } from './directory-table.js'
import { ChorusError } from '../errors.js'
import type { PeerChannels } from '../transport/peer-channels.js'
import { directoryPeerFor } from './rendezvous.js'

export interface DirectoryMembers {
  readonly selfId: string
  /** Members that count for rendezvous: alive and suspect ones, this peer included. */
  liveIds(): string[]
  isAlive(peerId: string): boolean
}

export interface DirectoryServiceInit {
  channels: PeerChannels
  members: DirectoryMembers
  /** What this peer is responsible for now. */
  hosted: () => { key: string; guid: string; epoch: number }[]
  /** This peer lost a conflict for `key`: hand its queue to `winner`. */
  onLost: (key: string, winner: DirectoryEntry) => void
  reregisterEveryMs?: number
  log?: (line: string) => void
}

export const DIRECTORY_METHODS = {
  claim: 'dir.claim',
  register: 'dir.register',
  release: 'dir.release',
  lost: 'dir.lost',
} as const

export class DirectoryService {
  readonly #init: DirectoryServiceInit
  readonly #table = new DirectoryTable()
  #timer: ReturnType<typeof setInterval> | undefined

  constructor(init: DirectoryServiceInit) {
    this.#init = init
    const { channels } = init
    channels.handle(DIRECTORY_METHODS.claim, (body, from) => {
      const { key } = parseKeyBody(body)
      return this.#claimHere(key, from)
    })
    channels.handle(DIRECTORY_METHODS.register, (body) => this.#registerHere(parseEntry(body)))
    channels.handle(DIRECTORY_METHODS.release, (body) => {
      const entry = parseEntry(body)
      return this.#table.release(entry.key, entry.guid, entry.epoch)
    })
    channels.handle(DIRECTORY_METHODS.lost, (body) => {
      const winner = parseEntry(body)
      const mine = init.hosted().find((h) => h.key === winner.key)
      if (mine && mine.guid !== winner.guid) init.onLost(winner.key, winner)
      return true
    })
  }

  start(): void {
    const every = this.#init.reregisterEveryMs ?? 5_000
    this.#timer = setInterval(
      () =>
        background(this.reregister(), (err) =>
          this.#init.log?.(`bug: re-registering threw: ${String(err)}`),
        ),
      every,
    )
    this.#timer.unref()
  }

  stop(): void {
    clearInterval(this.#timer)
  }

  /** The entries this peer keeps as a directory peer. */
  entries(): DirectoryEntry[] {
    return this.#table.entries()
  }

  /** Who is responsible for `key`; this peer itself if nobody was (lookup-or-become). */
  async claim(key: string, timeoutMs: number): Promise<DirectoryEntry> {
    const self = this.#init.members.selfId
    const directory = this.#directoryFor(key)
    if (directory === self) return this.#claimHere(key, self)
    return parseEntry(
      await this.#init.channels.request(directory, DIRECTORY_METHODS.claim, { key }, timeoutMs),
    )
  }

  /** Removes the entry of a scheduler freed for idleness. Best effort. */
  release(entry: DirectoryEntry): void {
    const directory = this.#directoryFor(entry.key)
    if (directory === this.#init.members.selfId) {
      this.#table.release(entry.key, entry.guid, entry.epoch)
      return
    }
    this.#init.channels
      .request(directory, DIRECTORY_METHODS.release, entry, 5_000)
      .catch((err: unknown) => this.#init.log?.(`release of ${entry.key} failed: ${String(err)}`))
  }

  /** Announces everything this peer hosts to its directory peers; resolves conflicts. */
  async reregister(): Promise<void> {
    const self = this.#init.members.selfId
    this.#table.retain((key) => this.#directoryFor(key) === self)
    await Promise.all(
      this.#init.hosted().map(async (h) => {
        const entry: DirectoryEntry = { key: h.key, guid: h.guid, epoch: h.epoch, peerId: self }
        try {
          const directory = this.#directoryFor(h.key)
          const outcome =
            directory === self
              ? this.#registerHere(entry)
              : ((await this.#init.channels.request(
                  directory,
                  DIRECTORY_METHODS.register,
                  entry,
                  5_000,
                )) as RegisterOutcome)
          if (!outcome.accepted) this.#init.onLost(h.key, parseEntry(outcome.entry))
        } catch (err) {
          this.#init.log?.(`re-registering ${h.key} failed: ${String(err)}`)
        }
      }),
    )
  }

  #directoryFor(key: string): string {
    const directory = directoryPeerFor(key, this.#init.members.liveIds())
    if (directory === undefined) throw new ChorusError('internal', 'no live members, not even self')
    return directory
  }

  #claimHere(key: string, claimant: string): DirectoryEntry {
    const { members } = this.#init
    return this.#table.claim(key, claimant, randomUUID(), (p) => members.isAlive(p)).entry
  }

  #registerHere(entry: DirectoryEntry): RegisterOutcome {
    const { members, channels } = this.#init
    const outcome = this.#table.register(entry, (p) => members.isAlive(p))
    if (outcome.accepted && outcome.displaced) {
      const loser = outcome.displaced.peerId
      if (loser === members.selfId) this.#init.onLost(entry.key, entry)
      else channels.send(loser, DIRECTORY_METHODS.lost, entry)
    }
    return outcome
  }
}

function parseKeyBody(body: unknown): { key: string } {
  const key = (body as { key?: unknown } | null)?.key
  if (typeof key !== 'string' || key.length === 0 || key.length > 300) {
    throw new ChorusError('bad-request', 'key must be a non-empty string')
  }
  return { key }
}

/** Checks a directory entry that came over the wire. */
export function parseEntry(body: unknown): DirectoryEntry {
  const e = body as Partial<DirectoryEntry> | null
  if (
    typeof e !== 'object' ||
    e === null ||
    typeof e.key !== 'string' ||
    typeof e.guid !== 'string' ||
    typeof e.peerId !== 'string' ||
    typeof e.epoch !== 'number' ||
    !Number.isInteger(e.epoch) ||
    e.epoch < 1
  ) {
    throw new ChorusError('protocol-error', 'malformed directory entry')
  }
  return { key: e.key, guid: e.guid, peerId: e.peerId, epoch: e.epoch }
}
