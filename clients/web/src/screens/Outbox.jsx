import * as db from '../db.js'
import { useLocal } from '../hooks.js'
import { formDoc, STATE_NAMES } from '../labels.js'
import { fieldTitle } from '../forms.jsx'

// The form a mutation saves (a submission, or a referral's opening form), for naming its fields.
function formOf(m) {
  const p = m.kind === 'create_case' ? m.payload?.referral : m.kind === 'save_submission' ? m.payload : null
  return p?.form_id ? formDoc(p.form_id, p.form_version) : null
}

async function load() {
  const items = (await db.all('outbox')).sort((a, b) => b.seq - a.seq)
  return Promise.all(items.map(async (m) => {
    if (m.state !== 'rejected' || !m.result?.problem?.errors?.length) return m
    const schema = (await formOf(m))?.schema
    return { ...m, fields: m.result.problem.errors.map((e) => ({ title: fieldTitle(schema, e.path), message: e.message })) }
  }))
}

// Every change made on this device, newest first, with its state and the server's answer; a
// rejected change names each field by its title in the form, never by a JSON Pointer.
export default function Outbox() {
  const [items] = useLocal(load)
  if (!items) return <p>Loading…</p>
  return (
    <>
      <h1>Changes on this device</h1>
      {!items.length && <p>Nothing yet.</p>}
      <ol className="cards outbox" reversed>
        {items.map((m) => (
          <li key={m.seq} className="card">
            <strong>{m.label}</strong>
            <span className={`badge ${m.state}`}>{STATE_NAMES[m.state]}</span>
            <span className="muted">#{m.seq} · {new Date(m.client_time).toLocaleString('en-GB')}</span>
            {m.state === 'conflict' && <span>{m.result?.detail || 'The case moved on: open the case to resolve it.'}</span>}
            {m.state === 'rejected' && (
              <div>
                <p>{m.result?.problem?.detail}</p>
                {m.fields?.length > 0 && (
                  <ul className="field-errors">{m.fields.map((e, i) => <li key={i}><strong>{e.title}</strong>: {e.message}</li>)}</ul>
                )}
              </div>
            )}
            {m.case_id && <a href={`#/case/${encodeURIComponent(m.case_id)}`}>Open the case</a>}
          </li>
        ))}
      </ol>
    </>
  )
}
