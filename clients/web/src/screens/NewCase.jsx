import { useState } from 'react'
import * as db from '../db.js'
import { useLocal, go } from '../hooks.js'
import { queue } from '../sync.js'
import { formDoc } from '../labels.js'
import FormEditor from '../FormEditor.jsx'

// A referral opens a case: the client chooses the case id, so it works offline (create_case).
async function load(caseType, user) {
  const types = (await db.all('case_types')).map((t) => t.data)
  const latest = new Map()
  for (const t of types) if (!latest.has(t.case_type) || latest.get(t.case_type).version < t.version) latest.set(t.case_type, t)
  const openable = [...latest.values()].filter((t) => {
    const first = t.states.find((s) => s.id === t.initial_state)
    return first?.forms.some((f) => f.roles.some((r) => user.roles.includes(r)))
  })
  if (!caseType) return { openable }
  const ct = latest.get(caseType)
  const first = ct?.states.find((s) => s.id === ct.initial_state)
  const formRef = first?.forms.find((f) => f.roles.some((r) => user.roles.includes(r)))
  const form = formRef && await formDoc(formRef.form_id)
  let caseId = await db.getMeta(`new-case-id|${caseType}`)
  if (!caseId) { caseId = crypto.randomUUID(); await db.setMeta(`new-case-id|${caseType}`, caseId) }
  const key = `new|${caseType}`
  const draft = await db.get('drafts', key)
  return { openable, ct, form, caseId, key, initial: draft && form && draft.form_version === form.version ? draft.data : {} }
}

export default function NewCase({ caseType, user }) {
  const [d] = useLocal(() => load(caseType, user), [caseType])
  const [said, setSaid] = useState('')
  if (!d) return <p>Loading…</p>
  if (!caseType) {
    return (
      <>
        <h1>New referral</h1>
        {d.openable.length ? (
          <ul className="plain">{d.openable.map((t) => (
            <li key={t.case_type}><a href={`#/new/${t.case_type}`}>{t.title}</a>{t.description && <p className="help">{t.description}</p>}</li>
          ))}</ul>
        ) : <p>None of your roles opens a case.</p>}
      </>
    )
  }
  if (!d.form) return <><h1>New referral</h1><p>This kind of case cannot be opened by your roles on this device.</p></>

  async function onSave(data, status) {
    if (status !== 'final') { setSaid('Your referral is kept on this device as a draft. Save it final to send it.'); return }
    await queue('create_case', d.caseId, { case_type: caseType, referral: { form_id: d.form.form_id, form_version: d.form.version, data } },
      null, `New referral: ${d.ct.title}`)
    await db.del('drafts', d.key)
    await db.setMeta(`new-case-id|${caseType}`, null)
    go('#/cases')
  }
  return (
    <>
      <h1>New referral: {d.ct.title}</h1>
      <p className="subtitle">{d.form.title}</p>
      {said && <p className="notice" role="status">{said}</p>}
      <FormEditor form={d.form} draftKey={d.key} initial={d.initial} onSave={onSave} />
    </>
  )
}
