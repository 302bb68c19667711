/**
 * What a function host runs: the runtime, the code (inline source, or a directory from an
 * extracted bundle), the command of a `process` host, and what the host may take.
 */
import { isAbsolute } from 'node:path'
import { ChorusError } from '../errors.js'

export type FunctionRuntime = 'nodejs' | 'process'

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

/** Throws `bad-request` when the spec cannot describe a host. */
export function validateHostSpec(spec: FunctionHostSpec): void {
  const bad = (message: string): never => {
    throw new ChorusError('bad-request', `function host spec: ${message}`)
  }
  if (spec.runtime !== 'nodejs' && spec.runtime !== 'process') {
    bad(`runtime must be "nodejs" or "process", not ${JSON.stringify(spec.runtime)}`)
  }
  if (!Number.isInteger(spec.memoryMb) || spec.memoryMb < 1) {
    bad('memoryMb must be a positive integer')
  }
  if (!Number.isInteger(spec.concurrency) || spec.concurrency < 1) {
    bad('concurrency must be a positive integer')
  }
  if (spec.codeDir !== undefined && !isAbsolute(spec.codeDir)) {
    bad(`codeDir must be an absolute path, not ${spec.codeDir}`)
  }
  if (spec.runtime === 'nodejs') {
    if ((spec.code === undefined) === (spec.codeDir === undefined)) {
      bad('a nodejs host needs exactly one of code and codeDir')
    }
    if (spec.command !== undefined) bad('a nodejs host takes no command')
  } else {
    if (spec.command === undefined || spec.command.length === 0 || spec.command[0] === '') {
      bad('a process host needs a command: ["executable", ...args]')
    }
    if (spec.code !== undefined) bad('a process host takes no code: give codeDir and a command')
  }
  for (const [name, value] of Object.entries(spec.env ?? {})) {
    if (name === '' || name.includes('=') || typeof value !== 'string') {
      bad(`env ${JSON.stringify(name)} must be a name without "=" and a string value`)
    }
  }
}
