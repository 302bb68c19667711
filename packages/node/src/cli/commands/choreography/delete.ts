/** `chorus choreography delete`: deletes a choreography; every peer forgets it. */
import { choreographyTarget, onePositional } from '../../arguments.js'
import type { Command } from '../../command.js'
import { EXIT, printJson, type CliIo } from '../../io.js'
import { CLIENT_FLAGS_HELP, parseClientArgs } from '../../peer-session.js'

export const choreographyDelete: Command = {
  help: () => `Usage: chorus choreography delete <owner>/<name> [flags]

Deletes a choreography; every peer forgets it. Deploying the name again starts a new version.

Flags:
${CLIENT_FLAGS_HELP}
Examples:
  chorus choreography delete acme/ingest
`,
  run,
}

async function run(args: readonly string[], io: CliIo): Promise<number> {
  const parsed = parseClientArgs(args, io, {
    name: 'choreography delete',
    help: choreographyDelete.help,
    flags: {},
    takesArguments: true,
  })
  if (parsed === undefined) return EXIT.ok
  const { owner, name } = choreographyTarget(onePositional(parsed.positionals, '<owner>/<name>'))
  const deleted = await parsed.peer.ask((client) => client.forOwner(owner).deleteChoreography(name))
  if (parsed.json) return printJson(io, deleted)
  io.stdout(`deleted choreography ${owner}/${deleted.name} (version ${deleted.version})\n`)
  return EXIT.ok
}
