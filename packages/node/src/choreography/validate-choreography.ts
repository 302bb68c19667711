/**
 * Checks a choreography definition and compiles it into a plan. Every problem is reported
 * with a JSON pointer to the offending field, so a deploy can say exactly what is wrong:
 *
 *     validateChoreography(body, { functionExists: (fn) => functions.has(fn) })
 *     // { ok: false, errors: [{ path: '/definition/sequence/2/function',
 *     //                         code: 'unknown-function', message: 'unknown function "rsize"' }] }
 *
 * A `{ "choreography": "<name>" }` step runs another choreography of the owner; it is
 * expanded into the plan here, so a plan never changes under a running invocation and a
 * reference cycle (A → B → A, or A → A) is an error at the step that closes it.
 */
import { parseCondition, type ConditionNode } from './condition.js'
import { ConditionSyntaxError, JsonPathSyntaxError } from './errors.js'
import { STEP_KIND_FIELDS, type StepKind, type StepKindField } from './definition.js'
import { jsonTypeName } from './json-value.js'
import { ROOT_PATH, parseJsonPath, type JsonPath } from './json-path.js'
import {
  DEFAULT_MAP_CONCURRENCY,
  MAX_DEPTH,
  MAX_ERRORS,
  MAX_MAP_CONCURRENCY,
  MAX_NAME_LENGTH,
  MAX_RETRIES,
  MAX_STEPS,
  MAX_TIMEOUT_MS,
} from './limits.js'
import type { ChoreographyPlan, PlanNode, PlanSource } from './plan.js'
import { choreographyNameProblem, functionNameProblem } from '../names.js'

export type ValidationErrorCode =
  /** A field has the wrong JSON type. */
  | 'wrong-type'
  /** A required field is absent. */
  | 'missing-field'
  /** A field no step of this kind has (often a typo: `retires`). */
  | 'unknown-field'
  /** A number is out of its range (negative retries, a zero timeout, ...). */
  | 'out-of-range'
  /** A step has none of the kind fields (`function`, `sequence`, ...) or more than one. */
  | 'unknown-kind'
  /** An empty `sequence`, `parallel` or `choice`. */
  | 'empty'
  /** A malformed choreography, function or step name. */
  | 'bad-name'
  | 'unknown-function'
  | 'unknown-choreography'
  /** A choreography that runs itself, directly or through others. */
  | 'cycle'
  | 'bad-path'
  | 'bad-condition'
  | 'too-deep'
  | 'too-large'
  | 'too-many-errors'

export interface ValidationError {
  /** JSON pointer to the offending field of the definition given (`/definition/sequence/2/function`). */
  readonly path: string
  readonly code: ValidationErrorCode
  readonly message: string
}

export type ValidationResult =
  | { readonly ok: true; readonly plan: ChoreographyPlan }
  | { readonly ok: false; readonly errors: readonly ValidationError[] }

/** What validation needs to know of the owner's other definitions. */
export interface ValidationContext {
  /** Whether the owner has a function of this name. */
  functionExists(name: string): boolean
  /**
   * The `definition` (the root step) of the owner's choreography of this name, or undefined.
   * Without it, choreography steps can only name choreographies that do not exist.
   */
  choreography?(name: string): unknown
}

/** Validates a choreography (`{ name, definition }`, as parsed from JSON) and compiles it. */
export function validateChoreography(
  choreography: unknown,
  context: ValidationContext,
): ValidationResult {
  return new Validator(context).run(choreography)
}

const COMMON_FIELDS = ['name', 'retries', 'timeoutMs'] as const
const KIND_FIELDS: Readonly<Record<StepKindField, readonly string[]>> = {
  function: [],
  sequence: [],
  parallel: [],
  map: ['items', 'maxConcurrency'],
  choice: ['otherwise'],
  choreography: [],
}

/** A plan node while it is being built: every kind's fields, filled in as they are checked. */
interface NodeDraft {
  id: number
  kind: StepKind
  path: string
  rel: string
  depth: number
  parent: number | null
  name?: string
  retries: number
  timeoutMs: number | null
  children: number[]
  fn?: string
  items?: JsonPath
  maxConcurrency?: number
  branches?: { when: string; condition: ConditionNode }[]
  otherwise?: boolean
  choreography?: string
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function pointer(base: string, key: string | number): string {
  return `${base}/${String(key).replaceAll('~', '~0').replaceAll('/', '~1')}`
}

class Validator {
  readonly #context: ValidationContext
  /** Where errors go: the top one is the document being checked (the root, or a nested one). */
  readonly #sinks: ValidationError[][] = [[]]
  readonly #nodes: NodeDraft[] = []
  readonly #nested = new Map<string, unknown>()
  /** The choreographies being expanded, outermost first: a repeat is a cycle. */
  readonly #stack: string[] = []
  #root: { name: string; definition: unknown } | undefined
  #steps = 0
  #full = false

  constructor(context: ValidationContext) {
    this.#context = context
  }

  run(choreography: unknown): ValidationResult {
    if (!isObject(choreography)) {
      this.#error(
        '',
        'wrong-type',
        `a choreography is an object, got ${jsonTypeName(choreography)}`,
      )
      return this.#result()
    }
    for (const key of Object.keys(choreography)) {
      if (key !== 'name' && key !== 'definition') {
        this.#error(
          pointer('', key),
          'unknown-field',
          `unknown field "${key}": a choreography has "name" and "definition"`,
        )
      }
    }
    const name = choreography.name
    let validName = false
    if (name === undefined) this.#error('/name', 'missing-field', 'a choreography needs a "name"')
    else if (typeof name !== 'string') {
      this.#error('/name', 'wrong-type', `"name" is a string, got ${jsonTypeName(name)}`)
    } else {
      const problem = choreographyNameProblem(name)
      if (problem) this.#error('/name', 'bad-name', problem)
      else validName = true
    }
    if (!Object.hasOwn(choreography, 'definition')) {
      this.#error(
        '/definition',
        'missing-field',
        'a choreography needs a "definition" (its root step)',
      )
      return this.#result()
    }
    const rootName = validName ? (name as string) : ''
    this.#root = { name: rootName, definition: choreography.definition }
    this.#stack.push(rootName)
    this.#step(choreography.definition, '/definition', '', 1, null)
    return this.#result()
  }

  #result(): ValidationResult {
    const errors = this.#sinks[0] as ValidationError[]
    if (errors.length > 0 || !this.#root) return { ok: false, errors }
    // Only a definition that passed is copied: it is then finite and plain JSON.
    const source: PlanSource = JSON.parse(
      JSON.stringify({
        name: this.#root.name,
        definition: this.#root.definition,
        nested: Object.fromEntries(this.#nested),
      }),
    ) as PlanSource
    return {
      ok: true,
      plan: { name: this.#root.name, source, nodes: this.#nodes as unknown as PlanNode[] },
    }
  }

  #error(path: string, code: ValidationErrorCode, message: string): void {
    const sink = this.#sinks[this.#sinks.length - 1] as ValidationError[]
    if (sink.length < MAX_ERRORS) sink.push({ path, code, message })
    else if (sink.length === MAX_ERRORS) {
      sink.push({
        path: '',
        code: 'too-many-errors',
        message: `more than ${MAX_ERRORS} errors: the rest are not shown`,
      })
    }
  }

  /**
   * Checks the step at `path` (a pointer into the document being checked) and adds its
   * nodes; `prefix` turns that pointer into the node's path in the plan. Returns the node id.
   */
  #step(
    value: unknown,
    path: string,
    prefix: string,
    depth: number,
    parent: NodeDraft | null,
  ): number | undefined {
    if (this.#full) return undefined
    if (depth > MAX_DEPTH) {
      this.#error(
        path,
        'too-deep',
        `steps nest at most ${MAX_DEPTH} levels (counting referenced choreographies)`,
      )
      return undefined
    }
    if (!isObject(value)) {
      this.#error(path, 'wrong-type', `a step is an object, got ${jsonTypeName(value)}`)
      return undefined
    }
    const kinds = STEP_KIND_FIELDS.filter((field) => Object.hasOwn(value, field))
    const field = kinds[0]
    if (field === undefined) {
      const keys = Object.keys(value)
      this.#error(
        path,
        'unknown-kind',
        `unknown step kind: a step has one of ${STEP_KIND_FIELDS.map((f) => `"${f}"`).join(', ')}` +
          (keys.length === 0
            ? ', and this one is empty'
            : `, and this one has ${keys.map((k) => `"${k}"`).join(', ')}`),
      )
      return undefined
    }
    if (kinds.length > 1) {
      this.#error(
        pointer(path, kinds[1] as string),
        'unknown-kind',
        `a step has one kind, and this one has both "${field}" and "${kinds[1] as string}"`,
      )
      return undefined
    }
    if (++this.#steps > MAX_STEPS) {
      this.#error(
        path,
        'too-large',
        `a choreography has at most ${MAX_STEPS} steps (counting referenced choreographies)`,
      )
      this.#full = true
      return undefined
    }
    const kind: StepKind = field === 'function' ? 'task' : field
    const allowed = new Set<string>([field, ...COMMON_FIELDS, ...KIND_FIELDS[field]])
    for (const key of Object.keys(value)) {
      if (!allowed.has(key)) {
        this.#error(
          pointer(path, key),
          'unknown-field',
          `unknown field "${key}" in a ${field} step`,
        )
      }
    }
    const planPath = prefix + path
    const node: NodeDraft = {
      id: this.#nodes.length,
      kind,
      path: planPath,
      rel: parent ? planPath.slice(parent.path.length) : '',
      depth,
      parent: parent?.id ?? null,
      retries: this.#retries(value.retries, pointer(path, 'retries')),
      timeoutMs: this.#timeout(value.timeoutMs, pointer(path, 'timeoutMs')),
      children: [],
    }
    const name = this.#stepName(value.name, pointer(path, 'name'))
    if (name !== undefined) node.name = name
    this.#nodes.push(node)
    const kindPath = pointer(path, field)
    const child = (childValue: unknown, childPath: string): void => {
      const id = this.#step(childValue, childPath, prefix, depth + 1, node)
      if (id !== undefined) node.children.push(id)
    }
    switch (field) {
      case 'function': {
        const fn = value.function
        if (typeof fn !== 'string') {
          this.#error(
            kindPath,
            'wrong-type',
            `"function" is a function name, got ${jsonTypeName(fn)}`,
          )
          break
        }
        node.fn = fn
        const problem = functionNameProblem(fn)
        if (problem) this.#error(kindPath, 'bad-name', problem)
        else if (!this.#context.functionExists(fn))
          this.#error(kindPath, 'unknown-function', `unknown function ${JSON.stringify(fn)}`)
        break
      }
      case 'sequence':
      case 'parallel': {
        const steps = value[field]
        if (!Array.isArray(steps)) {
          this.#error(
            kindPath,
            'wrong-type',
            `"${field}" is an array of steps, got ${jsonTypeName(steps)}`,
          )
        } else if (steps.length === 0) {
          this.#error(kindPath, 'empty', `a ${field} has at least one step`)
        } else {
          steps.forEach((s: unknown, i) => child(s, pointer(kindPath, i)))
        }
        break
      }
      case 'map': {
        node.items = this.#itemsPath(value.items, pointer(path, 'items'))
        node.maxConcurrency = this.#concurrency(
          value.maxConcurrency,
          pointer(path, 'maxConcurrency'),
        )
        child(value.map, kindPath)
        break
      }
      case 'choice':
        this.#choice(value, path, node, child)
        break
      case 'choreography':
        this.#reference(value.choreography, kindPath, prefix, depth, node)
        break
    }
    return node.id
  }

  #choice(
    value: Record<string, unknown>,
    path: string,
    node: NodeDraft,
    child: (value: unknown, path: string) => void,
  ): void {
    const drafted: { when: string; condition: ConditionNode }[] = []
    node.branches = drafted
    node.otherwise = false
    const kindPath = pointer(path, 'choice')
    const branches = value.choice
    if (!Array.isArray(branches)) {
      this.#error(
        kindPath,
        'wrong-type',
        `"choice" is an array of { "when", "then" } branches, got ${jsonTypeName(branches)}`,
      )
    } else if (branches.length === 0) {
      this.#error(kindPath, 'empty', 'a choice has at least one branch')
    } else {
      branches.forEach((branch: unknown, i) => {
        const at = pointer(kindPath, i)
        if (!isObject(branch)) {
          this.#error(
            at,
            'wrong-type',
            `a branch is an object { "when", "then" }, got ${jsonTypeName(branch)}`,
          )
          return
        }
        for (const key of Object.keys(branch)) {
          if (key !== 'when' && key !== 'then')
            this.#error(
              pointer(at, key),
              'unknown-field',
              `unknown field "${key}" in a branch: it has "when" and "then"`,
            )
        }
        const when = branch.when
        if (when === undefined)
          this.#error(pointer(at, 'when'), 'missing-field', 'a branch needs a "when" condition')
        else if (typeof when !== 'string')
          this.#error(
            pointer(at, 'when'),
            'wrong-type',
            `"when" is a condition string, got ${jsonTypeName(when)}`,
          )
        else {
          try {
            drafted.push({ when, condition: parseCondition(when) })
          } catch (err) {
            if (!(err instanceof ConditionSyntaxError)) throw err
            this.#error(pointer(at, 'when'), 'bad-condition', err.message)
          }
        }
        if (!Object.hasOwn(branch, 'then'))
          this.#error(pointer(at, 'then'), 'missing-field', 'a branch needs a "then" step')
        else child(branch.then, pointer(at, 'then'))
      })
    }
    if (Object.hasOwn(value, 'otherwise')) {
      node.otherwise = true
      child(value.otherwise, pointer(path, 'otherwise'))
    }
  }

  #reference(
    name: unknown,
    kindPath: string,
    prefix: string,
    depth: number,
    node: NodeDraft,
  ): void {
    if (typeof name !== 'string') {
      this.#error(
        kindPath,
        'wrong-type',
        `"choreography" is a choreography name, got ${jsonTypeName(name)}`,
      )
      return
    }
    node.choreography = name
    const problem = choreographyNameProblem(name)
    if (problem) {
      this.#error(kindPath, 'bad-name', problem)
      return
    }
    if (this.#stack.includes(name)) {
      const from = this.#stack.indexOf(name)
      this.#error(kindPath, 'cycle', `cycle: ${[...this.#stack.slice(from), name].join(' → ')}`)
      return
    }
    const root = this.#root as { name: string; definition: unknown }
    const definition =
      name === root.name
        ? root.definition
        : (this.#nested.get(name) ?? this.#context.choreography?.(name))
    if (definition === undefined) {
      this.#error(kindPath, 'unknown-choreography', `unknown choreography ${JSON.stringify(name)}`)
      return
    }
    if (name !== root.name) this.#nested.set(name, definition)
    const sink: ValidationError[] = []
    this.#sinks.push(sink)
    this.#stack.push(name)
    const id = this.#step(definition, '/definition', `${prefix}${kindPath}`, depth + 1, node)
    this.#stack.pop()
    this.#sinks.pop()
    if (id !== undefined) node.children.push(id)
    for (const error of sink) {
      this.#error(
        kindPath,
        error.code,
        `in choreography ${JSON.stringify(name)} at ${error.path}: ${error.message}`,
      )
    }
  }

  #stepName(value: unknown, path: string): string | undefined {
    if (value === undefined) return undefined
    if (typeof value !== 'string') {
      this.#error(path, 'wrong-type', `"name" is a string, got ${jsonTypeName(value)}`)
    } else if (value.length === 0 || value.length > MAX_NAME_LENGTH) {
      this.#error(path, 'bad-name', `a step name has 1 to ${MAX_NAME_LENGTH} characters`)
    } else return value
    return undefined
  }

  #retries(value: unknown, path: string): number {
    if (value === undefined) return 0
    if (typeof value !== 'number')
      this.#error(path, 'wrong-type', `"retries" is an integer, got ${jsonTypeName(value)}`)
    else if (!Number.isInteger(value) || value < 0 || value > MAX_RETRIES) {
      this.#error(
        path,
        'out-of-range',
        `"retries" is an integer from 0 to ${MAX_RETRIES}, got ${value}`,
      )
    } else return value
    return 0
  }

  #timeout(value: unknown, path: string): number | null {
    if (value === undefined) return null
    if (typeof value !== 'number')
      this.#error(path, 'wrong-type', `"timeoutMs" is an integer, got ${jsonTypeName(value)}`)
    else if (!Number.isInteger(value) || value < 1 || value > MAX_TIMEOUT_MS) {
      this.#error(
        path,
        'out-of-range',
        `"timeoutMs" is an integer from 1 to ${MAX_TIMEOUT_MS} (7 days), got ${value}`,
      )
    } else return value
    return null
  }

  #concurrency(value: unknown, path: string): number {
    if (value === undefined) return DEFAULT_MAP_CONCURRENCY
    if (typeof value !== 'number')
      this.#error(path, 'wrong-type', `"maxConcurrency" is an integer, got ${jsonTypeName(value)}`)
    else if (!Number.isInteger(value) || value < 1 || value > MAX_MAP_CONCURRENCY) {
      this.#error(
        path,
        'out-of-range',
        `"maxConcurrency" is an integer from 1 to ${MAX_MAP_CONCURRENCY}, got ${value}`,
      )
    } else return value
    return DEFAULT_MAP_CONCURRENCY
  }

  #itemsPath(value: unknown, path: string): JsonPath {
    if (value === undefined) return ROOT_PATH
    if (typeof value !== 'string') {
      this.#error(path, 'wrong-type', `"items" is a JSON path string, got ${jsonTypeName(value)}`)
      return ROOT_PATH
    }
    try {
      return parseJsonPath(value)
    } catch (err) {
      if (!(err instanceof JsonPathSyntaxError)) throw err
      this.#error(path, 'bad-path', err.message)
      return ROOT_PATH
    }
  }
}
