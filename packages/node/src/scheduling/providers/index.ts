/**
 * The providers a peer's schedulers run functions on, one file each: `builtin` (echo and
 * sleep), `mesh` (functions in worker hosts on any peer), `http` (an HTTP endpoint) and
 * `choreography` (a run of steps, each an invocation). What each implements is
 * `../provider.ts`.
 */
export { BUILTIN_PROVIDER, BuiltinProvider } from './builtin-provider.js'
export { CHOREOGRAPHY_PROVIDER, ChoreographyProvider } from './choreography-provider.js'
export { HTTP_PROVIDER, HttpProvider } from './http-provider.js'
export { MESH_PROVIDER, MeshProvider } from './mesh-provider.js'
