/**
 * The directory, spread over the mesh by rendezvous hashing: each key (owner/provider)
 * has one directory peer among the live members, which answers `dir.claim/1` atomically
 * (claim-if-absent). Responsibles re-register what they host whenever membership changes
 * and every few seconds, so a moved or restarted directory peer relearns its keys, and
 * conflicting responsibles (after a partition healed) are found and merged. A directory
 * that does not know a key asks the key's previous directory before it grants a claim
 * (`DirectoryNode.predecessorsFor`): a joiner that outranked it must not make a second
 * responsible before the first has re-registered.
 */
import { randomUUID } from 'node:crypto'
import { z } from 'zod'
import { background } from '../background.js'
import { DirectoryNode, type DirectoryMembersView } from '../core/directory-node.js'
import type { CommitOutcome, DirectoryEntry, RegisterOutcome } from '../core/directory-table.js'
import { ChorusError } from '../errors.js'
import { silentLogger, type Logger } from '../observability/logger.js'
import type { PeerChannels } from '../transport/peer-channels.js'
import { DIRECTORY_METHODS } from '../transport/protocols.js'
import { parseMessage } from '../transport/rpc-message.js'

/** A scheduler key, `owner/provider`. */
const key = z.string().min(1).max(300)

/** Who is responsible for a key: the scheduler's GUID, its peer, its epoch. */
export const directoryEntrySchema = z.object({
  key: z.string(),
  guid: z.string(),
  peerId: z.string(),
  epoch: z.int().min(1),
})

/** The messages of the directory protocol, requests and answers. */
export const DIRECTORY_MESSAGES = {
  /** `dir.claim/1` request; answered with a `DirectoryEntry`. */
  claim: z.object({ key }),
  /** `dir.release/1` and `dir.lost/1` requests. */
  entry: directoryEntrySchema,
  /** `dir.register/1` request: `yielding` after a pause (any other live scheduler wins). */
  register: directoryEntrySchema.extend({ yielding: z.boolean().optional() }),
  /** `dir.commit/1` request: hand the scheduler at (guid, epoch) to `peerId`, at epoch + 1. */
  commit: z.object({
    key,
    guid: z.string().min(1).max(200),
    epoch: z.int().min(1),
    peerId: z.string().min(1).max(200),
  }),
  /** `dir.commit/1` answer. */
  commitOutcome: z.discriminatedUnion('committed', [
    z.object({ committed: z.literal(true), entry: directoryEntrySchema }),
    z.object({ committed: z.literal(false), entry: directoryEntrySchema.optional() }),
  ]),
  /** `dir.lookup/1` request; answered with a `DirectoryEntry` or `null`. */
  lookup: z.object({ key }),
  /** `dir.register/1` answer. */
  registerOutcome: z.discriminatedUnion('accepted', [
    z.object({
      accepted: z.literal(true),
      entry: directoryEntrySchema,
      displaced: directoryEntrySchema.optional(),
    }),
    z.object({ accepted: z.literal(false), entry: directoryEntrySchema }),
  ]),
} as const

export interface DirectoryMembers {
  readonly selfId: string
  /** Members that count for rendezvous: alive and suspect ones, this peer included. */
  liveIds(): string[]
  isAlive(peerId: string): boolean
  /** False while this peer joins with a partial view (it then grants no claims). Default true. */
  isReady?(): boolean
}

/** How long a claim waits for the key's previous directory to say what it knew. */
const CONSULT_TIMEOUT_MS = 500

/**
 * After a pause: how long a scheduler's confirmation keeps asking (a directory that still sees
 * this peer dead refuses until its refutation arrives), and how often. Past it, no directory
 * answered: the peer is cut off, and acts alone as each side of a partition does.
 */
const CONFIRM_FOR_MS = 5_000
const CONFIRM_RETRY_MS = 250
const CONFIRM_TIMEOUT_MS = 1_000

export interface DirectoryServiceInit {
  channels: Pick<PeerChannels, 'handle' | 'unhandle' | 'request' | 'send'>
  members: DirectoryMembers
  /** What this peer is responsible for now. */
  hosted: () => { key: string; guid: string; epoch: number }[]
  /** This peer lost a conflict for `key`: hand its queue to `winner`. */
  onLost: (key: string, winner: DirectoryEntry) => void
  reregisterEveryMs?: number
  /** A new scheduler GUID. Default `randomUUID`. */
  newGuid?: () => string
  log?: Logger
}

export class DirectoryService {
  readonly #init: DirectoryServiceInit
  readonly #log: Logger
  /** The pure directory role; its membership view reads the shell's at each call. */
  readonly #node: DirectoryNode
  readonly #view: DirectoryMembersView
  #timer: ReturnType<typeof setInterval> | undefined

  constructor(init: DirectoryServiceInit) {
    this.#init = init
    this.#log = (init.log ?? silentLogger()).child({ component: 'mesh:directory' })
    const { members } = init
    this.#view = {
      get live() {
        return members.liveIds()
      },
      isAlive: (peerId: string) => members.isAlive(peerId),
    }
    this.#node = new DirectoryNode(members.selfId, this.#view)
  }

  readonly #handlers: Readonly<Record<string, (body: unknown, from: string) => unknown>> = {
    [DIRECTORY_METHODS.claim]: (body, from) => {
      const request = parseMessage(
        DIRECTORY_MESSAGES.claim,
        body,
        DIRECTORY_METHODS.claim,
        'bad-request',
      )
      // Granted only by the key's directory as a whole view of the mesh shows it: a joiner that
      // sees only itself, or a peer asked by someone with another view, refuses, and the
      // claimer tries again when its view has moved on.
      if (this.#init.members.isReady?.() === false) {
        throw new ChorusError(
          'not-responsible',
          `${this.#init.members.selfId} has no view of the mesh yet`,
        )
      }
      const directory = this.#directoryFor(request.key)
      if (directory !== this.#init.members.selfId) {
        throw new ChorusError('not-responsible', `the directory for ${request.key} is ${directory}`)
      }
      return this.#claimHere(request.key, from)
    },
    [DIRECTORY_METHODS.register]: (body) => {
      const { yielding, ...entry } = parseMessage(
        DIRECTORY_MESSAGES.register,
        body,
        DIRECTORY_METHODS.register,
      )
      return this.#registerHere(entry, yielding === true)
    },
    [DIRECTORY_METHODS.release]: (body) => {
      const entry = parseMessage(DIRECTORY_MESSAGES.entry, body, DIRECTORY_METHODS.release)
      return this.#node.handle({ type: 'release', entry }).answer
    },
    [DIRECTORY_METHODS.commit]: (body) => {
      const c = parseMessage(DIRECTORY_MESSAGES.commit, body, DIRECTORY_METHODS.commit)
      return this.#node.handle({ type: 'commit', ...c }).answer
    },
    [DIRECTORY_METHODS.lookup]: (body) => {
      const { key } = parseMessage(
        DIRECTORY_MESSAGES.lookup,
        body,
        DIRECTORY_METHODS.lookup,
        'bad-request',
      )
      return this.#node.handle({ type: 'lookup', key }).answer ?? null
    },
    [DIRECTORY_METHODS.lost]: (body) => {
      const winner = parseMessage(DIRECTORY_MESSAGES.entry, body, DIRECTORY_METHODS.lost)
      const mine = this.#init.hosted().find((h) => h.key === winner.key)
      if (mine && mine.guid !== winner.guid) this.#init.onLost(winner.key, winner)
      return true
    },
  }

  /** Answers the directory methods and re-registers every few seconds. */
  start(): void {
    if (this.#timer !== undefined) return
    for (const [method, handler] of Object.entries(this.#handlers)) {
      this.#init.channels.handle(method, handler)
    }
    const every = this.#init.reregisterEveryMs ?? 5_000
    this.#timer = setInterval(
      () =>
        background(this.reregister(), (err) =>
          this.#log.error({ err }, 'bug: re-registering threw'),
        ),
      every,
    )
    this.#timer.unref()
  }

  stop(): void {
    if (this.#timer === undefined) return
    clearInterval(this.#timer)
    this.#timer = undefined
    for (const method of Object.keys(this.#handlers)) this.#init.channels.unhandle(method)
  }

  /** The entries this peer keeps as a directory peer. */
  entries(): DirectoryEntry[] {
    return this.#node.entries()
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

  /** Who the key's directory peer names responsible, without becoming it; undefined if nobody. */
  async lookup(key: string, timeoutMs: number): Promise<DirectoryEntry | undefined> {
    const directory = this.#directoryFor(key)
    if (directory === this.#init.members.selfId)
      return this.#node.handle({ type: 'lookup', key }).answer
    const answer = await this.#init.channels.request(
      directory,
      DIRECTORY_METHODS.lookup,
      { key },
      timeoutMs,
    )
    return answer === null ? undefined : parseEntry(answer)
  }

  /**
   * Moves the scheduler at (guid, epoch) to `peerId` at epoch + 1, by compare-and-swap at
   * the key's directory peer: the one point where an existing scheduler changes owner.
   */
  async commit(
    entry: { key: string; guid: string; epoch: number; peerId: string },
    timeoutMs: number,
    /** A peer that is leaving: the key's directory is chosen as if it were gone already. */
    leaving?: string,
  ): Promise<CommitOutcome> {
    const directory = this.#directoryFor(entry.key, leaving)
    if (directory === this.#init.members.selfId) {
      return this.#node.handle({ type: 'commit', ...entry }).answer
    }
    return parseMessage(
      DIRECTORY_MESSAGES.commitOutcome,
      await this.#init.channels.request(directory, DIRECTORY_METHODS.commit, entry, timeoutMs),
      `${DIRECTORY_METHODS.commit} answer`,
    )
  }

  /** Removes the entry of a scheduler freed for idleness. Best effort. */
  release(entry: DirectoryEntry): void {
    const directory = this.#directoryFor(entry.key)
    if (directory === this.#init.members.selfId) {
      this.#node.handle({ type: 'release', entry })
      return
    }
    this.#init.channels
      .request(directory, DIRECTORY_METHODS.release, entry, 5_000)
      .catch((err: unknown) => this.#log.warn({ err, key: entry.key }, 'releasing failed'))
  }

  /** Announces everything this peer hosts to its directory peers; resolves conflicts. */
  async reregister(): Promise<void> {
    const self = this.#init.members.selfId
    this.#node.membersChanged(this.#view)
    await Promise.all(
      this.#init.hosted().map(async (h) => {
        const entry: DirectoryEntry = { key: h.key, guid: h.guid, epoch: h.epoch, peerId: self }
        try {
          const directory = this.#directoryFor(h.key)
          const outcome =
            directory === self
              ? this.#registerHere(entry)
              : await this.#registerAt(directory, entry, 5_000)
          if (!outcome.accepted) this.#init.onLost(h.key, outcome.entry)
        } catch (err) {
          this.#log.warn({ err, key: h.key }, 're-registering failed')
        }
      }),
    )
  }

  /**
   * After this peer was paused (`PauseFence`): asks, for every scheduler it hosts, whether the
   * scheduler is still its own — of the key's directory, or, when that is this peer itself
   * (its table may be stale), of the peer the others used while this one looked dead. A
   * scheduler taken over meanwhile merges into the winner (`onLost`). Resolves when each was
   * answered or `CONFIRM_FOR_MS` passed.
   */
  async confirmHosted(sleep: (ms: number) => Promise<void>, now: () => number): Promise<void> {
    const self = this.#init.members.selfId
    const until = now() + CONFIRM_FOR_MS
    await Promise.all(
      this.#init.hosted().map(async (h) => {
        const entry: DirectoryEntry = { key: h.key, guid: h.guid, epoch: h.epoch, peerId: self }
        for (;;) {
          try {
            let directory = this.#directoryFor(h.key)
            if (directory === self) {
              const here = this.#registerHere(entry, true)
              if (!here.accepted) return this.#init.onLost(h.key, here.entry)
              directory = this.#node.directoryFor(h.key, self) ?? self
              if (directory === self) return // alone in its view: nobody else could take it
            }
            const outcome = await this.#registerAt(directory, entry, CONFIRM_TIMEOUT_MS, true)
            if (!outcome.accepted) this.#init.onLost(h.key, outcome.entry)
            return
          } catch (err) {
            if (now() >= until) {
              this.#log.warn({ err, key: h.key }, 'no directory confirmed it after a pause')
              return
            }
            this.#log.debug({ err, key: h.key }, 'confirming after a pause: asking again')
            await sleep(CONFIRM_RETRY_MS)
          }
        }
      }),
    )
  }

  #directoryFor(key: string, leaving?: string): string {
    const directory = this.#node.directoryFor(key, leaving)
    if (directory === undefined) throw new ChorusError('internal', 'no live members, not even self')
    return directory
  }

  async #claimHere(key: string, from: string): Promise<DirectoryEntry> {
    await this.#consultPredecessors(key)
    const newGuid = (this.#init.newGuid ?? randomUUID)()
    return this.#node.handle({ type: 'claim', key, from, newGuid }).answer.entry
  }

  /** Learns what the key's previous directories knew of it, if anything (best effort). */
  async #consultPredecessors(key: string): Promise<void> {
    await Promise.all(
      this.#node.predecessorsFor(key).map(async (predecessor) => {
        try {
          const answer = await this.#init.channels.request(
            predecessor,
            DIRECTORY_METHODS.lookup,
            { key },
            CONSULT_TIMEOUT_MS,
          )
          if (answer === null) return
          const known = parseEntry(answer)
          // Registered as its responsible would: of two that conflict, the survivor stands.
          if (known.key === key && this.#init.members.isAlive(known.peerId))
            this.#registerHere(known)
        } catch (err) {
          this.#log.debug({ err, key, predecessor }, 'a previous directory did not answer')
        }
      }),
    )
  }

  /** Registers `entry` with another peer's directory (`dir.register/1`). */
  async #registerAt(
    directory: string,
    entry: DirectoryEntry,
    timeoutMs: number,
    yielding = false,
  ): Promise<RegisterOutcome> {
    const body = yielding ? { ...entry, yielding } : entry
    return parseMessage(
      DIRECTORY_MESSAGES.registerOutcome,
      await this.#init.channels.request(directory, DIRECTORY_METHODS.register, body, timeoutMs),
      `${DIRECTORY_METHODS.register} answer`,
    )
  }

  /** Registers `entry` here; refused (`not-responsible`) while its peer looks dead from here. */
  #registerHere(entry: DirectoryEntry, yielding = false): RegisterOutcome {
    const { answer, effects } = this.#node.handle({ type: 'register', entry, yielding })
    if ('refused' in answer) throw new ChorusError('not-responsible', answer.refused)
    for (const { to, winner } of effects) {
      if (to === this.#init.members.selfId) this.#init.onLost(winner.key, winner)
      else this.#init.channels.send(to, DIRECTORY_METHODS.lost, winner)
    }
    return answer
  }
}

/** Checks a directory entry that came over the wire (`protocol-error` if malformed). */
export function parseEntry(body: unknown): DirectoryEntry {
  return parseMessage(DIRECTORY_MESSAGES.entry, body, 'directory entry')
}
