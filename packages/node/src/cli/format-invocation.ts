/** An invocation as `chorus invoke` and `chorus status` print it, with a choreography's steps. */
import type { RunTrace, StepTrace } from '../choreography/run-trace.js'
import type { InvocationView } from '../peer-api.js'
import { formatJson, shortPeerId } from './format.js'
import { formatPairs, formatTable } from './format-table.js'

/**
 * `id`, `status`, `peer`, `attempts`, `preemptions`, `output` / `error` lines, then the step
 * table when there is a trace.
 */
export function formatInvocation(view: InvocationView): string {
  const pairs: [string, string][] = [
    ['id', view.id],
    ['status', view.status],
  ]
  if (view.peerId !== undefined) pairs.push(['peer', view.peerId])
  // A preempted invocation started over: say so, or its time and repeated side effects puzzle.
  if (view.attempts !== undefined) pairs.push(['attempts', String(view.attempts)])
  if (view.preemptions !== undefined) pairs.push(['preemptions', String(view.preemptions)])
  if (view.output !== undefined) pairs.push(['output', formatJson(view.output)])
  if (view.error !== undefined) pairs.push(['error', `${view.error.code}: ${view.error.message}`])
  const trace = isTrace(view.trace) ? `\n${formatTrace(view.trace)}` : ''
  return formatPairs(pairs) + trace
}

/**
 * A run's steps, one line each, depth first: the step's name, else its path (relative to its
 * parent's, indented under it), its status, how long it took and the peer its task last ran on.
 */
export function formatTrace(trace: RunTrace): string {
  const rows: string[][] = []
  const visit = (step: StepTrace, parent: StepTrace | undefined, depth: number): void => {
    const relative =
      parent !== undefined && step.path.startsWith(`${parent.path}/`)
        ? step.path.slice(parent.path.length + 1)
        : step.path
    let label = step.name ?? relative
    const target = step.fn ?? step.choreography
    if (target !== undefined && target !== step.name) label += ` (${target})`
    const notes: string[] = []
    if (step.attempts > 1) notes.push(`${step.attempts} attempts`)
    if (step.status === 'failed' && step.error !== undefined) notes.push(step.error.code)
    const ms =
      typeof step.startedAt === 'number' && typeof step.endedAt === 'number'
        ? String(step.endedAt - step.startedAt)
        : ''
    const peer = step.tasks?.at(-1)?.peerId
    rows.push([
      `${'  '.repeat(depth)}${label}`,
      notes.length === 0 ? step.status : `${step.status} (${notes.join(', ')})`,
      ms,
      peer === undefined ? '' : shortPeerId(peer),
    ])
    for (const child of step.children ?? []) {
      if (isStep(child)) visit(child, step, depth + 1)
    }
  }
  visit(trace.root, undefined, 0)
  return formatTable(['STEP', 'STATUS', 'MS', 'PEER'], rows, ['left', 'left', 'right'])
}

function isTrace(value: unknown): value is RunTrace {
  return typeof value === 'object' && value !== null && isStep((value as RunTrace).root)
}

function isStep(value: unknown): value is StepTrace {
  return (
    typeof value === 'object' && value !== null && typeof (value as StepTrace).path === 'string'
  )
}
