/**
 * The provider `choreography`: a choreography invocation is an invocation of the owner's
 * (owner, choreography) scheduler, so it is routed, queued, held to the owner's limit,
 * answered and looked up like any other. Where that scheduler lives, its "run" drives a
 * ChoreographyRun: each `invoke` effect becomes an invocation of the step's function,
 * routed to that function's (owner, provider) scheduler (which places it on any peer's
 * worker); outcomes and deadlines are fed back until the run is done. The run's trace is
 * what `GET /v1/invocations/{id}` shows, while it runs and after.
 */
import type { FunctionSpec } from '@chorus/scheduler-core'
import { background } from '../../background.js'
import { BoundedMap } from '../../bounded-map.js'
import {
  ChoreographyRun,
  validateChoreography,
  type RunEffect,
  type RunEvent,
  type RunTrace,
  type ValidationContext,
} from '../../choreography/index.js'
import { DeadlineTimer } from '../../deadline-timer.js'
import type { DefinitionReplicator } from '../../definitions/index.js'
import { ChorusError } from '../../errors.js'
import { silentLogger, type Logger } from '../../observability/logger.js'
import type { InvocationView } from '../../peer-api.js'
import type { DispatchEffect, ProviderLease, ProviderRuntime } from '../provider.js'

export const CHOREOGRAPHY_PROVIDER = 'choreography'

/** The scheduler's backstop for a whole run; steps carry their own timeouts. */
const RUN_BACKSTOP_MS = 24 * 60 * 60_000
/** Runs in one scheduler at once (its owner limit applies first). */
const RUNS_PER_HOST = 10_000
const TRACES_KEPT = 10_000

export interface ChoreographyProviderInit {
  readonly definitions: Pick<DefinitionReplicator, 'getChoreography' | 'getFunction'>
  /** Invokes a step's function as the owner (routed to its scheduler) and waits for it. */
  readonly invokeStep: (
    owner: string,
    fn: string,
    input: unknown,
    signal: AbortSignal,
  ) => Promise<InvocationView>
  /** Wall-clock milliseconds: trace times are shown to people. */
  readonly now: () => number
  /** Default silent; the provider logs as `scheduling:providers:choreography`. */
  readonly log?: Logger
}

export class ChoreographyProvider implements ProviderRuntime {
  readonly #init: ChoreographyProviderInit
  readonly #log: Logger
  readonly #live = new Map<string, ChoreographyRun>()
  readonly #traces = new BoundedMap<string, RunTrace>(TRACES_KEPT)

  constructor(init: ChoreographyProviderInit) {
    this.#init = init
    this.#log = (init.log ?? silentLogger()).child({
      component: 'scheduling:providers:choreography',
    })
  }

  spec(owner: string, name: string): FunctionSpec | undefined {
    const def = this.#init.definitions.getChoreography(owner, name)
    if (def === undefined) return undefined
    return {
      name,
      version: def.revision,
      memoryMb: 1,
      concurrency: RUNS_PER_HOST,
      timeoutMs: RUN_BACKSTOP_MS,
    }
  }

  acquire(owner: string, dispatch: DispatchEffect): Promise<ProviderLease> {
    return Promise.resolve({
      type: 'ready',
      run: (_index, id, input, signal) => this.#run(owner, dispatch.fn, id, input, signal),
    })
  }

  /** The trace of a run that runs here or ran here lately. */
  trace(id: string): RunTrace | undefined {
    return this.#live.get(id)?.trace() ?? this.#traces.get(id)
  }

  /** Drives one run to its outcome: the output, or a rejection with the failed step. */
  #run(
    owner: string,
    name: string,
    id: string,
    input: unknown,
    signal: AbortSignal,
  ): Promise<unknown> {
    const { definitions, now } = this.#init
    if (signal.aborted) {
      return Promise.reject(new ChorusError('timeout', `choreography run ${id} was stopped`))
    }
    const def = definitions.getChoreography(owner, name)
    if (def === undefined) {
      return Promise.reject(
        new ChorusError('unknown-choreography', `no choreography ${name} for ${owner}`),
      )
    }
    // Checked again: a function it calls may have been deleted since it was deployed.
    const checked = validateChoreography(
      { name, definition: def.definition },
      validationContext(definitions, owner),
    )
    if (!checked.ok) {
      const problems = checked.errors.map((e) => `${e.path}: ${e.message}`).join('; ')
      return Promise.reject(
        new ChorusError('bad-request', `choreography ${name} cannot run: ${problems}`),
      )
    }
    const run = new ChoreographyRun(checked.plan, { id })
    this.#live.set(id, run)
    const steps = new Map<string, AbortController>()
    const timer = new DeadlineTimer(() => handle({ type: 'tick' }))
    let resolve!: (output: unknown) => void
    let reject!: (error: ChorusError) => void
    const promise = new Promise<unknown>((ok, fail) => {
      resolve = ok
      reject = fail
    })

    let finished = false
    const finish = (): void => {
      finished = true
      timer.clear()
      signal.removeEventListener('abort', onAbort)
      for (const step of steps.values()) step.abort()
      steps.clear()
      this.#traces.set(id, run.trace())
      if (this.#live.get(id) === run) this.#live.delete(id)
    }
    const carryOut = (effects: readonly RunEffect[]): void => {
      for (const effect of effects) {
        switch (effect.type) {
          case 'invoke':
            startStep(effect.taskId, effect.fn, effect.input)
            break
          case 'cancel':
            // The step's invocation runs on; its late answer is ignored by the run.
            steps.get(effect.taskId)?.abort()
            steps.delete(effect.taskId)
            break
          case 'done':
            finish()
            if (effect.status === 'succeeded') resolve(effect.output)
            else {
              reject(
                new ChorusError(
                  'bad-request',
                  `step ${effect.error.step} failed (${effect.error.code}): ${effect.error.message}`,
                ),
              )
            }
            return
          case 'rejected':
            this.#log.warn(
              { run: id, reason: effect.reason },
              `the choreography run rejected an event: ${effect.message}`,
            )
            break
        }
      }
      timer.arm(run.nextDeadline(), now())
    }
    const handle = (event: RunEvent): void => {
      if (finished) return
      carryOut(run.handle(event, now()))
    }
    const startStep = (taskId: string, fn: string, stepInput: unknown): void => {
      const controller = new AbortController()
      steps.set(taskId, controller)
      background(
        async () => {
          let view: InvocationView
          try {
            view = await this.#init.invokeStep(owner, fn, stepInput, controller.signal)
          } catch (err) {
            steps.delete(taskId)
            const error = err instanceof Error ? err.message : String(err)
            handle({ type: 'task-failed', taskId, error })
            return
          }
          steps.delete(taskId)
          if (view.status === 'succeeded') {
            handle({ type: 'task-completed', taskId, output: view.output, ...at(view) })
          } else {
            const error = view.error?.message ?? `the invocation ended ${view.status}`
            handle({ type: 'task-failed', taskId, error, ...at(view) })
          }
        },
        (err) => this.#log.error({ err, run: id, step: taskId }, 'bug: a step threw'),
      )
    }
    const onAbort = (): void => {
      if (finished) return
      finish()
      reject(new ChorusError('timeout', `choreography run ${id} was stopped`))
    }
    signal.addEventListener('abort', onAbort, { once: true })
    carryOut(run.start(input, now()))
    return promise
  }
}

/** What validating one of `owner`'s choreographies needs: its functions and choreographies. */
export function validationContext(
  definitions: Pick<DefinitionReplicator, 'getChoreography' | 'getFunction'>,
  owner: string,
): ValidationContext {
  return {
    functionExists: (fn) => definitions.getFunction(owner, fn) !== undefined,
    choreography: (other) => definitions.getChoreography(owner, other)?.definition,
  }
}

function at(view: InvocationView): { peerId?: string } {
  return view.peerId === undefined ? {} : { peerId: view.peerId }
}
