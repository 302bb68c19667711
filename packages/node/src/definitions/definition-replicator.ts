/**
 * Spreads definitions to every peer and keeps them in sync, and moves code between peers.
 * The shell around `DefinitionLog`:
 *
 * - a change made here is applied, fsync'd to the store, then published at once on the
 *   gossip topic `chorus/defs/1` as `{ v: 1, ops: [op] }`;
 * - anti-entropy (`defs.sync/1` request/response) every few seconds with one random live
 *   peer, and with each peer that joins: pull what the other has and this peer lacks;
 * - code (`code.fetch/1`) comes in chunks from the peers likely to have it (the deploying
 *   peer first), is hashed as it arrives and stored only if the whole matches its digest.
 *
 * It needs two narrow things from the network, `DefinitionGossip` (gossipsub) and
 * `DefinitionRpc` (PeerChannels fits as it is), so tests can wire peers in memory. The
 * messages' schemas are in `definition-messages.ts`.
 */
import { background } from '../background.js'
import { ChorusError, asChorusError } from '../errors.js'
import { DEFINITIONS_METHODS, TOPICS } from '../transport/protocols.js'
import { describeIssues, parseMessage } from '../transport/rpc-message.js'
import { CodeStore, DEFAULT_MAX_CODE_BYTES, isDigest, sha256Hex } from './code-store.js'
import {
  MAX_CHUNK_BYTES,
  codeChunkSchema,
  codeFetchRequestSchema,
  definitionsGossipSchema,
  syncAnswerSchema,
  syncRequestSchema,
} from './definition-messages.js'
import {
  DefinitionLog,
  SYNC_LIMITS,
  type ApplyOutcome,
  type ChoreographyDefinition,
  type DefinitionLimits,
  type FunctionDefinition,
  type HandledChange,
  type LocalChange,
  type SyncLimits,
} from './definition-log.js'
import {
  checkFunctionSpec,
  nameProblem,
  ownerProblem,
  revisionOf,
  type DefinitionKind,
  type DefinitionOp,
  type FunctionSpecInput,
} from './definition-op.js'
import { DefinitionStore } from './definition-store.js'
import { SyncSession } from './sync-session.js'
import {
  CodeIntegrityError,
  CodeTooLargeError,
  CodeUnavailableError,
  DefinitionRejectedError,
} from './errors.js'
import type { Logger } from '../observability/logger.js'

export const DEFINITIONS_TOPIC = TOPICS.definitions
export const DEFS_SYNC_METHOD = DEFINITIONS_METHODS.sync
export const CODE_FETCH_METHOD = DEFINITIONS_METHODS.codeFetch

export { MAX_CHUNK_BYTES }

/** Broadcast to every peer (gossipsub, narrowed). */
export interface DefinitionGossip {
  publish(topic: string, data: Uint8Array): Promise<void>
  /** Calls `handler` with each message another peer published on `topic`; returns an undo. */
  subscribe(topic: string, handler: (data: Uint8Array, from: string) => void): () => void
}

/** Requests to one peer (PeerChannels, narrowed); a handler's throw is the error answer. */
export interface DefinitionRpc {
  handle(method: string, handler: (body: unknown, from: string) => unknown): void
  request(peerId: string, method: string, body: unknown, timeoutMs?: number): Promise<unknown>
}

export interface DefinitionReplicatorInit {
  /** Mean time between anti-entropy rounds with a random peer (jittered ±50%). */
  syncIntervalMs?: number
  /** Deadline of one sync or chunk request. */
  requestTimeoutMs?: number
  /** Request/answer rounds in one sync with one peer. */
  maxSyncRounds?: number
  sync?: Partial<SyncLimits>
  limits?: Partial<DefinitionLimits>
  /** Bytes asked for per code chunk (at most MAX_CHUNK_BYTES). */
  chunkBytes?: number
  /** Largest code blob stored or fetched. */
  maxCodeBytes?: number
  /** Largest gossip message accepted. */
  maxGossipBytes?: number
  /** Appended operations between compactions of the store. */
  compactEvery?: number
}

/** Newly live peers pulled from at once, per change of the live set. */
const MAX_NEWCOMER_SYNCS = 2

export const DEFINITION_REPLICATOR_DEFAULTS = {
  syncIntervalMs: 5000,
  requestTimeoutMs: 10_000,
  maxSyncRounds: 16,
  chunkBytes: 1024 * 1024,
  maxCodeBytes: DEFAULT_MAX_CODE_BYTES,
  maxGossipBytes: 1024 * 1024,
  compactEvery: 1000,
} as const

export interface DefinitionReplicatorComponents {
  /** This peer's id. */
  peerId: string
  /** Definitions go to `<dataDir>/definitions`, code to `<dataDir>/code`. */
  dataDir: string
  gossip: DefinitionGossip
  rpc: DefinitionRpc
  /** Peers currently alive (this one may be among them). */
  livePeers: () => readonly string[]
  /** Wall clock, ms since the epoch. */
  now?: () => number
  /** Uniform in [0, 1): picks sync partners and jitters the timer. */
  random?: () => number
  log?: Logger
  /** A definition changed here, by a local deploy or one that arrived. */
  onChange?: (change: DefinitionChange) => void
}

export interface DefinitionChange {
  readonly op: DefinitionOp
  readonly replaced?: DefinitionOp
  readonly source: 'local' | 'gossip' | 'sync'
}

/** A function deploy: its name and spec (code comes as bytes beside it). */
export interface FunctionDeployInput extends FunctionSpecInput {
  readonly name: string
}

export interface DeployResult {
  readonly name: string
  readonly version: number
  /** Unique per deploy, even for concurrent deploys that got the same version. */
  readonly revision: string
  readonly digest?: string
}

export interface SyncReport {
  readonly peer: string
  readonly rounds: number
  /** Operations that changed this peer's state. */
  readonly applied: number
  /** Nothing was left to ask (false when the round bound stopped the exchange). */
  readonly complete: boolean
}

export interface DefinitionReplicator {
  start(): Promise<void>
  stop(): Promise<void>
  /**
   * Stores `code` (if any), deploys a new version of the function and spreads it. Given a
   * `digest` and no code, the code must be here or at another peer (it is fetched).
   */
  deployFunction(
    owner: string,
    input: FunctionDeployInput,
    code?: Uint8Array,
  ): Promise<DeployResult>
  deleteFunction(owner: string, name: string): Promise<{ name: string; version: number }>
  deployChoreography(owner: string, name: string, definition: unknown): Promise<DeployResult>
  deleteChoreography(owner: string, name: string): Promise<{ name: string; version: number }>
  getFunction(owner: string, name: string): FunctionDefinition | undefined
  listFunctions(owner: string): FunctionDefinition[]
  getChoreography(owner: string, name: string): ChoreographyDefinition | undefined
  listChoreographies(owner: string): ChoreographyDefinition[]
  /** Owners with at least one live definition. */
  owners(): string[]
  /**
   * The path of the verified code blob with this digest, fetched from other peers if it is
   * not here (`from` are tried first, then the peers that deployed it, then the others).
   */
  fetchCode(digest: string, from?: readonly string[]): Promise<string>
  /** Stores code without deploying anything (an upload); its digest. */
  putCode(bytes: Uint8Array): Promise<string>
  /** The verified bytes of a code blob here, or undefined. */
  readCode(digest: string): Promise<Uint8Array | undefined>
  /** One anti-entropy exchange with `peer`: pulls what it has and this peer lacks. */
  syncWith(peer: string): Promise<SyncReport>
  /** The live peers may have changed: syncs with up to two of those not seen before. */
  peersChanged(): void
  /** The definition log's last handled calls, for tests and the dashboard. */
  recent(): readonly HandledChange[]
}

export function definitionReplicator(init: DefinitionReplicatorInit = {}) {
  return (components: DefinitionReplicatorComponents): DefinitionReplicator =>
    new DefaultDefinitionReplicator(components, init)
}

class DefaultDefinitionReplicator implements DefinitionReplicator {
  readonly #c: DefinitionReplicatorComponents
  readonly #opts: Required<Omit<DefinitionReplicatorInit, 'sync' | 'limits'>>
  readonly #syncLimits: SyncLimits
  readonly #syncAnswer: ReturnType<typeof syncAnswerSchema>
  readonly #log: DefinitionLog
  readonly #store: DefinitionStore
  readonly #code: CodeStore
  readonly #now: () => number
  readonly #random: () => number
  readonly #syncing = new Map<string, Promise<SyncReport>>()
  readonly #fetching = new Map<string, Promise<string>>()
  #known = new Set<string>()
  #timer: ReturnType<typeof setTimeout> | undefined
  #unsubscribe: (() => void) | undefined
  #running = false

  constructor(components: DefinitionReplicatorComponents, init: DefinitionReplicatorInit) {
    this.#c = components
    const { sync, limits, ...rest } = init
    this.#opts = { ...DEFINITION_REPLICATOR_DEFAULTS, ...rest }
    this.#opts.chunkBytes = Math.max(1, Math.min(this.#opts.chunkBytes, MAX_CHUNK_BYTES))
    this.#syncLimits = { ...SYNC_LIMITS, ...sync }
    this.#syncAnswer = syncAnswerSchema(this.#syncLimits)
    this.#now = components.now ?? Date.now
    this.#random = components.random ?? Math.random
    this.#log = new DefinitionLog({ self: components.peerId, ...(limits ? { limits } : {}) })
    this.#store = new DefinitionStore(components.dataDir, {
      compactEvery: this.#opts.compactEvery,
      snapshot: () => this.#log.entries(),
      ...(this.#c.log === undefined ? {} : { log: this.#c.log }),
    })
    this.#code = new CodeStore(components.dataDir, { maxBytes: this.#opts.maxCodeBytes })
  }

  async start(): Promise<void> {
    await this.#code.open()
    const loaded = await this.#store.load()
    let refused = 0
    for (const op of loaded.ops) if (this.#log.restore(op).type === 'rejected') refused++
    if (refused > 0) this.#say(`ignored ${refused} unreadable stored definition(s)`)
    const { rpc, gossip } = this.#c
    rpc.handle(DEFS_SYNC_METHOD, (body) => this.#answerSync(body))
    rpc.handle(CODE_FETCH_METHOD, (body) => this.#serveChunk(body))
    this.#unsubscribe = gossip.subscribe(DEFINITIONS_TOPIC, (data, from) => {
      background(this.#onGossip(data, from), (err) =>
        this.#say(`bug: definitions gossip from ${from} threw: ${String(err)}`),
      )
    })
    this.#running = true
    this.#known = new Set(this.#others())
    // Catch up at once with one peer; later ones come with the timer and with joins.
    const first = this.#randomPeer()
    if (first !== undefined) this.#syncInBackground(first)
    this.#schedule(this.#opts.syncIntervalMs * (0.5 + this.#random()))
  }

  async stop(): Promise<void> {
    if (!this.#running) return
    this.#running = false
    clearTimeout(this.#timer)
    this.#unsubscribe?.()
    await this.#store.close()
  }

  // --- the deploy API ----------------------------------------------------------------

  async deployFunction(
    owner: string,
    input: FunctionDeployInput,
    code?: Uint8Array,
  ): Promise<DeployResult> {
    if (!this.#running) throw new ChorusError('shutting-down', 'definitions are not running')
    const { name, ...specInput } = input
    let spec: FunctionSpecInput = specInput
    if (code !== undefined) {
      if (code.byteLength > this.#code.maxBytes) {
        throw new CodeTooLargeError({ size: code.byteLength, limit: this.#code.maxBytes })
      }
      const digest = sha256Hex(code)
      if (spec.digest !== undefined && spec.digest !== digest) {
        throw new CodeIntegrityError({ expected: spec.digest, actual: digest })
      }
      spec = { ...spec, digest }
    }
    const change: LocalChange = {
      type: 'deploy-function',
      owner,
      name,
      spec,
    }
    // Check before storing code, so a refused deploy leaves nothing behind.
    this.#precheck('function', owner, name, () => checkFunctionSpec(spec, true))
    if (code !== undefined) await this.#code.put(code, spec.digest)
    else if (spec.digest !== undefined) await this.fetchCode(spec.digest)
    const op = await this.#commit(change)
    return {
      name: op.name,
      version: op.version,
      revision: revisionOf(op),
      ...(spec.digest === undefined ? {} : { digest: spec.digest }),
    }
  }

  async deleteFunction(owner: string, name: string): Promise<{ name: string; version: number }> {
    const op = await this.#commit({ type: 'delete-function', owner, name })
    return { name: op.name, version: op.version }
  }

  async deployChoreography(
    owner: string,
    name: string,
    definition: unknown,
  ): Promise<DeployResult> {
    const op = await this.#commit({ type: 'deploy-choreography', owner, name, definition })
    return {
      name: op.name,
      version: op.version,
      revision: revisionOf(op),
    }
  }

  async deleteChoreography(
    owner: string,
    name: string,
  ): Promise<{ name: string; version: number }> {
    const op = await this.#commit({ type: 'delete-choreography', owner, name })
    return { name: op.name, version: op.version }
  }

  getFunction(owner: string, name: string): FunctionDefinition | undefined {
    return this.#log.getFunction(owner, name)
  }

  listFunctions(owner: string): FunctionDefinition[] {
    return this.#log.listFunctions(owner)
  }

  getChoreography(owner: string, name: string): ChoreographyDefinition | undefined {
    return this.#log.getChoreography(owner, name)
  }

  listChoreographies(owner: string): ChoreographyDefinition[] {
    return this.#log.listChoreographies(owner)
  }

  owners(): string[] {
    return this.#log.owners()
  }

  recent(): readonly HandledChange[] {
    return this.#log.recent()
  }

  putCode(bytes: Uint8Array): Promise<string> {
    return this.#code.put(bytes)
  }

  async readCode(digest: string): Promise<Uint8Array | undefined> {
    return this.#code.get(digest)
  }

  fetchCode(digest: string, from: readonly string[] = []): Promise<string> {
    if (!isDigest(digest)) {
      return Promise.reject(new ChorusError('bad-request', `not a sha256 digest: ${digest}`))
    }
    let fetching = this.#fetching.get(digest)
    if (!fetching) {
      fetching = this.#fetchCode(digest, from).finally(() => this.#fetching.delete(digest))
      this.#fetching.set(digest, fetching)
    }
    return fetching
  }

  // --- anti-entropy ------------------------------------------------------------------

  syncWith(peer: string): Promise<SyncReport> {
    let syncing = this.#syncing.get(peer)
    if (!syncing) {
      syncing = this.#syncWith(peer).finally(() => this.#syncing.delete(peer))
      this.#syncing.set(peer, syncing)
    }
    return syncing
  }

  peersChanged(): void {
    if (!this.#running) return
    const live = new Set(this.#others())
    const newcomers = [...live].filter((peer) => !this.#known.has(peer))
    // A few newcomers are enough to pull what a joining side (or a healed partition) brings;
    // the timer's rounds reach the rest. Syncing with every one made each peer of a join storm
    // dial every other at the same instant (twice per pair, both sides at once).
    for (let i = 0; i < MAX_NEWCOMER_SYNCS && newcomers.length > 0; i++) {
      const [peer] = newcomers.splice(Math.floor(this.#random() * newcomers.length), 1)
      this.#syncInBackground(peer as string)
    }
    this.#known = live
  }

  // ----------------------------------------------------------------------------------

  #precheck(kind: DefinitionKind, owner: string, name: unknown, more: () => string | object): void {
    const badName = ownerProblem(owner) ?? nameProblem(kind, name)
    const fields = { owner: String(owner), kind, name: String(name) }
    if (badName) throw new DefinitionRejectedError({ reason: 'bad-name', ...fields }, badName)
    const problem = more()
    if (typeof problem === 'string') {
      throw new DefinitionRejectedError({ reason: 'malformed', ...fields }, problem)
    }
  }

  /** Applies a local change, persists it, then publishes it. */
  async #commit(change: LocalChange): Promise<DefinitionOp> {
    if (!this.#running) throw new ChorusError('shutting-down', 'definitions are not running')
    const outcome = this.#log.change(change, this.#now())
    if (outcome.type === 'rejected') {
      const kind: DefinitionKind = change.type.endsWith('function') ? 'function' : 'choreography'
      throw new DefinitionRejectedError(
        { reason: outcome.reason, owner: String(change.owner), kind, name: String(change.name) },
        outcome.message,
      )
    }
    if (outcome.type !== 'applied') {
      throw new ChorusError('internal', `a local change was ${outcome.type}: ${outcome.reason}`)
    }
    const { op } = outcome
    await this.#store.append([op])
    this.#notify(outcome, 'local')
    await this.#publish([op])
    return op
  }

  async #publish(ops: readonly DefinitionOp[]): Promise<void> {
    const data = new TextEncoder().encode(JSON.stringify({ v: 1, ops }))
    try {
      await this.#c.gossip.publish(DEFINITIONS_TOPIC, data)
    } catch (err) {
      // Anti-entropy carries it anyway.
      this.#say(`publishing definitions failed: ${asChorusError(err).message}`)
    }
  }

  async #onGossip(data: Uint8Array, from: string): Promise<void> {
    if (!this.#running) return
    if (data.byteLength > this.#opts.maxGossipBytes) {
      this.#say(`dropping ${data.byteLength}-byte definitions gossip from ${from}: too large`)
      return
    }
    let body: unknown
    try {
      body = JSON.parse(new TextDecoder().decode(data))
    } catch {
      this.#say(`dropping definitions gossip from ${from}: not JSON`)
      return
    }
    const message = definitionsGossipSchema.safeParse(body)
    if (!message.success) {
      this.#say(
        `dropping definitions gossip from ${from}: not a v1 message (${describeIssues(message.error)})`,
      )
      return
    }
    await this.#applyRemote(message.data.ops, from, 'gossip')
  }

  /** Applies operations from `from`, persists those that changed something; their count. */
  async #applyRemote(
    ops: readonly unknown[],
    from: string,
    source: 'gossip' | 'sync',
  ): Promise<number> {
    const applied: Extract<ApplyOutcome, { type: 'applied' }>[] = []
    const refused: string[] = []
    for (const raw of ops) {
      const outcome = this.#log.apply(raw, this.#now())
      if (outcome.type === 'applied') applied.push(outcome)
      else if (outcome.type === 'rejected') refused.push(`${outcome.reason}: ${outcome.message}`)
    }
    if (refused.length > 0) {
      this.#say(`refused ${refused.length} definition(s) from ${from}, first: ${refused[0]}`)
    }
    if (applied.length === 0) return 0
    try {
      await this.#store.append(applied.map((a) => a.op))
    } catch (err) {
      // Held in memory; anti-entropy brings it back after a restart.
      this.#say(`persisting definitions failed: ${asChorusError(err).message}`)
    }
    for (const outcome of applied) this.#notify(outcome, source)
    return applied.length
  }

  #notify(
    outcome: Extract<ApplyOutcome, { type: 'applied' }>,
    source: DefinitionChange['source'],
  ): void {
    try {
      this.#c.onChange?.({
        op: outcome.op,
        ...(outcome.replaced ? { replaced: outcome.replaced } : {}),
        source,
      })
    } catch (err) {
      this.#say(`onChange failed: ${(err as Error).message}`)
    }
  }

  #answerSync(body: unknown): unknown {
    if (!this.#running) throw new ChorusError('shutting-down', 'definitions are not running')
    const request = parseMessage(syncRequestSchema, body, DEFS_SYNC_METHOD, 'bad-request')
    const answer = this.#log.answerSync(request, this.#syncLimits)
    if ('type' in answer)
      throw new ChorusError('bad-request', `${DEFS_SYNC_METHOD}: ${answer.message}`)
    return { v: 1, ...answer }
  }

  async #syncWith(peer: string): Promise<SyncReport> {
    if (!this.#running) throw new ChorusError('shutting-down', 'definitions are not running')
    const session = new SyncSession(this.#log, {
      maxRounds: this.#opts.maxSyncRounds,
      maxKeys: this.#syncLimits.maxKeys,
    })
    let applied = 0
    for (let request = session.next(); request && this.#running; request = session.next()) {
      const raw = await this.#c.rpc.request(
        peer,
        DEFS_SYNC_METHOD,
        { v: 1, ...request },
        this.#opts.requestTimeoutMs,
      )
      const answer = parseMessage(this.#syncAnswer, raw, `${DEFS_SYNC_METHOD} answer`)
      applied += await this.#applyRemote(answer.ops, peer, 'sync')
      session.answered(answer)
    }
    return { peer, rounds: session.rounds, applied, complete: session.complete }
  }

  #syncInBackground(peer: string): void {
    this.syncWith(peer).catch((err: unknown) =>
      this.#say(`sync with ${peer} failed: ${asChorusError(err).message}`),
    )
  }

  #schedule(delayMs: number): void {
    if (!this.#running) return
    this.#timer = setTimeout(() => {
      this.#timer = undefined
      if (!this.#running) return
      this.peersChanged()
      const peer = this.#randomPeer()
      if (peer !== undefined) this.#syncInBackground(peer)
      this.#schedule(this.#opts.syncIntervalMs * (0.5 + this.#random()))
    }, delayMs)
    this.#timer.unref?.()
  }

  #randomPeer(): string | undefined {
    const others = this.#others()
    return others[Math.floor(this.#random() * others.length)]
  }

  #others(): string[] {
    return [...new Set(this.#c.livePeers())].filter((p) => p !== this.#c.peerId)
  }

  // --- code --------------------------------------------------------------------------

  async #serveChunk(body: unknown): Promise<unknown> {
    if (!this.#running) throw new ChorusError('shutting-down', 'definitions are not running')
    const { digest, offset, length } = parseMessage(
      codeFetchRequestSchema,
      body,
      CODE_FETCH_METHOD,
      'bad-request',
    )
    const chunk = await this.#code.read(digest, offset, Math.min(length, MAX_CHUNK_BYTES))
    if (!chunk) throw new ChorusError('not-found', `no code ${digest} here`)
    return {
      digest,
      size: chunk.size,
      offset,
      data: Buffer.from(chunk.data.buffer, chunk.data.byteOffset, chunk.data.byteLength).toString(
        'base64',
      ),
    }
  }

  async #fetchCode(digest: string, from: readonly string[]): Promise<string> {
    if (await this.#code.has(digest)) return this.#code.path(digest)
    const others = this.#others()
    for (let i = others.length - 1; i > 0; i--) {
      const j = Math.floor(this.#random() * (i + 1))
      ;[others[i], others[j]] = [others[j] as string, others[i] as string]
    }
    const candidates = [...new Set([...from, ...this.#log.originsOf(digest), ...others])].filter(
      (p) => p !== this.#c.peerId,
    )
    const failures: string[] = []
    for (const peer of candidates) {
      try {
        await this.#fetchFrom(peer, digest)
        return this.#code.path(digest)
      } catch (err) {
        const error = asChorusError(err)
        if (err instanceof CodeIntegrityError) this.#say(error.message)
        failures.push(`${peer}: ${error.message}`)
      }
    }
    throw new CodeUnavailableError(
      { digest, tried: candidates },
      candidates.length === 0 ? 'no other peer is alive' : failures.join('; '),
    )
  }

  async #fetchFrom(peer: string, digest: string): Promise<void> {
    const writer = this.#code.writer(digest, peer)
    try {
      let offset = 0
      let size: number | undefined
      for (;;) {
        const raw = await this.#c.rpc.request(
          peer,
          CODE_FETCH_METHOD,
          { digest, offset, length: this.#opts.chunkBytes },
          this.#opts.requestTimeoutMs,
        )
        const chunk = parseMessage(codeChunkSchema, raw, `${CODE_FETCH_METHOD} answer`)
        if (chunk.offset !== offset) {
          throw new ChorusError(
            'protocol-error',
            `${CODE_FETCH_METHOD}: asked for offset ${offset}, got ${chunk.offset}`,
          )
        }
        if (size === undefined) {
          if (chunk.size > this.#code.maxBytes) {
            throw new CodeTooLargeError({ size: chunk.size, limit: this.#code.maxBytes })
          }
          size = chunk.size
        } else if (chunk.size !== size) {
          throw new ChorusError(
            'protocol-error',
            `code.fetch: size changed from ${size} to ${chunk.size}`,
          )
        }
        const data = Buffer.from(chunk.data, 'base64')
        if (offset + data.byteLength > size || (data.byteLength === 0 && offset < size)) {
          throw new ChorusError('protocol-error', `code.fetch: bad chunk at ${offset} of ${size}`)
        }
        await writer.write(data)
        offset += data.byteLength
        if (offset >= size) break
      }
      await writer.commit()
    } catch (err) {
      await writer.abort()
      throw err
    }
  }

  /** Something another peer sent or failed at: worth a warning, never more. */
  #say(line: string): void {
    if (line.startsWith('bug:')) this.#c.log?.error(line)
    else this.#c.log?.warn(line)
  }
}
