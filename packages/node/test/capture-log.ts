/**
 * A Logger for tests that keeps what it logs as parsed records, to assert on (the peer
 * logs through pino; see src/observability/logger.ts).
 */
import { createLogger, type Logger, type LogLevel } from '../src/observability/logger.js'

export interface LogRecord {
  readonly level: string
  readonly msg: string
  readonly component?: string
  readonly [field: string]: unknown
}

export function captureLog(level: LogLevel = 'debug'): { log: Logger; records: LogRecord[] } {
  const records: LogRecord[] = []
  const destination = {
    write(chunk: string) {
      for (const line of chunk.split('\n')) {
        if (line !== '') records.push(JSON.parse(line) as LogRecord)
      }
      return true
    },
  } as unknown as NodeJS.WritableStream
  return { log: createLogger({ level, destination }), records }
}

/** The message of a serialised `err` field (pino writes `{ type, message, stack }`). */
export function errMessage(record: LogRecord): string {
  const err = record.err as { message?: string } | string | undefined
  return typeof err === 'string' ? err : (err?.message ?? '')
}

/** A Logger whose messages land in `lines`, as they are logged (for tests that match text). */
export function captureLines(level: LogLevel = 'debug'): { log: Logger; lines: string[] } {
  const lines: string[] = []
  const destination = {
    write(chunk: string) {
      for (const line of chunk.split('\n')) {
        if (line !== '') lines.push((JSON.parse(line) as LogRecord).msg)
      }
      return true
    },
  } as unknown as NodeJS.WritableStream
  return { log: createLogger({ level, destination }), lines }
}
