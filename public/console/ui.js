// Building blocks of the console's pages: elements made with the DOM API (never from HTML text, so
// nothing the API answers is ever parsed as markup), forms that show the API's field errors beside
// their fields, and tables that page with the API's cursors.
import { ApiError } from './api.js'

/**
 * An element: `attrs` holds attributes, `on…` listeners and `class`; children are nodes, strings
 * (as text) or nothing.
 */
export function h(tag, attrs = {}, ...children) {
  const element = document.createElement(tag)
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue
    if (name.startsWith('on')) element.addEventListener(name.slice(2), value)
    else if (value === true) element.setAttribute(name, '')
    else element.setAttribute(name, String(value))
  }
  append(element, children)
  return element
}

function append(element, children) {
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue
    element.append(child instanceof Node ? child : document.createTextNode(String(child)))
  }
}

/** Tells assistive technology and the eye what happened (the page's aria-live region). */
export function announce(message, kind = 'info') {
  const region = document.getElementById('status')
  region.className = `status ${kind}`
  region.textContent = ''
  clearTimeout(announced)
  // A change of text is what a live region reads: clear first so that a repeat is read too.
  requestAnimationFrame(() => (region.textContent = message))
  // Then out of the way: errors stay longer, and each form also shows its own beside its fields.
  announced = setTimeout(() => (region.textContent = ''), kind === 'error' ? 15_000 : 6_000)
}

let announced = 0

/** An instant in the browser's time zone, machine-readable in `datetime`. */
export function time(iso) {
  if (!iso) return '—'
  const date = new Date(iso)
  if (Number.isNaN(date.getTime())) return String(iso)
  return h('time', { datetime: iso }, date.toLocaleString())
}

let ids = 0
const uid = (prefix) => `${prefix}-${++ids}`

/**
 * A form of labelled fields. Each field: {name, label, type? (an input's, select or textarea),
 * required?, value?, hint?, rows? (textarea), options? (select), choices? (checkboxes, a list),
 * min?, max?}. `submit(values)` runs the request; an ApiError's field errors are shown beside the
 * fields they name, the rest above the button.
 */
export function form({ fields, submitLabel, submit, className = 'card' }) {
  const errorOf = new Map()
  const controls = new Map()
  const formError = h('p', { class: 'form-error', id: uid('form-error'), hidden: true })
  const element = h('form', { class: `form ${className}`, novalidate: true })

  for (const field of fields) {
    const errorId = uid('error')
    const error = h('p', { class: 'field-error', id: errorId, hidden: true })
    errorOf.set(field.name, error)
    const hintId = field.hint ? uid('hint') : undefined
    const hint = field.hint ? h('p', { class: 'hint', id: hintId }, field.hint) : null
    const describedBy = [hintId, errorId].filter(Boolean).join(' ')
    if (field.choices) {
      const boxes = field.choices.map((choice) => {
        const id = uid('field')
        const box = h('input', {
          type: 'checkbox',
          id,
          name: field.name,
          value: choice,
          checked: (field.value ?? []).includes(choice),
        })
        return h('span', { class: 'choice' }, box, h('label', { for: id }, choice))
      })
      controls.set(field.name, { choices: true, element: null })
      element.append(
        h(
          'fieldset',
          { class: 'field', 'aria-describedby': describedBy },
          h('legend', {}, field.label),
          h('div', { class: 'choices' }, boxes),
          hint,
          error,
        ),
      )
      continue
    }
    const id = uid('field')
    const common = {
      id,
      name: field.name,
      required: field.required,
      'aria-describedby': describedBy,
    }
    const control =
      field.type === 'select'
        ? h(
            'select',
            common,
            field.options.map(([value, text]) =>
              h('option', { value, selected: value === field.value }, text),
            ),
          )
        : field.type === 'textarea'
          ? h('textarea', { ...common, rows: field.rows ?? 6, spellcheck: 'false' }, field.value)
          : h('input', {
              ...common,
              type: field.type ?? 'text',
              value: field.value,
              min: field.min,
              max: field.max,
              autocomplete: field.autocomplete ?? 'off',
              spellcheck: 'false',
            })
    controls.set(field.name, { element: control })
    element.append(
      h(
        'div',
        { class: 'field' },
        h('label', { for: id }, field.label, field.required ? '' : h('span', {}, ' (optional)')),
        control,
        hint,
        error,
      ),
    )
  }

  const button = h('button', { type: 'submit' }, submitLabel)
  element.append(formError, h('div', { class: 'actions' }, button))

  function clearErrors() {
    formError.hidden = true
    for (const [name, error] of errorOf) {
      error.hidden = true
      error.textContent = ''
      controls.get(name).element?.removeAttribute('aria-invalid')
    }
  }

  function values() {
    const out = {}
    for (const field of fields) {
      if (field.choices) {
        out[field.name] = [...element.querySelectorAll(`input[name="${field.name}"]:checked`)].map(
          (box) => box.value,
        )
      } else {
        out[field.name] = controls.get(field.name).element.value.trim()
      }
    }
    return out
  }

  element.addEventListener('submit', async (event) => {
    event.preventDefault()
    clearErrors()
    button.disabled = true
    element.setAttribute('aria-busy', 'true')
    try {
      await submit(values(), element)
    } catch (err) {
      showError(err)
    } finally {
      button.disabled = false
      element.removeAttribute('aria-busy')
    }
  })

  function showError(err) {
    const rest = []
    let first = null
    for (const { path, message } of err instanceof ApiError ? err.errors : []) {
      const name = String(path).split('.')[0]
      const error = errorOf.get(name)
      if (!error) {
        rest.push(`${path}: ${message}`)
        continue
      }
      error.textContent = error.textContent ? `${error.textContent} ${message}` : message
      error.hidden = false
      const control = controls.get(name).element
      control?.setAttribute('aria-invalid', 'true')
      first ??= control ?? element.querySelector(`input[name="${name}"]`)
    }
    formError.textContent = [err.message, ...rest].join(' ')
    formError.hidden = false
    announce(err.message, 'error')
    first?.focus()
  }

  return element
}

/**
 * A panel holding a secret the API shows once (a client secret, a service_token): the value, a
 * copy button, and a button that hides it for good. It lives in the page only: a later visit to
 * the view, or a reload, never shows it again.
 */
export function secretPanel({ title, note, value }) {
  const code = h('code', { class: 'secret' }, value)
  const copied = h('span', { class: 'hint', 'aria-live': 'polite' })
  const panel = h(
    'section',
    { class: 'card once', 'aria-label': title },
    h('h2', {}, title),
    h('p', {}, note),
    h('p', {}, code),
    h(
      'div',
      { class: 'actions' },
      h(
        'button',
        {
          type: 'button',
          onclick: async () => {
            try {
              await navigator.clipboard.writeText(value)
              copied.textContent = 'Copied.'
            } catch {
              copied.textContent = 'The browser refused the clipboard: select the value instead.'
            }
          },
        },
        'Copy',
      ),
      h(
        'button',
        { type: 'button', class: 'secondary', onclick: () => panel.remove() },
        'I have saved it: hide',
      ),
      copied,
    ),
  )
  return panel
}

/**
 * A table of a list the API pages with cursors. `path(cursor)` names a page; `columns` are
 * [header, item => cell]. Shows loading, empty and error states, and First, Previous and Next page
 * buttons: the API's cursors only go forward, so the cursors of the pages already seen are kept
 * here, in a stack, to go back.
 */
export function pagedTable({ caption, path, columns, empty }) {
  const captionId = uid('caption')
  const body = h('tbody')
  const table = h(
    'table',
    {},
    h('caption', { id: captionId }, caption),
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        columns.map(([header]) => h('th', { scope: 'col' }, header)),
      ),
    ),
    body,
  )
  const state = h('p', { class: 'state', 'aria-live': 'polite' })
  const first = h('button', { type: 'button', class: 'secondary', hidden: true }, 'First page')
  const previous = h(
    'button',
    { type: 'button', class: 'secondary', hidden: true },
    'Previous page',
  )
  const next = h('button', { type: 'button', hidden: true }, 'Next page')
  const position = h('span', { class: 'hint', hidden: true })
  const wrapper = h(
    'section',
    { class: 'list' },
    h(
      'div',
      { class: 'table-wrap', tabindex: '0', role: 'region', 'aria-labelledby': captionId },
      table,
    ),
    state,
    h('div', { class: 'actions pager' }, first, previous, next, position),
  )
  let nextCursor = null
  /** The cursors of the pages before the one shown, oldest first (undefined: the first page). */
  let earlier = []
  let current

  async function load(cursor) {
    state.textContent = 'Loading…'
    state.className = 'state'
    next.hidden = true
    previous.hidden = true
    table.setAttribute('aria-busy', 'true')
    try {
      const page = await path(cursor)
      body.replaceChildren(
        ...page.items.map((item) =>
          h(
            'tr',
            {},
            columns.map(([, cell], i) =>
              i === 0 ? h('th', { scope: 'row' }, cell(item)) : h('td', {}, cell(item)),
            ),
          ),
        ),
      )
      state.textContent = page.items.length === 0 ? empty : ''
      nextCursor = page.next_cursor ?? null
      current = cursor
      next.hidden = !nextCursor
      previous.hidden = earlier.length === 0
      first.hidden = earlier.length < 2
      position.hidden = earlier.length === 0 && !nextCursor
      position.textContent = `Page ${earlier.length + 1}`
    } catch (err) {
      body.replaceChildren()
      state.textContent = err.message
      state.className = 'state form-error'
      // Back to the page shown before this one, whose cursor is the stack's last.
      previous.hidden = earlier.length === 0
      if (err instanceof ApiError) announce(err.message, 'error')
    } finally {
      table.removeAttribute('aria-busy')
    }
  }

  next.addEventListener('click', () => {
    earlier.push(current)
    load(nextCursor)
  })
  previous.addEventListener('click', () => load(earlier.pop()))
  const restart = () => {
    earlier = []
    load(undefined)
  }
  first.addEventListener('click', restart)
  wrapper.reload = restart
  load(undefined)
  return wrapper
}

/** A button that runs `action`, disabled meanwhile, announcing the API's error if it fails. */
export function actionButton(label, action, attrs = {}) {
  const button = h('button', { type: 'button', class: 'small', ...attrs }, label)
  button.addEventListener('click', async () => {
    button.disabled = true
    try {
      await action()
    } catch (err) {
      announce(err.message, 'error')
    } finally {
      button.disabled = false
    }
  })
  return button
}

/** A term/description list of [term, value] pairs. */
export function facts(pairs) {
  return h(
    'dl',
    { class: 'facts' },
    pairs.flatMap(([term, value]) => [h('dt', {}, term), h('dd', {}, value ?? '—')]),
  )
}

/** An ISO instant from a datetime-local field (the browser's time zone), or undefined. */
export function instant(local) {
  if (!local) return undefined
  const date = new Date(local)
  return Number.isNaN(date.getTime()) ? local : date.toISOString()
}
