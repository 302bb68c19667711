/**
 * Choreographies: the definition language, its validation, and the pure state machine of
 * one invocation. The shell (the owner's scheduler host) carries the run's effects out.
 *
 *     const result = validateChoreography(
 *       { name: 'thumbs', definition: { map: { function: 'resize' }, items: '$.images' } },
 *       { functionExists: (fn) => fn === 'resize' },
 *     )
 *     if (!result.ok) throw new Error(result.errors.map((e) => `${e.path}: ${e.message}`).join('\n'))
 *     const run = new ChoreographyRun(result.plan, { id: 'inv-1' })
 *     run.start({ images: ['a.png', 'b.png'] }, 0)
 *     // [{ type: 'invoke', taskId: 'inv-1/t1', stepPath: '/definition/map[0]', fn: 'resize', input: 'a.png', attempt: 1 },
 *     //  { type: 'invoke', taskId: 'inv-1/t2', stepPath: '/definition/map[1]', fn: 'resize', input: 'b.png', attempt: 1 }]
 *     run.handle({ type: 'task-completed', taskId: 'inv-1/t1', output: 'a.webp', peerId: 'p1' }, 30)
 *     run.handle({ type: 'task-completed', taskId: 'inv-1/t2', output: 'b.webp', peerId: 'p2' }, 35)
 *     // [{ type: 'done', status: 'succeeded', output: ['a.webp', 'b.webp'] }]
 *
 * See README.md in this folder for the language and its semantics.
 */
export {
  ChoreographyRun,
  type ChoreographyRunOptions,
  type HandledRunEvent,
} from './choreography-run.js'
export {
  evaluateCondition,
  parseCondition,
  type CompareOp,
  type ConditionNode,
} from './condition.js'
export type * from './definition.js'
export { STEP_KIND_FIELDS } from './definition.js'
export {
  ChoreographyTextError,
  ConditionSyntaxError,
  InvalidRunOptionsError,
  InvalidRunSnapshotError,
  JsonPathSyntaxError,
} from './errors.js'
export {
  ROOT_PATH,
  parseJsonPath,
  resolveJsonPath,
  type JsonPath,
  type JsonPathSegment,
} from './json-path.js'
export * from './limits.js'
export { MAX_CHOREOGRAPHY_TEXT, parseChoreographyText } from './parse-choreography-text.js'
export type * from './plan.js'
export type * from './run-effect.js'
export type * from './run-event.js'
export {
  RUN_SNAPSHOT_FORMAT,
  type FrameState,
  type RunSnapshot,
  type TaskRunState,
} from './run-snapshot.js'
export type * from './run-trace.js'
export { choreographyNameProblem } from '../names.js'
export {
  validateChoreography,
  type ValidationContext,
  type ValidationError,
  type ValidationErrorCode,
  type ValidationResult,
} from './validate-choreography.js'
