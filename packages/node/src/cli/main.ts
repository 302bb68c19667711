/**
 * The `chorus` command line: `main(argv, io)` is the whole CLI, so tests run it in process.
 * It picks the command named by the first argument and loads only that one (`start` loads
 * the peer, zod and pino; the client commands need none of them, so they start fast).
 *
 * - `commands/`: one file per command (`start`, `peers`, `schedulers`, `invoke`, `deploy`,
 *   `status`), and `commands/choreography/` for `chorus choreography <subcommand>`.
 * - `flags.ts`: the one way flags are parsed (`node:util` `parseArgs`).
 * - `peer-session.ts`: `--peer`, `--json`, and the SDK client (`../client/`) every client
 *   command asks its peer through, with the CLI's wording of its errors.
 * - `io.ts`: `CliIo`, exit codes, `UsageError`; `format*.ts`: how answers are printed.
 *
 * Exit codes: 0 done, 1 failed (peer unreachable, an error answer, a failed invocation),
 * 2 usage error (unknown command or flag, bad value).
 */
import { VERSION } from '../version.js'
import type { Command } from './command.js'
import { EXIT, report, type CliIo } from './io.js'
import { CLIENT_FLAGS_HELP } from './peer-session.js'

export { EXIT, type CliIo } from './io.js'
export { DEFAULT_PEER_URL } from './peer-session.js'

/** Every command, loaded when it runs (or its help is asked for), in the order help lists them. */
const COMMANDS: Readonly<Record<string, () => Promise<Command>>> = {
  start: async () => (await import('./commands/start.js')).start,
  peers: async () => (await import('./commands/peers.js')).peers,
  schedulers: async () => (await import('./commands/schedulers.js')).schedulers,
  invoke: async () => (await import('./commands/invoke.js')).invoke,
  deploy: async () => (await import('./commands/deploy.js')).deploy,
  status: async () => (await import('./commands/status.js')).status,
  choreography: async () => (await import('./commands/choreography/choreography.js')).choreography,
}

const TOP_HELP = `chorus: run and use a peer of the Chorus scheduler mesh

Usage: chorus <command> [flags]

Commands:
  start         start a peer on this machine, joining a mesh or beginning one
  peers         list the peers a peer knows, and their state
  schedulers    list where the schedulers of the mesh live (--local: one peer's)
  deploy        deploy a function (a .js module or a .tgz bundle) to the mesh
  invoke        invoke a function, and wait for its result
  status        show an invocation's status and result (and a choreography's trace)
  choreography  deploy, list, show, invoke or delete choreographies: functions composed
                in sequence, in parallel, over arrays and on conditions

The client commands (all but start) ask a running peer over HTTP:
${CLIENT_FLAGS_HELP}
Examples:
  chorus start
  chorus start --join /ip4/10.0.0.1/tcp/4001/p2p/12D3KooW... --http 0.0.0.0:7070
  chorus start --config peer.yaml
  chorus peers --peer http://10.0.0.1:7070
  chorus invoke acme/resize --input '{"width": 640}'
  chorus invoke acme/report --no-wait --idempotency-key nightly-2024-06-01
  chorus status 7f3c2a
  chorus choreography deploy acme ./ingest.yaml
  chorus choreography invoke acme/ingest '{"images": ["a.png", "b.png"]}'

Run 'chorus <command> --help' for a command's flags.
Exit codes: 0 done; 1 failed (peer unreachable, error answer, failed invocation); 2 usage error.
`

/** Runs the CLI on `argv` (the arguments after `chorus`) and resolves to the exit code. */
export async function main(argv: readonly string[], io: CliIo): Promise<number> {
  const [name, ...args] = argv
  if (name === undefined) {
    io.stderr(TOP_HELP)
    return EXIT.usage
  }
  if (name === '--help' || name === '-h' || name === 'help') {
    io.stdout(await helpFor(args[0], args[1]))
    return EXIT.ok
  }
  if (name === '--version' || name === '-v') {
    io.stdout(`chorus ${VERSION}\n`)
    return EXIT.ok
  }
  const load = commandLoader(name)
  if (load === undefined) {
    const known = Object.keys(COMMANDS).join(', ')
    io.stderr(
      `chorus: unknown command ${JSON.stringify(name)} (commands: ${known}; see chorus --help)\n`,
    )
    return EXIT.usage
  }
  try {
    return await (await load()).run(args, io)
  } catch (err) {
    return report(io, `chorus ${name}`, err)
  }
}

/** `chorus help [command [subcommand]]`: the most specific help there is. */
async function helpFor(name: string | undefined, sub: string | undefined): Promise<string> {
  const load = name === undefined ? undefined : commandLoader(name)
  if (load === undefined) return TOP_HELP
  const command = await load()
  const subcommands = command.subcommands ?? {}
  const subcommand =
    sub !== undefined && Object.hasOwn(subcommands, sub) ? subcommands[sub] : undefined
  return (subcommand ?? command).help()
}

function commandLoader(name: string): (() => Promise<Command>) | undefined {
  return Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined
}
