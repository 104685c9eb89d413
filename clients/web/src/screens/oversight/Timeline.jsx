import { useEffect, useState } from 'react'
import { stateTitle } from '../../labels.js'
import { getJson, getText, hasRole, TRAIL_ROLES } from './api.js'
import { caseHref, daysLeft, DownloadButton, RemoteState, statusText, useRemote, useTypes } from './common.jsx'

const enc = encodeURIComponent

// A case's timeline: the server's SVG chart as an image, and the same facts as tables (its text
// alternative); the rapid review report to download.
export default function Timeline({ caseId, user }) {
  const s = useRemote(() => getJson(`/api/v1/cases/${enc(caseId)}/timeline`), [caseId])
  const types = useTypes()
  const [chart, setChart] = useState('')
  useEffect(() => {
    setChart('')
    if (!s.data) return
    // fetched with the token and shown as a data: URL (the CSP allows img-src 'self' data:)
    getText(`/api/v1/cases/${enc(caseId)}/timeline.svg`, 'image/svg+xml')
      .then((svg) => setChart(`data:image/svg+xml;charset=utf-8,${enc(svg)}`), () => setChart(''))
  }, [caseId, s.data])
  const t = s.data
  const ct = t && types.get(t.case_type)
  return (
    <>
      <p><a href="#/oversight">Back to every open clock</a></p>
      <h1>Timeline{t ? ` of ${t.reference}` : ''}</h1>
      <RemoteState s={s} what="The case timeline" />
      {t && (
        <>
          <p className="subtitle">{ct?.title || t.case_type} · today {t.today}</p>
          {chart && (
            <figure className="timeline-chart">
              <div className="table-wrap" role="region" aria-label="Timeline chart, scrolls sideways on a narrow screen" tabIndex={0}>
                <img src={chart} alt={`Timeline chart of ${t.reference}: ${t.states.length} states entered and ${t.clocks.length} clocks; the tables below give the same dates.`} />
              </div>
              <figcaption className="muted">States entered (shaded bars) and each clock from its start to its due date (dark mark) to when it was met or missed.</figcaption>
            </figure>
          )}
          <section aria-labelledby="h-states">
            <h2 id="h-states">States entered</h2>
            <table>
              <thead><tr><th scope="col">State</th><th scope="col">Entered on</th></tr></thead>
              <tbody>{t.states.map((st, i) => <tr key={i}><td>{stateTitle(ct, st.state)}</td><td className="date">{st.entered_on.slice(0, 10)}</td></tr>)}</tbody>
            </table>
          </section>
          <section aria-labelledby="h-clocks">
            <h2 id="h-clocks">Clocks</h2>
            {t.clocks.length ? (
              <div className="table-wrap" role="region" aria-label="Clocks table" tabIndex={0}><table>
                <thead><tr><th scope="col">Clock</th><th scope="col">Started</th><th scope="col">Due</th><th scope="col">Stopped</th><th scope="col">Working days left</th><th scope="col">Status</th></tr></thead>
                <tbody>{t.clocks.map((k) => (
                  <tr key={k.name}><td>{k.title}</td><td className="date">{k.starts}</td><td className="date">{k.due}</td><td className="date">{k.stopped_on || "–"}</td>
                    <td>{daysLeft(k.working_days_left)}</td><td><span className={`badge ${k.status}`}>{statusText(k.status)}</span></td></tr>
                ))}</tbody>
              </table></div>
            ) : <p>No clock has started.</p>}
          </section>
          <section aria-labelledby="h-docs">
            <h2 id="h-docs">Documents for the Panel</h2>
            <p className="muted">From the case's final forms, marked OFFICIAL-SENSITIVE. Until a form is final the server says so here.</p>
            <div className="buttons">
              <DownloadButton path={`/api/v1/cases/${enc(caseId)}/documents/rapid-review-report.docx`} name="rapid-review-report.docx">Rapid review report (Word)</DownloadButton>
              <DownloadButton path={`/api/v1/cases/${enc(caseId)}/documents/rapid-review-report.pdf`} name="rapid-review-report.pdf">Rapid review report (PDF)</DownloadButton>
              <DownloadButton path={`/api/v1/cases/${enc(caseId)}/documents/delay-notice.docx`} name="delay-notice.docx">Delay notice (Word)</DownloadButton>
              <DownloadButton path={`/api/v1/cases/${enc(caseId)}/documents/delay-notice.pdf`} name="delay-notice.pdf">Delay notice (PDF)</DownloadButton>
            </div>
          </section>
          {hasRole(user, TRAIL_ROLES) && <p><a href={caseHref(caseId, 'trail')}>Audit trail of {t.reference}</a></p>}
        </>
      )}
    </>
  )
}
