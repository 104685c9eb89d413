// The case's duty-tasks (ADR 0022): each one that applies, done or not, what was recorded, who may
// record it; a person whose roles may record an open task records its evidence here, as a
// `record_task` mutation in the outbox (sent at once, or when the device is back online).
import { useState } from 'react'
import { queue } from '../sync.js'
import { eventTitle, humanise, STATE_NAMES } from '../labels.js'

const today = () => new Date().toLocaleDateString('en-CA') // YYYY-MM-DD in the device's time zone
const rolesText = (roles) => roles.map(humanise).join(', ')

// What a record holds, in words ("Date 2026-10-06 · Child normally resident here · Note: …").
function recordText(rec) {
  return [rec.date && `Date ${rec.date}`, rec.choice && humanise(rec.choice), rec.note && `Note: ${rec.note}`]
    .filter(Boolean).join(' · ')
}

export default function Tasks({ tasks, people, ct, c, caseId, outbox, onQueued }) {
  if (!tasks?.length) return null
  // this device's latest record of the task, while it is not applied (a later record supersedes a
  // rejected one)
  const latest = (t) => outbox.filter((m) => m.kind === 'record_task' && m.payload?.task === t.task)
    .sort((a, b) => b.seq - a.seq)[0]
  const item = (t) => (
    <Task key={t.task} t={t} people={people} ct={ct} c={c} caseId={caseId} onQueued={onQueued}
      queued={latest(t)?.state === 'applied' ? undefined : latest(t)} />
  )
  // the tasks of this state and those already recorded first; the others (of earlier or later
  // states, never recorded) folded away, so the screen leads with what can be done now
  const here = tasks.filter((t) => t.open_here || t.recorded)
  const elsewhere = tasks.filter((t) => !t.open_here && !t.recorded)
  return (
    <section aria-labelledby="h-tasks">
      <h2 id="h-tasks">Tasks</h2>
      {here.length ? <ul className="plain tasks">{here.map(item)}</ul> : <p>No task is open in this state.</p>}
      {elsewhere.length > 0 && (
        <details>
          <summary>Tasks of other steps, not recorded ({elsewhere.length})</summary>
          <ul className="plain tasks">{elsewhere.map(item)}</ul>
        </details>
      )}
    </section>
  )
}

function Task({ t, people, ct, c, caseId, queued, onQueued }) {
  const id = `task-${t.task}`
  return (
    <li className="task card">
      <h3 id={`${id}-title`}>{t.title}</h3>
      <span><span className={`badge ${t.done ? 'applied' : 'waiting'}`}>{t.done ? 'Done' : 'Not done'}</span>
        {' '}<span className="muted">Source: {t.source}</span></span>
      {t.description && <p className="help">{t.description}</p>}
      {t.recorded && (
        <p>Recorded by {people?.[t.recorded.recorded_by] || 'a colleague'} on {new Date(t.recorded.recorded_at).toLocaleString('en-GB')}
          {recordText(t.recorded) ? `: ${recordText(t.recorded)}` : ''}</p>
      )}
      <p>Who may record it: {rolesText(t.roles)}</p>
      {t.required_before?.length > 0 && (
        <p>Needed before: {t.required_before.map((e) => eventTitle(ct, e, c.state)).join('; ')}</p>
      )}
      {queued && (
        <p>Your record on this device: <span className={`badge ${queued.state}`}>{STATE_NAMES[queued.state]}</span>
          {queued.result?.problem?.detail && <> <span>{queued.result.problem.detail}</span></>}
          {(queued.result?.problem?.errors || []).map((e, i) => <span key={i}> {e.message}</span>)}</p>
      )}
      {t.you_can_record && <RecordForm t={t} c={c} caseId={caseId} id={id} onQueued={onQueued} />}
    </li>
  )
}

// The evidence the task declares: a date, a choice among its options, a note (each asked only when
// the task takes it). The server checks it again (sync/tasks.py); this only spares a round trip.
function RecordForm({ t, c, caseId, id, onQueued }) {
  const ev = t.evidence || {}
  const [date, setDate] = useState('')
  const [choice, setChoice] = useState('')
  const [note, setNote] = useState('')
  const [problems, setProblems] = useState([])
  const asks = { date: ev.date, note: ev.note, choice: ev.choice?.length ? 'required' : null }

  async function record(e) {
    e.preventDefault()
    const bad = []
    if (asks.date === 'required' && !date) bad.push('Enter the date')
    if (date && date > today()) bad.push('Enter a date that is not in the future')
    if (asks.choice && !choice) bad.push('Choose one of the options')
    if (asks.note === 'required' && !note.trim()) bad.push('Write the note')
    if (note.length > 2000) bad.push('Keep the note to 2000 characters')
    setProblems(bad)
    if (bad.length) return
    const payload = { task: t.task, ...(asks.date && date ? { date } : {}), ...(asks.choice ? { choice } : {}),
      ...(asks.note && note.trim() ? { note } : {}) }
    await queue('record_task', caseId, payload, c.version, `Record: ${t.title}`)
    setDate(''); setChoice(''); setNote('')
    onQueued(`"${t.title}" is recorded on this device: it is sent to the server ${navigator.onLine ? 'now' : 'when you are back online'}.`)
  }

  const opt = (need) => (need === 'optional' ? ' (optional)' : '')
  return (
    <form onSubmit={record} noValidate>
      <fieldset>
        <legend>Record: {t.title}</legend>
        {problems.length > 0 && (
          <ul className="errors" role="alert">{problems.map((p) => <li key={p}>{p}</li>)}</ul>
        )}
        {asks.date && <>
          <label htmlFor={`${id}-date`}>Date{opt(asks.date)}</label>
          <input type="date" id={`${id}-date`} value={date} max={today()} onChange={(e) => setDate(e.target.value)} />
        </>}
        {asks.choice && (
          <div className="field-radio-group" role="radiogroup" aria-labelledby={`${id}-choice`}>
            <span className="label" id={`${id}-choice`}>Choice</span>
            {ev.choice.map((o) => (
              <div className="radio" key={o}><label>
                <input type="radio" name={`${id}-choice`} value={o} checked={choice === o} onChange={() => setChoice(o)} />
                <span>{humanise(o)}</span>
              </label></div>
            ))}
          </div>
        )}
        {asks.note && <>
          <label htmlFor={`${id}-note`}>Note{opt(asks.note)}</label>
          <textarea id={`${id}-note`} value={note} rows={2} maxLength={2000} onChange={(e) => setNote(e.target.value)} />
        </>}
        <button type="submit">Record: {t.title}</button>
      </fieldset>
    </form>
  )
}
