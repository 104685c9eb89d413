import { getJson } from './api.js'
import { caseHref, RemoteState, statusText, useRemote } from './common.jsx'

// Across open cases: who was asked for a rapid-review return, who returned, who is late, what was sent back.
export default function AgencyReturns() {
  const s = useRemote(() => getJson('/api/v1/oversight/agency-returns'))
  const d = s.data
  return (
    <>
      <p><a href="#/oversight">Back to every open clock</a></p>
      <h1>Agency returns</h1>
      <RemoteState s={s} what="The agency-returns tracker" />
      {d && (
        <>
          <dl className="facts counts">
            <dt>Cases</dt><dd>{d.totals.cases}</dd>
            <dt>Agencies asked</dt><dd>{d.totals.asked}</dd>
            <dt>Returned</dt><dd>{d.totals.returned}</dd>
            <dt>Late</dt><dd>{d.totals.late}</dd>
            <dt>Sent back</dt><dd>{d.totals.sent_back}</dd>
          </dl>
          {!d.cases.length && <p>No open case asks agencies for returns.</p>}
          {d.cases.map((c) => (
            <section key={c.case_id} className="card returns" aria-labelledby={`r-${c.case_id}`}>
              <h2 id={`r-${c.case_id}`} className="card-title">{c.reference}</h2>
              <span>{c.requested_on ? `Returns requested on ${c.requested_on}` : 'Returns not requested yet'}
                {c.rapid_review_clock && <> · rapid review due {c.rapid_review_clock.due} <span className={`badge ${c.rapid_review_clock.status}`}>{statusText(c.rapid_review_clock.status)}</span></>}
              </span>
              <span>{c.summary.returned} of {c.summary.asked} returned{c.summary.overdue.length ? `, ${c.summary.overdue.length} late` : ''}</span>
              <div className="table-wrap" role="region" aria-label={`Returns for ${c.reference}`} tabIndex={0}><table>
                <thead><tr><th scope="col">Agency</th><th scope="col">Status</th><th scope="col">Sent back</th></tr></thead>
                <tbody>{c.agencies.map((a) => (
                  <tr key={a.agency_id}>
                    <td>{a.agency_name || a.agency_id}</td>
                    <td><span className={`badge ${a.status}`}>{statusText(a.status)}</span>
                      {a.returned_at && <> <span className="date">on {a.returned_at.slice(0, 10)}</span></>}
                      {a.overdue && <> <span className="badge overdue">Late</span></>}</td>
                    <td>{a.amendment_request ? (a.amendment_request.reasons || 'yes') : '–'}{a.amendment_requests > 1 ? ` (${a.amendment_requests} times)` : ''}</td>
                  </tr>
                ))}</tbody>
              </table></div>
              <a href={caseHref(c.case_id, 'timeline')}>Timeline<span className="visually-hidden"> of {c.reference}</span></a>
            </section>
          ))}
        </>
      )}
    </>
  )
}
