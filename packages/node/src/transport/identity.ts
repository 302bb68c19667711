/**
 * The peer's persisted Ed25519 identity: a restarted peer keeps its peer id.
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'
import { ChorusError } from '../errors.js'

const IDENTITY_FILE = 'identity.key'

/** Loads the key from `<dataDir>/identity.key`, creating the directory and key on first start. */
export async function loadOrCreateIdentity(dataDir: string): Promise<PrivateKey> {
  const file = join(dataDir, IDENTITY_FILE)
  let bytes: Buffer | undefined
  try {
    bytes = await readFile(file)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
  }
  if (bytes !== undefined) {
    try {
      return privateKeyFromProtobuf(bytes)
    } catch (err) {
      throw new ChorusError(
        'bad-request',
        `${file} is not a valid identity key (${(err as Error).message}); move it away to start with a new peer id`,
      )
    }
  }
  const key = await generateKeyPair('Ed25519')
  await mkdir(dataDir, { recursive: true, mode: 0o700 })
  // Write-then-rename, so a crash never leaves a half-written key behind.
  const partial = `${file}.${process.pid}.tmp`
  await writeFile(partial, privateKeyToProtobuf(key), { mode: 0o600 })
  await rename(partial, file)
  return key
}

/** The contents of a private network's swarm key file (`--psk`). */
export async function readPreSharedKey(file: string): Promise<Uint8Array> {
  try {
    return await readFile(file)
  } catch (err) {
    throw new ChorusError(
      'bad-request',
      `cannot read the pre-shared key ${file}: ${(err as Error).message}`,
    )
  }
}
