#!/usr/bin/env node
/**
 * The `chorus` program (the package's `bin`, as `dist/cli.js`). The CLI itself is
 * `main(argv, io)` in `cli/main.ts`; this file runs it when it is the program, and reports
 * a rejection nobody handled as the bug it is.
 */
import './polyfill.js'
import { realpathSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { describeBug, EXIT, messageOf } from './cli/io.js'
import { main } from './cli/main.js'

export { DEFAULT_PEER_URL, EXIT, main, type CliIo } from './cli/main.js'

/** How the process reports a rejection nobody handled (a bug): tests look for it. */
export const UNHANDLED_REJECTION_MARK = 'chorus: bug: unhandled rejection:'

function isEntryPoint(): boolean {
  const script = process.argv[1]
  if (script === undefined) return false
  try {
    return realpathSync(script) === fileURLToPath(import.meta.url)
  } catch {
    return false
  }
}

if (isEntryPoint()) {
  // Every rejection should have been handled where it happened: one that was not is a bug
  // in this program, reported with its stack (tests fail on this line), not a reason to
  // take the peer down with everything it runs for others.
  process.on('unhandledRejection', (reason) => {
    process.stderr.write(`${UNHANDLED_REJECTION_MARK} ${describeBug(reason)}\n`)
  })
  // Piping into `head` closes stdout early; that is no error.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw err
  })
  main(process.argv.slice(2), {
    stdout: (text) => void process.stdout.write(text),
    stderr: (text) => void process.stderr.write(text),
    env: process.env,
    stderrIsTTY: process.stderr.isTTY === true,
    logDestination: 2,
  })
    .then((code) => {
      process.exitCode = code
    })
    .catch((err: unknown) => {
      process.stderr.write(`chorus: ${messageOf(err)}\n`)
      process.exitCode = EXIT.failed
    })
}
