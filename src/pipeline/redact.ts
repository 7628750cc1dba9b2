import ipaddr from 'ipaddr.js';

/** What redaction replaced, per kind; reported with the cleaning counts. */
export interface RedactionCounts {
  emails: number;
  cards: number;
  phones: number;
  ips: number;
}

export const emptyRedactionCounts = (): RedactionCounts => ({ emails: 0, cards: 0, phones: 0, ips: 0 });

// The local part may use every character RFC 5322 allows unquoted.
const EMAIL = /[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}/g;
// An address a length cap cut off: ours ("john@exa…") or a quoting error message's ("john@e"...): no longer whole,
// still someone's.
const EMAIL_CUT = /[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9.-]*?(?:…|"?\.\.\.)/g;
// 13–19 digits, optionally grouped by single spaces or dashes; kept only when the Luhn check passes. Bounded by
// non-digits rather than word boundaries: sources glue numbers to labels ("card4111…", "cc_4111…").
const CARD_CANDIDATE = /(?<!\d)\d(?:[ -]?\d){12,18}(?!\d)/g;
// International (+CC …) or North-American grouped numbers (also glued to labels); bare digit runs are left alone
// (they are data).
const PHONE =
  /(?:\+\d{1,3}[\s.-]?(?:\(\d{1,4}\)[\s.-]?)?\d{1,4}(?:[\s.-]?\d{2,4}){1,4}|\(\d{3}\)\s?\d{3}[\s.-]\d{4}|(?<!\d)\d{3}[ .-]\d{3}[ .-]\d{4}(?!\d))/g;
const IPV4 = /\b(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)\b/g;
const IPV6_CANDIDATE = /(?:[A-Fa-f0-9]{0,4}:){2,7}(?:[A-Fa-f0-9]{0,4}|(?:\d{1,3}\.){3}\d{1,3})/g;

function luhnValid(digits: string): boolean {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let digit = Number(digits[digits.length - 1 - i]);
    if (i % 2 === 1) {
      digit *= 2;
      if (digit > 9) digit -= 9;
    }
    sum += digit;
  }
  return sum % 10 === 0;
}

/**
 * Replaces e-mail addresses, payment card numbers, phone numbers and IP addresses with placeholders, so that no
 * model (and no log line fed by a summary) ever sees them. Order matters: e-mails first (they contain dots and
 * digits), cards before phones (a grouped card number looks like a phone number), IPs last. The text comes back
 * NFKC-normalized.
 */
export function redactPii(text: string, counts: RedactionCounts): string {
  // Compatibility forms first: full-width "ＪＯＨＮ@ｅｘａｍｐｌｅ.ｃｏｍ" or "４１１１…" read the same to a model.
  const email = () => {
    counts.emails++;
    return '[email]';
  };
  // The ellipsis is kept: it marks a text the cap cut (NFKC would make it three dots).
  const normalized = text
    .split('…')
    .map((part) => part.normalize('NFKC'))
    .join('…');
  let out = normalized.replace(EMAIL, email).replace(EMAIL_CUT, email);
  out = out.replace(CARD_CANDIDATE, (match) => {
    const digits = match.replace(/[ -]/g, '');
    if (!luhnValid(digits)) return match;
    counts.cards++;
    return '[card]';
  });
  out = out.replace(PHONE, () => {
    counts.phones++;
    return '[phone]';
  });
  out = out.replace(IPV4, () => {
    counts.ips++;
    return '[ip]';
  });
  out = out.replace(IPV6_CANDIDATE, (match) => {
    if (!match.includes('::') && match.split(':').length < 8) return match;
    if (!ipaddr.IPv6.isValid(match)) return match;
    counts.ips++;
    return '[ip]';
  });
  return out;
}

// C0/C1 control characters, bidi overrides and zero-width characters: invisible, and a way to smuggle text.
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is this pattern's job.
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff]/g;

/** Strips control and invisible characters, folds whitespace and caps the length (counting the cap). */
export function sanitizeText(
  text: string,
  maxLength: number,
): { text: string; changed: boolean; truncated: boolean } {
  const cleaned = text.replace(CONTROL, ' ').replace(/\s+/g, ' ').trim();
  const truncated = cleaned.length > maxLength;
  return {
    text: truncated ? `${cleaned.slice(0, maxLength - 1)}…` : cleaned,
    changed: cleaned !== text || truncated,
    truncated,
  };
}

/**
 * A short, PII-free rendering of a value a source sent where it should not have, for error messages. Those travel
 * far: into Temporal's history and worker logs, into a summary's missing widgets and from there to the model.
 */
export function previewValue(value: unknown, maxLength = 60): string {
  const text = value instanceof Date ? value.toISOString() : (JSON.stringify(value) ?? String(value));
  const redacted = redactPii(text, emptyRedactionCounts());
  return redacted.length > maxLength ? `${redacted.slice(0, maxLength - 3)}...` : redacted;
}
