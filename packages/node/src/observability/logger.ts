/**
 * The peer's logs: pino, JSON lines on stderr (or a readable form for a terminal), one
 * child logger per component, named after it (`transport:channels`, `mesh:membership`).
 * Pure cores do not log; their shells do.
 *
 * ```ts
 * const log = createLogger({ level: 'info' })
 * const channels = log.child({ component: 'transport:channels' })
 * channels.warn({ peer, err }, 'send failed')
 * ```
 */
import { pino, type Logger as PinoLogger } from 'pino'
import pretty from 'pino-pretty'

/** What a component logs with: pino's logger (child loggers included). */
export type Logger = PinoLogger

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const
export type LogLevel = (typeof LOG_LEVELS)[number]

export interface LoggerInit {
  /** Default `info`. */
  level?: LogLevel
  /** `json`: one JSON object a line. `pretty`: aligned and coloured, for people. Default `json`. */
  format?: 'json' | 'pretty'
  /** Default: stderr (fd 2). */
  destination?: NodeJS.WritableStream | number
}

export function createLogger(init: LoggerInit = {}): Logger {
  const level = init.level ?? 'info'
  const destination = init.destination ?? 2
  const options = {
    level,
    base: undefined,
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label: string) => ({ level: label }) },
    serializers: { err: pino.stdSerializers.err },
  }
  if (init.format === 'pretty') {
    const colorize = destination === 2 && process.stderr.isTTY
    return pino(
      options,
      pretty({
        colorize,
        destination: typeof destination === 'number' ? destination : (destination as never),
        sync: true,
        ignore: 'pid,hostname',
        messageKey: 'msg',
      }),
    )
  }
  return pino(
    options,
    typeof destination === 'number'
      ? pino.destination({ fd: destination, sync: true })
      : destination,
  )
}

/** A logger that writes nothing: the default of components and in-process tests. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' })
}
