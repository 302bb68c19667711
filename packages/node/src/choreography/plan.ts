/**
 * A validated choreography, compiled for running: a flat array of nodes in pre-order
 * (`nodes[0]` is the root), conditions and paths parsed. Plain JSON, and rebuilt
 * identically from `source` by `validateChoreography`, which is how a run's snapshot
 * carries it.
 */
import type { ConditionNode } from './condition.js'
import type { StepKind } from './definition.js'
import type { JsonPath } from './json-path.js'

/** What a plan was compiled from: enough to compile it again, without any other definition. */
export interface PlanSource {
  readonly name: string
  /** The root step, as deployed. */
  readonly definition: unknown
  /** The definitions of the choreographies it references, directly or not, by name. */
  readonly nested: Readonly<Record<string, unknown>>
}

interface NodeBase {
  readonly id: number
  readonly kind: StepKind
  /**
   * Where the step is: a JSON pointer into the definition (`/definition/sequence/2`); a
   * referenced choreography's steps are under its step's path plus `/choreography`
   * (`/definition/sequence/1/choreography/definition/map`).
   */
  readonly path: string
  /** `path` less the parent's path (`/sequence/2`); '' for the root. */
  readonly rel: string
  /** 1 for the root. */
  readonly depth: number
  readonly parent: number | null
  readonly name?: string
  readonly retries: number
  readonly timeoutMs: number | null
  /** Sub-steps in definition order; see each kind. */
  readonly children: readonly number[]
}

export interface TaskNode extends NodeBase {
  readonly kind: 'task'
  readonly fn: string
}

export interface SequenceNode extends NodeBase {
  readonly kind: 'sequence'
}

export interface ParallelNode extends NodeBase {
  readonly kind: 'parallel'
}

/** `children` is the one step run for every item. */
export interface MapNode extends NodeBase {
  readonly kind: 'map'
  readonly items: JsonPath
  readonly maxConcurrency: number
}

/** `children` holds each branch's `then`, then `otherwise` if there is one. */
export interface ChoiceNode extends NodeBase {
  readonly kind: 'choice'
  readonly branches: readonly { readonly when: string; readonly condition: ConditionNode }[]
  readonly otherwise: boolean
}

/** `children` is the referenced choreography's root step. */
export interface ChoreographyNode extends NodeBase {
  readonly kind: 'choreography'
  readonly choreography: string
}

export type PlanNode =
  TaskNode | SequenceNode | ParallelNode | MapNode | ChoiceNode | ChoreographyNode

export interface ChoreographyPlan {
  readonly name: string
  readonly source: PlanSource
  readonly nodes: readonly PlanNode[]
}
