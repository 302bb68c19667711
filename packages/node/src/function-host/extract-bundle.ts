/**
 * Unpacks a function bundle (a `.tgz`, or a plain `.tar`) into a directory, for a host's
 * `codeDir`. A minimal tar reader on top of node:zlib, so the peer needs no tar package:
 * POSIX ustar, pax (`path` records) and GNU long names (`tar czf` and `npm pack` output).
 *
 * Bundles come from users, so it is strict: entries must stay inside the directory (no
 * absolute paths, no `..`), links and device files are refused, and the unpacked size and the
 * number of entries are capped. Modes keep their executable bits (a `process` host's binary).
 */
import { mkdir, writeFile } from 'node:fs/promises'
import { dirname, join, resolve, sep } from 'node:path'
import { promisify } from 'node:util'
import { gunzip } from 'node:zlib'
import { ChorusError } from '../errors.js'

export interface ExtractBundleOptions {
  /**
   * Leading path components to drop, like tar's `--strip-components` (`npm pack` puts
   * everything under `package/`). Default 0.
   */
  readonly strip?: number
  /** Largest unpacked size, in bytes. Default 256 MiB. */
  readonly maxBytes?: number
  /** Most entries (files and directories). Default 10 000. */
  readonly maxEntries?: number
}

export interface ExtractedBundle {
  readonly files: number
  readonly bytes: number
}

export const DEFAULT_MAX_BUNDLE_BYTES = 256 * 1024 * 1024
export const DEFAULT_MAX_BUNDLE_ENTRIES = 10_000

const BLOCK = 512
const gunzipAsync = promisify(gunzip)

/** Unpacks `archive` into `dir` (made if missing). Throws `bad-request` for a bad bundle. */
export async function extractBundle(
  archive: Uint8Array,
  dir: string,
  options: ExtractBundleOptions = {},
): Promise<ExtractedBundle> {
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_BUNDLE_BYTES
  const maxEntries = options.maxEntries ?? DEFAULT_MAX_BUNDLE_ENTRIES
  const strip = options.strip ?? 0
  const tar = await gunzipIfNeeded(archive, maxBytes)
  const root = resolve(dir)
  await mkdir(root, { recursive: true })

  let files = 0
  let bytes = 0
  let entries = 0
  let longName: string | undefined
  let offset = 0
  while (offset + BLOCK <= tar.length) {
    const header = tar.subarray(offset, offset + BLOCK)
    if (header.every((byte) => byte === 0)) break // end of archive
    checkChecksum(header, offset)
    const size = octal(header, 124, 12, 'size')
    const type = String.fromCharCode(header[156] ?? 0)
    const dataStart = offset + BLOCK
    if (dataStart + size > tar.length) bad(`the entry at byte ${offset} is cut short`)
    const data = tar.subarray(dataStart, dataStart + size)
    offset = dataStart + Math.ceil(size / BLOCK) * BLOCK

    const name = longName ?? headerName(header)
    longName = undefined
    switch (type) {
      case 'x': // pax header of the next entry
        longName = paxPath(data)
        continue
      case 'L': // GNU long name of the next entry
        longName = cString(data, 0, data.length)
        continue
      case 'g': // pax global header
      case 'K': // GNU long link name
        continue
      case '1':
      case '2':
        bad(`${name} is a link; bundles may hold only files and directories`)
        break
      case '3':
      case '4':
      case '6':
        bad(`${name} is a device or a fifo; bundles may hold only files and directories`)
        break
    }
    const isFile = type === '0' || type === '\0' || type === '7'
    if (!isFile && type !== '5') continue // anything else (GNU volume labels...) carries nothing
    if (++entries > maxEntries) bad(`more than ${maxEntries} entries`)
    const relative = entryPath(name, strip)
    if (relative === undefined) continue
    const target = join(root, relative)
    if (!target.startsWith(root + sep)) bad(`${name} is outside the bundle`)
    if (type === '5') {
      await mkdir(target, { recursive: true })
      continue
    }
    bytes += size
    if (bytes > maxBytes) bad(`larger than ${maxBytes} bytes unpacked`)
    await mkdir(dirname(target), { recursive: true })
    const mode = (octal(header, 100, 8, 'mode') & 0o755) | 0o600
    await writeFile(target, data, { mode })
    files++
  }
  return { files, bytes }
}

async function gunzipIfNeeded(archive: Uint8Array, maxBytes: number): Promise<Buffer> {
  const buffer = Buffer.from(archive.buffer, archive.byteOffset, archive.byteLength)
  if (buffer[0] !== 0x1f || buffer[1] !== 0x8b) return buffer
  try {
    // headers and padding on top of the content: allow some slack over maxBytes
    return await gunzipAsync(buffer, { maxOutputLength: maxBytes + 64 * 1024 * 1024 })
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'ERR_BUFFER_TOO_LARGE') bad(`larger than ${maxBytes} bytes unpacked`)
    bad(`not a gzip archive: ${(err as Error).message}`)
  }
}

/** The entry's path in the bundle, `strip` components dropped; undefined if none is left. */
function entryPath(name: string, strip: number): string | undefined {
  if (name.startsWith('/') || /^[A-Za-z]:/.test(name)) bad(`${name} is an absolute path`)
  const parts = name.split('/').filter((part) => part !== '' && part !== '.')
  if (parts.some((part) => part === '..' || part.includes('\\'))) {
    bad(`${name} climbs out of the bundle`)
  }
  const kept = parts.slice(strip)
  return kept.length === 0 ? undefined : kept.join('/')
}

function headerName(header: Buffer): string {
  const name = cString(header, 0, 100)
  const ustar = header.toString('latin1', 257, 263) === 'ustar\0'
  const prefix = ustar ? cString(header, 345, 155) : ''
  return prefix === '' ? name : `${prefix}/${name}`
}

/** The `path` record of a pax header: lines of `<length> <key>=<value>\n`. */
function paxPath(data: Buffer): string | undefined {
  let path: string | undefined
  let at = 0
  while (at < data.length) {
    const space = data.indexOf(0x20, at)
    if (space < 0) break
    const length = Number(data.toString('latin1', at, space))
    if (!Number.isInteger(length) || length <= 0) bad('a pax header is malformed')
    const record = data.toString('utf8', space + 1, at + length - 1)
    const eq = record.indexOf('=')
    if (record.slice(0, eq) === 'path') path = record.slice(eq + 1)
    at += length
  }
  return path
}

function checkChecksum(header: Buffer, offset: number): void {
  const stored = octal(header, 148, 8, 'checksum')
  let sum = 0
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : (header[i] ?? 0)
  if (sum !== stored) bad(`not a tar archive (bad header checksum at byte ${offset})`)
}

function octal(header: Buffer, at: number, length: number, field: string): number {
  if (((header[at] ?? 0) & 0x80) !== 0) bad(`a ${field} over 8 GiB is not supported`)
  const text = cString(header, at, length).trim()
  if (text === '') return 0
  if (!/^[0-7]+$/.test(text))
    bad(`not a tar archive (the ${field} field is ${JSON.stringify(text)})`)
  return parseInt(text, 8)
}

function cString(buffer: Buffer, at: number, length: number): string {
  const end = buffer.indexOf(0, at)
  return buffer.toString('utf8', at, end < 0 || end > at + length ? at + length : end)
}

function bad(message: string): never {
  throw new ChorusError('bad-request', `bundle: ${message}`)
}
