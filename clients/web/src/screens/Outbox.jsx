import * as db from '../db.js'
import { useLocal } from '../hooks.js'
import { STATE_NAMES } from '../labels.js'

// Every change made on this device, newest first, with its state and the server's answer.
export default function Outbox() {
  const [items] = useLocal(async () => (await db.all('outbox')).sort((a, b) => b.seq - a.seq))
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
                {(m.result?.problem?.errors || []).length > 0 && (
                  <ul>{m.result.problem.errors.map((e, i) => <li key={i}><code>{e.path}</code>: {e.message}</li>)}</ul>
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
