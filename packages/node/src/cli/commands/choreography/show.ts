/** `chorus choreography show`: a choreography as YAML that deploys again (or the peer's JSON). */
import { stringify as stringifyYaml } from 'yaml'
import { choreographyTarget, onePositional } from '../../arguments.js'
import type { Command } from '../../command.js'
import { formatTime } from '../../format.js'
import { EXIT, printJson, type CliIo } from '../../io.js'
import { CLIENT_FLAGS_HELP, parseClientArgs } from '../../peer-session.js'

export const choreographyShow: Command = {
  help: () => `Usage: chorus choreography show <owner>/<name> [flags]

Prints a choreography as YAML: a comment with its version, revision and deploy time, then
{ name, definition }, ready to edit and deploy again. With --json it prints the peer's
answer (owner, name, version, revision, deployedAt and definition).

Flags:
${CLIENT_FLAGS_HELP}
Examples:
  chorus choreography show acme/ingest
  chorus choreography show acme/ingest > ingest.yaml && chorus choreography deploy acme ingest.yaml
  chorus choreography show acme/ingest --json | jq .definition
`,
  run,
}

async function run(args: readonly string[], io: CliIo): Promise<number> {
  const parsed = parseClientArgs(args, io, {
    name: 'choreography show',
    help: choreographyShow.help,
    flags: {},
    takesArguments: true,
  })
  if (parsed === undefined) return EXIT.ok
  const { owner, name } = choreographyTarget(onePositional(parsed.positionals, '<owner>/<name>'))
  const view = await parsed.peer.ask((client) => client.forOwner(owner).getChoreography(name))
  if (parsed.json) return printJson(io, view)
  io.stdout(
    `# ${owner}/${view.name}: version ${view.version}, revision ${view.revision}, ` +
      `deployed ${formatTime(view.deployedAt)}\n` +
      stringifyYaml(
        { name: view.name, definition: view.definition },
        { aliasDuplicateObjects: false, lineWidth: 0 },
      ),
  )
  return EXIT.ok
}
