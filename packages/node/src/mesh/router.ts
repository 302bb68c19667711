/**
 * Invocation routing: an invocation entering the mesh at this peer is named here (its id
 * names its scheduler and this peer, `core/invocation-id.ts`), its responsible looked up or become (lookup-or-become,
 * through the directory), and it is served here or forwarded there (`invoke/1`), retried
 * while responsibility moves. The responsible reports outcomes nobody waited for to the
 * entry peer (`result/1`), which keeps a copy. An invocation is found by id by asking its
 * scheduler's directory peer who is responsible (`dir.lookup/1`), then that responsible
 * (`status.local/1`), whose ledger moved with the scheduler; the entry peer's copy is the
 * fallback once the scheduler is gone.
 *
 * ```ts
 * const router = new Router({ selfId, channels, directory, host, membership, catchUp, ... })
 * router.start()
 * await router.enter({ owner: 'acme', fn: 'echo', input: 1 }, 'builtin')
 * // { id: 'acme~builtin~12D3KooW….9f3a01c2.0', status: 'succeeded', output: 1, peerId: '12D3KooW…' }
 * ```
 */
import { z } from 'zod'
import { BoundedMap } from '../bounded-map.js'
import type { DefinitionsCatchUp } from '../definitions/definitions-catch-up.js'
import {
  entryPeerOfInvocation,
  formatInvocationId,
  schedulerKeyOfInvocation,
} from '../core/invocation-id.js'
import { ChorusError, asChorusError, type ChorusErrorCode } from '../errors.js'
import { silentLogger, type Logger } from '../observability/logger.js'
import type { PeerMetrics } from '../observability/peer-metrics.js'
import type { InvocationView, InvokeRequest } from '../peer-api.js'
import { BUILTIN_PROVIDER, isBuiltinFunction } from '../scheduling/providers/builtin-provider.js'
import {
  schedulerKey,
  type SchedulerHost,
  type SubmitRequest,
} from '../scheduling/scheduler-host.js'
import type { PeerChannels } from '../transport/peer-channels.js'
import { ROUTER_METHODS } from '../transport/protocols.js'
import { parseMessage } from '../transport/rpc-message.js'
import type { DirectoryEntry } from '../core/directory-table.js'
import { LocationCache } from '../core/location-cache.js'
import { Route, type RouteError } from '../core/route.js'
import { answerMethods } from '../transport/answer-methods.js'

// ------------------------------------------------------------------ messages

/** The body of `invoke/1` and `route/1`: everything the responsible needs. */
export const forwardedInvocationSchema = z.object({
  owner: z.string(),
  provider: z.string(),
  fn: z.string(),
  id: z.string(),
  input: z.unknown().optional(),
  priority: z.union([z.literal(0), z.literal(1)]),
  wait: z.boolean(),
  idempotencyKey: z.string().optional(),
  /** The epoch the sender believes is current; a responsible at another epoch refuses. */
  epoch: z.number().optional(),
})

export type ForwardedInvocation = z.output<typeof forwardedInvocationSchema>

/** An invocation's view as it travels: the answer of `invoke/1`, `route/1`, `status/1`. */
export const invocationViewSchema = z.object({
  id: z.string(),
  status: z.enum(['queued', 'running', 'succeeded', 'failed']),
  output: z.unknown().optional(),
  error: z.object({ code: z.string(), message: z.string() }).optional(),
  peerId: z.string().optional(),
  trace: z.unknown().optional(),
  attempts: z.int().min(0).optional(),
  preemptions: z.int().min(0).optional(),
})

/** The messages of the router's methods, requests and answers. */
export const ROUTER_MESSAGES = {
  /** `invoke/1` and `route/1` requests. */
  forwarded: forwardedInvocationSchema,
  /** `result/1` request: a final outcome. */
  result: invocationViewSchema.extend({ status: z.enum(['succeeded', 'failed']) }),
  /** `status/1` and `status.local/1` requests. */
  status: z.object({ id: z.string().min(1).max(600) }),
  /** Answer of `invoke/1`, `route/1`; of `status/1` and `status.local/1`, or `null`. */
  view: invocationViewSchema,
} as const

// ------------------------------------------------------------------ the service

export interface RouterInit {
  /** Rounds of lookup-or-become before an invocation is refused. */
  readonly attempts?: number
  /** How long a forwarded request that waits for its result may take. */
  readonly waitingForwardTimeoutMs?: number
  /** How long a forwarded request that only queues may take. */
  readonly queueingForwardTimeoutMs?: number
  readonly claimTimeoutMs?: number
  readonly statusTimeoutMs?: number
}

/** How long a joining peer holds a request for its first view of the mesh, at most. */
const READY_WAIT_MS = 5_000

export const ROUTER_DEFAULTS: Required<RouterInit> = {
  /** Rounds of lookup-or-become before an invocation is refused. */
  attempts: 10,
  /** How long a forwarded request that waits for its result may take. */
  waitingForwardTimeoutMs: 15 * 60_000,
  /** How long a forwarded request that only queues may take. */
  queueingForwardTimeoutMs: 30_000,
  claimTimeoutMs: 5_000,
  statusTimeoutMs: 10_000,
}

/** The schedulers this peer hosts, as far as routing needs them. */
export type RouterHost = Pick<
  SchedulerHost,
  'has' | 'entry' | 'create' | 'submit' | 'status' | 'record' | 'drainInto'
>

export interface RouterComponents {
  readonly selfId: string
  readonly channels: Pick<PeerChannels, 'handle' | 'unhandle' | 'request'>
  readonly directory: {
    claim(key: string, timeoutMs: number): Promise<DirectoryEntry>
    lookup(key: string, timeoutMs: number): Promise<DirectoryEntry | undefined>
  }
  readonly host: RouterHost
  readonly membership: {
    isLive(peerId: string): boolean
    liveIds(): string[]
    /** False while a joining peer has only a partial view (`MeshMembership.ready`). */
    readonly ready?: boolean
    whenReady?(timeoutMs: number): Promise<void>
  }
  /** Looks again after pulling definitions, when a name is not known here yet. */
  readonly catchUp: Pick<DefinitionsCatchUp, 'retry'>
  readonly metrics: Pick<PeerMetrics, 'invocations' | 'latency' | 'forwards' | 'forwardLatency'>
  /** Holds what this peer still owes (a leaving peer waits for it). */
  readonly work: { track(work: PromiseLike<unknown>): void }
  /**
   * After this peer was paused, settles once its schedulers were confirmed with their
   * directories (`PauseFence`); undefined when serving may go ahead now.
   */
  readonly fence?: { ready(): Promise<void> | undefined }
  /** Milliseconds on a monotonic clock. */
  readonly now: () => number
  /** Waits between routing attempts. */
  readonly sleep: (ms: number) => Promise<void>
  /** Uniform in [0, 1): draws the boot id that keeps this boot's invocation ids apart. */
  readonly rng: () => number
  readonly log?: Logger
}

export class Router {
  readonly #c: RouterComponents
  readonly #opts: Required<RouterInit>
  readonly #log: Logger
  readonly #bootId: string
  /** Where each key's responsible was last found. */
  readonly #locations = new LocationCache()
  /** Invocations this peer accepted and sent on: where they went. */
  readonly #placedAt = new BoundedMap<string, string>(100_000)
  #nextInvocation = 0
  #unanswer: (() => void) | undefined

  constructor(components: RouterComponents, init: RouterInit = {}) {
    this.#c = components
    this.#opts = { ...ROUTER_DEFAULTS, ...init }
    this.#log = (components.log ?? silentLogger()).child({ component: 'mesh:router' })
    this.#bootId = Math.floor(components.rng() * 0x1_0000_0000)
      .toString(16)
      .padStart(8, '0')
  }

  readonly #handlers: Readonly<Record<string, (body: unknown) => unknown>> = {
    [ROUTER_METHODS.invoke]: async (raw) => {
      const body = parseForwarded(raw, ROUTER_METHODS.invoke)
      const { host, selfId, catchUp } = this.#c
      // What reached a paused peer waits until its schedulers are confirmed still its own.
      const fenced = this.#c.fence?.ready()
      if (fenced !== undefined) await fenced
      const key = schedulerKey(body.owner, body.provider)
      const hosted = host.entry(key)
      if (!hosted)
        throw new ChorusError('not-responsible', `${selfId} is not responsible for ${key}`)
      if (body.epoch !== undefined && body.epoch !== hosted.epoch) {
        throw new ChorusError(
          'stale-epoch',
          `${key} is at epoch ${hosted.epoch}, not ${body.epoch}`,
        )
      }
      // The entry peer knew the function: this peer may not have received it yet.
      return catchUp.retry(() => this.#serveHere(key, body, true), 'unknown-function')
    },
    [ROUTER_METHODS.result]: (raw) => {
      const view = parseMessage(ROUTER_MESSAGES.result, raw, ROUTER_METHODS.result)
      // Only outcomes of invocations this peer named are kept here.
      if (entryPeerOfInvocation(view.id) === this.#c.selfId)
        this.#c.host.record(view as InvocationView)
      return true
    },
    [ROUTER_METHODS.route]: (raw) => this.route(parseForwarded(raw, ROUTER_METHODS.route)),
    [ROUTER_METHODS.status]: async (raw) =>
      (await this.#statusHere(parseId(raw, ROUTER_METHODS.status))) ?? null,
    [ROUTER_METHODS.localStatus]: (raw) =>
      this.#c.host.status(parseId(raw, ROUTER_METHODS.localStatus)) ?? null,
  }

  /** Answers the router's methods. */
  start(): void {
    this.#unanswer ??= answerMethods(this.#c.channels, this.#handlers)
  }

  stop(): void {
    this.#unanswer?.()
    this.#unanswer = undefined
  }

  /** An invocation entering the mesh here: named by this peer, routed, counted. */
  async enter(request: InvokeRequest, provider: string): Promise<InvocationView> {
    const { metrics, now, host, selfId } = this.#c
    const started = now()
    const body: ForwardedInvocation = {
      owner: request.owner,
      provider,
      fn: request.fn,
      id: formatInvocationId({
        owner: request.owner,
        provider,
        entryPeer: selfId,
        bootId: this.#bootId,
        counter: this.#nextInvocation++,
      }),
      input: request.input,
      priority: request.priority ?? 1,
      wait: request.wait ?? true,
      idempotencyKey: request.idempotencyKey,
    }
    try {
      const view = await this.route(body)
      if (body.wait) host.record(view)
      metrics.invocations.inc(1, { status: view.status })
      metrics.latency.observe((now() - started) / 1000)
      return view
    } catch (err) {
      metrics.invocations.inc(1, { status: 'error' })
      throw err
    }
  }

  /**
   * Finds an invocation wherever its scheduler lives: here, else at the responsible the
   * key's directory peer names (at most two questions), else the copy its entry peer keeps.
   */
  async find(id: string): Promise<InvocationView | undefined> {
    const { host, directory, selfId } = this.#c
    const local = host.status(id)
    if (local) return local
    const key = schedulerKeyOfInvocation(id)
    if (key !== undefined && !host.has(key)) {
      const responsible = await directory
        .lookup(key, this.#opts.statusTimeoutMs)
        .catch((err: unknown) => {
          this.#log.debug({ err, key }, 'looking the responsible up failed')
          return undefined
        })
      if (responsible !== undefined && responsible.peerId !== selfId) {
        const there = await this.#askLocal(responsible.peerId, id)
        if (there) return there
      }
    }
    const entryPeer = entryPeerOfInvocation(id)
    if (entryPeer === undefined || entryPeer === selfId) return this.#statusHere(id)
    return (await this.#askLocal(entryPeer, id)) ?? this.#statusHere(id)
  }

  /** What `peer` itself knows of invocation `id` (`status.local/1`); undefined if it cannot say. */
  async #askLocal(peer: string, id: string): Promise<InvocationView | undefined> {
    if (!this.#c.membership.isLive(peer)) return undefined
    try {
      const answer = await this.#c.channels.request(
        peer,
        ROUTER_METHODS.localStatus,
        { id },
        this.#opts.statusTimeoutMs,
      )
      return parseView(answer, `${ROUTER_METHODS.localStatus} answer`) ?? undefined
    } catch (err) {
      this.#log.debug({ err, id, peer }, 'asking for an invocation failed')
      return undefined
    }
  }

  /**
   * Lookup-or-become, then serve here or forward to the responsible: the decisions are the
   * pure `core/route.ts`'s; this carries out each step it answers.
   */
  async route(body: ForwardedInvocation): Promise<InvocationView> {
    const { host, directory, channels, metrics, selfId, sleep, now, membership } = this.#c
    // A joiner routes once it has the mesh's view: with a partial one it picks wrong directories.
    if (membership.ready === false) await membership.whenReady?.(READY_WAIT_MS)
    const fenced = this.#c.fence?.ready()
    if (fenced !== undefined) await fenced
    const key = schedulerKey(body.owner, body.provider)
    const route = new Route(key, selfId, this.#locations, { attempts: this.#opts.attempts })
    const facts = () => ({ hostsKey: host.has(key) })
    let step = route.handle({ type: 'begin' }, now(), facts())
    for (;;) {
      switch (step.type) {
        case 'serve-here':
          return this.#serveHere(key, body, false)
        case 'give-up':
          throw new ChorusError(asCode(step.error.code), step.error.message)
        case 'done':
          throw new ChorusError('internal', `routing ${body.id} ended without an answer`)
        case 'back-off':
          await sleep(Math.max(0, step.until - now()))
          step = route.handle({ type: 'backed-off' }, now(), facts())
          break
        case 'become':
          host.create(body.owner, body.provider, step.entry.guid, step.entry.epoch)
          step = route.handle({ type: 'created' }, now(), facts())
          break
        case 'ask-directory':
          try {
            const entry = await directory.claim(key, this.#opts.claimTimeoutMs)
            step = route.handle({ type: 'directory-answered', entry }, now(), facts())
          } catch (err) {
            step = route.handle({ type: 'directory-failed', error: errorOf(err) }, now(), facts())
          }
          break
        case 'forward': {
          const target = step.entry
          const timeout = body.wait
            ? this.#opts.waitingForwardTimeoutMs
            : this.#opts.queueingForwardTimeoutMs
          const sent = now()
          let view: InvocationView
          try {
            const answer = await channels.request(
              target.peerId,
              ROUTER_METHODS.invoke,
              { ...body, epoch: target.epoch },
              timeout,
            )
            metrics.forwards.inc()
            metrics.forwardLatency.observe((now() - sent) / 1000)
            const parsed = parseView(answer, `${ROUTER_METHODS.invoke} answer`)
            if (parsed === null) throw new ChorusError('protocol-error', 'invoke/1 answered null')
            view = parsed
          } catch (err) {
            step = route.handle({ type: 'forward-failed', error: errorOf(err) }, now(), facts())
            break
          }
          const final = !body.wait || isFinal(view)
          step = route.handle({ type: 'forwarded', final }, now(), facts())
          if (step.type === 'done') {
            this.#placedAt.set(body.id, target.peerId)
            return view
          }
          break
        }
      }
    }
  }

  /**
   * Asks `via` to route an invocation queued in scheduler `key` as if it had arrived there
   * (`route/1`): how a leaving peer hands off its queue.
   */
  async handOff(via: string, key: string, request: SubmitRequest): Promise<InvocationView> {
    const [owner, provider] = splitKey(key)
    const body: ForwardedInvocation = { owner, provider, ...request, wait: false }
    const answer = await this.#c.channels.request(
      via,
      ROUTER_METHODS.route,
      body,
      this.#opts.queueingForwardTimeoutMs,
    )
    const view = parseView(answer, `${ROUTER_METHODS.route} answer`)
    if (view === null) throw new ChorusError('protocol-error', 'route/1 answered null')
    return view
  }

  /** Another scheduler won `key`: forward our queue to it and stop taking work for it. */
  mergeInto(key: string, winner: DirectoryEntry): void {
    this.#log.info({ key, guid: winner.guid, peer: winner.peerId }, 'merging into the winner')
    this.#locations.learn(winner, this.#c.now())
    const [owner, provider] = splitKey(key)
    this.#c.host.drainInto(key, (request: SubmitRequest) =>
      this.route({ owner, provider, ...request, wait: true }),
    )
  }

  /** Membership changed: forget where responsibles were on peers no longer live. */
  membersChanged(): void {
    this.#locations.retainLive((peerId) => this.#c.membership.isLive(peerId))
  }

  async #serveHere(
    key: string,
    body: ForwardedInvocation,
    forwarded: boolean,
  ): Promise<InvocationView> {
    const submitted = this.#c.host.submit(key, {
      id: body.id,
      fn: body.fn,
      input: body.input,
      priority: body.priority,
      idempotencyKey: body.idempotencyKey,
      forwarded,
    })
    this.#c.work.track(submitted.done)
    if (!body.wait) {
      this.#reportToEntry(submitted.id, submitted.done)
      return { id: submitted.id, status: 'queued', peerId: this.#c.selfId }
    }
    return submitted.done
  }

  /**
   * Sends the outcome of an invocation nobody waits for to the peer its id names, which
   * keeps it: `GET /v1/invocations/{id}` then works even after this peer has gone.
   */
  #reportToEntry(id: string, done: Promise<InvocationView>): void {
    const entryPeer = entryPeerOfInvocation(id)
    if (entryPeer === undefined || entryPeer === this.#c.selfId) return
    const report = done
      .then((view) =>
        // A handed-off invocation is reported by its new responsible, not from here.
        isFinal(view)
          ? this.#c.channels.request(
              entryPeer,
              ROUTER_METHODS.result,
              view,
              this.#opts.statusTimeoutMs,
            )
          : undefined,
      )
      .catch((err: unknown) => this.#log.warn({ err, id, peer: entryPeer }, 'reporting failed'))
    this.#c.work.track(report)
  }

  /** What this peer knows of an invocation, asking where it sent it if it does not know. */
  async #statusHere(id: string): Promise<InvocationView | undefined> {
    const local = this.#c.host.status(id)
    if (local) return local
    const responsible = this.#placedAt.get(id)
    return responsible === undefined ? undefined : this.#askLocal(responsible, id)
  }
}

function isFinal(view: InvocationView): boolean {
  return view.status === 'succeeded' || view.status === 'failed'
}

/** The peer an invocation id names (where it entered the mesh), if it names one. */
export const entryPeerOf = entryPeerOfInvocation

function splitKey(key: string): [string, string] {
  const at = key.lastIndexOf('/')
  return [key.slice(0, at), key.slice(at + 1)]
}

/** An invocation view (or `null`, "not known here") in an answer; `protocol-error` if malformed. */
function parseView(raw: unknown, what: string): InvocationView | null {
  return parseMessage(viewOrNull, raw, what) as InvocationView | null
}

const viewOrNull = invocationViewSchema.nullable()

function parseId(raw: unknown, method: string): string {
  return parseMessage(ROUTER_MESSAGES.status, raw, method, 'bad-request').id
}

function parseForwarded(raw: unknown, method: string): ForwardedInvocation {
  const body = parseMessage(ROUTER_MESSAGES.forwarded, raw, method)
  if (body.provider === BUILTIN_PROVIDER && !isBuiltinFunction(body.fn)) {
    throw new ChorusError('unknown-function', `no function ${body.fn}`)
  }
  return body
}

function errorOf(err: unknown): RouteError {
  const e = asChorusError(err)
  return { code: e.code, message: e.message }
}

/** A route's error code as a ChorusError's (it came from one, or is `peer-unreachable`). */
function asCode(code: string): ChorusErrorCode {
  return code as ChorusErrorCode
}
