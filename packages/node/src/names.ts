/**
 * What owner, function and choreography names may look like, checked at every edge (HTTP,
 * CLI, definitions arriving from peers, choreography steps) before a name reaches a peer:
 * names end up in URLs, log lines, metric labels and file names. Pure.
 */

/** Longest owner, function or choreography name, in characters. */
export const MAX_NAME_LENGTH = 128

/** One path segment of a name: letters, digits, '.', '_' and '-'. */
const SEGMENT = /^[A-Za-z0-9._-]+$/

/** Why `name` is not a one-segment name (`what`: 'owner', 'choreography name'), if it is not. */
function segmentNameProblem(what: string, name: string): string | undefined {
  if (name.length === 0) return `${what} must not be empty`
  if (name.length > MAX_NAME_LENGTH) return `${what} is longer than ${MAX_NAME_LENGTH} characters`
  if (name === '.' || name === '..') return `${what} may not be '${name}'`
  if (!SEGMENT.test(name)) {
    return `${what} ${JSON.stringify(name)} may only contain letters, digits, '.', '_' and '-'`
  }
  return undefined
}

/** Why `owner` is not a valid owner name, or undefined when it is. */
export function ownerNameProblem(owner: string): string | undefined {
  return segmentNameProblem('owner', owner)
}

/**
 * Why `name` is not a valid choreography name, or undefined when it is: like an owner
 * name, one segment, since it is one path segment of the API.
 */
export function choreographyNameProblem(name: string): string | undefined {
  return segmentNameProblem('choreography name', name)
}

/**
 * Why `fn` is not a valid function name, or undefined when it is. A function name is one or
 * more segments joined by '/' (`resize`, `images/resize`); each segment is like an owner name.
 */
export function functionNameProblem(fn: string): string | undefined {
  if (fn.length === 0) return 'function name must not be empty'
  if (fn.length > MAX_NAME_LENGTH) {
    return `function name is longer than ${MAX_NAME_LENGTH} characters`
  }
  for (const segment of fn.split('/')) {
    if (segment === '' || segment === '.' || segment === '..') {
      return `function name ${JSON.stringify(fn)} has an empty, '.' or '..' segment`
    }
    if (!SEGMENT.test(segment)) {
      return (
        `function name ${JSON.stringify(fn)} may only contain letters, digits, ` +
        `'.', '_', '-' and '/' between segments`
      )
    }
  }
  return undefined
}
