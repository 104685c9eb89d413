import { useState } from 'react'
import { stateTitle } from '../../labels.js'
import { getJson, hasRole, TRAIL_ROLES } from './api.js'
import { caseHref, daysLeft, DownloadButton, RemoteState, statusText, useRemote, useTypes } from './common.jsx'

// Every open case the person may see, each clock with due date, working days left and status, most
// urgent first (the server's order), with the overdue and due-soon counts; and the exports.
export default function Dashboard({ user }) {
  const s = useRemote(() => getJson('/api/v1/oversight/dashboard'))
  const types = useTypes()
  const [show, setShow] = useState('')
  const [from, setFrom] = useState('')
  const [to, setTo] = useState('')
  const trail = hasRole(user, TRAIL_ROLES)
  const d = s.data
  const rows = d ? d.cases.filter((c) => !show || (show === 'overdue' ? c.overdue : c.overdue || c.due_soon)) : []
  const range = new URLSearchParams({ ...(from ? { from } : {}), ...(to ? { to } : {}) }).toString()
  return (
    <>
      <h1>Oversight: every open clock</h1>
      <RemoteState s={s} what="The oversight dashboard" />
      {d && (
        <>
          <dl className="facts counts">
            <dt>Open cases</dt><dd>{d.open_cases}</dd>
            <dt>Cases overdue</dt><dd>{d.counts.cases_overdue}</dd>
            <dt>Cases due soon</dt><dd>{d.counts.cases_due_soon}</dd>
            <dt>Clocks overdue</dt><dd>{d.counts.clocks_overdue}</dd>
            <dt>Clocks due soon</dt><dd>{d.counts.clocks_due_soon}</dd>
            <dt>Today</dt><dd>{d.today}</dd>
          </dl>
          <div className="filters">
            <div>
              <label htmlFor="o-show">Show</label>
              <select id="o-show" value={show} onChange={(e) => setShow(e.target.value)}>
                <option value="">Every open case</option>
                <option value="overdue">Overdue</option>
                <option value="soon">Due soon or overdue</option>
              </select>
            </div>
          </div>
          <p className="count">{rows.length} of {d.open_cases} open cases, most urgent first</p>
          <ol className="cards oversight-list">
            {rows.map((c) => {
              const ct = types.get(c.case_type)
              return (
                <li key={c.case_id} className={`card${c.overdue ? ' late' : c.due_soon ? ' soon' : ''}`}>
                  <h2 className="card-title">{c.reference}</h2>
                  <span>{ct?.title || c.case_type} · {stateTitle(ct, c.state)} (since {c.state_entered_on})</span>
                  {c.clocks.length ? (
                    // a narrow phone scrolls the table in its own region, never the page
                    <div className="table-wrap" role="region" aria-label={`Clocks of ${c.reference}`} tabIndex={0}>
                      <table className="clocks">
                        <caption className="visually-hidden">Clocks of {c.reference}</caption>
                        <thead><tr><th scope="col">Clock</th><th scope="col">Due</th><th scope="col">Working days left</th><th scope="col">Status</th></tr></thead>
                        <tbody>{c.clocks.map((k) => (
                          <tr key={k.name}><td>{k.title}</td><td className="date">{k.due}</td><td>{daysLeft(k.working_days_left)}</td>
                            <td><span className={`badge ${k.status}`}>{statusText(k.status)}</span></td></tr>
                        ))}</tbody>
                      </table>
                    </div>
                  ) : <span className="muted">No clock has started.</span>}
                  <span className="links">
                    <a href={caseHref(c.case_id, 'timeline')}>Timeline<span className="visually-hidden"> of {c.reference}</span></a>
                    {trail && <a href={caseHref(c.case_id, 'trail')}>Audit trail<span className="visually-hidden"> of {c.reference}</span></a>}
                  </span>
                </li>
              )
            })}
          </ol>
          {!d.cases.length && <p>No open case.</p>}
        </>
      )}
      <section aria-labelledby="h-exports">
        <h2 id="h-exports">Exports</h2>
        <p className="muted">Every case you may see, one row each, with each clock's due date and status. Each export is recorded in the audit log.</p>
        <div className="buttons">
          <DownloadButton path="/api/v1/exports/cases.csv" name="cases.csv">Cases (CSV)</DownloadButton>
          <DownloadButton path="/api/v1/exports/cases.xlsx" name="cases.xlsx">Cases (Excel)</DownloadButton>
        </div>
        <div className="filters">
          <div><label htmlFor="o-from">Deadlines due from</label>
            <input id="o-from" type="date" value={from} onChange={(e) => setFrom(e.target.value)} /></div>
          <div><label htmlFor="o-to">Deadlines due until</label>
            <input id="o-to" type="date" value={to} onChange={(e) => setTo(e.target.value)} /></div>
        </div>
        <p className="muted">Without dates: today and the next 90 days.</p>
        <div className="buttons">
          <DownloadButton path={`/api/v1/exports/deadlines.csv${range ? `?${range}` : ''}`} name="deadlines.csv">Deadlines (CSV)</DownloadButton>
        </div>
      </section>
    </>
  )
}
