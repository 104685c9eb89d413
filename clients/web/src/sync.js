// Sync: push the outbox in whole batches (seq order), then pull the feed; on start, when the
// network returns, when the app gets focus, and after every queued change; backoff on failure.
import { call, HttpError, Offline } from './api.js'
import * as db from './db.js'

const BATCH = 200
// case views fetched per sync round: a round stays short, so a change queued meanwhile is pushed
// soon; the rounds go on (each pushing first) until no view is stale
export const VIEW_BATCH = 50
const SETTLED = new Set(['applied', 'duplicate', 'conflict', 'rejected'])
const listeners = new Set()
let running = null
let again = false
let failures = 0
let timer = null
export const status = { state: 'idle', message: '', lastSync: null }

export function notify() { emit({}) }
export function subscribe(fn) { listeners.add(fn); return () => listeners.delete(fn) }
function emit(patch) { Object.assign(status, patch); for (const fn of listeners) fn({ ...status }) }

export class DeviceRevoked extends Error {}

// Exponential backoff with full jitter, capped at a minute.
function scheduleRetry() {
  failures += 1
  const delay = Math.random() * Math.min(60000, 1000 * 2 ** failures)
  clearTimeout(timer)
  timer = setTimeout(() => syncNow(), delay)
}

export function syncNow() {
  if (running) { again = true; return running }
  running = (async () => {
    try {
      do {
        again = false
        await syncOnce()
      } while (again)
      failures = 0
      emit({ state: 'idle', message: '', lastSync: new Date().toISOString() })
    } catch (e) {
      if (e instanceof DeviceRevoked) {
        emit({ state: 'revoked', message: e.message })
      } else if (e instanceof HttpError && e.status === 401) {
        emit({ state: 'login', message: 'Your session has ended: log in again. Nothing you saved is lost.' })
      } else {
        emit({ state: 'offline', message: e instanceof Offline ? 'Offline: your changes are kept on this device.'
          : `Sync failed: ${e.message}. Trying again soon.` })
        scheduleRetry()
      }
    } finally {
      running = null
    }
  })()
  return running
}

async function syncOnce() {
  if (!(await db.getMeta('access_token'))) return
  if (!navigator.onLine) throw new Offline('offline') // nothing is marked sent that never left
  emit({ state: 'syncing', message: 'Syncing…' })
  await push()
  await pull()
  const { fetched, left } = await refreshViews(VIEW_BATCH)
  if (left > 0 && fetched > 0) {
    again = true // another round at once: push, pull, the next batch of views
    emit({ message: `Syncing… the details of ${left} more case${left === 1 ? '' : 's'} to download` })
  }
}

async function revoked(r) {
  if (r.status === 403 && (r.json?.type || '').endsWith('/device-revoked')) {
    const detail = r.json.detail || 'This device was revoked.'
    await db.wipe()
    localStorage.setItem('caseflow.notice',
      `This device's access was withdrawn by an administrator, so everything caseflow kept on it has been removed. ${detail}`)
    throw new DeviceRevoked(detail)
  }
}

export async function push() {
  for (;;) {
    const items = (await db.all('outbox')).filter((m) => !SETTLED.has(m.state)).sort((a, b) => a.seq - b.seq)
    if (!items.length) return
    const batch = items.slice(0, BATCH)
    await db.putAll('outbox', batch.filter((m) => m.state === 'waiting').map((m) => ({ ...m, state: 'sent' })))
    const body = {
      device_id: await db.getMeta('device_id'),
      mutations: batch.map((m) => ({
        mutation_id: m.mutation_id, seq: m.seq, kind: m.kind, case_id: m.case_id, base_version: m.base_version,
        payload: m.payload, client_time: m.client_time,
      })),
    }
    const r = await call('POST', '/api/v1/sync/push', body)
    await revoked(r)
    if (r.status !== 200) throw new Error(r.json?.detail || `the server answered ${r.status}`)
    const bySeq = new Map(batch.map((m) => [m.seq, m]))
    const settled = []
    for (const res of r.json.results) {
      const m = bySeq.get(res.seq)
      if (!m) continue
      const state = res.status === 'duplicate' ? 'applied' : res.status
      settled.push({ ...m, state, result: res })
    }
    // one transaction: the screens never show half a batch's results (a created case "sent" beside
    // its own referral "applied")
    await db.putAll('outbox', settled)
    const progressed = settled.some((m) => SETTLED.has(m.state))
    if (!progressed) return // all pending (an earlier seq is missing): try again at the next sync
  }
}

export async function pull() {
  let cursor = (await db.getMeta('cursor')) || ''
  for (let page = 0; page < 10000; page++) {
    const r = await call('GET', `/api/v1/sync/pull?cursor=${encodeURIComponent(cursor)}&limit=500`)
    await revoked(r)
    if (r.status === 410) { // cursor-reset: the server asks for a resync from the empty cursor
      await db.clearReplica()
      cursor = ''
      continue
    }
    if (r.status !== 200) throw new Error(r.json?.detail || `the server answered ${r.status}`)
    await db.applyPage(r.json.changes, r.json.cursor)
    cursor = r.json.cursor
    if (!r.json.has_more) break
  }
}

// The server's case view (allowed and blocked events, open forms, approvals, conflicts) is kept
// for offline use for every case on the device. A pulled change marks its case stale (db.applyPage);
// each round fetches at most `limit` stale views and says how many it fetched and how many are left.
export async function refreshViews(limit = VIEW_BATCH) {
  const { ids, total } = await db.staleCases(limit)
  let fetched = 0
  for (const id of ids) {
    if (!(await db.get('cases', id))) await db.del('stale', id) // e.g. a submission of a case not held here
    else if ((await refreshView(id, false)) === undefined) continue
    fetched += 1
  }
  if (ids.length) emit({}) // the screens re-read once per batch, not once per case
  return { fetched, left: total - fetched }
}

// One case's view; answers the view, null when the server says it is gone or not ours, undefined
// when the server failed (the case stays stale and is tried again at a later sync).
export async function refreshView(caseId, announce = true) {
  const mark = await db.get('stale', caseId) // a pull that marks it again meanwhile keeps it stale
  const r = await call('GET', `/api/v1/cases/${encodeURIComponent(caseId)}`)
  await revoked(r)
  let view
  if (r.status === 200) {
    view = r.json
    await db.put('views', { ...r.json, fetched_at: new Date().toISOString() })
  } else if (r.status === 404 || r.status === 403) {
    view = null
    await db.del('views', caseId)
  }
  if (view !== undefined) await db.unmarkStale(caseId, mark)
  if (announce) emit({})
  return view
}

export function startAutoSync() {
  window.addEventListener('online', () => syncNow())
  window.addEventListener('focus', () => syncNow())
  document.addEventListener('visibilitychange', () => { if (document.visibilityState === 'visible') syncNow() })
  syncNow()
}

// Queue a change and try to send it at once (it waits in the outbox when offline).
export async function queue(kind, caseId, payload, baseVersion, label) {
  const item = await db.enqueue(kind, caseId, payload, baseVersion, label)
  emit({})
  syncNow()
  return item
}
