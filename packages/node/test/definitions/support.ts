/** Helpers for the definitions tests: operation builders, temp dirs, polling with a deadline. */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { DefinitionOp } from '../../src/definitions/definition-op.js'
import type { FunctionSpec } from '../../src/definitions/function-spec.js'

export const DIGEST_A = 'a'.repeat(64)
export const DIGEST_B = 'b'.repeat(64)

export const SPEC: FunctionSpec = {
  runtime: 'nodejs',
  provider: 'mesh',
  memoryMb: 128,
  timeoutMs: 60_000,
  concurrency: 1,
  digest: DIGEST_A,
}

/** A function put operation; fields override the defaults. */
export function fnPut(
  fields: Partial<Omit<DefinitionOp, 'kind' | 'action'>> & { spec?: Partial<FunctionSpec> } = {},
): DefinitionOp {
  const { spec, ...rest } = fields
  return {
    kind: 'function',
    action: 'put',
    owner: 'acme',
    name: 'resize',
    version: 1,
    hlc: { wall: 1000, counter: 0 },
    origin: 'p1',
    ...rest,
    spec: { ...SPEC, ...spec },
  }
}

export function tombstone(fields: Partial<Omit<DefinitionOp, 'action'>> = {}): DefinitionOp {
  return {
    kind: 'function',
    action: 'delete',
    owner: 'acme',
    name: 'resize',
    version: 2,
    hlc: { wall: 2000, counter: 0 },
    origin: 'p1',
    ...fields,
  }
}

export { waitFor } from '../wait-for.js'

/** A temp directory, removed by the returned cleanup. */
export async function tempDir(): Promise<{ dir: string; remove: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'chorus-defs-'))
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) }
}
