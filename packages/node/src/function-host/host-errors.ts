/**
 * How a function host's failures reach the caller: always a `ChorusError` (errors.ts), whose
 * `details.reason` says precisely what happened, so the worker can tell a function's own
 * error from a host that was lost under it without parsing messages.
 */
import { ChorusError, type ChorusErrorCode } from '../errors.js'

export type HostFailureReason =
  /** The function threw or rejected; the host stays warm. */
  | 'function-error'
  /** The run passed its `timeoutMs`; its host was killed. */
  | 'timeout'
  /** The run's `signal` aborted it; its host was killed. */
  | 'aborted'
  /** Another run on the same host timed out or was aborted, so the host was killed under it. */
  | 'host-lost'
  /** The host process exited on its own (process.exit, an uncaught error, a signal). */
  | 'host-crashed'
  /** The host process died of V8's heap limit (`--max-old-space-size=<memoryMb>`). */
  | 'out-of-memory'
  /** `stop()` was called while the run was in flight. */
  | 'host-stopped'
  /** The run's output is over `maxOutputBytes`; the host stays warm. */
  | 'output-too-large'
  /** A `process` host answered something other than JSON; the host stays warm. */
  | 'bad-output'
  /** The host already runs `concurrency` invocations. */
  | 'at-capacity'
  /** The code did not load: a syntax error, a missing module, no such export. */
  | 'init-failed'
  /** The host could not be started (no such command, exited before listening, too slow). */
  | 'start-failed'

const CODES: { readonly [reason in HostFailureReason]: ChorusErrorCode } = {
  'function-error': 'internal',
  timeout: 'timeout',
  aborted: 'internal',
  'host-lost': 'internal',
  'host-crashed': 'internal',
  'out-of-memory': 'internal',
  'host-stopped': 'shutting-down',
  'output-too-large': 'internal',
  'bad-output': 'internal',
  'at-capacity': 'overloaded',
  'init-failed': 'internal',
  'start-failed': 'internal',
}

/** A ChorusError whose `details.reason` is `reason` (and whose code follows from it). */
export function hostError(
  reason: HostFailureReason,
  message: string,
  details: Record<string, unknown> = {},
): ChorusError {
  return new ChorusError(CODES[reason], message, { ...details, reason })
}

/** The reason of an error made by `hostError`, or undefined for any other value. */
export function hostFailureReason(err: unknown): HostFailureReason | undefined {
  if (!(err instanceof ChorusError)) return undefined
  const reason = err.details?.['reason']
  return typeof reason === 'string' && Object.hasOwn(CODES, reason)
    ? (reason as HostFailureReason)
    : undefined
}
