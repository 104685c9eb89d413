import { useState } from 'react'
import * as db from '../db.js'
import { useLocal, go } from '../hooks.js'
import { queue } from '../sync.js'
import { formDoc, humanise, STATE_NAMES } from '../labels.js'
import FormEditor from '../FormEditor.jsx'

export const draftKey = (caseId, formId, agencyId) => `${caseId}|${formId}|${agencyId || ''}`
const dataErrors = (m) => (m?.state === 'rejected' ? (m.result?.problem?.errors || [])
  .map((e) => ({ ...e, path: String(e.path).replace(/^\/payload(\/referral)?\/data/, '') })) : [])

async function load(caseId, formId, user) {
  const [rec, view, subs, outbox] = await Promise.all([
    db.get('cases', caseId), db.get('views', caseId), db.byCase('submissions', caseId), db.byCase('outbox', caseId)])
  const entry = view?.forms?.find((f) => f.form_id === formId)
  const agencyId = entry ? entry.agency_id : null
  const sub = subs.map((s) => s.data).find((s) => s.form_id === formId && (s.agency_id || null) === (agencyId || null))
  const saves = outbox.filter((m) => m.kind === 'save_submission' && m.payload.form_id === formId).sort((a, b) => b.seq - a.seq)
  const last = saves[0]
  const form = await formDoc(formId, sub?.form_version ?? entry?.version ?? undefined) || await formDoc(formId)
  if (!rec || !form) return { missing: true }
  const key = draftKey(caseId, formId, agencyId)
  const draft = await db.get('drafts', key)
  let initial
  if (draft && draft.form_version === form.version) initial = draft.data
  else if (last && (last.state !== 'applied' || (last.result?.version ?? 0) > (sub?.version ?? 0))) initial = last.payload.data
  else if (sub) initial = sub.data
  else initial = form.schema.properties?.agency_id && user.agency ? { agency_id: user.agency } : {}
  return { c: rec.data, form, sub, key, initial, last, hadDraft: !!draft, agencyId }
}

export default function FormScreen({ caseId, formId, user }) {
  const [d] = useLocal(() => load(caseId, formId, user), [caseId, formId])
  const [said, setSaid] = useState('')
  if (!d) return <p>Loading…</p>
  if (d.missing) return <><h1>Form not available</h1><p>This form or this case is not on this device yet.</p></>
  const { c, form, sub, key, initial, last, hadDraft } = d

  async function onSave(data, status) {
    await queue('save_submission', caseId, { form_id: form.form_id, form_version: form.version, data, status },
      sub?.version ?? null, `${form.title} (${status})`)
    await db.del('drafts', key)
    setSaid(status === 'final' ? 'Saved as final: it is sent to the server as soon as there is a connection.'
      : 'Draft saved: it is sent to the server as soon as there is a connection.')
    if (status === 'final') go(`#/case/${encodeURIComponent(caseId)}`)
  }

  return (
    <>
      <p><a href={`#/case/${encodeURIComponent(caseId)}`}>Back to {c.reference}</a></p>
      <h1>{form.title}</h1>
      <p className="subtitle">{c.reference} · version {form.version}{sub ? ` · ${humanise(sub.status)} on the server` : ''}</p>
      {hadDraft && <p className="notice" role="status">Your draft on this device has been restored.</p>}
      {said && <p className="notice" role="status">{said}</p>}
      {last && <p>Last save: <span className={`badge ${last.state}`}>{STATE_NAMES[last.state]}</span>
        {last.state === 'rejected' && <> {last.result?.problem?.detail}</>}</p>}
      {sub?.amendment_requested && <div className="amendment"><h2>Amendment requested</h2><p>{sub.amendment_requested.reasons}</p></div>}
      <FormEditor key={`${key}@${sub?.version ?? 0}@${last?.seq ?? 0}`} form={form} draftKey={key} initial={initial}
        serverErrors={dataErrors(last)} onSave={onSave} />
    </>
  )
}
