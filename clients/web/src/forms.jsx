// Form rendering with RJSF 6; validation is validator.js (JSON Schema 2020-12, no eval). Everything a form shows comes
// from the served definition: its schema and its ui_schema in format 2 (RJSF's conventions).
import { useEffect } from 'react'
import {
  ariaDescribedByIds, enumOptionsDeselectValue, enumOptionsIsSelected, enumOptionsSelectValue, getUiOptions, optionId,
} from '@rjsf/utils'

// RJSF resolves allOf/if/then (merging schemas) for every object at every render: with a 50-row
// chronology that costs seconds per keystroke. Forms render from the schema without its
// conditions (ui:showIf shows a field when it becomes needed) and validate with the whole schema.
const CONDITIONAL = ['if', 'then', 'else', 'dependentRequired', 'dependentSchemas']
export function renderSchema(schema) {
  if (Array.isArray(schema)) return schema.map(renderSchema)
  if (!schema || typeof schema !== 'object') return schema
  const out = {}
  for (const [k, v] of Object.entries(schema)) {
    if (CONDITIONAL.includes(k)) continue
    if (k === 'allOf') {
      const kept = v.filter((e) => !('if' in e || 'then' in e)).map(renderSchema)
      if (kept.length) out.allOf = kept
      continue
    }
    out[k] = k === 'enum' || k === 'const' || k === 'required' ? v : renderSchema(v)
  }
  return out
}

function schemaAt(root, schemaPath) {
  // "#/properties/contact/properties/phone/pattern" -> the subschema holding the keyword
  const parts = (schemaPath || '').replace(/^#\//, '').split('/').slice(0, -1)
  let node = root
  for (const p of parts) {
    if (node == null) return null
    node = node[decodeURIComponent(p.replace(/~1/g, '/').replace(/~0/g, '~'))]
  }
  return node
}

function titleAt(root, property) {
  // ".chronology.3.date" -> "Chronology of contacts, row 4, Date"
  let node = root
  const names = []
  for (const part of (property || '').split('.').filter(Boolean)) {
    if (!node) break
    if (/^\d+$/.test(part)) { node = node.items; names.push(`row ${Number(part) + 1}`); continue }
    node = node.properties?.[part]
    if (node?.title) names.push(node.title)
  }
  return names.join(', ')
}

// A server error's JSON Pointer into a mutation ("/payload/data/chronology/1/date", or
// "/payload/referral/data/..." for a referral) named by the form's schema titles; a pointer
// outside the form's data is named by its last part ("/payload/form_version" -> "Form version").
export function fieldTitle(schema, pointer) {
  const parts = String(pointer || '').split('/').slice(1).map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'))
  const at = parts.indexOf('data') // the first: the payload's own
  if (schema && at >= 0) {
    const title = titleAt(schema, parts.slice(at + 1).map((p) => `.${p}`).join(''))
    if (title) return title
    if (at === parts.length - 1) return 'The form'
  }
  const last = parts.filter((p) => !/^\d+$/.test(p)).pop() || ''
  return last ? last.replace(/_/g, ' ').replace(/^./, (c) => c.toUpperCase()) : 'The change'
}

// x-unique-keys: a row_id (docs/forms.md) is the app's own and never shown, so the person is told
// what to do about the row; any other key is named by its title.
function uniqueMessage(key, title) {
  if (key === 'row_id') return 'This row is recorded twice (it has the same identity as an earlier row): remove one of them'
  return `Each row needs its own ${title || String(key).replace(/_/g, ' ')}: this row repeats an earlier row's`
}

// Plain English, built from the schema alone: a message never repeats what was typed.
export function plainEnglish(errors, rootSchema) {
  const out = []
  for (const e of errors) {
    const sub = schemaAt(rootSchema, e.schemaPath) || {}
    const custom = sub['x-messages']?.[e.name]
    let message
    switch (e.name) {
      case 'if': case 'then': case 'else': case 'allOf': case 'anyOf': case 'oneOf': case 'const':
        continue // the specific error (a required field, a choice) is listed on its own
      case 'required': message = 'This field is required'; break
      case 'format':
        message = { date: 'Enter a date as YYYY-MM-DD', email: 'Enter an email address, like name@example.org',
          uri: 'Enter a web address, like https://example.org' }[e.params?.format] || 'Enter a valid value'
        break
      case 'enum': message = 'Choose one of the options'; break
      case 'pattern': message = sub['x-pattern-hint'] || 'Enter a value in the format asked for'; break
      case 'maxLength': message = `Use at most ${e.params.limit} characters`; break
      case 'minLength': message = e.params.limit === 1 ? 'This field is required'
        : `Use at least ${e.params.limit} characters`; break
      case 'minItems': message = `Add at least ${e.params.limit}`; break
      case 'maxItems': message = `Add at most ${e.params.limit}`; break
      case 'minimum': message = `Enter a number of at least ${e.params.limit}`; break
      case 'maximum': message = `Enter a number of at most ${e.params.limit}`; break
      case 'type': message = 'Enter a valid value'; break
      case 'x-not-future': message = 'Enter a date that is not in the future'; break
      case 'x-unique-keys': message = uniqueMessage(e.params?.key, sub.items?.properties?.[e.params?.key]?.title); break
      case 'additionalProperties': message = 'Remove this field: it is not part of this form'; break
      case 'uniqueItems': message = 'Each entry must be different'; break
      default: message = 'Check this field'
    }
    const where = titleAt(rootSchema, e.property)
    out.push({ ...e, message: custom || message, stack: where ? `${where}: ${custom || message}` : custom || message })
  }
  return out
}

// Server errors come as JSON Pointers ("/chronology/1/date"): RJSF's extraErrors tree.
export function pointerErrors(errors, prefix = '') {
  const tree = {}
  for (const { path, message } of errors || []) {
    if (typeof path !== 'string' || !path.startsWith(prefix)) continue
    const parts = path.slice(prefix.length).split('/').slice(1)
      .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'))
    let node = tree
    for (const p of parts) node = node[p] ||= {}
    ;(node.__errors ||= []).push(message)
  }
  return tree
}

// Rows carry a string row_id (docs/forms.md); the app fills it for every new row.
export function fillRowIds(schema, data) {
  if (!schema || data == null) return data
  if (schema.type === 'array' && Array.isArray(data) && schema.items) {
    const hasRowId = schema.items.properties?.row_id
    return data.map((row) => {
      const filled = fillRowIds(schema.items, row)
      return hasRowId && filled && typeof filled === 'object' && !filled.row_id
        ? { ...filled, row_id: crypto.randomUUID() } : filled
    })
  }
  if (schema.properties && typeof data === 'object' && !Array.isArray(data)) {
    let out = data
    for (const [k, sub] of Object.entries(schema.properties)) {
      if (data[k] === undefined) continue
      const v = fillRowIds(sub, data[k])
      if (v !== data[k]) out = { ...out, [k]: v }
    }
    return out
  }
  return data
}

function valueAt(ref, local, root) {
  if (ref.startsWith('/')) {
    let node = root
    for (const p of ref.split('/').slice(1)) node = node?.[p]
    return node
  }
  return local?.[ref]
}

// ui:showIf (format 2): a field shows only while its condition holds.
export function conditionHolds(cond, local, root) {
  if (!cond) return true
  if (cond.all) return cond.all.every((c) => conditionHolds(c, local, root))
  if (cond.any) return cond.any.some((c) => conditionHolds(c, local, root))
  const v = valueAt(cond.field, local, root)
  if ('equals' in cond) return v === cond.equals
  if ('in' in cond) return cond.in.includes(v)
  return v !== undefined && v !== null && v !== ''
}

function ObjectFieldTemplate(props) {
  const { title, description, properties, uiSchema, formData, registry, fieldPathId } = props
  const root = registry.formContext?.rootData
  const visible = properties.filter((p) => !p.hidden && conditionHolds(uiSchema?.[p.name]?.['ui:showIf'], formData, root))
  const isRoot = fieldPathId?.$id === 'root'
  const sections = isRoot ? getUiOptions(uiSchema).sections : null
  if (sections) {
    const byName = new Map(visible.map((p) => [p.name, p]))
    const placed = new Set(sections.flatMap((s) => s.fields))
    const rest = visible.filter((p) => !placed.has(p.name))
    return (
      <div className="form-sections">
        {sections.map((s) => {
          const shown = s.fields.map((f) => byName.get(f)).filter(Boolean)
          if (!shown.length) return null
          return (
            <section key={s.id} className="form-section" aria-labelledby={`section-${s.id}`}>
              <h2 id={`section-${s.id}`}>{s.title}</h2>
              {s.help && <p className="help">{s.help}</p>}
              {shown.map((p) => p.content)}
            </section>
          )
        })}
        {rest.map((p) => p.content)}
        {properties.filter((p) => p.hidden).map((p) => p.content)}
      </div>
    )
  }
  if (isRoot) return <div>{visible.map((p) => p.content)}{properties.filter((p) => p.hidden).map((p) => p.content)}</div>
  return (
    <fieldset id={fieldPathId?.$id}>
      {title && <legend>{title}</legend>}
      {description && <p className="help">{description}</p>}
      {visible.map((p) => p.content)}
      {properties.filter((p) => p.hidden).map((p) => p.content)}
    </fieldset>
  )
}

// A group of radios or checkboxes is named by its field's label (aria-labelledby), not by <label for>,
// which names only a single form control.
const GROUPS = new Set(['radio', 'checkboxes'])
const labelId = (id) => `${id}__label`

// Labels carry the schema title alone (the accessible name); "required" is shown but not read twice.
function FieldTemplate(props) {
  const { id, classNames, style, label, help, required, description, errors, children, displayLabel, hidden, uiSchema } = props
  if (hidden) return <><div className="hidden">{children}</div>{errors}</> // a hidden row_id's error is the row's
  const group = GROUPS.has(uiSchema?.['ui:widget'])
  return (
    <div className={classNames} style={style}>
      {displayLabel && label && (
        <div className="label-line"><label id={labelId(id)} htmlFor={group ? undefined : id}>{label}</label>{required && <span className="required" aria-hidden="true">(required)</span>}</div>
      )}
      {displayLabel && description}
      {children}
      {errors}
      {help}
    </div>
  )
}

function TitleFieldTemplate({ id, title }) {
  return <legend id={id}>{title}</legend>
}


function AddButton({ id, onClick, disabled, uiSchema }) {
  return (
    <button type="button" id={id} className="secondary add-row" onClick={onClick} disabled={disabled}>
      {uiSchema?.['ui:addLabel'] || 'Add'}
    </button>
  )
}

// "root_chronology_2__remove" -> "Remove row 3 of Chronology of contacts": each row's button has its
// own accessible name (WCAG 2.4.6), read from the schema by matching the id against property names.
export function removeLabel(id, root) {
  let rest = String(id || '').replace(/^root_?/, '').replace(/__remove$/, '')
  let node = root
  let list = ''
  let row = null
  while (rest && node) {
    const index = node.items ? /^(\d+)(?:_|$)/.exec(rest) : null
    if (index) { row = Number(index[1]) + 1; node = node.items; rest = rest.slice(index[0].length); continue }
    const key = Object.keys(node.properties || {}).filter((k) => rest === k || rest.startsWith(`${k}_`))
      .sort((a, b) => b.length - a.length)[0]
    if (!key) break
    node = node.properties[key]
    if (node.items) list = node.title || key.replace(/_/g, ' ').replace(/^./, (c) => c.toUpperCase())
    rest = rest.slice(key.length + 1)
  }
  return row ? `Remove row ${row}${list ? ` of ${list}` : ''}` : 'Remove'
}

function RemoveButton({ onClick, disabled, id, registry }) {
  return (
    <button type="button" id={id} className="secondary remove-row" onClick={onClick} disabled={disabled}
      aria-label={removeLabel(id, registry?.rootSchema)}>Remove</button>
  )
}

// A row's row_id (docs/forms.md) is made once, when the row is added, and kept with the row.
function HiddenWidget({ id, value, onChange }) {
  useEffect(() => {
    if (/_row_id$/.test(id) && (value === undefined || value === '')) onChange(crypto.randomUUID())
  }, [id, value, onChange])
  return <input type="hidden" id={id} value={value ?? ''} />
}

// RJSF's RadioWidget and CheckboxesWidget, with the group named by the field's label (see GROUPS)
function Choices({ id, options, value, disabled, readonly, autofocus, onChange, onBlur, onFocus, htmlName, multiple }) {
  const { enumOptions = [], enumDisabled = [], inline } = options
  const values = multiple ? (Array.isArray(value) ? value : []) : value
  const decode = (i) => enumOptions[Number(i)]?.value
  return (
    <div className={multiple ? 'checkboxes' : 'field-radio-group'} id={id} role={multiple ? 'group' : 'radiogroup'}
      aria-labelledby={labelId(id)}>
      {enumOptions.map((option, i) => {
        const off = disabled || readonly || enumDisabled.includes(option.value)
        const checked = enumOptionsIsSelected(option.value, values)
        const change = multiple
          ? (e) => onChange(e.target.checked ? enumOptionsSelectValue(i, values, enumOptions) : enumOptionsDeselectValue(i, values, enumOptions))
          : () => onChange(option.value)
        return (
          <div key={String(option.value)} className={`${multiple ? 'checkbox' : 'radio'}${inline ? ' inline' : ''}${off ? ' disabled' : ''}`}>
            <label>
              <input type={multiple ? 'checkbox' : 'radio'} id={optionId(id, i)} name={htmlName || id} value={String(i)}
                checked={checked} disabled={off} autoFocus={autofocus && i === 0} onChange={change}
                onBlur={(e) => onBlur(id, decode(e.target.value))} onFocus={(e) => onFocus(id, decode(e.target.value))}
                aria-describedby={ariaDescribedByIds(id)} />
              <span>{option.label}</span>
            </label>
          </div>
        )
      })}
    </div>
  )
}
const RadioWidget = (props) => <Choices {...props} multiple={false} />
const CheckboxesWidget = (props) => <Choices {...props} multiple />

export const widgets = { HiddenWidget, RadioWidget, CheckboxesWidget }

export const templates = {
  ObjectFieldTemplate, FieldTemplate, TitleFieldTemplate,
  ButtonTemplates: { AddButton, RemoveButton },
}

export function uiSchemaOf(form) {
  // format 2 when the server sends it; a server without it still renders (RJSF's defaults)
  const ui = form.ui_schema_v2 || {}
  return { ...ui, 'ui:globalOptions': { orderable: false, copyable: false } }
}
