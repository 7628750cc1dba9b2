import fc from 'fast-check';
import { emptyRedactionCounts, redactPii, sanitizeText } from '../../src/pipeline/redact';

function luhnComplete(prefix: string): string {
  for (let check = 0; check <= 9; check++) {
    const digits = `${prefix}${check}`;
    let sum = 0;
    for (let i = 0; i < digits.length; i++) {
      let d = Number(digits[digits.length - 1 - i]);
      if (i % 2 === 1) {
        d *= 2;
        if (d > 9) d -= 9;
      }
      sum += d;
    }
    if (sum % 10 === 0) return digits;
  }
  throw new Error('unreachable');
}

const card = fc
  .tuple(
    fc.constantFrom('4', '51', '37', '6011'),
    fc.array(fc.integer({ min: 0, max: 9 }), { minLength: 11, maxLength: 14 }),
  )
  .map(([prefix, rest]) => luhnComplete(prefix + rest.join('')))
  .chain((digits) =>
    fc.constantFrom(digits, digits.replace(/(\d{4})(?=\d)/g, '$1 '), digits.replace(/(\d{4})(?=\d)/g, '$1-')),
  );

const filler = fc.string({ maxLength: 20 }).map((s) => s.replace(/[@\d.:+()-]/g, ' '));

describe('PII redaction', () => {
  it('never lets a planted e-mail address through', () => {
    fc.assert(
      fc.property(filler, fc.emailAddress(), filler, (before, email, after) => {
        const counts = emptyRedactionCounts();
        const out = redactPii(`${before} ${email} ${after}`, counts);
        expect(out).not.toContain(email);
        expect(out).toContain('[email]');
        expect(counts.emails).toBeGreaterThanOrEqual(1);
      }),
    );
  });

  it('never lets a planted card number through, however it is grouped', () => {
    fc.assert(
      fc.property(filler, card, filler, (before, number, after) => {
        const out = redactPii(`${before} ${number} ${after}`, emptyRedactionCounts());
        expect(out.replace(/\D/g, '')).not.toContain(number.replace(/\D/g, ''));
      }),
    );
  });

  it.each([
    ['call +1 415-555-0100 now', 'call [phone] now', 'phones'],
    ['call (415) 555-0100', 'call [phone]', 'phones'],
    ['office +49 30 1234 5678', 'office [phone]', 'phones'],
    ['from 192.168.10.20 and 8.8.8.8', 'from [ip] and [ip]', 'ips'],
    ['v6 2001:db8::1 seen', 'v6 [ip] seen', 'ips'],
    ['card 4111 1111 1111 1111', 'card [card]', 'cards'],
  ] as const)('redacts %j', (input, expected, kind) => {
    const counts = emptyRedactionCounts();
    expect(redactPii(input, counts)).toBe(expected);
    expect(counts[kind]).toBeGreaterThan(0);
  });

  it.each([
    'Revenue 2026-11-28 grew 12.5%',
    'p99 latency 180 ms at 10:00:00',
    'order 1234567890123 (not Luhn-valid: 4111111111111112)',
    'version 1.2.3',
  ])('leaves ordinary data alone: %j', (text) => {
    // 1234567890123 is 13 digits and fails Luhn; 4111111111111112 fails Luhn too.
    expect(redactPii(text, emptyRedactionCounts())).toBe(text);
  });
});

describe('sanitizeText', () => {
  it('strips control and invisible characters, folds whitespace and caps the length', () => {
    expect(sanitizeText('a\u0000b\u202Ec\u200Bd\n\te', 100)).toEqual({
      text: 'a b c d e',
      changed: true,
      truncated: false,
    });
    expect(sanitizeText('x'.repeat(20), 10)).toEqual({
      text: `${'x'.repeat(9)}…`,
      changed: true,
      truncated: true,
    });
    expect(sanitizeText('plain', 10)).toEqual({ text: 'plain', changed: false, truncated: false });
  });
});
