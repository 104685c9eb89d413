// Online reads for the oversight screens (ADR 0021): JSON, the timeline SVG and file downloads, with
// the app's bearer token. Oversight reads the server's current figures, so nothing here is cached.
import { getMeta } from '../../db.js'
import { HttpError, Offline, refresh } from '../../api.js'

// who may use what (sync/oversight.py, server/resources/documents.py): the server decides, the app
// only hides links that would be refused
export const OVERSIGHT_ROLES = ['business_team', 'crg_member', 'statutory_lead', 'la_head_of_safeguarding']
export const TRAIL_ROLES = ['business_team', 'crg_member']
export const hasRole = (user, roles) => (user?.roles || []).some((r) => roles.includes(r))

async function get(path, accept) {
  if (!navigator.onLine) throw new Offline('offline')
  const once = async () => {
    try {
      return await fetch(path, { headers: { Accept: accept, Authorization: `Bearer ${await getMeta('access_token')}` } })
    } catch (e) { throw new Offline(String(e)) }
  }
  let r = await once()
  if (r.status === 401 && await refresh()) r = await once()
  if (!r.ok) {
    let problem = null
    try { problem = await r.json() } catch { problem = null }
    throw new HttpError(r.status, problem)
  }
  return r
}

export const getJson = async (path) => (await get(path, 'application/json')).json()
export const getText = async (path, accept) => (await get(path, accept)).text()

// Save a file the API streams: fetched with the token (a plain link cannot send it), then handed to
// the browser as a download.
export async function download(path, fallbackName) {
  const r = await get(path, '*/*')
  const named = /filename="([^"]+)"/.exec(r.headers.get('Content-Disposition') || '')
  const url = URL.createObjectURL(await r.blob())
  const a = document.createElement('a')
  a.href = url
  a.download = named ? named[1] : fallbackName
  document.body.appendChild(a)
  a.click()
  a.remove()
  setTimeout(() => URL.revokeObjectURL(url), 10_000)
  return a.download
}

export function explain(err) {
  if (err instanceof Offline) return 'offline'
  if (err instanceof HttpError) return err.problem?.detail || `The server answered ${err.status}.`
  return String(err?.message || err)
}
