/**
 * A libp2p component logger that logs nothing and costs nothing. libp2p's own creates a
 * `debug`-style logger (with a TTY check) for every connection and stream it opens, enabled or
 * not: in a 20-peer join storm that was ~3 % of each peer's CPU. It is used unless `DEBUG` asks
 * for libp2p's logs, which then work as libp2p documents.
 */
import type { ComponentLogger, Logger } from '@libp2p/interface'

const nothing = (): void => undefined

const silent: Logger = Object.assign((_formatter: unknown, ..._args: unknown[]) => undefined, {
  error: nothing,
  trace: nothing,
  enabled: false,
  newScope: (): Logger => silent,
})

export const silentLibp2pLogger: ComponentLogger = { forComponent: () => silent }

/** The silent logger, unless `DEBUG` is set (libp2p's default logger reads it). */
export function libp2pLoggerFor(env: NodeJS.ProcessEnv): ComponentLogger | undefined {
  return env.DEBUG === undefined || env.DEBUG === '' ? silentLibp2pLogger : undefined
}
