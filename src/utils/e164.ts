// E.164 phone numbers (ITU-T E.164), as recipients are stored and SMS is sent: "+" and then 7 to 15
// digits, the first of which (a country code's) is never 0.

export const E164 = /^\+[1-9]\d{6,14}$/
