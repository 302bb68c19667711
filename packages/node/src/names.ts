/**
 * What owner and function names may look like, checked at every edge (HTTP, CLI) before a
 * name reaches a peer: names end up in URLs, log lines, metric labels and file names.
 */

/** Longest owner or function name, in characters. */
export const MAX_NAME_LENGTH = 128

const SEGMENT = /^[A-Za-z0-9._-]+$/

/** Why `owner` is not a valid owner name, or undefined when it is. */
export function ownerNameProblem(owner: string): string | undefined {
  if (owner.length === 0) return 'owner must not be empty'
  if (owner.length > MAX_NAME_LENGTH) return `owner is longer than ${MAX_NAME_LENGTH} characters`
  if (owner === '.' || owner === '..') return `owner may not be '${owner}'`
  if (!SEGMENT.test(owner)) {
    return `owner ${JSON.stringify(owner)} may only contain letters, digits, '.', '_' and '-'`
  }
  return undefined
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
