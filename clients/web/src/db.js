// The device's local data in IndexedDB (idb): the replica pulled from /api/v1/sync/pull, cached
// case views and the cases whose view is stale, local drafts, and the persistent outbox of mutations
// with the contract's (device, seq).
import { openDB, deleteDB } from 'idb'

const NAME = 'caseflow'
const VERSION = 3
// the pickers' look-ups (sync/lookups.py): the partnership's agencies and the people who can be
// assigned or asked to vote, kept so that an offline device has them (schema version 2)
const LOOKUPS = ['agencies', 'users']
const REPLICA = ['cases', 'submissions', 'conflicts', 'forms', 'case_types', 'alerts', ...LOOKUPS]
export const ENTITY_STORE = {
  case: 'cases', submission: 'submissions', conflict: 'conflicts', form: 'forms', case_type: 'case_types',
  alert: 'alerts', agency: 'agencies', user: 'users',
}

let dbp = null
export function db() {
  if (!dbp) {
    dbp = openDB(NAME, VERSION, {
      async upgrade(d, oldVersion, _newVersion, tx) {
        if (oldVersion < 1) {
          d.createObjectStore('meta')
          for (const s of REPLICA.filter((s) => !LOOKUPS.includes(s))) {
            const store = d.createObjectStore(s, { keyPath: 'id' })
            if (s === 'submissions' || s === 'conflicts') store.createIndex('case_id', 'data.case_id')
          }
          d.createObjectStore('views', { keyPath: 'case_id' })
          d.createObjectStore('drafts', { keyPath: 'key' })
          const outbox = d.createObjectStore('outbox', { keyPath: 'seq' })
          outbox.createIndex('case_id', 'case_id')
        }
        if (oldVersion < 2) {
          for (const s of LOOKUPS) d.createObjectStore(s, { keyPath: 'id' })
          // a version 1 device skipped the look-ups it was sent: pull again from the start (puts by id
          // and version, so the rest of the replica is only refreshed; outbox and drafts untouched)
          if (oldVersion >= 1) tx.objectStore('meta').put('', 'cursor')
        }
        if (oldVersion < 3) {
          // version 3: the cases whose server view is stale (key: case id). A device upgraded from an
          // older version fetched at most 100 views per sync, so every case it holds starts stale.
          const stale = d.createObjectStore('stale')
          for (const id of await tx.objectStore('cases').getAllKeys()) stale.put('upgrade', id)
        }
      },
    })
  }
  return dbp
}

export async function getMeta(key) { return (await db()).get('meta', key) }
export async function setMeta(key, value) { return (await db()).put('meta', value, key) }

export async function all(store) { return (await db()).getAll(store) }
export async function get(store, key) { return (await db()).get(store, key) }
export async function put(store, value) { return (await db()).put(store, value) }
// several values in one transaction: a reader sees all of them or none (e.g. a push's results)
export async function putAll(store, values) {
  const tx = (await db()).transaction(store, 'readwrite')
  for (const v of values) tx.store.put(v)
  await tx.done
}
export async function del(store, key) { return (await db()).delete(store, key) }
export async function byCase(store, caseId) {
  const d = await db()
  return store === 'outbox' ? d.getAllFromIndex('outbox', 'case_id', caseId)
    : d.getAllFromIndex(store, 'case_id', caseId)
}

// One pulled page and its cursor in one transaction: a crash never skips a page, and every case a
// page touched is marked stale in the same transaction, so its view is fetched even if the app is
// closed before the views are (sync.js works through the stale cases in bounded batches).
export async function applyPage(changes, cursor) {
  const d = await db()
  const tx = d.transaction([...REPLICA, 'meta', 'views', 'stale'], 'readwrite')
  const stale = tx.objectStore('stale')
  for (const c of changes) {
    const store = ENTITY_STORE[c.entity]
    if (!store) continue
    if (c.deleted) {
      tx.objectStore(store).delete(c.id)
      if (c.entity === 'case') { tx.objectStore('views').delete(c.id); stale.delete(c.id) }
    } else {
      tx.objectStore(store).put({ id: c.id, version: c.version, data: c.data })
    }
    // the mark is this page's cursor: a view fetched before a later page marked the case again stays stale
    if (c.entity === 'case' && !c.deleted) stale.put(cursor, c.id)
    else if (c.entity !== 'case' && c.data?.case_id) stale.put(cursor, c.data.case_id)
  }
  tx.objectStore('meta').put(cursor, 'cursor')
  await tx.done
}

// The view fetched after `mark` was read is current, unless a later pull marked the case again.
export async function unmarkStale(caseId, mark) {
  const d = await db()
  const tx = d.transaction('stale', 'readwrite')
  if ((await tx.store.get(caseId)) === mark) await tx.store.delete(caseId)
  await tx.done
}

// Case ids whose view is stale, at most `limit` of them (key order), and how many there are in all.
export async function staleCases(limit) {
  const d = await db()
  const tx = d.transaction('stale')
  const [ids, total] = await Promise.all([tx.store.getAllKeys(null, limit), tx.store.count()])
  return { ids, total }
}

// 410 cursor-reset: empty the replica (not the outbox, nor the drafts) and pull from the start.
export async function clearReplica() {
  const d = await db()
  const tx = d.transaction([...REPLICA, 'views', 'stale', 'meta'], 'readwrite')
  for (const s of [...REPLICA, 'views', 'stale']) tx.objectStore(s).clear()
  tx.objectStore('meta').put('', 'cursor')
  await tx.done
}

// 403 device-revoked, or another person logging in: everything goes, outbox and tokens included.
export async function wipe() {
  if (dbp) { (await dbp).close(); dbp = null }
  await deleteDB(NAME)
}

// Queue one mutation: the seq is allocated and the mutation stored in one transaction, so no seq
// is ever reused or skipped (the server holds later seqs as pending until the gap is filled).
export async function enqueue(kind, caseId, payload, baseVersion, label) {
  const d = await db()
  const tx = d.transaction(['meta', 'outbox'], 'readwrite')
  const meta = tx.objectStore('meta')
  const seq = (await meta.get('next_seq')) || 1
  meta.put(seq + 1, 'next_seq')
  const item = {
    seq, mutation_id: crypto.randomUUID(), kind, case_id: caseId, base_version: baseVersion ?? null, payload,
    client_time: new Date().toISOString(), state: 'waiting', label: label || kind, result: null,
  }
  tx.objectStore('outbox').put(item)
  await tx.done
  return item
}
