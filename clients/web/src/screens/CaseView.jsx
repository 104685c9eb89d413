import { useEffect, useState } from 'react'
import * as db from '../db.js'
import { useLocal } from '../hooks.js'
import { queue, refreshView, syncNow } from '../sync.js'
import Tasks from './Tasks.jsx'
import { caseTypeOf, eventTitle, formDoc, humanise, stateTitle, STATE_NAMES } from '../labels.js'

async function load(caseId) {
  const rec = await db.get('cases', caseId)
  if (!rec) return { missing: true }
  const c = rec.data
  const [view, ct, subs, conflicts, outbox] = await Promise.all([
    db.get('views', caseId), caseTypeOf(c.case_type, c.case_type_version), db.byCase('submissions', caseId),
    db.byCase('conflicts', caseId), db.byCase('outbox', caseId),
  ])
  const titles = {}
  for (const f of [...(view?.forms || []), ...subs.map((s) => s.data)]) {
    titles[f.form_id] ||= (await formDoc(f.form_id))?.title || humanise(f.form_id)
  }
  for (const l of view?.links || c.links || []) { // a linked case's type by its served title
    titles[`case_type:${l.case_type}`] ||= (await caseTypeOf(l.case_type))?.title || humanise(l.case_type)
  }
  // who recorded each task, by name: this user, or a colleague from the look-ups held on the device
  const me = await db.getMeta('user')
  const people = {}
  for (const t of view?.tasks || []) {
    const id = t.recorded?.recorded_by
    if (!id || id in people) continue
    people[id] = id === me?.user_id ? 'you' : (await db.get('users', id))?.data?.display_name || 'a colleague'
  }
  return { people, c: { ...c, version: rec.version }, view, ct, subs: subs.map((s) => s.data), conflicts: conflicts.map((x) => x.data), outbox, titles }
}

const roleText = (s) => `${humanise(s.role)}${s.sector ? ` (${humanise(s.sector)})` : ''}`

export default function CaseView({ caseId }) {
  const [d] = useLocal(() => load(caseId), [caseId])
  const [comment, setComment] = useState('')
  const [voteComment, setVoteComment] = useState('')
  const [said, setSaid] = useState('')
  useEffect(() => { if (navigator.onLine) refreshView(caseId).catch(() => {}) }, [caseId])
  const missing = d?.missing
  useEffect(() => { if (missing && navigator.onLine) syncNow() }, [missing]) // e.g. opened from an alert
  if (!d) return <p>Loading…</p>
  if (d.missing) return <><h1>Case not found</h1><p>This case is not on this device. It may not be yours to see, or it has not been downloaded yet.</p></>
  const { c, view, ct, subs, conflicts, outbox, titles, people } = d
  const openConflicts = conflicts.filter((x) => !x.resolved && !outbox.some((m) => m.kind === 'resolve_conflict'
    && m.payload.conflict_id === x.conflict_id && m.state !== 'rejected'))
  const waiting = outbox.filter((m) => m.state !== 'applied').sort((a, b) => b.seq - a.seq)

  async function fire(event) {
    const title = eventTitle(ct, event, c.state)
    await queue('transition', caseId, { event, expected_state: c.state, ...(comment ? { comment } : {}) }, c.version, title)
    setComment('')
    setSaid(`"${title}" is queued: it is sent to the server ${navigator.onLine ? 'now' : 'when you are back online'}.`)
  }
  async function vote(decision) {
    const p = view.pending_approvals
    await queue('approve', caseId, { event: p.event, decision, ...(voteComment ? { comment: voteComment } : {}) }, c.version,
      `${decision === 'approve' ? 'Approve' : 'Reject'}: ${eventTitle(ct, p.event, c.state, p.target, true)}`)
    setVoteComment('')
    setSaid('Your decision is queued.')
  }

  const pending = view?.pending_approvals || c.pending
  return (
    <>
      <h1>{c.reference}</h1>
      <p className="subtitle">{ct?.title || c.case_type}</p>
      <dl className="facts">
        <dt>State</dt><dd className="state">{stateTitle(ct, c.state)}</dd>
        <dt>Case version</dt><dd>{c.version}</dd>
      </dl>
      {said && <p className="notice" role="status">{said}</p>}
      {!view && <p className="notice">Connect once to see the actions, forms and approvals open to you on this case.</p>}

      {waiting.length > 0 && (
        <section aria-labelledby="h-waiting">
          <h2 id="h-waiting">Your changes to this case</h2>
          <ul className="plain">{waiting.map((m) => (
            <li key={m.seq}>{m.label}: <span className={`badge ${m.state}`}>{STATE_NAMES[m.state]}</span>
              {m.result?.detail && <> <span>{m.result.detail}</span></>}
              {m.result?.problem?.detail && <> <span>{m.result.problem.detail}</span></>}</li>
          ))}</ul>
        </section>
      )}

      <section aria-labelledby="h-deadlines">
        <h2 id="h-deadlines">Deadlines</h2>
        {(c.deadlines || []).length ? (
          <table><thead><tr><th scope="col">Deadline</th><th scope="col">Due</th><th scope="col">Working days left</th><th scope="col">Status</th></tr></thead>
            <tbody>{c.deadlines.map((dl) => (
              <tr key={dl.name}><td>{dl.title || humanise(dl.name)}</td><td>{dl.due}</td>
                <td>{dl.working_days_left ?? '–'}</td><td><span className={`badge ${dl.status}`}>{humanise(dl.status)}</span></td></tr>
            ))}</tbody></table>
        ) : <p>No deadline runs in this state.</p>}
      </section>

      {view && (
        <section aria-labelledby="h-actions">
          <h2 id="h-actions">What you can do</h2>
          {view.allowed_events.length > 0 ? (
            <>
              <label htmlFor="comment">Comment (optional)</label>
              <textarea id="comment" value={comment} onChange={(e) => setComment(e.target.value)} rows={2} />
              <div className="buttons">
                {view.allowed_events.map((ev) => <button type="button" key={ev} onClick={() => fire(ev)}>{eventTitle(ct, ev, c.state)}</button>)}
              </div>
            </>
          ) : <p>No step is open to you now.</p>}
          {view.blocked_events.length > 0 && (
            <>
              <h3>Not yet possible</h3>
              <ul className="plain blocked">{view.blocked_events.map((b) => (
                <li key={b.event}><strong>{eventTitle(ct, b.event, c.state)}</strong>: {b.reasons.join(' ')}</li>
              ))}</ul>
            </>
          )}
        </section>
      )}

      {view && <Tasks tasks={view.tasks} people={people} ct={ct} c={c} caseId={caseId} outbox={outbox} onQueued={setSaid} />}

      {pending && (
        <section aria-labelledby="h-approvals">
          <h2 id="h-approvals">Waiting for approval: {eventTitle(ct, pending.event, c.state, pending.target, true)}</h2>
          {pending.needed && (
            <ul className="plain">
              {pending.needed.filter((s) => !pending.missing.some((m) => m.role === s.role && m.sector === s.sector))
                .map((s) => <li key={`v-${s.role}-${s.sector}`}>Voted: {roleText(s)}</li>)}
              {pending.missing.map((s) => <li key={`m-${s.role}-${s.sector}`}>Waiting for: {roleText(s)}</li>)}
              {(pending.rejected_by || []).map((s) => <li key={`r-${s.voter}`}>Rejected by: {roleText(s)}</li>)}
            </ul>
          )}
          {view?.pending_approvals?.you_can_vote && (
            <>
              <label htmlFor="vote-comment">Comment on your decision (optional)</label>
              <textarea id="vote-comment" value={voteComment} onChange={(e) => setVoteComment(e.target.value)} rows={2} />
              <div className="buttons">
                <button type="button" onClick={() => vote('approve')}>Approve</button>
                <button type="button" className="danger" onClick={() => vote('reject')}>Reject</button>
              </div>
            </>
          )}
        </section>
      )}

      {openConflicts.length > 0 && (
        <section aria-labelledby="h-conflicts">
          <h2 id="h-conflicts">Conflicts to resolve</h2>
          {openConflicts.map((x) => <Conflict key={x.conflict_id} x={x} caseId={caseId} title={titles[x.form_id] || humanise(x.form_id)} />)}
        </section>
      )}

      {(view?.forms?.length > 0 || subs.length > 0) && (
        <section aria-labelledby="h-forms">
          <h2 id="h-forms">Forms</h2>
          <ul className="plain">
            {(view?.forms || []).map((f) => (
              <li key={f.form_id}><a href={`#/case/${encodeURIComponent(caseId)}/form/${f.form_id}`}>{titles[f.form_id]}</a>{' '}
                <span className={`badge ${f.status}`}>{humanise(f.status)}</span></li>
            ))}
            {subs.filter((s) => !(view?.forms || []).some((f) => f.form_id === s.form_id)).map((s) => (
              <li key={s.submission_id}>{titles[s.form_id] || humanise(s.form_id)} <span className={`badge ${s.status}`}>{humanise(s.status)}</span></li>
            ))}
          </ul>
          {subs.filter((s) => s.amendment_requested).map((s) => (
            <div key={`a-${s.submission_id}`} className="amendment">
              <h3>Amendment requested: {titles[s.form_id] || humanise(s.form_id)}</h3>
              <p>{s.amendment_requested.reasons}</p>
              <a href={`#/case/${encodeURIComponent(caseId)}/form/${s.form_id}`}>Amend and send again</a>
            </div>
          ))}
        </section>
      )}

      <Links links={view?.links || c.links} titles={titles} />

      <section aria-labelledby="h-history">
        <h2 id="h-history">State history</h2>
        <ol className="plain">{(c.state_history || []).map((h, i) => (
          <li key={i}>{stateTitle(ct, h.state)}: {new Date(h.entered_at).toLocaleString('en-GB')}{h.event ? ` (${eventTitle(ct, h.event, c.state_history[i - 1]?.state, h.state)})` : ''}</li>
        ))}</ol>
      </section>
    </>
  )
}

const LINK_TEXT = { handed_off_to: 'opened from this case', handed_off_from: 'this case was opened from it' }

// ADR 0033: a linked case is a link only when the server says this user may open it
function Links({ links, titles }) {
  if (!links?.length) return null
  return (
    <section aria-labelledby="h-links">
      <h2 id="h-links">Linked cases</h2>
      <ul className="plain">{links.map((l, i) => (
        <li key={l.case_id || `hidden-${i}`}>
          {l.accessible ? <a href={`#/case/${encodeURIComponent(l.case_id)}`}>{l.reference}</a> : 'A case you may not open'}
          {` (${titles[`case_type:${l.case_type}`]}: ${LINK_TEXT[l.relation] || humanise(l.relation)})`}
        </li>
      ))}</ul>
    </section>
  )
}

function show(v) { return v === undefined ? '(empty)' : typeof v === 'string' ? v : JSON.stringify(v) }

function Conflict({ x, caseId, title }) {
  const [choose, setChoose] = useState('kept')
  const [value, setValue] = useState('')
  const name = `choose-${x.conflict_id}`
  async function resolve() {
    let v = value
    try { v = JSON.parse(value) } catch { /* plain text stays text */ }
    await queue('resolve_conflict', caseId, { conflict_id: x.conflict_id, choose, ...(choose === 'value' ? { value: v } : {}) },
      x.version, `Resolve a conflict in ${title}`)
  }
  return (
    <fieldset className="conflict">
      <legend>{title}: {x.path}</legend>
      <div className="choice"><input type="radio" id={`${name}-k`} name={name} checked={choose === 'kept'} onChange={() => setChoose('kept')} />
        <label htmlFor={`${name}-k`}>Keep the saved value: {show(x.kept)}</label></div>
      <div className="choice"><input type="radio" id={`${name}-i`} name={name} checked={choose === 'incoming'} onChange={() => setChoose('incoming')} />
        <label htmlFor={`${name}-i`}>Use the other value: {show(x.incoming)}</label></div>
      <div className="choice"><input type="radio" id={`${name}-v`} name={name} checked={choose === 'value'} onChange={() => setChoose('value')} />
        <label htmlFor={`${name}-v`}>Enter a new value</label></div>
      {choose === 'value' && <><label htmlFor={`${name}-nv`}>New value</label>
        <input id={`${name}-nv`} value={value} onChange={(e) => setValue(e.target.value)} /></>}
      <button type="button" onClick={resolve}>Resolve conflict</button>
    </fieldset>
  )
}
