/**
 * The composition root of a Chorus peer: every component (transport, mesh, scheduling,
 * definitions, observability, HTTP) is built here from its narrow components and wired to
 * the others; the parts live in their own files. `startPeer` is what `chorus start` runs.
 */
import { join } from 'node:path'
import { Activity, trackedRpc } from './activity.js'
import { background } from './background.js'
import type { PeerConfig } from './config.js'
import {
  definitionReplicator,
  gossipsubBroadcast,
  type DefinitionReplicator,
} from './definitions/index.js'
import { definitionsApi } from './definitions/definitions-api.js'
import { systemEnvironment } from './environment.js'
import { DefinitionsCatchUp } from './definitions/definitions-catch-up.js'
import { WorkerHostPool } from './function-host/index.js'
import { createHttpApi } from './http/http-api.js'
import { invocationsApi, type InvocationsPeerApi } from './invocations.js'
import * as mesh from './mesh/index.js'
import { PeerEvents } from './observability/events.js'
import { silentLogger, type Logger } from './observability/logger.js'
import { MetricsRegistry } from './observability/metrics.js'
import { declarePeerMetrics } from './observability/peer-metrics.js'
import type { PeerApi } from './peer-api.js'
import { RemoteWorkers } from './scheduling/remote-worker.js'
import { SchedulerHost } from './scheduling/scheduler-host.js'
import { WarmHostSync } from './scheduling/warm-host-sync.js'
import * as provider from './scheduling/providers/index.js'
import { loadOrCreateIdentity, readPreSharedKey } from './transport/identity.js'
import { createLibp2pHost, type ChorusLibp2p } from './transport/libp2p-host.js'
import { PeerChannels } from './transport/peer-channels.js'
import { VERSION } from './version.js'

export interface RunningPeer {
  readonly api: PeerApi
  readonly httpUrl: string
  readonly multiaddrs: string[]
  /** Leaves the mesh gracefully, then stops everything. */
  stop(): Promise<void>
}

export interface StartPeerOptions {
  /** Where the peer logs; each component logs through a child of it. Default silent. */
  log?: Logger
}

export async function startPeer(
  config: PeerConfig,
  options: StartPeerOptions = {},
): Promise<RunningPeer> {
  const log = options.log ?? silentLogger()
  const privateKey = await loadOrCreateIdentity(config.dataDir)
  const psk = config.pskFile === undefined ? undefined : await readPreSharedKey(config.pskFile)
  const libp2p = await createLibp2pHost({ privateKey, listen: config.listen, ...(psk && { psk }) })
  const peer = composePeer(libp2p, config, log)
  try {
    await peer.start()
    const http = await createHttpApi(peer.api, {
      log: log.child({ component: 'http' }),
      metrics: peer.metrics,
    }).listen(config.http.host, config.http.port)
    return {
      api: peer.api,
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

/** Builds every component of a peer over `libp2p` and wires them; starts nothing. */
function composePeer(libp2p: ChorusLibp2p, config: PeerConfig, log: Logger) {
  const selfId = libp2p.peerId.toString()
  const env = systemEnvironment()
  const [now, rng] = [() => env.clock.now(), () => env.rng.next()]
  let stopping = false
  const leaving = (): boolean => stopping || leave.leaving

  const registry = new MetricsRegistry()
  const metrics = declarePeerMetrics(registry, {
    schedulers: () => host.list(),
    worker: () => pool.stats(),
    memberStates: () => membership.peers().map((p) => p.state),
  })
  const events = new PeerEvents({ log })
  /** What this peer still owes: a leaving peer waits for it. */
  const work = new Activity()
  const channels = new PeerChannels(libp2p, { log })
  const membership: mesh.MeshMembership = new mesh.MeshMembership({
    joining: config.join.length > 0,
    libp2p,
    channels,
    metrics,
    log,
    rng,
    emit: (event) => events.emit(event),
    onChange: () => {
      router.membersChanged()
      background(directory.reregister(), (err) => log.error({ err }, 'bug: re-registering threw'))
      definitions.peersChanged()
      host.workersChanged()
    },
    localLoad: () => ({ schedulers: host.list(), worker: pool.load() }),
  })
  const definitions: DefinitionReplicator = definitionReplicator()({
    peerId: selfId,
    dataDir: config.dataDir,
    gossip: gossipsubBroadcast(libp2p.services.pubsub),
    rpc: channels,
    livePeers: () => membership.liveIds(),
    log: log.child({ component: 'definitions' }),
  })
  const catchUp: DefinitionsCatchUp = new DefinitionsCatchUp({
    peers: () => membership.liveIds().filter((id) => id !== selfId),
    syncWith: (peer) => definitions.syncWith(peer),
    revisionOf: (owner, fn) => definitions.getFunction(owner, fn)?.revision,
    now,
    log,
  })
  const pool: WorkerHostPool = new WorkerHostPool({
    memoryMb: config.workerMemoryMb,
    idleTtlMs: config.hostIdleMs,
    onHostGone: (hostId, reason) => {
      warmHosts.hostGone(hostId, reason)
      membership.loadChanged()
    },
    log: log.child({ component: 'function-host:pool' }),
  })
  const providers = provider.peerProviders({
    definitions,
    pool,
    bundleDir: join(config.dataDir, 'bundles'),
    onColdStart: (fn) => {
      metrics.coldStarts.inc(1, { fn })
      membership.loadChanged()
    },
    invokeStep: (owner, fn, input) => invokeStep(owner, fn, input),
    log,
  })
  const remote: RemoteWorkers = new RemoteWorkers({
    rpc: trackedRpc(channels, work),
    runtimes: providers,
    prepare: (owner, dispatch, from) =>
      catchUp.pullRevision(owner, dispatch.fn, dispatch.version, from),
    onExecute: (fn) => metrics.executions.inc(1, { fn }),
    onDispatch: (hostId, from) => warmHosts.ranFor(hostId, from),
    log: log.child({ component: 'scheduling:remote' }),
  })
  const host: SchedulerHost = new SchedulerHost({
    providers,
    meshWide: new Set([provider.MESH_PROVIDER]),
    workers: () => membership.workers(config.workerMemoryMb),
    remote,
    selfId,
    workerMemoryMb: config.workerMemoryMb,
    ownerLimit: config.ownerLimit,
    placement: config.placement,
    schedulerIdleMs: config.schedulerIdleMs,
    now,
    rng,
    emit: (event) => events.emit(event),
    onExecute: (fn) => metrics.executions.inc(1, { fn }),
    onRefused: (worker) => metrics.refusals.inc(1, { worker }),
    onLoadChanged: () => membership.loadChanged(),
    onDeallocated: (key, guid, epoch) => directory.release({ key, guid, epoch, peerId: selfId }),
    onResultAfterHandover: (to, key, result) => handover.sendResult(to, key, result),
    evictHost: (worker, hostId) => warmHosts.evict(worker, hostId),
    log: log.child({ component: 'scheduling:host' }),
  })
  const directory: mesh.DirectoryService = new mesh.DirectoryService({
    channels,
    newGuid: () => env.ids.next(),
    members: {
      selfId,
      liveIds: () => membership.liveIds(),
      // A leaving peer no longer counts itself: claims it answers name someone else.
      isAlive: (id) => (id === selfId ? !leaving() : membership.isLive(id)),
      isReady: () => membership.ready,
    },
    hosted: () => host.entries(),
    onLost: (key, winner) => {
      handover.sendLedger(winner.peerId, key)
      router.mergeInto(key, winner)
    },
    log,
  })
  const handover = new mesh.SchedulerHandover({ selfId, channels, directory, host, catchUp, log })
  const hostLost = (guid: string, hostId: string) => host.hostLost(guid, hostId)
  const warmHosts = new WarmHostSync({ selfId, channels, pool, hostLost, log })
  const fence = new mesh.PauseFence({
    clock: env.clock,
    timers: env.timers,
    confirm: () => directory.confirmHosted((ms) => env.timers.sleep(ms), now),
    log,
  })
  const router: mesh.Router = new mesh.Router({
    selfId,
    channels,
    directory,
    host,
    membership,
    catchUp,
    metrics,
    work,
    fence,
    now,
    sleep: (ms) => env.timers.sleep(ms),
    rng,
    log,
  })
  const leave: mesh.GracefulLeave = new mesh.GracefulLeave({
    selfId,
    membership,
    remote,
    host,
    handOver: (key, to, forward) => handover.handOver(key, to, forward),
    handOff: (via, key, request) => router.handOff(via, key, request),
    work,
    rng,
    log,
  })
  const bootstrap = new mesh.Bootstrap({ libp2p, rng, log }, { addresses: config.join })
  const invocations: InvocationsPeerApi = invocationsApi({ router, definitions, catchUp, leaving })
  const { invokeStep, ...invocationOps } = invocations

  const api: PeerApi = {
    peerId: selfId,
    version: VERSION,
    peers: () => membership.peers(),
    schedulers: (localOnly) => (localOnly ? host.list() : membership.schedulers(host.list())),
    ...invocationOps,
    ...definitionsApi({ definitions, leaving }),
    onEvent: (listener) => events.onEvent(listener),
    metricsText: () => registry.text(),
  }

  return {
    api,
    /** For the HTTP layer to add its own metrics. */
    metrics: registry,
    async start(): Promise<void> {
      // Answer the mesh's methods before it learns of this peer (membership announces it).
      const parts = [channels, directory, handover, warmHosts, router, catchUp, fence, membership]
      for (const part of [...parts, definitions, bootstrap]) await part.start()
    },
    leave: () => leave.leave(),
    async stop(): Promise<void> {
      stopping = true
      const first = [leave, bootstrap, fence, router, handover, warmHosts, directory, catchUp, host]
      for (const part of [...first, remote, pool, definitions, membership, channels]) {
        await Promise.resolve()
          .then(() => part.stop())
          .catch((err: unknown) => log.warn({ err, part: part.constructor.name }, 'stop failed'))
      }
      await libp2p.stop()
    },
  }
}
