// Spellings of phone numbers and their canonical form (src/utils/e164.ts): the function's tests
// and the migration that rewrites stored phones (0020) are held to the same list.

/** A spelling and the canonical form it must become. */
export const RESPELLED: [string, string][] = [
  // The national trunk prefix written after the country code.
  ['+4407700900123', '+447700900123'],
  ['+4902030123456', '+492030123456'],
  ['+330612345678', '+33612345678'],
  ['+31020123456', '+3120123456'],
  ['+610412345678', '+61412345678'],
  ['+3530851234567', '+353851234567'],
  ['+3606201234567', '+36201234567'],
  ['+114155550100', '+14155550100'],
  ['+784951234567', '+74951234567'],
  // Argentina: 0, 9 and Buenos Aires' 15 all reach the mobile written "+54 9".
  ['+541155550000', '+5491155550000'],
  ['+5401155550000', '+5491155550000'],
  ['+54111555550000', '+5491155550000'],
  ['+549111555550000', '+5491155550000'],
  ['+5403515550000', '+5493515550000'],
  // Mexico: the former "1" of mobiles and the national prefixes.
  ['+5215512345678', '+525512345678'],
  ['+52015512345678', '+525512345678'],
  ['+520445512345678', '+525512345678'],
]

/** E.164 numbers that are canonical as given. */
export const LEFT_AS_GIVEN: string[] = [
  // Already canonical.
  '+447700900123',
  '+5491155550000',
  '+525512345678',
  '+14155550100',
  '+15005550006',
  '+59899123456',
  '+34600111222',
  // Italy, San Marino, Côte d'Ivoire: the 0 is part of the number.
  '+390612345678',
  '+3780549123456',
  '+2250701234567',
  // Where the prefix's digit also starts national numbers, only at the length that shows it.
  '+78005553535',
  '+123456789012345',
  // Argentina: "15" after an area code other than 11, and a length that is no number.
  '+5435115550000',
  '+54123456',
  // Too short once the prefix is gone.
  '+4401234',
]
