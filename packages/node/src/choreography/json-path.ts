/**
 * JSON paths, the small subset the choreography language needs: `$` (the whole value), then
 * any number of `.field`, `['field']` (or `["field"]`) and `[index]`. No wildcards, slices,
 * filters or recursive descent: a path names at most one value.
 */
import { JsonPathSyntaxError } from './errors.js'
import { describeValue } from './json-value.js'
import { MAX_PATH_LENGTH } from './limits.js'

/** A field name (string) or an array index (number). */
export type JsonPathSegment = string | number

/** A parsed path: plain JSON, so plans that hold it can be snapshotted. */
export interface JsonPath {
  /** The path as written. */
  readonly text: string
  readonly segments: readonly JsonPathSegment[]
}

/** The path `$`: the whole value. */
export const ROOT_PATH: JsonPath = { text: '$', segments: [] }

const IDENT_START = /[A-Za-z_]/
const IDENT_PART = /[A-Za-z0-9_]/
const DIGIT = /[0-9]/

/** Parses a whole string as a path. Throws JsonPathSyntaxError, and nothing else. */
export function parseJsonPath(text: string): JsonPath {
  if (typeof text !== 'string')
    throw new JsonPathSyntaxError(describeValue(text), 0, 'a path is a string')
  const { path, end } = readJsonPath(text, 0)
  if (end < text.length) {
    throw new JsonPathSyntaxError(
      text,
      end,
      `unexpected ${JSON.stringify(text[end])}: expected '.', '[' or the end of the path`,
    )
  }
  return path
}

/**
 * Reads the path that starts at `start` (which must be `$`) and ends at the first character
 * that cannot continue it: how conditions lex their paths. Throws JsonPathSyntaxError with
 * positions relative to the whole `text`.
 */
export function readJsonPath(text: string, start: number): { path: JsonPath; end: number } {
  const fail = (at: number, message: string): never => {
    throw new JsonPathSyntaxError(text, at, message)
  }
  if (text[start] !== '$') fail(start, "a path starts with '$'")
  const segments: JsonPathSegment[] = []
  let i = start + 1
  for (;;) {
    if (i - start > MAX_PATH_LENGTH) fail(start, `a path is at most ${MAX_PATH_LENGTH} characters`)
    const c = text[i]
    if (c === '.') {
      i++
      const from = i
      if (!IDENT_START.test(text[i] ?? '')) {
        fail(i, "expected a field name after '.' (use ['...'] for other characters)")
      }
      while (IDENT_PART.test(text[i] ?? '')) i++
      segments.push(text.slice(from, i))
    } else if (c === '[') {
      i++
      const q = text[i]
      if (DIGIT.test(q ?? '')) {
        const from = i
        while (DIGIT.test(text[i] ?? '')) i++
        const index = Number(text.slice(from, i))
        if (!Number.isSafeInteger(index)) fail(from, 'index is too large')
        segments.push(index)
      } else if (q === "'" || q === '"') {
        i++
        let field = ''
        for (;;) {
          const d = text[i]
          if (d === undefined) fail(i, `unterminated string: expected ${q}`)
          if (d === q) break
          if (d === '\\') {
            const e = text[i + 1]
            if (e !== '\\' && e !== "'" && e !== '"') {
              fail(i, 'only \\\\, \\\' and \\" may be escaped in a field name')
            }
            field += e
            i += 2
          } else {
            field += d
            i++
          }
        }
        i++
        segments.push(field)
      } else {
        fail(i, "expected an index (0, 1, ...) or a quoted field name after '['")
      }
      if (text[i] !== ']') fail(i, "expected ']'")
      i++
    } else {
      break
    }
  }
  return { path: { text: text.slice(start, i), segments }, end: i }
}

/**
 * The value `path` names in `value`, or undefined when there is none (a missing field, an
 * index past the end, a field of a non-object). Only own fields count: `$.constructor` of
 * `{}` is missing.
 */
export function resolveJsonPath(path: JsonPath, value: unknown): unknown {
  let current = value
  for (const segment of path.segments) {
    if (typeof segment === 'number') {
      if (!Array.isArray(current) || segment >= current.length) return undefined
      current = current[segment] as unknown
    } else {
      if (typeof current !== 'object' || current === null || Array.isArray(current))
        return undefined
      if (!Object.hasOwn(current, segment)) return undefined
      current = (current as Record<string, unknown>)[segment]
    }
  }
  return current
}
