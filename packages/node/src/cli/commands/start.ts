/**
 * `chorus start`: runs a peer until SIGINT or SIGTERM. Its configuration comes from flags,
 * `CHORUS_*` variables and a config file (`../../config.ts`); its logs go to stderr through
 * the root logger built here; its banner (peer id, addresses, URL, data directory) to stdout.
 */
import { Writable } from 'node:stream'
import { background } from '../../background.js'
import {
  CONFIG_FILE_OPTION,
  configFilePath,
  PEER_CONFIG_OPTIONS,
  peerConfigFromFlags,
  readPeerConfigFile,
  START_FLAGS,
  type PeerConfig,
  type StartFlags,
} from '../../config.js'
import { ChorusError } from '../../errors.js'
import { createLogger } from '../../observability/logger.js'
import type { Command } from '../command.js'
import { HELP_FLAG, parseFlags } from '../flags.js'
import { formatPairs } from '../format-table.js'
import { describeBug, EXIT, messageOf, UsageError, type CliIo } from '../io.js'

export const start: Command = { help: startHelp, run }

function startHelp(): string {
  const flag = (
    o: { flag: string; value: string; description: string; env: string },
    where: string,
  ) => {
    const left = `  --${o.flag} ${o.value}`
    return `${left.padEnd(30)}${o.description}\n${' '.repeat(30)}env ${o.env}${where}\n`
  }
  const flags = [
    flag(CONFIG_FILE_OPTION, `, default ${CONFIG_FILE_OPTION.default}`),
    ...PEER_CONFIG_OPTIONS.map((o) => flag(o, `, default ${o.default}`)),
  ].join('')
  return `Usage: chorus start [flags]

Starts a peer: a libp2p host that joins the mesh (or begins one), a scheduler host, a worker
host and the HTTP API. It prints its peer id, libp2p addresses and HTTP URL, and runs until
SIGINT (Ctrl+C) or SIGTERM, then stops cleanly and exits 0; a second signal exits at once.

Flags (each setting can also be given by its environment variable or in the config file; a
flag wins over its variable, a variable over the file, the file over the default, and a
variable set to the empty string counts as unset):
${flags}  -h, --help                  show this help

CHORUS_LISTEN and CHORUS_JOIN take comma-separated lists; so does each --listen and --join.

The config file is JSON or YAML, by its extension: one object whose keys are the long flags
in camelCase (--worker-memory is workerMemory), with the values the flags take; numbers and
lists may also be written as such. An unknown key or a bad value is an error naming both.

  # peer.yaml
  dataDir: /var/lib/chorus
  http: 0.0.0.0:7070
  join: [/ip4/10.0.0.1/tcp/4001/p2p/12D3KooW...]
  ownerLimit: 32
  schedulerIdle: 30s

The peer logs on stderr, one JSON object a line (--log-format json) or for people (pretty).

Examples:
  chorus start
  chorus start --http 0.0.0.0:7070 --listen /ip4/0.0.0.0/tcp/4001
  chorus start --join /ip4/10.0.0.1/tcp/4001/p2p/12D3KooW... --data-dir /var/lib/chorus
  chorus start --config peer.yaml --log-level debug --log-format json
  CHORUS_SCHEDULER_IDLE=30s CHORUS_PLACEMENT=openwhisk chorus start
`
}

async function run(args: readonly string[], io: CliIo): Promise<number> {
  const parsed = parseFlags(args, { ...START_FLAGS, ...HELP_FLAG }, 'chorus start', {
    allowPositionals: false,
  })
  const { help, ...flags } = parsed.values as Record<string, unknown>
  if (help === true) {
    io.stdout(startHelp())
    return EXIT.ok
  }
  const config = await configFrom(flags as StartFlags, io)
  const log = createLogger({
    level: config.logLevel,
    format: config.logFormat,
    destination: io.logDestination ?? streamOnto(io.stderr),
  })
  const startPeer = io.startPeer ?? (await import('../../peer.js')).startPeer
  const peer = await startPeer(config, { log })
  io.stdout(
    formatPairs([
      ['peer id', peer.api.peerId],
      ['libp2p', peer.multiaddrs.join('\n') || '(none)'],
      ['http', peer.httpUrl],
      ['data dir', config.dataDir],
    ]) + 'Press Ctrl+C to stop.\n',
  )
  const exit = io.exit ?? ((code: number) => process.exit(code))
  const code = await new Promise<number>((resolve) => {
    let stopping = false
    const stopListening = (io.onSignal ?? processSignals)((signal) => {
      if (stopping) {
        io.stderr(`${signal} again: exiting now\n`)
        exit(signal === 'SIGINT' ? 130 : 143)
        return
      }
      stopping = true
      io.stderr(`${signal}: stopping the peer (send it again to exit at once)\n`)
      const stopped = async (): Promise<number> => {
        try {
          await peer.stop()
          return EXIT.ok
        } catch (err) {
          io.stderr(`chorus start: stopping failed: ${messageOf(err)}\n`)
          return EXIT.failed
        }
      }
      background(
        stopped().then((code) => {
          stopListening()
          resolve(code)
        }),
        (err) => {
          io.stderr(`bug: stopping the peer threw: ${describeBug(err)}\n`)
          resolve(EXIT.failed)
        },
      )
    })
  })
  exit(code)
  return code
}

/** The configuration from the flags, the variables and the config file they name, if any. */
async function configFrom(flags: StartFlags, io: CliIo): Promise<PeerConfig> {
  try {
    const path = configFilePath(flags, io.env)
    const file = path === undefined ? undefined : await readPeerConfigFile(path)
    return peerConfigFromFlags(flags, io.env, {
      ...(file === undefined ? {} : { file }),
      stderrIsTTY: io.stderrIsTTY === true,
    })
  } catch (err) {
    // A bad flag, variable or file is a usage error (exit 2), whatever its source.
    if (err instanceof ChorusError) throw new UsageError(err.message, { cause: err })
    throw err
  }
}

/** A stream whose every write goes to `write` at once (the logger's default destination). */
function streamOnto(write: (text: string) => void): Writable {
  return new Writable({
    write(chunk: Buffer, _encoding, done) {
      write(chunk.toString('utf8'))
      done()
    },
  })
}

function processSignals(listener: (signal: 'SIGINT' | 'SIGTERM') => void): () => void {
  const onInt = (): void => listener('SIGINT')
  const onTerm = (): void => listener('SIGTERM')
  process.on('SIGINT', onInt)
  process.on('SIGTERM', onTerm)
  return () => {
    process.off('SIGINT', onInt)
    process.off('SIGTERM', onTerm)
  }
}
