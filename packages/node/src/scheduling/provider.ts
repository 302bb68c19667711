/**
 * The contract between a scheduler and what runs its dispatches: a provider gives the
 * spec of each function it runs, and for each dispatch a lease (or `busy`) whose runs
 * answer the dispatch's invocations one by one. Every provider in `providers/` implements
 * it; the remote worker is a provider-like dispatcher of the same shape.
 */
import type {
  DispatchedInvocation,
  FailureCode,
  FunctionSpec,
  SchedulerEffect,
} from '@chorus/scheduler-core'
import type { RunTrace } from '../choreography/index.js'
import { ChorusError } from '../errors.js'

export type DispatchEffect = Extract<SchedulerEffect, { type: 'dispatch' }>

/**
 * How a provider's functions run on this peer's worker. `spec` is asked on every submit, so
 * a redeploy (a new `version`) is registered before its first invocation is queued.
 */
export interface ProviderRuntime {
  /** The scheduler spec of `owner`'s function `fn` as deployed now, or undefined if there is none. */
  spec(owner: string, fn: string): FunctionSpec | undefined
  /**
   * Takes what a dispatch needs on the worker (a host slot per invocation): `busy` when the
   * worker cannot take it now (the scheduler walks on). Rejects when the dispatch can never
   * run (its code does not load): its invocations fail with the message.
   */
  acquire(owner: string, dispatch: DispatchEffect): Promise<ProviderLease>
  /** What an invocation's view shows beyond its status: a choreography run's trace. */
  trace?(id: string): RunTrace | undefined
}

export type ProviderLease =
  | { readonly type: 'busy'; readonly message: string }
  | {
      readonly type: 'ready'
      /**
       * Runs the dispatch's `index`th invocation on its slot and gives the slot back (at once,
       * without running, when `signal` has already aborted).
       */
      run(index: number, id: string, input: unknown, signal: AbortSignal): Promise<unknown>
    }

export type ReadyLease = Extract<ProviderLease, { type: 'ready' }>

/** How one invocation of a dispatch ended, as its scheduler (or a remote one) is told. */
export type InvocationOutcome =
  | { readonly status: 'succeeded'; readonly output: unknown }
  | { readonly status: 'failed'; readonly error: string; readonly code?: FailureCode }

/**
 * Where a dispatch runs, seen from the scheduler: it acquires the dispatch's lease, given
 * the signal of each invocation (aborted when the scheduler gives up on it). A local
 * provider's `acquire`, or a remote worker's `execute` request.
 */
export type Dispatcher = (
  dispatch: DispatchEffect,
  signals: readonly AbortSignal[],
) => Promise<ProviderLease>

/** Runs the `index`th invocation on a ready lease: its outcome (this never rejects). */
export async function runOnLease(
  lease: ReadyLease,
  index: number,
  invocation: Pick<DispatchedInvocation, 'id' | 'input'>,
  signal: AbortSignal,
): Promise<InvocationOutcome> {
  try {
    const output = await lease.run(index, invocation.id, invocation.input, signal)
    return { status: 'succeeded', output }
  } catch (err) {
    return failedOutcome(err)
  }
}

export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}

/**
 * The failed outcome of what `err` ended: a network fault (`peer-unreachable`) or a
 * deadline (`timeout`) says so, so that a user's function is never reported as having
 * failed for either; anything else is the function's (`function-error`, the default).
 */
export function failedOutcome(err: unknown): InvocationOutcome {
  const error = messageOf(err)
  if (err instanceof ChorusError && (err.code === 'peer-unreachable' || err.code === 'timeout')) {
    return { status: 'failed', error, code: err.code }
  }
  return { status: 'failed', error }
}

/**
 * Whether `err`, from sending a dispatch to another peer, proves nothing of it started
 * there: the message never left (`details.sent === false`), or the worker refused it as it
 * stops. Then the dispatch can walk on to another worker like a busy refusal.
 */
export function neverStarted(err: unknown): boolean {
  return err instanceof ChorusError && (err.details?.sent === false || err.code === 'shutting-down')
}
