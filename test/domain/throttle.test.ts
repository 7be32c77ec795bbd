import { describe, expect, it } from 'vitest'
import { addressGroup, lockSubjects } from '../../src/domain/throttle.ts'

describe('addressGroup', () => {
  it.each([
    ['an IPv4 address as it is', '203.0.113.7', '203.0.113.7'],
    ['an IPv4 address without leading zeros', '203.000.113.007', '203.0.113.7'],
    ['an IPv6 address by its /64', '2001:db8:1:2:3:4:5:6', '2001:db8:1:2::/64'],
    ['a compressed IPv6 address, expanded', '2001:db8::1', '2001:db8:0:0::/64'],
    [
      'an upper-case, zero-padded IPv6 address, lower-cased',
      '2001:0DB8:00A1:0002::FFFF',
      '2001:db8:a1:2::/64',
    ],
    ['an IPv6 address with a zone index', 'fe80::1%eth0', 'fe80:0:0:0::/64'],
    ['an IPv6 address ending in dotted IPv4', '2001:db8:1:2::192.0.2.1', '2001:db8:1:2::/64'],
    ['an IPv4-mapped IPv6 address as IPv4', '::ffff:198.51.100.9', '198.51.100.9'],
    ['an IPv4-mapped IPv6 address in hex as IPv4', '::FFFF:c633:6409', '198.51.100.9'],
    ['the unspecified address', '::', '0:0:0:0::/64'],
  ])('keys %s', (_, ip, group) => {
    expect(addressGroup(ip)).toBe(group)
  })

  it('puts two addresses of one /64 together and two /64s apart', () => {
    expect(addressGroup('2001:db8:aa:bb::1')).toBe(
      addressGroup('2001:db8:aa:bb:ffff:ffff:ffff:ffff'),
    )
    expect(addressGroup('2001:db8:aa:bb::1')).not.toBe(addressGroup('2001:db8:aa:bc::1'))
  })

  it.each([
    'not-an-address',
    '1.2.3',
    '1.2.3.256',
    '1::2::3',
    '1:2:3:4:5:6:7:8:9',
    '1:2:3:4:5:6:7:8::',
    '12345::',
    '1.2.3.4::',
  ])('keeps %j, which is no address, as it is', (text) => {
    expect(addressGroup(text)).toBe(text.toLowerCase())
  })
})

describe('lockSubjects', () => {
  it('names the (client, address) pair and the address, never the client alone', () => {
    expect(lockSubjects('client-a', '2001:db8:1:2::9')).toEqual([
      { clientId: 'client-a', address: '2001:db8:1:2::/64' },
      { address: '2001:db8:1:2::/64' },
    ])
  })

  it('names only the pair when the request has no address', () => {
    expect(lockSubjects('client-a', null)).toEqual([{ clientId: 'client-a', address: 'unknown' }])
  })
})
