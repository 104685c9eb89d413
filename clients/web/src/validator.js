// RJSF's validator interface over @cfworker/json-schema: JSON Schema 2020-12 checked by an
// interpreter. Ajv (RJSF's own validator) compiles every schema with `new Function`, which the
// server's Content-Security-Policy (script-src 'self', no 'unsafe-eval') forbids (ADR 0018).
import { Validator } from '@cfworker/json-schema'
import { toErrorSchema } from '@rjsf/utils'

const LEAF = new Set(['required', 'type', 'format', 'enum', 'const', 'pattern', 'minLength', 'maxLength', 'minItems',
  'maxItems', 'minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum', 'multipleOf', 'uniqueItems',
  'additionalProperties', 'unevaluatedProperties', 'dependentRequired', 'false'])
const cache = new WeakMap()

function compiled(schema) {
  let v = cache.get(schema)
  if (!v) { v = new Validator(schema, '2020-12', false); cache.set(schema, v) }
  return v
}

function pointerTo(location) { // "#/a/0/b" -> ["a", "0", "b"]
  return location.replace(/^#/, '').split('/').slice(1).map((p) => decodeURIComponent(p).replace(/~1/g, '/').replace(/~0/g, '~'))
}

function at(root, location) {
  let node = root
  for (const p of pointerTo(location)) node = node?.[p]
  return node
}

export function todayISO() {
  const d = new Date()
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`
}

// A value compared as the server does (forms/validation.py): strings, numbers and booleans only.
const marker = (v) => (['string', 'number', 'boolean'].includes(typeof v) ? `${typeof v}:${v}` : null)

// caseflow's own keywords (docs/forms.md), checked as the server does: x-not-future (a date after
// today is refused) and x-unique-keys (each row's value of those keys differs from every earlier row's)
function extensions(schema, data, path, schemaPath, out) {
  if (!schema || typeof schema !== 'object' || data == null) return
  if (schema['x-not-future'] && typeof data === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(data) && data > todayISO()) {
    out.push({ keyword: 'x-not-future', instancePath: path, schemaPath: `${schemaPath}/x-not-future`, params: {} })
  }
  if (Array.isArray(schema['x-unique-keys']) && Array.isArray(data) && !(data.length > (schema.maxItems ?? Infinity))) {
    for (const key of schema['x-unique-keys']) {
      const seen = new Set()
      data.forEach((row, i) => {
        const m = row && typeof row === 'object' && !Array.isArray(row) ? marker(row[key]) : null
        if (m === null) return
        if (seen.has(m)) {
          out.push({ keyword: 'x-unique-keys', instancePath: `${path}/${i}/${key}`,
            schemaPath: `${schemaPath}/x-unique-keys`, params: { key } })
        }
        seen.add(m)
      })
    }
  }
  if (schema.properties && typeof data === 'object' && !Array.isArray(data)) {
    for (const [k, sub] of Object.entries(schema.properties)) {
      extensions(sub, data[k], `${path}/${k}`, `${schemaPath}/properties/${k}`, out)
    }
  }
  if (schema.items && Array.isArray(data)) {
    data.forEach((row, i) => extensions(schema.items, row, `${path}/${i}`, `${schemaPath}/items`, out))
  }
}

// Ajv-shaped raw errors: {keyword, instancePath "/a/0", schemaPath "#/properties/a/...", params}
export function rawErrors(schema, data) {
  const out = []
  for (const e of compiled(schema).validate(data).errors) {
    if (!LEAF.has(e.keyword)) continue
    const instancePath = pointerTo(e.instanceLocation).map((p) => `/${p}`).join('')
    const value = at(schema, e.keywordLocation)
    const params = { limit: value, format: value }
    if (e.keyword === 'required') {
      const m = /required property "([^"]+)"/.exec(e.error)
      if (!m) continue
      params.missingProperty = m[1]
    }
    if (e.keyword === 'additionalProperties' || e.keyword === 'unevaluatedProperties') {
      const m = /Property "([^"]+)"/.exec(e.error)
      if (m) params.additionalProperty = m[1]
    }
    out.push({ keyword: e.keyword, instancePath, schemaPath: e.keywordLocation, params, message: e.error })
  }
  extensions(schema, data, '', '#', out)
  return out
}

function toRjsf(raw) {
  return raw.map((e) => {
    let property = e.instancePath.replace(/\//g, '.')
    if (e.params.missingProperty) property = `${property}.${e.params.missingProperty}`
    if (e.params.additionalProperty) property = `${property}.${e.params.additionalProperty}`
    return { name: e.keyword, property, message: e.message, params: e.params, stack: `${property} ${e.message}`, schemaPath: e.schemaPath }
  })
}

export function makeValidator(fullSchema) {
  return {
    validateFormData(formData, _schema, customValidate, transformErrors, uiSchema) {
      // the whole served schema (conditions included), whatever schema RJSF renders from
      let errors = toRjsf(rawErrors(fullSchema, formData ?? {}))
      if (typeof transformErrors === 'function') errors = transformErrors(errors, uiSchema)
      return { errors, errorSchema: toErrorSchema(errors) }
    },
    isValid(schema, formData) {
      try { return compiled(schema).validate(formData).valid } catch { return false }
    },
    rawValidation(schema, formData) {
      return { errors: rawErrors(schema, formData) }
    },
  }
}
