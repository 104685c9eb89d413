// Pieces the oversight screens share: an online-only read, the "needs a connection" notice, a
// download button that says what happened, and text for statuses.
import { useCallback, useEffect, useState } from 'react'
import * as db from '../../db.js'
import { download, explain } from './api.js'

// Read from the server now (and again when the connection returns); never from the device's replica.
export function useRemote(load, deps = []) {
  const [s, setS] = useState({ loading: true })
  const run = useCallback(() => {
    setS((prev) => ({ ...prev, loading: true }))
    load().then((data) => setS({ data }), (err) => setS({ error: explain(err) }))
  }, deps) // eslint-disable-line
  useEffect(() => {
    run()
    window.addEventListener('online', run)
    return () => window.removeEventListener('online', run)
  }, [run])
  return s
}

// Loading, offline or refused: what to show instead of the screen's body (null when there is data).
export function RemoteState({ s, what }) {
  if (s.error === 'offline') {
    return <p className="notice" role="status">{what} needs a connection: oversight shows the server's current figures, which are not kept on this device. It loads again when you are back online.</p>
  }
  if (s.error) return <p className="error" role="alert">{s.error}</p>
  if (!s.data) return <p>Loading…</p>
  return null
}

export function DownloadButton({ path, name, children }) {
  const [said, setSaid] = useState('')
  const [busy, setBusy] = useState(false)
  async function run() {
    setBusy(true)
    setSaid('')
    try {
      setSaid(`Downloaded ${await download(path, name)}.`)
    } catch (err) {
      const why = explain(err)
      setSaid(why === 'offline' ? 'Downloading needs a connection.' : `Not downloaded: ${why}`)
    } finally { setBusy(false) }
  }
  return (
    <span className="download">
      <button type="button" className="secondary" onClick={run} disabled={busy}>{children}</button>
      <span role="status" className="muted">{said}</span>
    </span>
  )
}

export const STATUS_TEXT = {
  overdue: 'Overdue', due_soon: 'Due soon', pending: 'Running', met: 'Met', missed: 'Missed',
  requested: 'Asked', draft: 'Draft started', returned: 'Returned', returned_for_amendment: 'Sent back for amendment',
}
export const statusText = (s) => STATUS_TEXT[s] || String(s || '').replace(/_/g, ' ')

export function daysLeft(n) {
  if (n == null) return 'stopped'
  if (n < 0) return `${-n} overdue`
  return String(n)
}

export const caseHref = (caseId, what) => `#/oversight/case/${encodeURIComponent(caseId)}/${what}`

// Case types from the device's replica (titles of types and states); the ids are shown without them.
export function useTypes() {
  const [types, setTypes] = useState(new Map())
  useEffect(() => {
    db.all('case_types').then((all) => {
      const m = new Map()
      for (const t of all) if (!m.has(t.data.case_type) || m.get(t.data.case_type).version < t.data.version) m.set(t.data.case_type, t.data)
      setTypes(m)
    })
  }, [])
  return types
}
