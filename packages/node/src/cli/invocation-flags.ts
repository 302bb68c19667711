/**
 * What `chorus invoke` and `chorus choreography invoke` share: their flags, how those become
 * the SDK's submit options, and how the answer is printed.
 */
import type { InvocationHandle, SubmitOptions } from '../client/index.js'
import type { InvocationView } from '../peer-api.js'
import { formatInvocation } from './format-invocation.js'
import { formatPairs } from './format-table.js'
import { EXIT, messageOf, printJson, UsageError, type CliIo } from './io.js'

export const INVOKE_FLAGS = {
  input: { type: 'string' },
  priority: { type: 'string' },
  qos: { type: 'string' },
  'no-wait': { type: 'boolean' },
  'idempotency-key': { type: 'string' },
} as const

export const INVOKE_FLAGS_HELP = `  --input JSON             the input, as JSON (default: none)
  --priority 0|1           0 runs first and may preempt 1 (default: the scheduler's, 1)
  --qos latency|cost       checked, no effect yet (one scheduler per owner and provider)
  --no-wait                answer as soon as the invocation is queued, with its id
  --idempotency-key KEY    retrying with the same key gets the same invocation
`

export interface InvokeFlagValues {
  readonly priority?: string | undefined
  readonly qos?: string | undefined
  readonly 'no-wait'?: boolean | undefined
  readonly 'idempotency-key'?: string | undefined
}

/** The submission the flags ask for; `input` is the input's JSON text, if any (`what` names it). */
export function submission(
  values: InvokeFlagValues,
  input: { readonly text: string | undefined; readonly what: string },
): { input: unknown; options: SubmitOptions & { wait: boolean } } {
  let parsed: unknown
  if (input.text !== undefined) {
    try {
      parsed = JSON.parse(input.text) as unknown
    } catch (err) {
      throw new UsageError(
        `${input.what} is not valid JSON (${messageOf(err)}); quote strings: '"text"'`,
      )
    }
  }
  let priority: 0 | 1 | undefined
  if (values.priority !== undefined) {
    if (values.priority !== '0' && values.priority !== '1') {
      throw new UsageError(
        `--priority must be 0 (high) or 1 (low), got ${JSON.stringify(values.priority)}`,
      )
    }
    priority = values.priority === '0' ? 0 : 1
  }
  const qos = values.qos
  if (qos !== undefined && qos !== 'latency' && qos !== 'cost') {
    throw new UsageError(`--qos must be latency or cost, got ${JSON.stringify(qos)}`)
  }
  const key = values['idempotency-key']
  return {
    input: parsed,
    options: {
      wait: values['no-wait'] !== true,
      ...(priority === undefined ? {} : { priority }),
      ...(qos === undefined ? {} : { qos }),
      ...(key === undefined ? {} : { idempotencyKey: key }),
    },
  }
}

/** Prints the peer's answer to a submit; exit code 1 when the invocation failed. */
export function printInvocation(
  io: CliIo,
  view: InvocationView,
  json: boolean,
  waited: boolean,
): number {
  if (json) printJson(io, view)
  else if (!waited) {
    io.stdout(
      formatPairs([
        ['id', view.id],
        ['status', view.status],
      ]),
    )
    io.stdout(`follow it with: chorus status ${view.id}\n`)
  } else io.stdout(formatInvocation(view))
  return view.status === 'failed' ? EXIT.failed : EXIT.ok
}

/** The peer's answer to the submit that made `handle` (one from `submit` always has it). */
export function submittedView(handle: InvocationHandle): InvocationView {
  if (handle.submitted === undefined) {
    throw new Error(`bug: the answer to submitting ${handle.id} was not kept`)
  }
  return handle.submitted
}
