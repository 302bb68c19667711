/**
 * The one way a scheduler's dispatch runs, wherever it is placed: acquire its lease from
 * the dispatcher (this peer's provider, or another peer's worker), then
 * - `busy`: nothing runs, and the scheduler is told to walk on (`refused`);
 * - a rejection: the dispatch can never run, and each invocation fails with its message
 *   (as `peer-unreachable` or `timeout` when it says so, never as the function's fault);
 * - ready: each invocation runs on its slot, and its outcome is answered as it comes.
 * Every invocation has an abort controller from the start, so a `cancel` effect reaches it
 * whether it is being acquired or already running.
 */
import type { SchedulerEvent } from '@chorus/scheduler-core'
import { background } from '../background.js'
import type { Logger } from '../observability/logger.js'
import {
  failedOutcome,
  runOnLease,
  type DispatchEffect,
  type Dispatcher,
  type InvocationOutcome,
} from './provider.js'

/** Where a dispatch's answers go: the scheduler that placed it. */
export interface DispatchAnswers {
  /** An invocation's outcome, as the event to feed its scheduler. */
  answered(event: SchedulerEvent): void
  /** The worker was busy: nothing ran. */
  refused(message: string): void
}

export interface DispatchRunnerInit {
  /** Called as an invocation starts running on this peer's worker. */
  readonly onExecute?: (fn: string) => void
  readonly log: Logger
}

export class DispatchRunner {
  readonly #init: DispatchRunnerInit
  /** Invocations being acquired or run, by id. */
  readonly #running = new Map<string, AbortController>()

  constructor(init: DispatchRunnerInit) {
    this.#init = init
  }

  /** Whether invocation `id` is being acquired or run. */
  isRunning(id: string): boolean {
    return this.#running.has(id)
  }

  /**
   * Runs `dispatch` through `dispatcher`, answering `to`. `local`: it runs on this peer's
   * worker (and counts as an execution here).
   */
  run(dispatch: DispatchEffect, dispatcher: Dispatcher, to: DispatchAnswers, local: boolean): void {
    const controllers = dispatch.invocations.map((inv) => {
      const controller = new AbortController()
      this.#running.set(inv.id, controller)
      return controller
    })
    const answer = (index: number, outcome: InvocationOutcome): void => {
      const inv = dispatch.invocations[index]
      const controller = controllers[index]
      if (inv === undefined || controller === undefined) return
      this.#done(inv.id, controller)
      to.answered(
        outcome.status === 'succeeded'
          ? {
              type: 'invocation-completed',
              invocationId: inv.id,
              attempt: inv.attempt,
              output: outcome.output,
            }
          : {
              type: 'invocation-failed',
              invocationId: inv.id,
              attempt: inv.attempt,
              error: outcome.error,
              ...(outcome.code === undefined ? {} : { code: outcome.code }),
            },
      )
    }
    background(
      async () => {
        let lease: Awaited<ReturnType<Dispatcher>>
        try {
          lease = await dispatcher(
            dispatch,
            controllers.map((c) => c.signal),
          )
        } catch (err) {
          const outcome = failedOutcome(err)
          dispatch.invocations.forEach((_, i) => answer(i, outcome))
          return
        }
        if (lease.type === 'busy') {
          dispatch.invocations.forEach((inv, i) => this.#done(inv.id, controllers[i]))
          to.refused(lease.message)
          return
        }
        dispatch.invocations.forEach((inv, i) => {
          const signal = (controllers[i] as AbortController).signal
          if (local) this.#init.onExecute?.(dispatch.fn)
          background(
            async () => answer(i, await runOnLease(lease, i, inv, signal)),
            (err) => this.#bug(`answering ${inv.id}`, err),
          )
        })
      },
      (err) => this.#bug(`running a dispatch of ${dispatch.fn} on ${dispatch.worker}`, err),
    )
  }

  /** Stops these invocations (their scheduler gave up on them). */
  cancel(ids: readonly string[]): void {
    for (const id of ids) this.#running.get(id)?.abort()
  }

  /** Stops everything (the peer stops); late answers still reach their schedulers. */
  stop(): void {
    for (const controller of this.#running.values()) controller.abort()
    this.#running.clear()
  }

  #done(id: string, controller: AbortController | undefined): void {
    if (controller !== undefined && this.#running.get(id) === controller) this.#running.delete(id)
  }

  /** A handler that threw where it cannot: a bug here, logged with its stack. */
  #bug(what: string, err: unknown): void {
    this.#init.log.error({ err }, `bug: ${what} threw`)
  }
}
