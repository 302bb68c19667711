/**
 * A `(line) => void` callback over a Logger, for the components that still take one
 * (scheduling, function hosts, definitions, HTTP) until they take a Logger themselves: a
 * line that says `bug:` is an error, any other is info.
 */
import type { Logger } from './logger.js'

export function lineLog(log: Logger): (line: string) => void {
  return (line) => (line.startsWith('bug:') ? log.error(line) : log.info(line))
}
