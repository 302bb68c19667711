/**
 * What a function host runs: the runtime, the code (inline source, or a directory from an
 * extracted bundle), the command of a `process` host, and what the host may take.
 */
import { isAbsolute } from 'node:path'
import {
  commandProblem,
  isFunctionRuntime,
  limitProblem,
  type FunctionRuntime,
} from '../definitions/function-spec.js'
import { ChorusError } from '../errors.js'

/** The second argument of a `nodejs` function: `async (input, context) => output`. */
export interface FunctionContext {
  /** The invocation this run belongs to (OpenWhisk's `activation_id`). */
  readonly invocationId: string
  /** When the run is killed, in milliseconds since the epoch (`Date.now()`'s clock). */
  readonly deadline: number
  /** Milliseconds left until `deadline`. */
  remainingMs(): number
}

export interface FunctionHostSpec {
  readonly runtime: FunctionRuntime
  /** `nodejs`: the source of an ES module whose default export is the function. */
  readonly code?: string
  /**
   * An absolute directory (an extracted bundle): `nodejs` imports `entry` from it, `process`
   * runs in it.
   */
  readonly codeDir?: string
  /**
   * `nodejs` with `codeDir`: the module to import, relative to it. Default `package.json`'s
   * `main`, else `index.js`.
   */
  readonly entry?: string
  /** `nodejs`: the export to call. Default `default`. */
  readonly main?: string
  /** `process`: the executable and its arguments; it must listen on `$PORT`. */
  readonly command?: readonly string[]
  /** Memory the host may take: a `nodejs` host runs with `--max-old-space-size=<memoryMb>`. */
  readonly memoryMb: number
  /** Runs the host takes at once. */
  readonly concurrency: number
  /** Environment variables the function sees, on top of PATH, HOME, LANG, TZ and TMPDIR. */
  readonly env?: Readonly<Record<string, string>>
}

/**
 * Throws `bad-request` when the spec cannot describe a host. Its runtime, memory,
 * concurrency and command are held to the rules every function spec is (function-spec.ts).
 */
export function validateHostSpec(spec: FunctionHostSpec): void {
  const bad = (message: string): never => {
    throw new ChorusError('bad-request', `function host spec: ${message}`)
  }
  if (!isFunctionRuntime(spec.runtime)) {
    bad(`runtime must be "nodejs" or "process", not ${JSON.stringify(spec.runtime)}`)
  }
  const limits =
    limitProblem('memoryMb', spec.memoryMb) ?? limitProblem('concurrency', spec.concurrency)
  if (limits !== undefined) bad(limits)
  if (spec.codeDir !== undefined && !isAbsolute(spec.codeDir)) {
    bad(`codeDir must be an absolute path, not ${spec.codeDir}`)
  }
  if (spec.runtime === 'nodejs') {
    if ((spec.code === undefined) === (spec.codeDir === undefined)) {
      bad('a nodejs host needs exactly one of code and codeDir')
    }
    if (spec.command !== undefined) bad('a nodejs host takes no command')
  } else {
    if (spec.command === undefined) bad('a process host needs a command: ["executable", ...args]')
    const problem = commandProblem(spec.command)
    if (problem !== undefined) bad(problem)
    if (spec.code !== undefined) bad('a process host takes no code: give codeDir and a command')
  }
  for (const [name, value] of Object.entries(spec.env ?? {})) {
    if (name === '' || name.includes('=') || typeof value !== 'string') {
      bad(`env ${JSON.stringify(name)} must be a name without "=" and a string value`)
    }
  }
}
