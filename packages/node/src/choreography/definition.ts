/**
 * The choreography definition language as TypeScript types: what `POST
 * /v1/owners/{owner}/choreographies` takes (as JSON) and `validateChoreography` checks.
 * README.md in this folder describes it with examples.
 */

/** Fields every step may have. */
export interface StepOptions {
  /** Shown in traces next to the step's path. */
  readonly name?: string
  /** Attempts after the first one fails (0 by default, at most 10). */
  readonly retries?: number
  /** Bounds each attempt of the step, its whole sub-tree for a composite step. */
  readonly timeoutMs?: number
}

/** Calls a function of the same owner with the step's input; its output is the step's. */
export interface TaskStepDefinition extends StepOptions {
  readonly function: string
}

/** Runs steps one after the other, each on the previous one's output. */
export interface SequenceStepDefinition extends StepOptions {
  readonly sequence: readonly StepDefinition[]
}

/** Runs steps side by side on the same input; the output is the array of their outputs. */
export interface ParallelStepDefinition extends StepOptions {
  readonly parallel: readonly StepDefinition[]
}

/** Runs a step on every element of an array; the output is the array of their outputs. */
export interface MapStepDefinition extends StepOptions {
  readonly map: StepDefinition
  /** Where the array is in the input (a JSON path, `$` by default). */
  readonly items?: string
  /** Items running at once (16 by default, at most 1000). */
  readonly maxConcurrency?: number
}

/** One branch of a choice: `then` runs when `when` holds on the input. */
export interface ChoiceBranchDefinition {
  readonly when: string
  readonly then: StepDefinition
}

/** Runs the first branch whose condition holds, else `otherwise`, else fails. */
export interface ChoiceStepDefinition extends StepOptions {
  readonly choice: readonly ChoiceBranchDefinition[]
  readonly otherwise?: StepDefinition
}

/** Runs another choreography of the same owner, by name, as one step. */
export interface ChoreographyStepDefinition extends StepOptions {
  readonly choreography: string
}

export type StepDefinition =
  | TaskStepDefinition
  | SequenceStepDefinition
  | ParallelStepDefinition
  | MapStepDefinition
  | ChoiceStepDefinition
  | ChoreographyStepDefinition

/** A whole choreography, as deployed. */
export interface ChoreographyDefinition {
  readonly name: string
  readonly definition: StepDefinition
}

/** The field that says what kind a step is; exactly one per step. */
export const STEP_KIND_FIELDS = [
  'function',
  'sequence',
  'parallel',
  'map',
  'choice',
  'choreography',
] as const

export type StepKindField = (typeof STEP_KIND_FIELDS)[number]

/** A step's kind as plans and traces name it (`function` steps are tasks). */
export type StepKind = 'task' | Exclude<StepKindField, 'function'>
