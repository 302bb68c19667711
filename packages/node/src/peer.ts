/**
 * A Chorus peer: wires the libp2p host, the peer channels, membership and load gossip,
 * the directory (lookup-or-become), the schedulers this peer is responsible for, and the
 * HTTP API. `startPeer` is what `chorus start` runs.
 */
import { randomBytes } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { multiaddr } from '@multiformats/multiaddr'
import { background } from './background.js'
import {
  BUILTIN_PROVIDER,
  isBuiltinFunction,
  validateBuiltinInput,
} from './scheduling/providers/builtin-provider.js'
import type { PeerConfig } from './config.js'
import {
  definitionReplicator,
  gossipsubBroadcast,
  type ChoreographyDefinition,
  type DefinitionReplicator,
  type FunctionDefinition,
} from './definitions/index.js'
import { validateChoreography } from './choreography/index.js'
import { DefinitionsCatchUp } from './definitions/definitions-catch-up.js'
import { DirectoryService } from './mesh/directory-service.js'
import type { DirectoryEntry } from './mesh/directory-table.js'
import { ChorusError, asChorusError } from './errors.js'
import { createHttpApi } from './http/http-api.js'
import { loadOrCreateIdentity } from './transport/identity.js'
import { createLibp2pHost, type ChorusLibp2p } from './transport/libp2p-host.js'
import { WorkerHostPool } from './function-host/index.js'
import { MeshMembership } from './mesh/mesh-membership.js'
import {
  CHOREOGRAPHY_PROVIDER,
  ChoreographyProvider,
  validationContext,
} from './scheduling/providers/choreography-provider.js'
import { HTTP_PROVIDER, HttpProvider } from './scheduling/providers/http-provider.js'
import { MESH_PROVIDER, MeshProvider } from './scheduling/providers/mesh-provider.js'
import { silentLogger, type Logger } from './observability/logger.js'
import { MetricsRegistry } from './observability/metrics.js'
import { PeerChannels } from './transport/peer-channels.js'
import type {
  ChoreographyView,
  DeployChoreographyRequest,
  DeployedChoreography,
  DeployFunctionRequest,
  DeployedFunction,
  FunctionView,
  InvocationView,
  InvokeChoreographyRequest,
  InvokeRequest,
  PeerApi,
  PeerEvent,
  PeerInfo,
  SchedulerInfo,
} from './peer-api.js'
import { RemoteWorkers } from './scheduling/remote-worker.js'
import {
  SchedulerHost,
  schedulerKey,
  type DispatchEffect,
  type SubmitRequest,
} from './scheduling/scheduler-host.js'
import { BoundedMap } from './bounded-map.js'
import { VERSION } from './version.js'

export interface RunningPeer {
  readonly api: PeerApi
  readonly httpUrl: string
  readonly multiaddrs: string[]
  stop(): Promise<void>
}

export interface StartPeerOptions {
  log?: Logger
}

const INVOKE_METHOD = 'invoke'
const STATUS_METHOD = 'status'
const LOCAL_STATUS_METHOD = 'status.local'
/** Asks another peer to route an invocation as if it had arrived there (a leaving peer's handoff). */
const ROUTE_METHOD = 'route'
/** An outcome reported to the entry peer of an invocation nobody waited for. */
const RESULT_METHOD = 'result'
/** How long a leaving peer lets running invocations finish. */
const LEAVE_DRAIN_MS = 10_000
/** How long a forwarded request that waits for its result may take. */
const WAITING_FORWARD_TIMEOUT_MS = 15 * 60_000
const QUEUEING_FORWARD_TIMEOUT_MS = 30_000
/** Rounds of lookup-or-become before an invocation is refused. */
const ROUTE_ATTEMPTS = 10

/** The body of a forwarded invocation: everything the responsible needs. */
interface ForwardedInvocation {
  readonly owner: string
  readonly provider: string
  readonly fn: string
  readonly id: string
  readonly input: unknown
  readonly priority: 0 | 1
  readonly wait: boolean
  readonly idempotencyKey?: string | undefined
  /** The epoch the sender believes is current; a responsible at another epoch refuses. */
  readonly epoch?: number
}

export async function startPeer(
  config: PeerConfig,
  options: StartPeerOptions = {},
): Promise<RunningPeer> {
  const logger = options.log ?? silentLogger()
  const log = (line: string): void => logger.info(line)
  const privateKey = await loadOrCreateIdentity(config.dataDir)
  const psk = config.pskFile === undefined ? undefined : await readPsk(config.pskFile)
  const libp2p = await createLibp2pHost({
    privateKey,
    listen: config.listen,
    ...(psk ? { psk } : {}),
  })
  const peer = new ChorusPeer(libp2p, config, log)
  try {
    await peer.start()
    const http = await createHttpApi(peer, { log, metrics: peer.metrics }).listen(
      config.http.host,
      config.http.port,
    )
    return {
      api: peer,
      httpUrl: http.url,
      multiaddrs: libp2p.getMultiaddrs().map((a) => a.toString()),
      async stop() {
        await peer.leave()
        await http.close()
        await peer.stop()
      },
    }
  } catch (err) {
    await peer.stop().catch(() => undefined)
    throw err
  }
}

async function readPsk(file: string): Promise<Uint8Array> {
  try {
    return await readFile(file)
  } catch (err) {
    throw new ChorusError(
      'bad-request',
      `cannot read the pre-shared key ${file}: ${(err as Error).message}`,
    )
  }
}

export class ChorusPeer implements PeerApi {
  readonly peerId: string
  readonly version = VERSION
  readonly #libp2p: ChorusLibp2p
  readonly #config: PeerConfig
  readonly #log: (line: string) => void
  readonly #channels: PeerChannels
  readonly #membership: MeshMembership
  readonly #directory: DirectoryService
  readonly #host: SchedulerHost
  readonly #remote: RemoteWorkers
  readonly #catchUp: DefinitionsCatchUp
  readonly #definitions: DefinitionReplicator
  readonly #pool: WorkerHostPool
  readonly #metrics = new MetricsRegistry()
  readonly #listeners = new Set<(event: PeerEvent) => void>()
  /** Where each key's responsible was last found. */
  readonly #locations = new Map<string, DirectoryEntry>()
  /** Invocations this peer accepted and sent on: where they went. */
  readonly #placedAt = new BoundedMap<string, string>(100_000)
  readonly #bootId = randomBytes(4).toString('hex')
  /** Outcomes on their way to entry peers (a leaving peer waits for them). */
  readonly #reports = new Set<Promise<unknown>>()
  #nextInvocation = 0
  #stopping = false

  readonly #invocations = this.#metrics.counter(
    'chorus_invocations_total',
    'Invocations answered by this peer as the entry point, by outcome',
    { labelNames: ['status'] },
  )
  readonly #latency = this.#metrics.histogram(
    'chorus_invocation_duration_seconds',
    'Time from an invocation reaching this peer to its answer',
  )
  readonly #executions = this.#metrics.counter(
    'chorus_executions_total',
    'Invocations that started running on this peer, by function',
    { labelNames: ['fn'] },
  )
  readonly #coldStarts = this.#metrics.counter(
    'chorus_cold_starts_total',
    "Invocations that started a new function host on this peer's worker, by function",
    { labelNames: ['fn'] },
  )
  readonly #refusals = this.#metrics.counter(
    'chorus_dispatches_refused_total',
    'Dispatches a worker refused as busy (the scheduler walked on), by worker peer',
    { labelNames: ['worker'] },
  )
  readonly #forwards = this.#metrics.counter(
    'chorus_forwards_total',
    'Invocations this peer forwarded to the responsible peer',
  )

  constructor(libp2p: ChorusLibp2p, config: PeerConfig, log: (line: string) => void) {
    this.#libp2p = libp2p
    this.#config = config
    this.#log = log
    this.peerId = libp2p.peerId.toString()
    this.#channels = new PeerChannels(libp2p, { log })
    this.#membership = new MeshMembership({
      libp2p,
      channels: this.#channels,
      metrics: this.#metrics,
      log,
      emit: (event) => this.#emit(event),
      onChange: () => this.#membershipChanged(),
      localLoad: () => this.#localLoad(),
    })
    this.#definitions = definitionReplicator()({
      peerId: this.peerId,
      dataDir: config.dataDir,
      gossip: gossipsubBroadcast(libp2p.services.pubsub),
      rpc: this.#channels,
      livePeers: () => this.#membership.liveIds(),
      log: (line) => log(`definitions: ${line}`),
    })
    this.#catchUp = new DefinitionsCatchUp({
      peers: () => this.#membership.liveIds().filter((id) => id !== this.peerId),
      syncWith: (peer) => this.#definitions.syncWith(peer),
      now: () => performance.now(),
    })
    this.#pool = new WorkerHostPool({
      memoryMb: config.workerMemoryMb,
      idleTtlMs: config.hostIdleMs,
      log: (line) => log(`worker: ${line}`),
    })
    const mesh = new MeshProvider({
      definitions: this.#definitions,
      pool: this.#pool,
      bundleDir: join(config.dataDir, 'bundles'),
      onColdStart: (fn) => this.#coldStarts.inc(1, { fn }),
    })
    const providers = {
      [MESH_PROVIDER]: mesh,
      [HTTP_PROVIDER]: new HttpProvider({ definitions: this.#definitions }),
      [CHOREOGRAPHY_PROVIDER]: new ChoreographyProvider({
        definitions: this.#definitions,
        invokeStep: (owner, fn, input) => this.#invokeStep(owner, fn, input),
        now: () => Date.now(),
        log,
      }),
    }
    this.#remote = new RemoteWorkers({
      rpc: this.#channels,
      runtimes: providers,
      prepare: (owner, dispatch, from) => this.#ensureDefinition(owner, dispatch, from),
      onExecute: (fn) => this.#executions.inc(1, { fn }),
      log,
    })
    this.#host = new SchedulerHost({
      providers,
      meshWide: new Set([MESH_PROVIDER]),
      workers: () => this.#membership.workers(config.workerMemoryMb),
      remote: this.#remote,
      selfId: this.peerId,
      workerMemoryMb: config.workerMemoryMb,
      ownerLimit: config.ownerLimit,
      placement: config.placement,
      schedulerIdleMs: config.schedulerIdleMs,
      now: () => performance.now(),
      emit: (event) => this.#emit(event),
      onExecute: (fn) => this.#executions.inc(1, { fn }),
      onRefused: (worker) => this.#refusals.inc(1, { worker }),
      onDeallocated: (key, guid, epoch) =>
        this.#directory.release({ key, guid, epoch, peerId: this.peerId }),
      log,
    })
    this.#directory = new DirectoryService({
      channels: this.#channels,
      members: {
        selfId: this.peerId,
        liveIds: () => this.#membership.liveIds(),
        // A leaving peer no longer counts itself: claims it answers name someone else.
        isAlive: (id) => (id === this.peerId ? !this.#stopping : this.#membership.isLive(id)),
      },
      hosted: () => this.#host.entries(),
      onLost: (key, winner) => this.#mergeInto(key, winner),
      log,
    })
    const queueDepth = this.#metrics.gauge(
      'chorus_queue_depth',
      'Invocations queued in the schedulers this peer is responsible for',
    )
    const hostedSchedulers = this.#metrics.gauge(
      'chorus_schedulers',
      'Schedulers this peer is responsible for',
    )
    const functionHosts = this.#metrics.gauge(
      'chorus_function_hosts',
      "Function hosts on this peer's worker, starting ones included",
    )
    const workerMemoryUsed = this.#metrics.gauge(
      'chorus_worker_memory_used_mb',
      "Memory held by function hosts on this peer's worker, in MB (of --worker-memory)",
    )
    this.#metrics.onCollect(() => {
      const local = this.#host.list()
      queueDepth.set(local.reduce((n, s) => n + s.pending, 0))
      hostedSchedulers.set(local.length)
      const pool = this.#pool.stats()
      functionHosts.set(pool.hosts.length)
      workerMemoryUsed.set(pool.usedMb)
    })
    this.#registerHandlers()
  }

  /** This peer's metrics, for the HTTP layer to add its own. */
  get metrics(): MetricsRegistry {
    return this.#metrics
  }

  async start(): Promise<void> {
    await this.#channels.start()
    await this.#membership.start()
    await this.#definitions.start()
    this.#directory.start()
    for (const address of this.#config.join) {
      background(this.#joinThrough(address), (err) =>
        this.#log(`bug: joining through ${address} threw: ${String(err)}`),
      )
    }
  }

  /**
   * Dials a bootstrap address in the background, retrying with backoff until it answers
   * or the peer stops: peers may start in any order, and a dead bootstrap peer must not
   * hold up this one.
   */
  async #joinThrough(address: string): Promise<void> {
    let target
    try {
      target = multiaddr(address)
    } catch (err) {
      this.#log(`ignoring --join ${address}: ${(err as Error).message}`)
      return
    }
    for (let delayMs = 500; !this.#stopping; delayMs = Math.min(delayMs * 2, 30_000)) {
      try {
        await this.#libp2p.dial(target, { signal: AbortSignal.timeout(10_000) })
        return
      } catch (err) {
        if (this.#stopping) return
        // Jitter, so joiners turned away together do not all come back together.
        const waitMs = Math.round(delayMs * (0.5 + Math.random()))
        this.#log(
          `could not join through ${address} (${(err as Error).message}); retrying in ${waitMs / 1000} s`,
        )
        await pause(waitMs)
      }
    }
  }

  /**
   * Leaves gracefully: announces it (others mark this peer left, not dead, and stop
   * naming it responsible), hands every queued invocation to another peer, which looks
   * up or becomes the new responsible, and lets what runs here finish, for at most
   * `LEAVE_DRAIN_MS`. Callers waiting through this peer retry with the same invocation
   * id and find it at the new responsible.
   */
  async leave(): Promise<void> {
    if (this.#stopping) return
    this.#stopping = true
    this.#remote.drain()
    await this.#membership.leave()
    const others = this.#membership.liveIds().filter((id) => id !== this.peerId)
    if (others.length > 0) {
      for (const { key } of this.#host.entries()) {
        const [owner = '', provider = ''] = splitKey(key)
        this.#host.drainInto(key, async (request) => {
          const via = others[Math.floor(Math.random() * others.length)] as string
          const body = { owner, provider, ...request, wait: false }
          return (await this.#channels.request(
            via,
            ROUTE_METHOD,
            body,
            QUEUEING_FORWARD_TIMEOUT_MS,
          )) as InvocationView
        })
      }
    }
    const deadline = performance.now() + LEAVE_DRAIN_MS
    while (
      (this.#host.busy || this.#remote.busy || this.#reports.size > 0) &&
      performance.now() < deadline
    ) {
      await pause(20)
    }
  }

  async stop(): Promise<void> {
    this.#stopping = true
    this.#directory.stop()
    this.#host.stop()
    this.#remote.stop()
    await this.#pool.stop().catch((err: unknown) => this.#log(`stopping hosts: ${String(err)}`))
    await this.#definitions
      .stop()
      .catch((err: unknown) => this.#log(`stopping definitions: ${String(err)}`))
    await this.#membership.stop()
    await this.#channels.stop().catch(() => undefined)
    await this.#libp2p.stop()
  }

  // ------------------------------------------------------------------ PeerApi

  peers(): PeerInfo[] {
    return this.#membership.peers()
  }

  schedulers(localOnly: boolean): SchedulerInfo[] {
    const local = this.#host.list()
    if (localOnly) return local
    const seen = new Set(local.map((s) => s.guid))
    return [...local, ...this.#membership.remoteSchedulers().filter((s) => !seen.has(s.guid))]
  }

  async invoke(request: InvokeRequest): Promise<InvocationView> {
    if (this.#stopping) throw new ChorusError('shutting-down', 'this peer is leaving the mesh')
    const provider = await this.#catchUp.retry(
      () => this.#providerOf(request.owner, request.fn),
      'unknown-function',
    )
    if (provider === BUILTIN_PROVIDER) validateBuiltinInput(request.fn, request.input)
    return this.#enter(request, provider)
  }

  async invokeChoreography(request: InvokeChoreographyRequest): Promise<InvocationView> {
    if (this.#stopping) throw new ChorusError('shutting-down', 'this peer is leaving the mesh')
    await this.#catchUp.retry(() => {
      if (this.#definitions.getChoreography(request.owner, request.fn) === undefined) {
        throw new ChorusError(
          'unknown-choreography',
          `no choreography ${request.fn} for ${request.owner}`,
        )
      }
    }, 'unknown-choreography')
    return this.#enter(request, CHOREOGRAPHY_PROVIDER)
  }

  /** An invocation entering the mesh here: named by this peer, routed, counted. */
  async #enter(request: InvokeRequest, provider: string): Promise<InvocationView> {
    const started = performance.now()
    const body: ForwardedInvocation = {
      owner: request.owner,
      provider,
      fn: request.fn,
      id: `${this.peerId}.${this.#bootId}.${(this.#nextInvocation++).toString(36)}`,
      input: request.input,
      priority: request.priority ?? 1,
      wait: request.wait ?? true,
      idempotencyKey: request.idempotencyKey,
    }
    try {
      const view = await this.#route(body)
      if (body.wait) this.#host.record(view)
      this.#invocations.inc(1, { status: view.status })
      this.#latency.observe((performance.now() - started) / 1000)
      return view
    } catch (err) {
      this.#invocations.inc(1, { status: 'error' })
      throw err
    }
  }

  /** A choreography step: an invocation of the owner's function, entering the mesh here. */
  async #invokeStep(owner: string, fn: string, input: unknown): Promise<InvocationView> {
    const provider = this.#providerOf(owner, fn)
    if (provider === BUILTIN_PROVIDER) validateBuiltinInput(fn, input)
    return this.#enter({ owner, fn, input, wait: true }, provider)
  }

  /** Which provider runs `owner`'s `fn`: a deployed function's, else builtin's echo and sleep. */
  #providerOf(owner: string, fn: string): string {
    const deployed = this.#definitions.getFunction(owner, fn)
    if (deployed !== undefined) return deployed.provider
    if (isBuiltinFunction(fn)) return BUILTIN_PROVIDER
    throw new ChorusError(
      'unknown-function',
      `no function ${fn} for ${owner} (deploy one, or use builtin echo and sleep)`,
    )
  }

  async deployFunction(request: DeployFunctionRequest): Promise<DeployedFunction> {
    if (this.#stopping) throw new ChorusError('shutting-down', 'this peer is leaving the mesh')
    const { owner, code, command, ...spec } = request
    const result = await this.#definitions.deployFunction(
      owner,
      { ...spec, ...(command === undefined ? {} : { command: [...command] }) },
      code,
    )
    return {
      name: result.name,
      version: result.version,
      revision: result.revision,
      ...(result.digest === undefined ? {} : { digest: result.digest }),
    }
  }

  functions(owner: string): Promise<FunctionView[]> {
    return settled(() =>
      this.#ofOwner(owner, this.#definitions.listFunctions(owner)).map(functionView),
    )
  }

  function(owner: string, name: string): Promise<FunctionView> {
    return settled(() => functionView(this.#deployedFunction(owner, name)))
  }

  async deleteFunction(owner: string, name: string): Promise<{ name: string; version: number }> {
    this.#deployedFunction(owner, name)
    return this.#definitions.deleteFunction(owner, name)
  }

  async deployChoreography(request: DeployChoreographyRequest): Promise<DeployedChoreography> {
    if (this.#stopping) throw new ChorusError('shutting-down', 'this peer is leaving the mesh')
    const { owner, name, definition } = request
    const checked = validateChoreography(
      { name, definition },
      validationContext(this.#definitions, owner),
    )
    if (!checked.ok) {
      const errors = checked.errors.map((e) => ({ path: e.path, code: e.code, message: e.message }))
      const shown = errors.slice(0, 5).map((e) => `${e.path}: ${e.message}`)
      const more = errors.length > shown.length ? ` (and ${errors.length - shown.length} more)` : ''
      throw new ChorusError(
        'bad-request',
        `choreography ${name} is not valid: ${shown.join('; ')}${more}`,
        { errors },
      )
    }
    const result = await this.#definitions.deployChoreography(owner, name, definition)
    return { name: result.name, version: result.version, revision: result.revision }
  }

  choreographies(owner: string): Promise<ChoreographyView[]> {
    return settled(() =>
      this.#ofOwner(owner, this.#definitions.listChoreographies(owner)).map(choreographyView),
    )
  }

  choreography(owner: string, name: string): Promise<ChoreographyView> {
    return settled(() => choreographyView(this.#deployedChoreography(owner, name)))
  }

  async deleteChoreography(
    owner: string,
    name: string,
  ): Promise<{ name: string; version: number }> {
    this.#deployedChoreography(owner, name)
    return this.#definitions.deleteChoreography(owner, name)
  }

  /** `owner`'s definitions of one kind; `unknown-owner` when the mesh has none of theirs. */
  #ofOwner<T>(owner: string, list: T[]): T[] {
    if (list.length === 0 && !this.#definitions.owners().includes(owner)) {
      throw new ChorusError('unknown-owner', `no owner ${owner} on this mesh`)
    }
    return list
  }

  #deployedFunction(owner: string, name: string): FunctionDefinition {
    const def = this.#definitions.getFunction(owner, name)
    if (def === undefined) {
      throw new ChorusError('unknown-function', `no function ${name} for ${owner}`)
    }
    return def
  }

  #deployedChoreography(owner: string, name: string): ChoreographyDefinition {
    const def = this.#definitions.getChoreography(owner, name)
    if (def === undefined) {
      throw new ChorusError('unknown-choreography', `no choreography ${name} for ${owner}`)
    }
    return def
  }

  async invocation(id: string): Promise<InvocationView | undefined> {
    const entryPeer = entryPeerOf(id)
    if (entryPeer === undefined || entryPeer === this.peerId) return this.#statusHere(id)
    return ((await this.#channels.request(entryPeer, STATUS_METHOD, { id }, 10_000)) ??
      undefined) as InvocationView | undefined
  }

  onEvent(listener: (event: PeerEvent) => void): () => void {
    this.#listeners.add(listener)
    return () => this.#listeners.delete(listener)
  }

  metricsText(): string {
    return this.#metrics.text()
  }

  // ------------------------------------------------------------------ routing

  /** Lookup-or-become, then serve here or forward to the responsible. */
  async #route(body: ForwardedInvocation): Promise<InvocationView> {
    const key = schedulerKey(body.owner, body.provider)
    let lastError: ChorusError | undefined
    for (let attempt = 0; attempt < ROUTE_ATTEMPTS; attempt++) {
      if (attempt > 0) await pause(Math.min(200, 5 * 2 ** attempt))
      if (this.#host.has(key)) return this.#serveHere(key, body)
      let target: DirectoryEntry
      try {
        target = this.#locations.get(key) ?? (await this.#directory.claim(key, 5_000))
      } catch (err) {
        lastError = asChorusError(err)
        continue // the directory peer may be dying: membership will move the key
      }
      if (target.peerId === this.peerId) {
        this.#host.create(body.owner, body.provider, target.guid, target.epoch)
        continue
      }
      try {
        const timeout = body.wait ? WAITING_FORWARD_TIMEOUT_MS : QUEUEING_FORWARD_TIMEOUT_MS
        const answer = await this.#channels.request(
          target.peerId,
          INVOKE_METHOD,
          { ...body, epoch: target.epoch },
          timeout,
        )
        this.#forwards.inc()
        const view = answer as InvocationView
        if (body.wait && !isFinal(view)) {
          // The responsible handed it off while we waited (it left): follow it by id.
          lastError = new ChorusError('not-responsible', `${target.peerId} handed ${body.id} off`)
          this.#locations.delete(key)
          continue
        }
        this.#locations.set(key, target)
        this.#placedAt.set(body.id, target.peerId)
        return view
      } catch (err) {
        lastError = asChorusError(err)
        this.#locations.delete(key)
        if (
          !['not-responsible', 'stale-epoch', 'peer-unreachable', 'protocol-error'].includes(
            lastError.code,
          )
        ) {
          throw lastError
        }
      }
    }
    throw new ChorusError(
      'peer-unreachable',
      `could not reach the responsible for ${key}: ${lastError?.message ?? 'no answer'}`,
    )
  }

  async #serveHere(key: string, body: ForwardedInvocation): Promise<InvocationView> {
    const submitted = this.#host.submit(key, {
      id: body.id,
      fn: body.fn,
      input: body.input,
      priority: body.priority,
      idempotencyKey: body.idempotencyKey,
    })
    if (!body.wait) {
      this.#reportToEntry(submitted.id, submitted.done)
      return { id: submitted.id, status: 'queued', peerId: this.peerId }
    }
    return submitted.done
  }

  /**
   * Sends the outcome of an invocation nobody waits for to the peer its id names, which
   * keeps it: `GET /v1/invocations/{id}` then works even after this peer has gone.
   */
  #reportToEntry(id: string, done: Promise<InvocationView>): void {
    const entryPeer = entryPeerOf(id)
    if (entryPeer === undefined || entryPeer === this.peerId) return
    const report = done
      .then((view) =>
        // A handed-off invocation is reported by its new responsible, not from here.
        isFinal(view) ? this.#channels.request(entryPeer, RESULT_METHOD, view, 10_000) : undefined,
      )
      .catch((err: unknown) => this.#log(`reporting ${id} to ${entryPeer} failed: ${String(err)}`))
      .finally(() => this.#reports.delete(report))
    this.#reports.add(report)
  }

  async #statusHere(id: string): Promise<InvocationView | undefined> {
    const local = this.#host.status(id)
    if (local) return local
    const responsible = this.#placedAt.get(id)
    if (responsible === undefined) return undefined
    const ask = async (peer: string) =>
      (await this.#channels.request(
        peer,
        LOCAL_STATUS_METHOD,
        { id },
        10_000,
      )) as InvocationView | null
    const there = this.#membership.isLive(responsible)
      ? await ask(responsible).catch(() => null)
      : null
    if (there) return there
    // Its responsible left or lost it in a merge: whoever holds it now knows it by id.
    const others = this.#membership.liveIds().filter((p) => p !== this.peerId && p !== responsible)
    const answers = await Promise.all(others.map((p) => ask(p).catch(() => null)))
    return answers.find((a) => a !== null) ?? undefined
  }

  #registerHandlers(): void {
    this.#channels.handle(INVOKE_METHOD, (raw) => {
      const body = parseForwarded(raw)
      const key = schedulerKey(body.owner, body.provider)
      const hosted = this.#host.entry(key)
      if (!hosted)
        throw new ChorusError('not-responsible', `${this.peerId} is not responsible for ${key}`)
      if (body.epoch !== undefined && body.epoch !== hosted.epoch) {
        throw new ChorusError(
          'stale-epoch',
          `${key} is at epoch ${hosted.epoch}, not ${body.epoch}`,
        )
      }
      // The entry peer knew the function: this peer may not have received it yet.
      return this.#catchUp.retry(() => this.#serveHere(key, body), 'unknown-function')
    })
    this.#channels.handle(RESULT_METHOD, (raw) => {
      const view = parseResult(raw)
      // Only outcomes of invocations this peer named are kept here.
      if (entryPeerOf(view.id) === this.peerId) this.#host.record(view)
      return true
    })
    this.#channels.handle(ROUTE_METHOD, (raw) => this.#route(parseForwarded(raw)))
    this.#channels.handle(
      STATUS_METHOD,
      async (raw) => (await this.#statusHere(parseId(raw))) ?? null,
    )
    this.#channels.handle(LOCAL_STATUS_METHOD, (raw) => this.#host.status(parseId(raw)) ?? null)
  }

  // ------------------------------------------------------------------ mesh changes

  #membershipChanged(): void {
    for (const [key, entry] of this.#locations) {
      if (!this.#membership.isLive(entry.peerId)) this.#locations.delete(key)
    }
    background(this.#directory.reregister(), (err) =>
      this.#log(`bug: re-registering threw: ${String(err)}`),
    )
    this.#definitions.peersChanged()
    this.#host.workersChanged()
  }

  /**
   * A dispatch sent here may name a version this peer has not received yet: pull the
   * definitions from the scheduler's peer, which has it, before running.
   */
  async #ensureDefinition(owner: string, dispatch: DispatchEffect, from: string): Promise<void> {
    if (this.#definitions.getFunction(owner, dispatch.fn)?.revision === dispatch.version) return
    await this.#definitions.syncWith(from).catch((err: unknown) => {
      this.#log(`pulling definitions from ${from} failed: ${String(err)}`)
    })
  }

  /** Another scheduler won `key`: forward our queue to it and stop taking work for it. */
  #mergeInto(key: string, winner: DirectoryEntry): void {
    this.#log(`merging ${key} into ${winner.guid} at ${winner.peerId}`)
    this.#locations.set(key, winner)
    const [owner = '', provider = ''] = splitKey(key)
    this.#host.drainInto(key, (request: SubmitRequest) =>
      this.#route({ owner, provider, ...request, wait: true }),
    )
  }

  #localLoad() {
    return { schedulers: this.#host.list(), workerMemoryMb: this.#config.workerMemoryMb }
  }

  #emit(event: PeerEvent): void {
    for (const listener of this.#listeners) {
      try {
        listener(event)
      } catch (err) {
        this.#log(`event listener failed: ${String(err)}`)
      }
    }
  }
}

function functionView(def: FunctionDefinition): FunctionView {
  return {
    owner: def.owner,
    name: def.name,
    version: def.version,
    revision: def.revision,
    deployedAt: def.deployedAt,
    runtime: def.runtime,
    provider: def.provider,
    memoryMb: def.memoryMb,
    timeoutMs: def.timeoutMs,
    concurrency: def.concurrency,
    ...(def.digest === undefined ? {} : { digest: def.digest }),
    ...(def.command === undefined ? {} : { command: def.command }),
    ...(def.url === undefined ? {} : { url: def.url }),
  }
}

function choreographyView(def: ChoreographyDefinition): ChoreographyView {
  return {
    owner: def.owner,
    name: def.name,
    version: def.version,
    revision: def.revision,
    deployedAt: def.deployedAt,
    definition: def.definition,
  }
}

/** What `compute` gives, as a promise: a throw becomes a rejection (as `PeerApi` promises). */
function settled<T>(compute: () => T): Promise<T> {
  try {
    return Promise.resolve(compute())
  } catch (err) {
    return Promise.reject(asChorusError(err))
  }
}

function isFinal(view: InvocationView): boolean {
  return view.status === 'succeeded' || view.status === 'failed'
}

/** The peer an invocation id names (where it entered the mesh), if it names one. */
function entryPeerOf(id: string): string | undefined {
  const peer = id.split('.')[0] ?? ''
  return /^[1-9A-HJ-NP-Za-km-z]{40,60}$/.test(peer) ? peer : undefined
}

function parseResult(raw: unknown): InvocationView {
  const v = raw as Partial<InvocationView> | null
  if (
    typeof v !== 'object' ||
    v === null ||
    typeof v.id !== 'string' ||
    (v.status !== 'succeeded' && v.status !== 'failed')
  ) {
    throw new ChorusError('protocol-error', 'malformed invocation result')
  }
  return v as InvocationView
}

function splitKey(key: string): [string, string] {
  const at = key.lastIndexOf('/')
  return [key.slice(0, at), key.slice(at + 1)]
}

function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

function parseId(raw: unknown): string {
  const id = (raw as { id?: unknown } | null)?.id
  if (typeof id !== 'string' || id.length === 0 || id.length > 256) {
    throw new ChorusError('bad-request', 'id must be a non-empty string')
  }
  return id
}

function parseForwarded(raw: unknown): ForwardedInvocation {
  const b = raw as Partial<ForwardedInvocation> | null
  if (
    typeof b !== 'object' ||
    b === null ||
    typeof b.owner !== 'string' ||
    typeof b.provider !== 'string' ||
    typeof b.fn !== 'string' ||
    typeof b.id !== 'string' ||
    (b.priority !== 0 && b.priority !== 1) ||
    typeof b.wait !== 'boolean' ||
    (b.epoch !== undefined && typeof b.epoch !== 'number') ||
    (b.idempotencyKey !== undefined && typeof b.idempotencyKey !== 'string')
  ) {
    throw new ChorusError('protocol-error', 'malformed forwarded invocation')
  }
  if (b.provider === BUILTIN_PROVIDER && !isBuiltinFunction(b.fn)) {
    throw new ChorusError('unknown-function', `no function ${b.fn}`)
  }
  return b as ForwardedInvocation
}
