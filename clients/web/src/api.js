// HTTP to the caseflow API: bearer tokens from IndexedDB, one refresh (rotation) on a 401.
import { getMeta, setMeta } from './db.js'

export class HttpError extends Error {
  constructor(status, problem) {
    super(problem?.detail || `HTTP ${status}`)
    this.status = status
    this.problem = problem || {}
  }
}
export class Offline extends Error {}

async function raw(method, path, body, token) {
  const headers = { Accept: 'application/json' }
  if (body !== undefined) headers['Content-Type'] = 'application/json'
  if (token) headers.Authorization = `Bearer ${token}`
  let r
  try {
    r = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) })
  } catch (e) {
    throw new Offline(String(e))
  }
  const text = await r.text()
  let json = null
  try { json = text ? JSON.parse(text) : null } catch { json = null }
  return { status: r.status, json, headers: r.headers }
}

export async function refresh() {
  const token = await getMeta('refresh_token')
  if (!token) return false
  const r = await raw('POST', '/api/v1/auth/refresh', undefined, token)
  if (r.status !== 200) return false
  await setMeta('access_token', r.json.access_token)
  if (r.json.refresh_token) await setMeta('refresh_token', r.json.refresh_token)
  return true
}

// Answers {status, json}; throws Offline when the network is down, HttpError(401) when the
// session is over (log in again).
export async function call(method, path, body) {
  let r = await raw(method, path, body, await getMeta('access_token'))
  if (r.status === 401 && await refresh()) r = await raw(method, path, body, await getMeta('access_token'))
  if (r.status === 401) throw new HttpError(401, r.json)
  return r
}

export async function login(username, password, deviceId) {
  return raw('POST', '/api/v1/auth/login', { username, password, device_id: deviceId })
}
