import { pino } from 'pino'
import type { Logger } from '../../src/observability/logger.js'

/** One line a logger wrote, parsed. */
export interface LogRecord {
  readonly level: number
  readonly msg: string
  readonly component?: string
  readonly err?: { readonly type: string; readonly message: string; readonly stack: string }
  readonly [key: string]: unknown
}

/** A logger that keeps every record it writes, for a test to look at. */
export function captureLogger(): { log: Logger; records: LogRecord[] } {
  const records: LogRecord[] = []
  const log = pino(
    { level: 'trace' },
    { write: (line: string) => records.push(JSON.parse(line) as LogRecord) },
  )
  return { log, records }
}
