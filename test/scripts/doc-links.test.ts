// Every relative link and #anchor in the project's documents resolves, so the README's map and the
// references between docs/ files cannot point at a file or heading that moved.
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { dirname, join, relative } from 'node:path'
import { describe, expect, it } from 'vitest'

const root = join(import.meta.dirname, '..', '..')
const documents = [
  'README.md',
  'SECURITY.md',
  'CONTRIBUTING.md',
  'CHANGELOG.md',
  'clients/typescript/README.md',
  ...['python', 'curl', 'go', 'bruno'].map((example) => `examples/${example}/README.md`),
  ...readdirSync(join(root, 'docs'))
    .filter((name) => name.endsWith('.md'))
    .map((name) => `docs/${name}`),
]

/** The text outside fenced code blocks and inline code spans. */
function prose(text: string): string {
  return text.replace(/^```[\s\S]*?^```/gm, '').replace(/`[^`\n]*`/g, '')
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens. */
export function slugOf(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/<[^>]*>/g, '')
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-')
}

function anchorsOf(text: string): Set<string> {
  const anchors = new Set<string>()
  const seen = new Map<string, number>()
  const withoutFences = text.replace(/^```[\s\S]*?^```/gm, '')
  for (const [, heading] of withoutFences.matchAll(/^#{1,6} (.+)$/gm)) {
    const slug = slugOf(heading!)
    const count = seen.get(slug) ?? 0
    seen.set(slug, count + 1)
    anchors.add(count === 0 ? slug : `${slug}-${count}`)
  }
  for (const [, id] of text.matchAll(/<a (?:id|name)="([^"]+)"/g)) anchors.add(id!)
  return anchors
}

function linksOf(text: string): string[] {
  return [...prose(text).matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)].map((m) => m[1]!)
}

describe('links in the documents', () => {
  it('finds the documents and their links', () => {
    expect(documents).toContain('docs/configuration.md')
    expect(linksOf(readFileSync(join(root, 'README.md'), 'utf8')).length).toBeGreaterThan(5)
  })

  it.each(documents)('every relative link and anchor in %s resolves', (document) => {
    const text = readFileSync(join(root, document), 'utf8')
    const broken: string[] = []
    for (const link of linksOf(text)) {
      if (/^[a-z][a-z0-9+.-]*:/i.test(link)) continue // https:, mailto:
      const [path, anchor] = link.split('#', 2) as [string, string | undefined]
      const target = path === '' ? join(root, document) : join(root, dirname(document), path)
      if (!existsSync(target)) {
        broken.push(`${link} (no file ${relative(root, target)})`)
        continue
      }
      if (anchor === undefined || !target.endsWith('.md')) continue
      if (!anchorsOf(readFileSync(target, 'utf8')).has(decodeURIComponent(anchor))) {
        broken.push(`${link} (no heading #${anchor} in ${relative(root, target)})`)
      }
    }
    expect(broken).toEqual([])
  })

  it('makes anchors as GitHub does', () => {
    expect(slugOf('`POST /Services`')).toBe('post-services')
    expect(slugOf('Edge first: what each request waits for')).toBe(
      'edge-first-what-each-request-waits-for',
    )
    expect(slugOf('DPoP (RFC 9449)')).toBe('dpop-rfc-9449')
    expect(slugOf('Certificate-bound tokens (RFC 8705 §3)')).toBe(
      'certificate-bound-tokens-rfc-8705-3',
    )
  })
})
