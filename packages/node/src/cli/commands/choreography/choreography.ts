/**
 * `chorus choreography`: the subcommands that deploy, list, show, invoke and delete an
 * owner's choreographies, and the dispatcher that picks one.
 */
import type { Command } from '../../command.js'
import { EXIT, report, UsageError, type CliIo } from '../../io.js'
import { CLIENT_FLAGS_HELP } from '../../peer-session.js'
import { choreographyDelete } from './delete.js'
import { choreographyDeploy } from './deploy.js'
import { choreographyInvoke } from './invoke.js'
import { choreographyList } from './list.js'
import { choreographyShow } from './show.js'

const SUBCOMMANDS: Readonly<Record<string, Command>> = {
  deploy: choreographyDeploy,
  list: choreographyList,
  show: choreographyShow,
  invoke: choreographyInvoke,
  delete: choreographyDelete,
}

export const choreography: Command = { help, run, subcommands: SUBCOMMANDS }

function help(): string {
  return `Usage: chorus choreography <subcommand> [arguments] [flags]

Manages an owner's choreographies: its functions composed into one invocable unit, with
steps that run in sequence, in parallel, over every item of an array, or on a condition.
A choreography is deployed once at any peer and every peer learns it.

Subcommands:
  deploy <owner> <file>                deploy the choreography in a YAML or JSON file
  list <owner>                         list the owner's choreographies
  show <owner>/<name>                  print a choreography (YAML; the peer's JSON with --json)
  invoke <owner>/<name> [input-json]   invoke it, wait, and print its output and step trace
  delete <owner>/<name>                delete it

Flags:
${CLIENT_FLAGS_HELP}
Examples:
  chorus choreography deploy acme ./ingest.yaml
  chorus choreography list acme
  chorus choreography show acme/ingest > ingest.yaml
  chorus choreography invoke acme/ingest '{"images": ["a.png", "b.png"]}'
  chorus choreography delete acme/ingest

Run 'chorus choreography <subcommand> --help' for a subcommand's flags.
`
}

async function run(args: readonly string[], io: CliIo): Promise<number> {
  const [sub, ...rest] = args
  if (sub === undefined) {
    io.stderr(help())
    return EXIT.usage
  }
  if (sub === '--help' || sub === '-h' || sub === 'help') {
    const topic = rest[0] === undefined ? undefined : subcommand(rest[0])
    io.stdout(topic?.help() ?? help())
    return EXIT.ok
  }
  const command = subcommand(sub)
  if (command === undefined) {
    const known = Object.keys(SUBCOMMANDS).join(', ')
    throw new UsageError(
      `unknown subcommand ${JSON.stringify(sub)} (subcommands: ${known}; ` +
        `see chorus choreography --help)`,
    )
  }
  try {
    return await command.run(rest, io)
  } catch (err) {
    return report(io, `chorus choreography ${sub}`, err)
  }
}

function subcommand(name: string): Command | undefined {
  return Object.hasOwn(SUBCOMMANDS, name) ? SUBCOMMANDS[name] : undefined
}
