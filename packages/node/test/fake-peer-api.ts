import type { RunTrace } from '../src/choreography/index.js'
import { ChorusError } from '../src/errors.js'
import type {
  ChoreographyView,
  DeployChoreographyRequest,
  DeployedChoreography,
  DeployFunctionRequest,
  DeployedFunction,
  FunctionView,
  InvocationView,
  InvokeRequest,
  PeerApi,
  PeerEvent,
  PeerInfo,
  SchedulerInfo,
} from '../src/peer-api.js'

export const SELF = '12D3KooWSelf'
export const OTHER = '12D3KooWOtherPeerWithALongId9x7Q'

/**
 * The trace of a finished `ingest` run: a sequence of a named task and a map of two items,
 * the second of which needed a retry on another peer.
 */
export const TRACE: RunTrace = {
  id: 'run-1',
  choreography: 'ingest',
  status: 'succeeded',
  startedAt: 1_000,
  endedAt: 1_250,
  root: {
    path: '/definition',
    kind: 'sequence',
    status: 'succeeded',
    attempts: 1,
    startedAt: 1_000,
    endedAt: 1_250,
    children: [
      {
        path: '/definition/sequence/0',
        kind: 'task',
        name: 'classify',
        fn: 'classify',
        status: 'succeeded',
        attempts: 1,
        startedAt: 1_000,
        endedAt: 1_040,
        tasks: [
          { taskId: 'run-1/t1', attempt: 1, status: 'succeeded', endedAt: 1_040, peerId: SELF },
        ],
      },
      {
        path: '/definition/sequence/1',
        kind: 'map',
        status: 'succeeded',
        attempts: 1,
        startedAt: 1_040,
        endedAt: 1_250,
        items: { total: 2, started: 2, succeeded: 2, failed: 0 },
        children: [
          {
            path: '/definition/sequence/1/map[0]',
            kind: 'task',
            fn: 'resize',
            status: 'succeeded',
            attempts: 1,
            startedAt: 1_040,
            endedAt: 1_100,
            tasks: [{ taskId: 'run-1/t2', attempt: 1, status: 'succeeded', peerId: OTHER }],
          },
          {
            path: '/definition/sequence/1/map[1]',
            kind: 'task',
            fn: 'resize',
            status: 'succeeded',
            attempts: 2,
            startedAt: 1_040,
            endedAt: 1_250,
            error: { code: 'task-failed', message: 'boom', step: '/definition/sequence/1/map[1]' },
            tasks: [
              { taskId: 'run-1/t3', attempt: 1, status: 'failed', peerId: SELF, error: 'boom' },
              { taskId: 'run-1/t4', attempt: 2, status: 'succeeded', peerId: OTHER },
            ],
          },
        ],
      },
    ],
  },
}

/** A PeerApi whose answers tests set, and which records what it was asked. */
export class FakePeerApi implements PeerApi {
  readonly peerId = SELF
  readonly version = '0.1.0-test'
  peerList: PeerInfo[] = [
    { peerId: SELF, addrs: ['/ip4/127.0.0.1/tcp/4001'], state: 'alive', lastSeenMs: 0 },
    {
      peerId: '12D3KooWOther',
      addrs: ['/ip4/10.0.0.2/tcp/4001', '/ip4/10.0.0.2/tcp/4002'],
      state: 'suspect',
      lastSeenMs: 65_000,
    },
  ]
  schedulerList: SchedulerInfo[] = [
    {
      guid: 'g-zeta',
      owner: 'zeta',
      provider: 'mesh',
      peerId: '12D3KooWOther',
      epoch: 3,
      capacity: 32,
      pending: 0,
      inflight: 1,
      arrivalRatePerSec: 2,
      forwardedRatePerSec: 0,
      state: 'active',
    },
    {
      guid: 'g-acme',
      owner: 'acme',
      provider: 'mesh',
      peerId: SELF,
      epoch: 12,
      capacity: 64,
      pending: 5,
      inflight: 10,
      arrivalRatePerSec: 40,
      forwardedRatePerSec: 12,
      state: 'active',
    },
  ]
  readonly invocations = new Map<string, InvocationView>()
  metrics = '# HELP chorus_up Up.\n# TYPE chorus_up gauge\nchorus_up 1\n'

  /** What `invoke` does; by default it succeeds, echoing the input. */
  invokeImpl: (request: InvokeRequest) => Promise<InvocationView> = (request) =>
    Promise.resolve(
      request.wait === false
        ? { id: 'inv-1', status: 'queued' }
        : { id: 'inv-1', status: 'succeeded', output: request.input, peerId: SELF },
    )
  invocationImpl: (id: string) => Promise<InvocationView | undefined> = (id) =>
    Promise.resolve(this.invocations.get(id))
  peersImpl: () => PeerInfo[] = () => this.peerList
  /**
   * What `deployChoreography` does; by default it stores a new version of any definition.
   * A test rejects with `bad-request` and `details.errors` to play an invalid definition.
   */
  deployChoreographyImpl: (request: DeployChoreographyRequest) => Promise<DeployedChoreography> = (
    request,
  ) => Promise.resolve(this.#storeChoreography(request))
  /** What `invokeChoreography` does; by default like `invoke`, as run `run-1`. */
  invokeChoreographyImpl: (request: InvokeRequest) => Promise<InvocationView> = (request) =>
    Promise.resolve(
      request.wait === false
        ? { id: 'run-1', status: 'queued' }
        : { id: 'run-1', status: 'succeeded', output: request.input, peerId: SELF },
    )

  readonly invokes: InvokeRequest[] = []
  readonly deploys: DeployFunctionRequest[] = []
  /** Deployed functions by `owner/name`. */
  readonly deployed = new Map<string, FunctionView>()
  readonly schedulerCalls: boolean[] = []
  readonly choreographyDeploys: DeployChoreographyRequest[] = []
  /** Deployed choreographies by `owner/name`. */
  readonly choreographyViews = new Map<string, ChoreographyView>()
  readonly choreographyInvokes: InvokeRequest[] = []
  /** How many times `onEvent` subscribed. */
  subscriptions = 0
  onEventError: Error | undefined
  readonly #listeners = new Set<(event: PeerEvent) => void>()
  readonly #waiters: { count: number; resolve: () => void }[] = []

  peers(): PeerInfo[] {
    return this.peersImpl()
  }

  schedulers(localOnly: boolean): SchedulerInfo[] {
    this.schedulerCalls.push(localOnly)
    return localOnly ? this.schedulerList.filter((s) => s.peerId === SELF) : this.schedulerList
  }

  invoke(request: InvokeRequest): Promise<InvocationView> {
    this.invokes.push(request)
    return this.invokeImpl(request)
  }

  deployFunction(request: DeployFunctionRequest): Promise<DeployedFunction> {
    this.deploys.push(request)
    const key = `${request.owner}/${request.name}`
    const version = (this.deployed.get(key)?.version ?? 0) + 1
    const view: FunctionView = {
      owner: request.owner,
      name: request.name,
      version,
      revision: `${version}.0000000000000000`,
      deployedAt: 1_700_000_000_000,
      runtime: request.runtime,
      provider: 'mesh',
      memoryMb: request.memoryMb ?? 128,
      timeoutMs: request.timeoutMs ?? 60_000,
      concurrency: request.concurrency ?? 1,
      ...(request.code ? { digest: 'ab'.repeat(32) } : {}),
      ...(request.command ? { command: request.command } : {}),
    }
    this.deployed.set(key, view)
    return Promise.resolve({
      name: view.name,
      version,
      revision: view.revision,
      ...(view.digest ? { digest: view.digest } : {}),
    })
  }

  functions(owner: string): Promise<FunctionView[]> {
    const list = [...this.deployed.values()].filter((f) => f.owner === owner)
    if (list.length === 0) return Promise.reject(new ChorusError('unknown-owner', `no ${owner}`))
    return Promise.resolve(list)
  }

  function(owner: string, name: string): Promise<FunctionView> {
    const view = this.deployed.get(`${owner}/${name}`)
    if (!view) return Promise.reject(new ChorusError('unknown-function', `no ${name}`))
    return Promise.resolve(view)
  }

  deleteFunction(owner: string, name: string): Promise<{ name: string; version: number }> {
    const view = this.deployed.get(`${owner}/${name}`)
    if (!view) return Promise.reject(new ChorusError('unknown-function', `no ${name}`))
    this.deployed.delete(`${owner}/${name}`)
    return Promise.resolve({ name, version: view.version + 1 })
  }

  deployChoreography(request: DeployChoreographyRequest): Promise<DeployedChoreography> {
    this.choreographyDeploys.push(request)
    return this.deployChoreographyImpl(request)
  }

  choreographies(owner: string): Promise<ChoreographyView[]> {
    const list = [...this.choreographyViews.values()].filter((c) => c.owner === owner)
    if (list.length === 0) return Promise.reject(new ChorusError('unknown-owner', `no ${owner}`))
    return Promise.resolve(list)
  }

  choreography(owner: string, name: string): Promise<ChoreographyView> {
    const view = this.choreographyViews.get(`${owner}/${name}`)
    if (!view) {
      return Promise.reject(new ChorusError('unknown-choreography', `no choreography ${name}`))
    }
    return Promise.resolve(view)
  }

  deleteChoreography(owner: string, name: string): Promise<{ name: string; version: number }> {
    const view = this.choreographyViews.get(`${owner}/${name}`)
    if (!view) {
      return Promise.reject(new ChorusError('unknown-choreography', `no choreography ${name}`))
    }
    this.choreographyViews.delete(`${owner}/${name}`)
    return Promise.resolve({ name, version: view.version + 1 })
  }

  invokeChoreography(request: InvokeRequest): Promise<InvocationView> {
    this.choreographyInvokes.push(request)
    return this.invokeChoreographyImpl(request)
  }

  invocation(id: string): Promise<InvocationView | undefined> {
    return this.invocationImpl(id)
  }

  onEvent(listener: (event: PeerEvent) => void): () => void {
    if (this.onEventError) throw this.onEventError
    this.subscriptions += 1
    this.#listeners.add(listener)
    this.#notify()
    return () => {
      this.#listeners.delete(listener)
      this.#notify()
    }
  }

  metricsText(): Promise<string> {
    return Promise.resolve(this.metrics)
  }

  get listenerCount(): number {
    return this.#listeners.size
  }

  emit(event: PeerEvent): void {
    for (const listener of this.#listeners) listener(event)
  }

  /** Resolves when exactly `count` listeners are subscribed. */
  whenListeners(count: number): Promise<void> {
    if (this.#listeners.size === count) return Promise.resolve()
    return new Promise((resolve) => this.#waiters.push({ count, resolve }))
  }

  #storeChoreography(request: DeployChoreographyRequest): DeployedChoreography {
    const key = `${request.owner}/${request.name}`
    const version = (this.choreographyViews.get(key)?.version ?? 0) + 1
    const view: ChoreographyView = {
      owner: request.owner,
      name: request.name,
      version,
      revision: `${version}.00000000000000c0`,
      deployedAt: 1_700_000_000_000,
      definition: request.definition,
    }
    this.choreographyViews.set(key, view)
    return { name: view.name, version, revision: view.revision }
  }

  #notify(): void {
    for (const waiter of [...this.#waiters]) {
      if (waiter.count !== this.#listeners.size) continue
      this.#waiters.splice(this.#waiters.indexOf(waiter), 1)
      waiter.resolve()
    }
  }
}

export function event(type: PeerEvent['type'], extra: Record<string, unknown> = {}): PeerEvent {
  // Deliberately loose: the HTTP tests also stream events no peer would emit.
  return { type, at: 1_700_000_000_000, peerId: '12D3KooWOther', ...extra } as PeerEvent
}
