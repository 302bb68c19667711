/**
 * What the choreography language needs to know about JSON values: their type names (for
 * messages), equality and truthiness. Values are assumed to be JSON (no cycles, no
 * functions); `undefined` (a missing value) counts as `null`.
 */

/** `null`, `boolean`, `number`, `string`, `array` or `object`. */
export function jsonTypeName(value: unknown): string {
  if (value === null || value === undefined) return 'null'
  if (Array.isArray(value)) return 'array'
  return typeof value
}

/**
 * JSON truthiness: `false`, `null` (or missing), `0` and `""` are false; everything else,
 * including `[]` and `{}`, is true.
 */
export function isTruthy(value: unknown): boolean {
  return !(value === false || value === null || value === undefined || value === 0 || value === '')
}

/** Structural equality of two JSON values. Iterative, so deep values cannot overflow the stack. */
export function jsonEquals(a: unknown, b: unknown): boolean {
  const stack: [unknown, unknown][] = [[a, b]]
  for (let pair = stack.pop(); pair !== undefined; pair = stack.pop()) {
    const x = pair[0] ?? null
    const y = pair[1] ?? null
    if (x === y) continue
    if (typeof x !== 'object' || typeof y !== 'object' || x === null || y === null) return false
    if (Array.isArray(x) !== Array.isArray(y)) return false
    if (Array.isArray(x) && Array.isArray(y)) {
      if (x.length !== y.length) return false
      for (let i = 0; i < x.length; i++) stack.push([x[i], y[i]])
      continue
    }
    const xo = x as Record<string, unknown>
    const yo = y as Record<string, unknown>
    const keys = Object.keys(xo)
    if (keys.length !== Object.keys(yo).length) return false
    for (const key of keys) {
      if (!Object.hasOwn(yo, key)) return false
      stack.push([xo[key], yo[key]])
    }
  }
  return true
}

/** A short, safe description of any value for a message (never calls the value's own methods). */
export function describeValue(value: unknown): string {
  if (typeof value === 'number' || typeof value === 'boolean') return String(value)
  if (value === null || value === undefined) return String(value)
  if (typeof value === 'string') {
    return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}...` : value)
  }
  return Array.isArray(value) ? 'an array' : `a ${typeof value}`
}
