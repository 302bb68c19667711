/**
 * Another peer's worker as a provider-like dispatcher: acquiring the lease is the
 * `execute` request itself (RemoteWorkers.dispatch), and its answer is the lease, `busy`
 * or ready with every invocation's outcome, which each run then gives back. So a remote
 * dispatch is answered the same way as a local one.
 */
import type { ExecuteAnswer, RemoteWorkers } from './remote-worker.js'
import { ChorusError } from '../errors.js'
import { messageOf, neverStarted, type Dispatcher, type ProviderLease } from './provider.js'

/** How long a remote dispatch may run when its provider gives no spec. */
export const DEFAULT_REMOTE_TIMEOUT_MS = 60_000

/** What sends a dispatch to another peer's worker. */
export type RemoteDispatch = Pick<RemoteWorkers, 'dispatch'>

/**
 * The dispatcher of (owner, provider)'s dispatches placed on other peers' workers;
 * `timeoutMs` is the function's own deadline. A dispatch that never reached the worker is
 * refused like a busy one (the scheduler walks on); one that may have started there and got
 * no answer fails its invocations as `peer-unreachable` (or `timeout`), never as the
 * function's fault, and is not sent again unless the function allows retries (delivery is
 * at most once by default).
 */
export function remoteDispatcher(
  remote: RemoteDispatch | undefined,
  owner: string,
  provider: string,
  timeoutMs: (fn: string) => number,
): Dispatcher {
  return async (dispatch, signals) => {
    const { worker, fn } = dispatch
    let answer: ExecuteAnswer
    try {
      if (remote === undefined) throw new Error('this peer cannot dispatch to other peers')
      answer = await remote.dispatch(worker, owner, provider, dispatch, signals, timeoutMs(fn))
    } catch (err) {
      const message = `worker ${worker} did not answer: ${messageOf(err)}`
      // Nothing ran there: walk on to another worker, the attempt uncounted.
      if (neverStarted(err)) return { type: 'busy', message }
      const code =
        err instanceof ChorusError && err.code === 'timeout' ? 'timeout' : 'peer-unreachable'
      throw new ChorusError(code, message)
    }
    return answerLease(answer)
  }
}

/** A remote worker's answer as a lease: its runs give the outcomes it brought. */
export function answerLease(answer: ExecuteAnswer): ProviderLease {
  if (answer.type === 'busy') return answer
  const { outcomes } = answer
  return {
    type: 'ready',
    run: (index) => {
      const outcome = outcomes[index]
      if (outcome?.status === 'succeeded') return Promise.resolve(outcome.output)
      return Promise.reject(new Error(outcome?.error ?? 'no outcome'))
    },
  }
}
