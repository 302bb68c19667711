/**
 * Plain JSON values in one canonical form: keys sorted, no whitespace. Two peers that hold
 * the same value produce the same text, so the text can be compared and hashed (a fast
 * 64-bit non-cryptographic hash, for anti-entropy summaries and revision ids).
 */

/** Deepest nesting a replicated JSON value may have. */
export const MAX_JSON_DEPTH = 64

/** Why `value` is not plain JSON (null, boolean, finite number, string, array, plain object). */
export function jsonValueProblem(value: unknown, path = '$', depth = 0): string | undefined {
  if (depth > MAX_JSON_DEPTH) return `${path} is nested deeper than ${MAX_JSON_DEPTH} levels`
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return undefined
  if (typeof value === 'number') {
    return Number.isFinite(value) ? undefined : `${path} is not a finite number`
  }
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const problem = jsonValueProblem(value[i], `${path}[${i}]`, depth + 1)
      if (problem) return problem
    }
    return undefined
  }
  if (typeof value === 'object') {
    const proto = Object.getPrototypeOf(value) as unknown
    if (proto !== Object.prototype && proto !== null) return `${path} is not a plain object`
    for (const [key, item] of Object.entries(value)) {
      const problem = jsonValueProblem(item, `${path}.${key}`, depth + 1)
      if (problem) return problem
    }
    return undefined
  }
  return `${path} is ${typeof value}, not JSON`
}

/** The canonical text of a value that `jsonValueProblem` accepted. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value)
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`
  const record = value as Record<string, unknown>
  const keys = Object.keys(record).sort()
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(record[k])}`).join(',')}}`
}

/** The number of bytes `text` takes in UTF-8. */
export function utf8Length(text: string): number {
  let bytes = 0
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i)
    if (code < 0x80) bytes += 1
    else if (code < 0x800) bytes += 2
    else if (code >= 0xd800 && code <= 0xdbff && i + 1 < text.length) {
      const next = text.charCodeAt(i + 1)
      if (next >= 0xdc00 && next <= 0xdfff) {
        bytes += 4
        i++
      } else bytes += 3
    } else bytes += 3
  }
  return bytes
}

/** A 64-bit hash as two unsigned 32-bit lanes (cyrb53's mixing, both lanes kept). */
export type Hash64 = readonly [hi: number, lo: number]

export function hash64(text: string): Hash64 {
  let h1 = 0xdeadbeef
  let h2 = 0x41c6ce57
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i)
    h1 = Math.imul(h1 ^ ch, 2654435761)
    h2 = Math.imul(h2 ^ ch, 1597334677)
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909)
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909)
  return [h2 >>> 0, h1 >>> 0]
}

/** Sixteen lowercase hex digits. */
export function hash64Hex([hi, lo]: Hash64): string {
  return hi.toString(16).padStart(8, '0') + lo.toString(16).padStart(8, '0')
}

/** Lane-wise sum modulo 2^32: an order-independent way to combine hashes of a set. */
export function addHash64(a: Hash64, b: Hash64): Hash64 {
  return [(a[0] + b[0]) >>> 0, (a[1] + b[1]) >>> 0]
}

/** Undoes `addHash64(a, b)` given `b`. */
export function subtractHash64(a: Hash64, b: Hash64): Hash64 {
  return [(a[0] - b[0]) >>> 0, (a[1] - b[1]) >>> 0]
}
