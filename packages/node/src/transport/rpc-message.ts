/**
 * Checks an RPC message against its zod schema at the edge: what comes off the wire is
 * `unknown` until its schema says otherwise. A message that does not fit is refused with a
 * typed error the sender gets as its answer, and nothing reads it further.
 */
import type { z } from 'zod'
import { ChorusError } from '../errors.js'

/** How a malformed message is refused: the sender's bad request, or a protocol violation. */
export type MalformedCode = 'bad-request' | 'protocol-error'

/**
 * `body` as `schema` parses it, or a ChorusError of `code` whose message names `what` and
 * the first problem (`invoke/1: at priority: Invalid input ...`).
 */
export function parseMessage<S extends z.ZodType>(
  schema: S,
  body: unknown,
  what: string,
  code: MalformedCode = 'protocol-error',
): z.output<S> {
  const parsed = schema.safeParse(body)
  if (parsed.success) return parsed.data
  throw new ChorusError(code, `${what}: ${describeIssues(parsed.error)}`)
}

/** The first issue of a zod error, with its path, and how many more there are. */
export function describeIssues(error: z.ZodError): string {
  const [first, ...rest] = error.issues
  if (first === undefined) return 'malformed message'
  const at = first.path.length === 0 ? '' : `at ${first.path.map(String).join('.')}: `
  const more = rest.length === 0 ? '' : ` (and ${rest.length} more)`
  return `malformed message: ${at}${first.message}${more}`
}
