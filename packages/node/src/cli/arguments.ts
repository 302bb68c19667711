/** The positional arguments of the client commands: how many, and `<owner>/<name>` targets. */
import { choreographyNameProblem } from '../definitions/definition-op.js'
import { functionNameProblem, ownerNameProblem } from '../names.js'
import { UsageError } from './io.js'

/** The one argument a command takes (`what` names it in the message when it is missing). */
export function onePositional(positionals: readonly string[], what: string): string {
  const [first, ...rest] = positionals
  if (first === undefined) throw new UsageError(`missing ${what}`)
  if (rest.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(rest[0])}`)
  return first
}

/** For a command that takes no arguments. */
export function noPositionals(positionals: readonly string[]): void {
  if (positionals.length > 0) {
    throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}`)
  }
}

/**
 * `<owner>/<function>`, both checked: the owner is what comes before the first `/`, the
 * function (which may have `/` in it) everything after.
 */
export function functionTarget(target: string): { owner: string; name: string } {
  const { owner, name } = split(target, '<owner>/<function>')
  const problem = ownerNameProblem(owner) ?? functionNameProblem(name)
  if (problem !== undefined) throw new UsageError(problem)
  return { owner, name }
}

/** `<owner>/<name>` of a choreography, both checked. */
export function choreographyTarget(target: string): { owner: string; name: string } {
  const { owner, name } = split(target, '<owner>/<name>')
  const problem = ownerNameProblem(owner) ?? choreographyNameProblem(name)
  if (problem !== undefined) throw new UsageError(problem)
  return { owner, name }
}

/** An owner alone, checked. */
export function ownerArgument(owner: string): string {
  const problem = ownerNameProblem(owner)
  if (problem !== undefined) throw new UsageError(problem)
  return owner
}

function split(target: string, expected: string): { owner: string; name: string } {
  const slash = target.indexOf('/')
  if (slash < 0) throw new UsageError(`expected ${expected}, got ${JSON.stringify(target)}`)
  return { owner: target.slice(0, slash), name: target.slice(slash + 1) }
}
