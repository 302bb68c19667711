/**
 * Where a deployed function's code comes from, turned into the deploy body's `code` or
 * `codeBase64` (or, for an endpoint, `provider: 'http'` and its `url`). Paths are read with
 * node:fs, imported only when a path is given, so the rest of the client runs wherever
 * `fetch` does. `codeFileKind` is the one rule for what a code path is, by its name: the
 * SDK's `deploy` and `chorus deploy` (which deploys through the SDK) both follow it.
 */
import { ChorusClientError } from './client-error.js'

/**
 * A path (or `file:` URL) to a `.js`/`.mjs` module, a `.tgz` bundle or a directory (packed
 * into a `.tgz` here); the code itself; or `{ url }`, an endpoint that runs the function
 * elsewhere (provider `http`: any FaaS or HTTP service that answers POSTs).
 */
export type FunctionSource =
  | string
  | URL
  | { readonly code: string }
  | { readonly codeBase64: string }
  | { readonly url: string }

/** The deploy body's fields for a source. */
export type CodeFields =
  { code: string } | { codeBase64: string } | { provider: 'http'; url: string }

/** A file ending so (in any case) is an ES module, sent as `code`. */
export const MODULE_EXTENSIONS = ['.js', '.mjs'] as const
/** A file ending so (in any case) is a bundle, sent as `codeBase64`. */
export const BUNDLE_EXTENSIONS = ['.tgz', '.tar.gz'] as const

/**
 * What the file at `path` holds, by its name: a `module`, a `bundle`, or undefined for a name
 * that is neither (a directory is told apart by `stat`, not by its name).
 *
 *     codeFileKind('resize.mjs') // 'module'
 *     codeFileKind('app.tar.gz') // 'bundle'
 *     codeFileKind('resize.ts') // undefined
 */
export function codeFileKind(path: string): 'module' | 'bundle' | undefined {
  const name = path.toLowerCase()
  if (MODULE_EXTENSIONS.some((ext) => name.endsWith(ext))) return 'module'
  if (BUNDLE_EXTENSIONS.some((ext) => name.endsWith(ext))) return 'bundle'
  return undefined
}

export async function codeFields(source: FunctionSource): Promise<CodeFields> {
  if (typeof source === 'string' || source instanceof URL) return readSource(source)
  if (typeof source !== 'object' || source === null) {
    throw bad('a function source is a path, a file: URL, { code }, { codeBase64 } or { url }')
  }
  const { code, codeBase64, url } = source as Record<string, unknown>
  if ([code, codeBase64, url].filter((field) => field !== undefined).length !== 1) {
    throw bad('give exactly one of { code }, { codeBase64 } and { url }')
  }
  if (url !== undefined) {
    if (typeof url !== 'string' || !/^https?:\/\//i.test(url)) {
      throw bad('url must be an http:// or https:// URL')
    }
    return { provider: 'http', url }
  }
  if (code !== undefined) {
    if (typeof code !== 'string' || code === '') throw bad('code must be a non-empty string')
    return { code }
  }
  if (typeof codeBase64 !== 'string' || codeBase64 === '') {
    throw bad('codeBase64 must be a non-empty base64 string (a .tgz bundle)')
  }
  return { codeBase64 }
}

async function readSource(source: string | URL): Promise<CodeFields> {
  const [{ readFile, stat }, { fileURLToPath }] = await Promise.all([
    import('node:fs/promises'),
    import('node:url'),
  ])
  if (source instanceof URL && source.protocol !== 'file:') {
    throw bad(`a URL source is a file: URL; an endpoint is { url: '${source.href}' }`)
  }
  const path = source instanceof URL ? fileURLToPath(source) : source
  let isDirectory: boolean
  try {
    isDirectory = (await stat(path)).isDirectory()
  } catch (err) {
    throw bad(`cannot read ${path}: ${messageOf(err)}`, err)
  }
  if (isDirectory) {
    const { packDirectory, PackDirectoryError } = await import('./pack-directory.js')
    try {
      return { codeBase64: Buffer.from(await packDirectory(path)).toString('base64') }
    } catch (err) {
      if (!(err instanceof PackDirectoryError))
        throw bad(`cannot pack ${path}: ${messageOf(err)}`, err)
      throw new ChorusClientError('bad-request', `cannot pack ${path}: ${err.message}`, {
        cause: err,
        details: { problem: err.problem, path: err.path },
      })
    }
  }
  const kind = codeFileKind(path)
  if (kind === undefined) {
    throw bad(`${path}: expected a .js or .mjs module, a .tgz bundle or a directory`)
  }
  let bytes: Buffer
  try {
    bytes = await readFile(path)
  } catch (err) {
    throw bad(`cannot read ${path}: ${messageOf(err)}`, err)
  }
  if (kind === 'bundle') return { codeBase64: bytes.toString('base64') }
  return { code: bytes.toString('utf8') }
}

function bad(message: string, cause?: unknown): ChorusClientError {
  return new ChorusClientError('bad-request', message, cause === undefined ? {} : { cause })
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}
