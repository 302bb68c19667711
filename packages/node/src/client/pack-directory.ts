/**
 * Packs a directory into a function bundle (a `.tgz`) in process: a small POSIX ustar writer
 * (pax `path` records for long names) on top of node:zlib, so deploying a directory needs no
 * `tar` binary. What it writes is what `extractBundle` reads back.
 *
 *     const tgz = await packDirectory('./resize') // Uint8Array, gzip magic first
 *     await fetch(`${peer}/v1/owners/acme/functions`, {
 *       method: 'POST',
 *       headers: { 'content-type': 'application/json' },
 *       body: JSON.stringify({ name: 'resize', runtime: 'nodejs', codeBase64: Buffer.from(tgz).toString('base64') }),
 *     })
 *
 * The output depends only on the files' paths, contents and executable bits (entries sorted,
 * times and owners zeroed), so packing the same directory twice gives the same digest.
 * A symlink is packed as what it points to when that stays inside the directory, and refused
 * when it leads outside it (or nowhere); sockets, fifos and devices are refused. The limits
 * default to the ones `extractBundle` enforces, so a bundle this packs is one a peer unpacks.
 */
import { lstat, readdir, readFile, realpath, stat } from 'node:fs/promises'
import { join, relative, resolve, sep } from 'node:path'
import { promisify } from 'node:util'
import { gzip } from 'node:zlib'
import {
  DEFAULT_MAX_BUNDLE_BYTES,
  DEFAULT_MAX_BUNDLE_ENTRIES,
} from '../function-host/extract-bundle.js'

export interface PackDirectoryOptions {
  /** Largest total size of the files packed, in bytes. Default 256 MiB (as `extractBundle`). */
  readonly maxBytes?: number
  /** Most entries (files and directories). Default 10 000 (as `extractBundle`). */
  readonly maxEntries?: number
  /**
   * Which entries to pack, by their `/`-separated path inside the directory (`lib/util.js`,
   * `node_modules`), asked before anything else is looked at: a directory left out is not
   * walked, a symlink left out is not followed. Default: everything.
   */
  readonly filter?: (path: string) => boolean
}

export type PackDirectoryProblem =
  | 'not-a-directory'
  | 'symlink-outside'
  | 'broken-symlink'
  | 'symlink-cycle'
  | 'unsupported-type'
  | 'bad-name'
  | 'too-large'
  | 'too-many-entries'

/** A directory that cannot be packed; `path` is the entry at fault (or the directory). */
export class PackDirectoryError extends Error {
  readonly problem: PackDirectoryProblem
  readonly path: string

  constructor(problem: PackDirectoryProblem, path: string, message: string) {
    super(message)
    this.name = 'PackDirectoryError'
    this.problem = problem
    this.path = path
  }
}

interface Entry {
  /** `/`-separated, relative to the packed directory; a directory's ends with `/`. */
  readonly path: string
  readonly kind: 'file' | 'directory'
  /** Where its bytes are (files). */
  readonly source?: string
  readonly executable: boolean
}

const BLOCK = 512
const gzipAsync = promisify(gzip)

/** Packs `dir` into a gzipped tar. Throws `PackDirectoryError` for what cannot be packed. */
export async function packDirectory(
  dir: string,
  options: PackDirectoryOptions = {},
): Promise<Uint8Array> {
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_BUNDLE_BYTES
  const maxEntries = options.maxEntries ?? DEFAULT_MAX_BUNDLE_ENTRIES
  const root = resolve(dir)
  const info = await stat(root)
  if (!info.isDirectory()) {
    throw new PackDirectoryError('not-a-directory', root, `${root} is not a directory`)
  }
  const realRoot = await realpath(root)
  const w: Walk = {
    root,
    realRoot,
    maxEntries,
    maxBytes,
    filter: options.filter,
    entries: [],
    bytes: 0,
  }
  await walk(w, '', [realRoot])

  const chunks: Buffer[] = []
  let bytes = 0
  for (const entry of w.entries) {
    const data = entry.source === undefined ? Buffer.alloc(0) : await readFile(entry.source)
    bytes += data.length // files may grow between the walk and now
    if (bytes > maxBytes) throw tooLarge(root, maxBytes)
    chunks.push(...entryBlocks(entry, data))
  }
  chunks.push(Buffer.alloc(2 * BLOCK)) // end of archive
  return new Uint8Array(await gzipAsync(Buffer.concat(chunks), { level: 9 }))
}

interface Walk {
  readonly root: string
  readonly realRoot: string
  readonly maxEntries: number
  readonly maxBytes: number
  readonly filter: PackDirectoryOptions['filter']
  readonly entries: Entry[]
  /** The sizes of the files walked so far. */
  bytes: number
}

/** Adds the entries under `rel` (in byte order of their names), depth first. */
async function walk(w: Walk, rel: string, ancestors: readonly string[]): Promise<void> {
  // Sorted by UTF-16 code units, whatever the locale: the same tree packs the same way.
  const names = (await readdir(join(w.root, rel))).sort()
  for (const name of names) {
    const path = rel === '' ? name : `${rel}/${name}`
    if (w.filter !== undefined && !w.filter(path)) continue
    if (name.includes('\\')) {
      throw new PackDirectoryError('bad-name', path, `${path}: a name with '\\' cannot be unpacked`)
    }
    const absolute = join(w.root, path)
    let info = await lstat(absolute)
    if (info.isSymbolicLink()) {
      const real = await realpath(absolute).catch(() => {
        throw new PackDirectoryError('broken-symlink', path, `${path} is a broken symlink`)
      })
      if (real !== w.realRoot && !real.startsWith(w.realRoot + sep)) {
        throw new PackDirectoryError(
          'symlink-outside',
          path,
          `${path} is a symlink to ${real}, outside ${w.root}`,
        )
      }
      info = await stat(absolute)
    }
    const kind = info.isDirectory() ? 'directory' : info.isFile() ? 'file' : undefined
    if (kind === undefined) {
      throw new PackDirectoryError(
        'unsupported-type',
        path,
        `${path} is neither a file nor a directory (a socket, fifo or device)`,
      )
    }
    if (w.entries.length >= w.maxEntries) {
      throw new PackDirectoryError(
        'too-many-entries',
        w.root,
        `${w.root} holds more than ${w.maxEntries} files and directories`,
      )
    }
    if (kind === 'file') {
      w.bytes += info.size
      if (w.bytes > w.maxBytes) throw tooLarge(w.root, w.maxBytes)
      const executable = (info.mode & 0o111) !== 0
      w.entries.push({ path, kind, source: absolute, executable })
      continue
    }
    const realDir = await realpath(absolute)
    if (ancestors.includes(realDir)) {
      const target = relative(w.realRoot, realDir) || '.'
      throw new PackDirectoryError('symlink-cycle', path, `${path} loops back to ${target}`)
    }
    w.entries.push({ path: `${path}/`, kind, executable: true })
    await walk(w, path, [...ancestors, realDir])
  }
}

function tooLarge(root: string, maxBytes: number): PackDirectoryError {
  return new PackDirectoryError(
    'too-large',
    root,
    `${root} holds more than ${maxBytes} bytes of files`,
  )
}

/** The header block(s) and padded data of one entry: a pax header first when its path needs one. */
function entryBlocks(entry: Entry, data: Buffer): Buffer[] {
  const blocks: Buffer[] = []
  const type = entry.kind === 'directory' ? '5' : '0'
  const mode = entry.executable ? 0o755 : 0o644
  const split = ustarName(entry.path)
  if (split === undefined) {
    const pax = paxRecord('path', entry.path)
    const paxName = `PaxHeader/${asciiTail(entry.path, 80)}`
    blocks.push(header({ name: paxName, prefix: '', type: 'x', mode: 0o644, size: pax.length }))
    blocks.push(padded(pax))
    const fallback = { name: asciiTail(entry.path, 100), prefix: '' }
    blocks.push(header({ ...fallback, type, mode, size: data.length }))
  } else {
    blocks.push(header({ ...split, type, mode, size: data.length }))
  }
  if (data.length > 0) blocks.push(padded(data))
  return blocks
}

/** The path as ustar's `prefix` + `name` (155 + 100 bytes), or undefined if it does not fit. */
function ustarName(path: string): { name: string; prefix: string } | undefined {
  if (Buffer.byteLength(path) <= 100) return { name: path, prefix: '' }
  // Split at a '/' so that the name (after it) fits in 100 bytes and the prefix in 155.
  const trimmed = path.endsWith('/') ? path.slice(0, -1) : path
  for (let at = trimmed.indexOf('/'); at > 0; at = trimmed.indexOf('/', at + 1)) {
    const prefix = trimmed.slice(0, at)
    const name = path.slice(at + 1)
    if (Buffer.byteLength(prefix) <= 155 && Buffer.byteLength(name) <= 100) return { name, prefix }
  }
  return undefined
}

/** `<length> <key>=<value>\n`, where length counts the whole record, its own digits included. */
function paxRecord(key: string, value: string): Buffer {
  const body = ` ${key}=${value}\n`
  const bodyBytes = Buffer.byteLength(body)
  let length = bodyBytes + 1
  while (String(length).length + bodyBytes !== length) length = String(length).length + bodyBytes
  return Buffer.from(`${length}${body}`)
}

/** The last characters of `path`, ASCII only, in at most `max` bytes: a readable placeholder. */
function asciiTail(path: string, max: number): string {
  const ascii = path.replace(/[^\x20-\x7e]/g, '_')
  return ascii.length <= max ? ascii : ascii.slice(ascii.length - max)
}

interface Header {
  readonly name: string
  readonly prefix: string
  readonly type: string
  readonly mode: number
  readonly size: number
}

function header(h: Header): Buffer {
  const block = Buffer.alloc(BLOCK)
  block.write(h.name, 0, 100, 'utf8')
  writeOctal(block, 100, 8, h.mode)
  writeOctal(block, 108, 8, 0) // uid
  writeOctal(block, 116, 8, 0) // gid
  writeOctal(block, 124, 12, h.size)
  writeOctal(block, 136, 12, 0) // mtime: zero, so the same files pack to the same bytes
  block.write(h.type, 156, 1, 'latin1')
  block.write('ustar\0', 257, 6, 'latin1')
  block.write('00', 263, 2, 'latin1')
  block.write(h.prefix, 345, 155, 'utf8')
  block.fill(0x20, 148, 156) // the checksum is summed with its own field as spaces
  let sum = 0
  for (const byte of block) sum += byte
  writeOctal(block, 148, 7, sum)
  block[155] = 0x20
  return block
}

/** `value` in octal, zero-padded to `length - 1` digits and NUL-terminated. */
function writeOctal(block: Buffer, at: number, length: number, value: number): void {
  block.write(`${value.toString(8).padStart(length - 1, '0')}\0`, at, length, 'latin1')
}

function padded(data: Buffer): Buffer {
  const rest = data.length % BLOCK
  return rest === 0 ? data : Buffer.concat([data, Buffer.alloc(BLOCK - rest)])
}
