import { useMemo, useState } from 'react'
import * as db from '../db.js'
import { useLocal } from '../hooks.js'
import { stateTitle } from '../labels.js'

async function load() {
  const [cases, types, outbox] = await Promise.all([db.all('cases'), db.all('case_types'), db.all('outbox')])
  const ct = new Map()
  for (const t of types) {
    const prev = ct.get(t.data.case_type)
    if (!prev || prev.version < t.data.version) ct.set(t.data.case_type, t.data)
  }
  const waiting = new Map()
  for (const m of outbox) if (['waiting', 'sent', 'pending'].includes(m.state)) waiting.set(m.case_id, (waiting.get(m.case_id) || 0) + 1)
  const created = outbox.filter((m) => m.kind === 'create_case' && !['applied', 'rejected'].includes(m.state)
    && !cases.some((c) => c.id === m.case_id))
  return { cases: cases.map((c) => c.data), ct, waiting, created }
}

function worst(deadlines) {
  const open = (deadlines || []).filter((d) => ['overdue', 'due_soon', 'pending'].includes(d.status))
  return open.sort((a, b) => a.due.localeCompare(b.due))[0]
}

export default function CaseList() {
  const [data] = useLocal(load)
  const [state, setState] = useState('')
  const [due, setDue] = useState('')
  const [q, setQ] = useState('')
  const rows = useMemo(() => {
    if (!data) return []
    const needle = q.trim().toLowerCase()
    return data.cases.filter((c) => (!state || c.state === state)
      && (!due || (c.deadlines || []).some((d) => (due === 'overdue' ? d.status === 'overdue' : ['due_soon', 'overdue'].includes(d.status))))
      && (!needle || c.reference.toLowerCase().includes(needle)))
      .sort((a, b) => (worst(a.deadlines)?.due || '9').localeCompare(worst(b.deadlines)?.due || '9'))
  }, [data, state, due, q])
  if (!data) return <p>Loading…</p>
  const states = [...new Set(data.cases.map((c) => c.state))].sort()
  return (
    <>
      <h1>My cases</h1>
      <div className="filters" role="search">
        <div>
          <label htmlFor="q">Search by reference</label>
          <input id="q" type="search" value={q} onChange={(e) => setQ(e.target.value)} />
        </div>
        <div>
          <label htmlFor="f-state">State</label>
          <select id="f-state" value={state} onChange={(e) => setState(e.target.value)}>
            <option value="">Every state</option>
            {states.map((s) => <option key={s} value={s}>{stateTitle(firstType(data, s), s)}</option>)}
          </select>
        </div>
        <div>
          <label htmlFor="f-due">Deadlines</label>
          <select id="f-due" value={due} onChange={(e) => setDue(e.target.value)}>
            <option value="">All cases</option>
            <option value="overdue">Overdue</option>
            <option value="soon">Due soon or overdue</option>
          </select>
        </div>
      </div>
      {data.created.length > 0 && (
        <ul className="cards">
          {data.created.map((m) => (
            <li key={m.seq} className="card"><strong>New {m.payload.case_type.replace(/_/g, ' ')} referral</strong>
              <span className="badge waiting">Waiting to send</span></li>
          ))}
        </ul>
      )}
      <p className="count">{rows.length} of {data.cases.length} cases</p>
      <ul className="cards case-list">
        {rows.map((c) => {
          const ct = data.ct.get(c.case_type)
          const d = worst(c.deadlines)
          return (
            <li key={c.case_id} className="card">
              <a href={`#/case/${encodeURIComponent(c.case_id)}`}><strong>{c.reference}</strong></a>
              <span>{ct?.title || c.case_type}</span>
              <span>{stateTitle(ct, c.state)}</span>
              {d && <span className={`badge ${d.status}`}>{d.title || d.name}: due {d.due} ({d.status.replace('_', ' ')})</span>}
              {data.waiting.get(c.case_id) ? <span className="badge waiting">{data.waiting.get(c.case_id)} change(s) to send</span> : null}
            </li>
          )
        })}
      </ul>
      {!data.cases.length && <p>No cases yet. They appear here once the server has them for you.</p>}
    </>
  )
}

function firstType(data, state) {
  for (const ct of data.ct.values()) if (ct.states.some((s) => s.id === state)) return ct
  return null
}
