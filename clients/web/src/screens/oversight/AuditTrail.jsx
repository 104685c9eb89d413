import { getJson } from './api.js'
import { caseHref, RemoteState, useRemote } from './common.jsx'

const when = (at) => new Date(at).toLocaleString('en-GB', { dateStyle: 'medium', timeStyle: 'short' })
const words = (s) => String(s || '').replace(/[._]/g, ' ')
// the entry's details: short values as "key: value", anything nested as compact JSON
const detail = (what) => Object.entries(what || {}).filter(([, v]) => v != null && v !== '')
  .map(([k, v]) => `${words(k)}: ${typeof v === 'object' ? JSON.stringify(v) : v}`)

// A case's audit trail with people's names (business team and CRG of the case's partnership).
export default function AuditTrail({ caseId }) {
  const s = useRemote(() => getJson(`/api/v1/cases/${encodeURIComponent(caseId)}/audit-trail`), [caseId])
  const t = s.data
  return (
    <>
      <p><a href={caseHref(caseId, 'timeline')}>Back to the timeline</a></p>
      <h1>Audit trail{t ? ` of ${t.reference}` : ''}</h1>
      <RemoteState s={s} what="The audit trail" />
      {t && (
        <>
          <p className="count">{t.entries.length} entries, oldest first</p>
          <ol className="cards trail">
            {t.entries.map((e) => (
              <li key={e.n} className="card">
                <strong>{words(e.action)}</strong>
                <span>{when(e.at)} · {e.by_name || e.by || 'caseflow'}{e.roles?.length ? ` (${e.roles.map(words).join(', ')})` : ''}</span>
                {detail(e.what).length > 0 && <ul className="plain details">{detail(e.what).map((x, i) => <li key={i}>{x}</li>)}</ul>}
              </li>
            ))}
          </ol>
        </>
      )}
    </>
  )
}
