/**
 * @packageDocumentation
 *
 * The pure, deterministic scheduler of one capacity shard of one (owner, provider):
 * a priority queue, a capacity ledger, OpenWhisk's hash-affinity placement and a
 * warm-aware bounded-load policy, a warm-host table, preemption, batching, and
 * snapshots that migration carries. Events in, effects out; no clock, no
 * randomness of its own, no I/O.
 *
 * @example
 * ```ts
 * import { OwnerScheduler, seededRng } from '@chorus/scheduler-core'
 *
 * const s = new OwnerScheduler({ owner: 'acme', provider: 'mesh', capacity: 10 }, { rng: seededRng(1) })
 * s.handle({ type: 'worker-joined', workerId: 'w1', memoryMb: 2048 }, 0)
 * s.handle({ type: 'function-registered', spec: { name: 'resize', memoryMb: 256 } }, 0)
 * const [dispatch] = s.handle({ type: 'invocation-submitted', invocation: { id: 'i1', fn: 'resize' } }, 1)
 * // { type: 'dispatch', worker: 'w1', coldStart: true, invocations: [{ id: 'i1', attempt: 1, ... }], ... }
 * s.handle({ type: 'invocation-completed', invocationId: 'i1', attempt: 1, output: 'ok' }, 5)
 * // [{ type: 'result', invocationId: 'i1', status: 'succeeded', output: 'ok', attempts: 1, preemptions: 0 }]
 * const wakeAt = s.nextDeadline() // when the idle host will be reaped
 * ```
 */
export { OwnerScheduler } from './owner-scheduler.js'
export type {
  OwnerSchedulerDeps,
  HandledEvent,
  InvocationProgress,
  WorkerView,
} from './owner-scheduler.js'
export { CONFIG_DEFAULTS, isValidCapacity, resolveConfig } from './config.js'
export type { OwnerSchedulerConfig, ResolvedConfig } from './config.js'
export {
  FAILURE_CODES,
  type FailureCode,
  type InvocationRequest,
  type Priority,
  type SchedulerEvent,
  type SchedulerEventType,
} from './events.js'
export type {
  DispatchedInvocation,
  ErrorCode,
  RejectionReason,
  SchedulerEffect,
  SchedulerEffectType,
} from './effects.js'
export { FUNCTION_DEFAULTS, resolveFunctionSpec } from './function-spec.js'
export type { FunctionBatch, FunctionSpec, ResolvedFunctionSpec } from './function-spec.js'
export {
  WORKER_HEALTH_STATES,
  WorkerPermits,
  homeAndStep,
  invocationHash,
  javaHash,
  pairwiseCoprimeNumbersUntil,
  randomUsableWorker,
  schedule,
  walkForWorker,
} from './openwhisk-placement.js'
export type { OpenWhiskRequest, OpenWhiskWorker, WorkerHealth } from './openwhisk-placement.js'
export {
  PLACEMENT_POLICIES,
  loadBound,
  placeLeastLoaded,
  placeOpenWhisk,
  placeRandom,
  placeWarmBounded,
} from './placement.js'
export type {
  PlacementDecision,
  PlacementPolicy,
  PlacementRequest,
  PlacementView,
} from './placement.js'
export { seededRng } from './rng.js'
export type { Rng, SeededRng } from './rng.js'
export { SNAPSHOT_FORMAT } from './snapshot.js'
export type { InvocationSnapshot, SchedulerSnapshot } from './snapshot.js'
export { ARRIVAL_RATE_WINDOW_MS } from './summary.js'
export type { SchedulerSummary } from './summary.js'
export { InvalidConfigError, InvalidSnapshotError } from './errors.js'
export { IndexedHeap } from './indexed-heap.js'
export { Deque } from './deque.js'
