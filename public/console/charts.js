// Charts of hourly series, drawn as SVG with the DOM API (no inline style: colours come from
// console.css by class), each followed by the same numbers as a table for screen readers and for
// anyone who wants the figures.
import { h } from './ui.js'

const SVG = 'http://www.w3.org/2000/svg'
const WIDTH = 600
const HEIGHT = 160
const PAD = 4

function svg(tag, attrs = {}, ...children) {
  const element = document.createElementNS(SVG, tag)
  for (const [name, value] of Object.entries(attrs)) element.setAttribute(name, String(value))
  element.append(...children)
  return element
}

/** An hour's start as the browser's local day and hour. */
export function hourLabel(iso) {
  return new Date(iso).toLocaleString(undefined, {
    month: 'short',
    day: 'numeric',
    hour: '2-digit',
    minute: '2-digit',
  })
}

const shown = (value) => (value === null || value === undefined ? '—' : String(value))

/**
 * A line chart of `series` ([key, label] pairs: each a class `series-<n>` in the order given) over
 * `hours` (the API's items, oldest first), with its title, legend, axis labels and, in a
 * disclosure, the table of every hour's numbers.
 */
export function lineChart({ title, hours, series, unit = '' }) {
  const values = hours.flatMap((hour) => series.map(([key]) => hour[key] ?? 0))
  const top = Math.max(1, ...values)
  const x = (i) => PAD + (hours.length < 2 ? 0 : (i * (WIDTH - 2 * PAD)) / (hours.length - 1))
  const y = (v) => HEIGHT - PAD - ((v ?? 0) * (HEIGHT - 2 * PAD)) / top
  const grid = [0, 0.5, 1].map((f) =>
    svg('line', { x1: 0, x2: WIDTH, y1: y(top * f), y2: y(top * f), class: 'grid' }),
  )
  const lines = series.map(([key], n) => {
    const points = hours.map((hour, i) => `${x(i)},${y(hour[key])}`).join(' ')
    const marks =
      hours.length > 30
        ? []
        : hours.map((hour, i) => svg('circle', { cx: x(i), cy: y(hour[key]), r: 3 }))
    return svg('g', { class: `series series-${n}` }, svg('polyline', { points }), ...marks)
  })
  const chart = svg(
    'svg',
    { viewBox: `0 0 ${WIDTH} ${HEIGHT}`, 'aria-hidden': 'true', focusable: 'false' },
    ...grid,
    ...lines,
  )
  const first = hours[0]
  const last = hours.at(-1)
  const table = h(
    'table',
    {},
    h('caption', {}, `${title}, per hour`),
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        h('th', { scope: 'col' }, 'Hour'),
        series.map(([, label]) => h('th', { scope: 'col' }, label)),
      ),
    ),
    h(
      'tbody',
      {},
      hours.map((hour) =>
        h(
          'tr',
          {},
          h('th', { scope: 'row' }, h('time', { datetime: hour.hour }, hourLabel(hour.hour))),
          series.map(([key]) => h('td', {}, shown(hour[key]))),
        ),
      ),
    ),
  )
  return h(
    'figure',
    { class: 'chart card' },
    h('figcaption', {}, h('h2', {}, title)),
    h(
      'ul',
      { class: 'legend' },
      series.map(([, label], n) =>
        h('li', { class: `series-${n}` }, h('span', { class: 'swatch' }), label),
      ),
    ),
    h('p', { class: 'hint axis' }, `Scale: 0 to ${top}${unit}`),
    h('div', { class: 'plot' }, chart),
    h(
      'p',
      { class: 'hint axis between' },
      first ? h('span', {}, hourLabel(first.hour)) : null,
      last ? h('span', {}, hourLabel(last.hour)) : null,
    ),
    h(
      'details',
      {},
      h('summary', {}, `${title}: the numbers per hour`),
      h(
        'div',
        { class: 'table-wrap', tabindex: '0', role: 'region', 'aria-label': `${title}, per hour` },
        table,
      ),
    ),
  )
}
