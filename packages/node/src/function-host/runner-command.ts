/**
 * How to start `nodejs-runner`: the compiled `nodejs-runner.js` next to this module (in
 * dist), or, when this module runs from the TypeScript sources (tests, tsx), the `.ts` file
 * under tsx's loader. Found from `import.meta.url`, so it works from either.
 */
import { existsSync } from 'node:fs'
import { createRequire } from 'node:module'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { ChorusError } from '../errors.js'

export interface RunnerCommand {
  /** Node options that must come before the script (`--import <tsx>` from the sources). */
  readonly execArgv: readonly string[]
  readonly script: string
}

let cached: RunnerCommand | undefined

export function runnerCommand(): RunnerCommand {
  cached ??= resolveRunner()
  return cached
}

function resolveRunner(): RunnerCommand {
  const js = fileURLToPath(new URL('./nodejs-runner.js', import.meta.url))
  if (existsSync(js)) return { execArgv: [], script: js }
  const ts = fileURLToPath(new URL('./nodejs-runner.ts', import.meta.url))
  if (!existsSync(ts)) {
    throw new ChorusError('internal', `the nodejs runner is missing: neither ${js} nor ${ts}`)
  }
  let tsx: string
  try {
    tsx = createRequire(import.meta.url).resolve('tsx')
  } catch {
    throw new ChorusError(
      'internal',
      `running from TypeScript sources needs tsx to start ${ts}; build the package (npm run build)`,
    )
  }
  return { execArgv: ['--import', pathToFileURL(tsx).href], script: ts }
}
