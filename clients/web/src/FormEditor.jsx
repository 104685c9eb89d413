// One served form, rendered by RJSF from its schema and its format-2 ui_schema. Every change is
// saved locally as a draft; "Save final" validates in the browser first (the same schema); the
// server's errors (JSON Pointers) come back onto the fields.
import { useMemo, useRef, useState, useCallback } from 'react'
import Form from '@rjsf/core'
import * as db from './db.js'
import { makeValidator } from './validator.js'
import { renderSchema, plainEnglish, pointerErrors, fillRowIds, templates, widgets, uiSchemaOf } from './forms.jsx'

// rows are added by the person, never made up to satisfy a minItems
const DEFAULTS = { arrayMinItems: { populate: 'never' } }

export default function FormEditor({ form, draftKey, initial, serverErrors, onSave, busy }) {
  // The form keeps its own state (uncontrolled): a keystroke re-renders RJSF's tree once, and the
  // latest data lives in a ref for saving. formContext is stable and reads the ref (ui:showIf).
  const [live, setLive] = useState(false)
  const [message, setMessage] = useState('')
  const ref = useRef(null)
  const dataRef = useRef(undefined)
  const uiSchema = useMemo(() => uiSchemaOf(form), [form])
  const schema = useMemo(() => renderSchema(form.schema), [form])
  const validator = useMemo(() => makeValidator(form.schema), [form])
  const extraErrors = useMemo(() => pointerErrors(serverErrors || []), [serverErrors])
  const transformErrors = useCallback((errors) => plainEnglish(errors, form.schema), [form])
  const formContext = useMemo(() => ({ get rootData() { return dataRef.current } }), [])
  const [formData] = useState(() => fillRowIds(form.schema, initial))
  if (dataRef.current === undefined) dataRef.current = formData

  const onChange = useCallback(({ formData: changed }) => {
    dataRef.current = changed
    // the draft is kept on this device at every change (IndexedDB survives closing the page)
    db.put('drafts', { key: draftKey, form_id: form.form_id, form_version: form.version, data: changed,
      updated_at: new Date().toISOString() })
  }, [form, draftKey])

  async function save(status) {
    if (status === 'final') {
      const ok = ref.current?.validateForm()
      if (!ok) {
        setLive(true)
        setMessage('The form has problems: each one is shown next to its field. Nothing was sent.')
        return
      }
    }
    setMessage('')
    await onSave(fillRowIds(form.schema, dataRef.current), status)
  }

  return (
    <div className="form-editor">
      {message && <p className="error" role="alert">{message}</p>}
      <Form
        ref={ref}
        schema={schema}
        uiSchema={uiSchema}
        formData={formData}
        validator={validator}
        templates={templates}
        widgets={widgets}
        formContext={formContext}
        onChange={onChange}
        transformErrors={transformErrors}
        extraErrors={extraErrors}
        extraErrorsBlockSubmit={false}
        liveValidate={live ? 'onChange' : false}
        showErrorList="top"
        noHtml5Validate
        experimental_defaultFormStateBehavior={DEFAULTS}
        onSubmit={() => save('final')}
      >
        <div className="buttons">
          <button type="button" className="secondary" disabled={busy} onClick={() => save('draft')}>Save draft</button>
          <button type="button" disabled={busy} onClick={() => save('final')}>Save final</button>
        </div>
      </Form>
    </div>
  )
}
