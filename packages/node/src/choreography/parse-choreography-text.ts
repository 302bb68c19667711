/**
 * Choreography files as people write them: JSON, or YAML (what the CLI also takes). The
 * result is the plain value to give to `validateChoreography`; this checks syntax only.
 */
import { parseDocument } from 'yaml'
import { ChoreographyTextError } from './errors.js'

/** Longest choreography text, in characters (1 MiB). */
export const MAX_CHOREOGRAPHY_TEXT = 1 << 20

/**
 * Parses JSON or YAML text into a plain value. Text whose first non-blank character is `{`
 * is read as JSON (and, failing that, as flow-style YAML; a JSON error is reported with its
 * line and column); anything else as YAML 1.2 with the core schema: no custom tags, no
 * merge keys, at most 100 aliases. Throws ChoreographyTextError, and nothing else.
 */
export function parseChoreographyText(text: string): unknown {
  if (typeof text !== 'string')
    throw new ChoreographyTextError('choreography text must be a string')
  if (text.length > MAX_CHOREOGRAPHY_TEXT) {
    throw new ChoreographyTextError(
      `choreography text is longer than ${MAX_CHOREOGRAPHY_TEXT} characters`,
    )
  }
  if (text.trim() === '') throw new ChoreographyTextError('choreography text is empty')
  if (!text.trimStart().startsWith('{')) return parseYaml(text)
  try {
    return JSON.parse(text) as unknown
  } catch (jsonError) {
    // Flow-style YAML (`{ name: x, ... }`) starts with `{` too; if it is not that either,
    // JSON's complaint is the one to show.
    try {
      return parseYaml(text)
    } catch {
      throw jsonTextError(text, jsonError)
    }
  }
}

function jsonTextError(text: string, err: unknown): ChoreographyTextError {
  const message = err instanceof Error ? err.message : String(err)
  const at = /position (\d+)/.exec(message)
  if (!at) return new ChoreographyTextError(`bad JSON: ${message}`)
  const before = text.slice(0, Number(at[1])).split('\n')
  return new ChoreographyTextError(
    `bad JSON: ${message}`,
    before.length,
    (before[before.length - 1] ?? '').length + 1,
  )
}

function parseYaml(text: string): unknown {
  const doc = parseDocument(text, {
    schema: 'core',
    merge: false,
    customTags: [],
    uniqueKeys: true,
    prettyErrors: true,
  })
  const error = doc.errors[0]
  if (error) {
    const pos = error.linePos?.[0]
    throw new ChoreographyTextError(
      `bad YAML: ${(error.message.split('\n')[0] ?? '').replace(/ at line \d+, column \d+:?$/, '')}`,
      pos?.line,
      pos?.col,
    )
  }
  try {
    return doc.toJS({ maxAliasCount: 100 }) as unknown
  } catch (err) {
    throw new ChoreographyTextError(`bad YAML: ${err instanceof Error ? err.message : String(err)}`)
  }
}
