/**
 * What the HTTP API and the CLI need from a running peer: a narrow, typed surface that
 * the peer implements and that tests can fake. Everything here is JSON-serialisable.
 */
import type { RunTrace } from './choreography/index.js'
import type { ChorusError } from './errors.js'
import type { PeerEvent } from './observability/events.js'

export type {
  MemberEvent,
  PeerEvent,
  PeerEventOf,
  PeerEventType,
  SchedulerCreatedEvent,
  SchedulerDeallocatedEvent,
  SchedulerOwnershipChangedEvent,
} from './observability/events.js'

export type MemberStateName = 'alive' | 'suspect' | 'dead' | 'left'

export interface PeerInfo {
  readonly peerId: string
  readonly addrs: readonly string[]
  readonly state: MemberStateName
  /** Milliseconds since this peer last heard from it (0 for itself). */
  readonly lastSeenMs: number
  /** Its latest load summary, if one has arrived. */
  readonly load?: unknown
}

export interface SchedulerInfo {
  readonly guid: string
  readonly owner: string
  readonly provider: string
  readonly peerId: string
  readonly epoch: number
  readonly capacity: number
  readonly pending: number
  readonly inflight: number
  /** Requests arriving per second (exponentially weighted over ~10 s). */
  readonly arrivalRatePerSec: number
  /** The part of them other peers forwarded; the rest entered at the scheduler's peer. */
  readonly forwardedRatePerSec: number
  /** `migrating` while it is being handed to another peer. */
  readonly state: 'active' | 'migrating'
  /** Function hosts it keeps warm on workers (its own schedulers only: not gossiped). */
  readonly warmHosts?: number
}

export interface InvokeRequest {
  readonly owner: string
  readonly fn: string
  readonly input?: unknown
  readonly priority?: 0 | 1
  readonly qos?: 'latency' | 'cost'
  /** Default true: answer when the invocation has finished. */
  readonly wait?: boolean
  readonly idempotencyKey?: string
}

/** A function deploy, as `POST /v1/owners/{owner}/functions` takes it (checked already). */
export interface DeployFunctionRequest {
  readonly owner: string
  readonly name: string
  readonly runtime: 'nodejs' | 'process'
  /** The code's bytes: a JavaScript module's source, or a `.tgz` bundle. */
  readonly code?: Uint8Array
  readonly command?: readonly string[]
  readonly memoryMb?: number
  readonly timeoutMs?: number
  readonly concurrency?: number
  /** Dispatch invocations together: `size` at most (≤ concurrency), or after `waitMs` (default 10). */
  readonly batch?: { readonly size: number; readonly waitMs?: number }
  /** `mesh` (the default) runs it on the mesh's workers; `http` calls `url`. */
  readonly provider?: 'mesh' | 'http'
  readonly url?: string
}

export interface DeployedFunction {
  readonly name: string
  readonly version: number
  /** Unique per deploy (even for concurrent deploys that got the same version). */
  readonly revision: string
  readonly digest?: string
}

/** A deployed function, as every peer holds it. */
export interface FunctionView {
  readonly owner: string
  readonly name: string
  readonly version: number
  readonly revision: string
  readonly deployedAt: number
  readonly runtime: string
  readonly provider: string
  readonly memoryMb: number
  readonly timeoutMs: number
  readonly concurrency: number
  readonly digest?: string
  readonly command?: readonly string[]
  readonly url?: string
  /** Absent: each invocation is dispatched alone. */
  readonly batch?: { readonly size: number; readonly waitMs: number }
}

/** A choreography deploy, as `POST /v1/owners/{owner}/choreographies` takes it. */
export interface DeployChoreographyRequest {
  readonly owner: string
  readonly name: string
  /** The definition's root step (plain JSON; the peer validates it). */
  readonly definition: unknown
}

export interface DeployedChoreography {
  readonly name: string
  readonly version: number
  readonly revision: string
}

/** A deployed choreography, as every peer holds it. */
export interface ChoreographyView {
  readonly owner: string
  readonly name: string
  readonly version: number
  readonly revision: string
  readonly deployedAt: number
  readonly definition: unknown
}

/** A choreography invocation: `fn` is the choreography's name. */
export type InvokeChoreographyRequest = InvokeRequest

export type InvocationStatus = 'queued' | 'running' | 'succeeded' | 'failed'

export interface InvocationView {
  readonly id: string
  readonly status: InvocationStatus
  readonly output?: unknown
  readonly error?: { readonly code: string; readonly message: string }
  /** Where it ran (or runs); for a choreography, the peer that drives the run. */
  readonly peerId?: string
  /** A choreography invocation: every step's status, timings and where it ran. */
  readonly trace?: RunTrace
  /**
   * Times it was started: a preempted or retried invocation starts over, so this can pass 1.
   * Absent when the peer that answered does not know (it still runs at a scheduler's previous
   * peer, or its result was recorded by an older peer).
   */
  readonly attempts?: number
  /** Times a high-priority invocation evicted it while it ran (it went back to the queue). */
  readonly preemptions?: number
}

export interface PeerApi {
  readonly peerId: string
  readonly version: string
  peers(): PeerInfo[]
  /** This peer's view of every scheduler in the mesh; only its own when `localOnly`. */
  schedulers(localOnly: boolean): SchedulerInfo[]
  /** Runs (or queues) an invocation from any peer. Rejects with a ChorusError. */
  invoke(request: InvokeRequest): Promise<InvocationView>
  /** Finds an invocation wherever it lives; undefined if nobody knows it. Rejects with a ChorusError. */
  invocation(id: string): Promise<InvocationView | undefined>
  /** Deploys a new version of a function (from any peer). Rejects with a ChorusError. */
  deployFunction(request: DeployFunctionRequest): Promise<DeployedFunction>
  /** The owner's deployed functions; rejects `unknown-owner` for an owner with none. */
  functions(owner: string): Promise<FunctionView[]>
  /** One deployed function; rejects `unknown-function` when there is none. */
  function(owner: string, name: string): Promise<FunctionView>
  /** Deletes a function; rejects `unknown-function` when there is none. */
  deleteFunction(owner: string, name: string): Promise<{ name: string; version: number }>
  /**
   * Validates and deploys a new version of a choreography (from any peer). Rejects with
   * `bad-request` whose `details.errors` lists every problem (`{ path, code, message }`).
   */
  deployChoreography(request: DeployChoreographyRequest): Promise<DeployedChoreography>
  /** The owner's choreographies; rejects `unknown-owner` for an owner with no definitions. */
  choreographies(owner: string): Promise<ChoreographyView[]>
  /** One choreography; rejects `unknown-choreography` when there is none. */
  choreography(owner: string, name: string): Promise<ChoreographyView>
  /** Deletes a choreography; rejects `unknown-choreography` when there is none. */
  deleteChoreography(owner: string, name: string): Promise<{ name: string; version: number }>
  /** Runs (or queues) a choreography invocation from any peer; answers like `invoke`. */
  invokeChoreography(request: InvokeChoreographyRequest): Promise<InvocationView>
  /** Subscribes to peer events; returns the unsubscribe function. */
  onEvent(listener: (event: PeerEvent) => void): () => void
  /** Prometheus text exposition of this peer's metrics. */
  metricsText(): Promise<string>
}

export type { ChorusError }
