/** `chorus choreography deploy`: deploys the choreography in a YAML or JSON file. */
import { readFile, stat } from 'node:fs/promises'
import { MAX_CHOREOGRAPHY_TEXT, parseChoreographyText } from '../../../choreography/index.js'
import type { ChorusClientError } from '../../../client/index.js'
import { choreographyNameProblem } from '../../../definitions/definition-op.js'
import { ownerArgument } from '../../arguments.js'
import type { Command } from '../../command.js'
import { formatPairs } from '../../format-table.js'
import { EXIT, messageOf, printJson, UsageError, type CliIo } from '../../io.js'
import { CLIENT_FLAGS_HELP, parseClientArgs } from '../../peer-session.js'

export const choreographyDeploy: Command = {
  help: () => `Usage: chorus choreography deploy <owner> <file> [--name NAME] [flags]

Deploys the choreography in <file> for <owner> through the asked peer; every peer learns it.
Deploying the same name again makes a new version. The file holds { name, definition } in
YAML or JSON; the peer checks the definition (its functions must be deployed already) and
lists every problem, one per line, as the definition path and what is wrong there.

  name: ingest
  definition:
    sequence:
      - { function: classify, retries: 2, timeoutMs: 5000 }
      - map: { function: resize }
        items: $.images
        maxConcurrency: 8

Flags:
  --name NAME  deploy under this name instead of the file's
${CLIENT_FLAGS_HELP}
A choreography name is 1 to 128 letters, digits, '.', '_' and '-' (no '/').

Examples:
  chorus choreography deploy acme ./ingest.yaml
  chorus choreography deploy acme ./ingest.json --name ingest-canary --json
`,
  run,
}

const FLAGS = { name: { type: 'string' } } as const

async function run(args: readonly string[], io: CliIo): Promise<number> {
  const parsed = parseClientArgs(args, io, {
    name: 'choreography deploy',
    help: choreographyDeploy.help,
    flags: FLAGS,
    takesArguments: true,
  })
  if (parsed === undefined) return EXIT.ok
  const { positionals, peer } = parsed
  if (positionals.length !== 2) {
    throw new UsageError(`expected <owner> <file>, got ${positionals.length} argument(s)`)
  }
  const [owner = '', file = ''] = positionals
  if (owner.includes('/')) {
    throw new UsageError(
      `expected <owner> <file>, got ${JSON.stringify(owner)}: the name comes from the file, ` +
        `or from --name`,
    )
  }
  ownerArgument(owner)
  const override = parsed.values.name
  const overrideProblem = override === undefined ? undefined : choreographyNameProblem(override)
  if (overrideProblem !== undefined) throw new UsageError(`--name: ${overrideProblem}`)
  const text = await readTextFile(file)
  let value: unknown
  try {
    value = parseChoreographyText(text)
  } catch (err) {
    throw new Error(`${file}: ${messageOf(err)}`, { cause: err })
  }
  const { name, definition } = choreographyFileBody(file, value, override)
  const deployed = await peer.ask(
    (client) => client.forOwner(owner).deployChoreography(name, definition),
    (err) => {
      // A definition the peer refuses: every problem on its own line.
      const problems = definitionProblems(err)
      if (problems.length === 0 || err.status === undefined) return undefined
      const count = problems.length === 1 ? '1 problem' : `${problems.length} problems`
      return new Error(
        `${file}: choreography ${name} is not valid, ${count} ` +
          `(${err.code}, HTTP ${err.status} from ${peer.url}):\n` +
          problems.map((p) => `  ${p}`).join('\n'),
        { cause: err },
      )
    },
  )
  if (parsed.json) return printJson(io, deployed)
  io.stdout(
    formatPairs([
      ['choreography', `${owner}/${deployed.name}`],
      ['version', String(deployed.version)],
      ['revision', deployed.revision],
    ]),
  )
  return EXIT.ok
}

/** `path: message` for each entry of an error answer's `details.errors` (a refused definition's). */
function definitionProblems(err: ChorusClientError): string[] {
  const errors = err.details?.errors
  if (!Array.isArray(errors)) return []
  return errors.flatMap((entry: unknown) => {
    const { path, message } = (entry ?? {}) as { path?: unknown; message?: unknown }
    if (typeof message !== 'string') return []
    return [`${typeof path === 'string' && path !== '' ? path : '(root)'}: ${message}`]
  })
}

/** A choreography file's text: read whole, as UTF-8. Problems reaching it are usage errors. */
async function readTextFile(file: string): Promise<string> {
  let info
  try {
    info = await stat(file)
  } catch (err) {
    throw new UsageError(`cannot read ${file}: ${messageOf(err)}`)
  }
  if (info.isDirectory()) throw new UsageError(`${file} is a directory, not a choreography file`)
  // A character takes at most 4 bytes: a larger file is too long for sure.
  if (info.size > 4 * MAX_CHOREOGRAPHY_TEXT) {
    throw new Error(
      `${file} is too large: a choreography has at most ${MAX_CHOREOGRAPHY_TEXT} characters`,
    )
  }
  const bytes = await readFile(file)
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes)
  } catch {
    throw new Error(`${file} is not UTF-8 text`)
  }
}

/** The deploy body from a parsed file: `{ name, definition }`, the name overridden by --name. */
function choreographyFileBody(
  file: string,
  parsed: unknown,
  override: string | undefined,
): { name: string; definition: unknown } {
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new Error(`${file} must hold an object with "name" and "definition"`)
  }
  const fields = parsed as Record<string, unknown>
  for (const key of Object.keys(fields)) {
    if (key !== 'name' && key !== 'definition') {
      throw new Error(
        `${file}: unknown field ${JSON.stringify(key)}: a choreography has "name" and "definition"`,
      )
    }
  }
  const name = override ?? fields.name
  if (name === undefined) throw new Error(`${file} has no "name": add one, or give --name`)
  if (typeof name !== 'string') throw new Error(`${file}: "name" must be a string`)
  const problem = choreographyNameProblem(name)
  if (problem !== undefined) throw new Error(`${file}: ${problem}`)
  if (!Object.hasOwn(fields, 'definition')) {
    throw new Error(`${file} has no "definition" (the choreography's root step)`)
  }
  return { name, definition: fields.definition }
}
